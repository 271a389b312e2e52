//! Runtime address → file address, with the rules of google/pprof.
//!
//! A profile records where the process had an object file mapped
//! (`memory_start`, `memory_limit`, `file_offset`: one line of
//! `/proc/PID/maps`) and the runtime addresses of samples. The symbol table and
//! DWARF speak of ELF virtual addresses instead. The difference between the two
//! is the *base*: `file_address = runtime_address - base`.
//!
//! How the base is found depends on the ELF type and on which `PT_LOAD` segment
//! the mapping shows:
//!
//! - position-dependent executables (`ET_EXEC`) are loaded at their link
//!   addresses, so the base is 0 — computed with the same formula as below so
//!   that unusual mappings still come out right;
//! - position-independent executables and shared libraries (`ET_DYN`): a runtime
//!   address `x` is at file offset `x - start + offset`, and file offset `f`
//!   inside segment `S` has virtual address `f - S.offset + S.vaddr`, so
//!   `base = start - offset + S.offset - S.vaddr`;
//! - relocatable objects (`ET_REL`, e.g. kernel modules) are based at `start`;
//! - kernel images get pprof's heuristics around the `_stext` symbol.
//!
//! The segment is chosen from the mapping's file offset and size
//! ([`program_headers_for_mapping`]), and when several could match, from the
//! file offset of the address being symbolized ([`header_for_file_offset`]).
//! All arithmetic wraps, like Go's `uint64`.

use std::fmt;

/// The page size the loader is assumed to use (4 KiB on every platform pprof
/// supports).
pub const PAGE_SIZE: u64 = 4096;

/// The ELF file type (`e_type`), as far as address translation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElfType {
    /// `ET_REL`: relocatable object (kernel modules).
    Rel,
    /// `ET_EXEC`: position-dependent executable (or a kernel image).
    Exec,
    /// `ET_DYN`: shared library or position-independent executable.
    Dyn,
    /// Any other type (core files, OS- or processor-specific types).
    Other(u16),
}

impl ElfType {
    /// The type for a raw `e_type` value.
    pub fn from_raw(e_type: u16) -> ElfType {
        match e_type {
            1 => ElfType::Rel,
            2 => ElfType::Exec,
            3 => ElfType::Dyn,
            other => ElfType::Other(other),
        }
    }
}

/// A loadable (`PT_LOAD`) segment of an ELF file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Segment {
    /// `p_offset`: where the segment starts in the file.
    pub offset: u64,
    /// `p_vaddr`: the virtual address it is linked at.
    pub vaddr: u64,
    /// `p_filesz`: bytes present in the file.
    pub filesz: u64,
    /// `p_memsz`: bytes in memory (≥ `filesz`; the rest is zero-filled).
    pub memsz: u64,
    /// `p_flags` (`PF_X` = 1, `PF_W` = 2, `PF_R` = 4).
    pub flags: u32,
}

impl Segment {
    /// True when the segment is executable (`PF_X`).
    pub fn is_executable(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// A mapping of an object file into a process: what a profile's `Mapping` or a
/// line of `/proc/PID/maps` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MappingRange {
    /// First mapped address.
    pub start: u64,
    /// End of the mapping (exclusive).
    pub limit: u64,
    /// Offset in the file of the byte mapped at `start`.
    pub offset: u64,
}

/// Why no base could be computed for a mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseError(pub String);

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BaseError {}

/// Kernel images: returns `Some(base)` when one of pprof's kernel layouts
/// matches the mapping.
fn kernel_base(seg: &Segment, stext: Option<u64>, start: u64, limit: u64, offset: u64) -> Option<u64> {
    /// `PAGE_OFFSET` of ppc64 kernels, which some tools report as the offset.
    const PPC64_PAGE_OFFSET: u64 = 0xc000_0000_0000_0000;

    // The mapping shows the segment exactly where it was linked.
    if seg.vaddr == start.wrapping_sub(offset) {
        return Some(offset);
    }
    // A kernel remapped to address 0 (ChromeOS), with its `_stext` known.
    if start == 0
        && limit != 0
        && let Some(s) = stext
    {
        return Some(start.wrapping_sub(s));
    }
    // A (possibly randomized) kernel placed at or above its link address, with an
    // offset of 0, ppc64's PAGE_OFFSET, or the start itself.
    if start >= seg.vaddr && limit > start && (offset == 0 || offset == PPC64_PAGE_OFFSET || offset == start)
    {
        // perf reports the address of `_stext` as the start of the mapping; when the
        // start has the same page offset as `_stext`, that is what happened here.
        if let Some(s) = stext
            && start % PAGE_SIZE == s % PAGE_SIZE
        {
            return Some(start.wrapping_sub(s));
        }
        return Some(start.wrapping_sub(seg.vaddr));
    }
    // A kernel remapped near 0, at the page offset of `_stext` (ChromeOS).
    if let Some(s) = stext
        && !start.is_multiple_of(PAGE_SIZE)
        && s % PAGE_SIZE == start % PAGE_SIZE
    {
        return Some(start.wrapping_sub(s));
    }
    None
}

/// The base to subtract from runtime addresses of `mapping` to get ELF virtual
/// addresses, for a file of type `ty` whose segment `load_segment` the mapping
/// shows. `stext` is the address of the kernel's relocation symbol (`_stext`)
/// when the file is a kernel image and it was looked up.
///
/// A mapping that starts at 0 with offset 0 and a limit of 0 or `u64::MAX`
/// stands for "addresses are already file addresses": the base is 0.
pub fn get_base(
    ty: ElfType,
    load_segment: Option<&Segment>,
    stext: Option<u64>,
    mapping: &MappingRange,
) -> Result<u64, BaseError> {
    let MappingRange { start, limit, offset } = *mapping;
    if start == 0 && offset == 0 && (limit == u64::MAX || limit == 0) {
        return Ok(0);
    }
    match ty {
        ElfType::Exec => {
            let Some(seg) = load_segment else {
                // Linked at a fixed address and nothing to say otherwise.
                return Ok(0);
            };
            // An ordinary user-space executable (in the lower half of the address
            // space, no kernel symbol): same formula as for ET_DYN, which yields 0
            // whenever the loader honoured the link addresses.
            if stext.is_none() && start > 0 && start < 1 << 63 {
                return Ok(dyn_base(seg, start, offset));
            }
            if let Some(base) = kernel_base(seg, stext, start, limit, offset) {
                return Ok(base);
            }
            // A kernel remapped to 0 whose `_stext` is unknown.
            if start == 0 && limit != 0 && stext.is_none() {
                return Ok(start.wrapping_sub(seg.vaddr));
            }
            Err(BaseError(format!(
                "don't know how to handle EXEC segment (offset=0x{:x} vaddr=0x{:x} filesz=0x{:x} memsz=0x{:x}) \
                 start=0x{start:x} limit=0x{limit:x} offset=0x{offset:x}",
                seg.offset, seg.vaddr, seg.filesz, seg.memsz
            )))
        }
        ElfType::Rel => {
            if offset != 0 {
                return Err(BaseError(format!(
                    "don't know how to handle mapping offset 0x{offset:x} of a relocatable object"
                )));
            }
            Ok(start)
        }
        ElfType::Dyn => {
            let Some(seg) = load_segment else {
                // Without segment information, the file offset is the address.
                return Ok(start.wrapping_sub(offset));
            };
            // Kernels built as PIE are ET_DYN too.
            if let Some(base) = kernel_base(seg, stext, start, limit, offset) {
                return Ok(base);
            }
            Ok(dyn_base(seg, start, offset))
        }
        ElfType::Other(t) => Err(BaseError(format!("don't know how to handle ELF file type {t}"))),
    }
}

/// `start - offset + seg.offset - seg.vaddr`: runtime address → file offset →
/// virtual address of `seg`.
fn dyn_base(seg: &Segment, start: u64, offset: u64) -> u64 {
    start.wrapping_sub(offset).wrapping_add(seg.offset).wrapping_sub(seg.vaddr)
}

/// The executable segment that holds the `.text` section at `text_addr`.
pub fn find_text_segment(segments: &[Segment], text_addr: Option<u64>) -> Option<&Segment> {
    let addr = text_addr?;
    segments.iter().find(|s| s.is_executable() && addr >= s.vaddr && addr < s.vaddr.wrapping_add(s.memsz))
}

/// The loadable segments that a mapping of `map_size` bytes at file offset
/// `map_offset` may show.
///
/// Segments without file contents are skipped (their offsets mean nothing).
/// A segment is also rejected when the mapping starts before the page that
/// holds the segment's first byte, or when the mapping starts inside it, covers
/// less than a page of it and goes on at least a page past its end (then the
/// mapping is really of the next segment).
pub fn program_headers_for_mapping(segments: &[Segment], map_offset: u64, map_size: u64) -> Vec<&Segment> {
    let map_limit = map_offset.wrapping_add(map_size);
    let mut out = Vec::new();
    for seg in segments {
        if seg.filesz == 0 {
            continue;
        }
        let seg_limit = seg.offset.wrapping_add(seg.memsz);
        if !(map_offset < seg_limit && seg.offset < map_limit) {
            continue;
        }
        // File offset of the start of the page the segment begins in.
        let page_part = seg.vaddr & (PAGE_SIZE - 1);
        let aligned_offset = seg.offset.saturating_sub(page_part);
        if map_offset < aligned_offset {
            continue;
        }
        if map_offset > seg.offset
            && seg_limit < map_offset.wrapping_add(PAGE_SIZE)
            && map_limit >= seg_limit.wrapping_add(PAGE_SIZE)
        {
            continue;
        }
        out.push(seg);
    }
    out
}

/// The one segment among `headers` whose file range (extended to its memory
/// size) contains `file_offset`.
pub fn header_for_file_offset<'a>(
    headers: &[&'a Segment],
    file_offset: u64,
) -> Result<&'a Segment, BaseError> {
    let mut found: Option<&'a Segment> = None;
    for &h in headers {
        if file_offset >= h.offset && file_offset < h.offset.wrapping_add(h.memsz) {
            if let Some(first) = found {
                return Err(BaseError(format!(
                    "two program headers (offsets 0x{:x} and 0x{:x}) contain file offset 0x{file_offset:x}: \
                     is this a stripped debug file, or does the first segment hold uninitialized data?",
                    first.offset, h.offset
                )));
            }
            found = Some(h);
        }
    }
    found.ok_or_else(|| BaseError(format!("no program header contains file offset 0x{file_offset:x}")))
}

/// The segment to use for translating `addr` of `mapping`: pprof's choice.
///
/// Kernel images (`stext` known), empty or inverted mappings and mappings in the
/// upper half of the address space use the segment holding `.text`. Otherwise
/// the loadable segments the mapping can show are narrowed down, by the file
/// offset of `addr` if needed. A file with no loadable segment at all (kernel
/// modules) gives `Ok(None)`.
pub fn segment_for_address<'a>(
    segments: &'a [Segment],
    text_segment: Option<&'a Segment>,
    stext: Option<u64>,
    mapping: &MappingRange,
    addr: u64,
) -> Result<Option<&'a Segment>, BaseError> {
    let MappingRange { start, limit, offset } = *mapping;
    if stext.is_some() || start >= limit || limit >= 1 << 63 {
        return Ok(text_segment);
    }
    if segments.is_empty() {
        return Ok(None);
    }
    let headers = program_headers_for_mapping(segments, offset, limit - start);
    match headers.len() {
        0 => Err(BaseError("no program header matches mapping info".to_string())),
        1 => Ok(Some(headers[0])),
        _ => header_for_file_offset(&headers, addr.wrapping_sub(start).wrapping_add(offset)).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(offset: u64, vaddr: u64, filesz: u64, memsz: u64, flags: u32) -> Segment {
        Segment { offset, vaddr, filesz, memsz, flags }
    }

    fn m(start: u64, limit: u64, offset: u64) -> MappingRange {
        MappingRange { start, limit, offset }
    }

    #[test]
    fn fake_full_mapping_is_identity() {
        for ty in [ElfType::Exec, ElfType::Dyn, ElfType::Rel] {
            assert_eq!(get_base(ty, None, None, &m(0, 0, 0)), Ok(0));
            assert_eq!(get_base(ty, None, None, &m(0, u64::MAX, 0)), Ok(0));
        }
    }

    #[test]
    fn exec_at_link_address_has_base_zero() {
        // A typical non-PIE x86-64 executable: text at 0x401000, file offset 0x1000.
        let text = seg(0x1000, 0x401000, 0x2000, 0x2000, 5);
        assert_eq!(get_base(ElfType::Exec, Some(&text), None, &m(0x401000, 0x403000, 0x1000)), Ok(0));
        // Mapped from the page before (offset 0): still 0.
        let text = seg(0, 0x400000, 0x3000, 0x3000, 5);
        assert_eq!(get_base(ElfType::Exec, Some(&text), None, &m(0x400000, 0x403000, 0)), Ok(0));
        // No segment known: assume fixed addresses.
        assert_eq!(get_base(ElfType::Exec, None, None, &m(0x400000, 0x403000, 0)), Ok(0));
    }

    #[test]
    fn pie_and_shared_library_bases() {
        // PIE: text segment at vaddr 0x52000, offset 0x52000, loaded at 0x5555_5555_4000.
        let load = 0x5555_5555_4000u64;
        let text = seg(0x52000, 0x52000, 0x1000, 0x1000, 5);
        let base = get_base(ElfType::Dyn, Some(&text), None, &m(load + 0x52000, load + 0x53000, 0x52000));
        assert_eq!(base, Ok(load));
        // Segment whose vaddr and offset differ (gold / lld layouts).
        let text = seg(0x1000, 0x201000, 0x5000, 0x5000, 5);
        let base = get_base(ElfType::Dyn, Some(&text), None, &m(0x7f00_0000_1000, 0x7f00_0000_6000, 0x1000));
        assert_eq!(base, Ok(0x7f00_0000_1000 - 0x201000));
        // No segment: file offset rule.
        assert_eq!(
            get_base(ElfType::Dyn, None, None, &m(0x7f00_0000_1000, 0x7f00_0000_2000, 0x1000)),
            Ok(0x7f00_0000_0000)
        );
    }

    #[test]
    fn relocatable_and_unknown_types() {
        assert_eq!(get_base(ElfType::Rel, None, None, &m(0xffff_0000, 0xffff_1000, 0)), Ok(0xffff_0000));
        assert!(get_base(ElfType::Rel, None, None, &m(0xffff_0000, 0xffff_1000, 0x1000)).is_err());
        assert!(get_base(ElfType::Other(4), None, None, &m(0x1000, 0x2000, 0)).is_err());
    }

    #[test]
    fn kernel_layouts() {
        let text = seg(0x200000, 0xffff_ffff_8100_0000, 0x100_0000, 0x100_0000, 5);
        // Mapping exactly at the link address.
        let b = get_base(
            ElfType::Exec,
            Some(&text),
            None,
            &m(0xffff_ffff_8100_0000, 0xffff_ffff_8200_0000, 0xffff_ffff_8100_0000 - 0xffff_ffff_8100_0000),
        );
        assert_eq!(b, Ok(0));
        // Randomized kernel, perf uses `_stext` as the mapping start.
        let stext = 0xffff_ffff_8100_0198;
        let start = 0xffff_ffff_a300_0198;
        let b = get_base(ElfType::Exec, Some(&text), Some(stext), &m(start, start + 0x100_0000, 0));
        assert_eq!(b, Ok(start - stext));
        // ChromeOS kernel remapped to 0.
        let b = get_base(ElfType::Exec, Some(&text), Some(stext), &m(0, 0x2000_0000, 0));
        assert_eq!(b, Ok(0u64.wrapping_sub(stext)));
        let b = get_base(ElfType::Exec, Some(&text), None, &m(0, 0x2000_0000, 0));
        assert_eq!(b, Ok(0u64.wrapping_sub(text.vaddr)));
        // Remapped to 0 + page offset of `_stext`.
        let b = get_base(ElfType::Exec, Some(&text), Some(stext), &m(0x198, 0x2f9f_ffff, 0));
        assert_eq!(b, Ok(0x198u64.wrapping_sub(stext)));
    }

    #[test]
    fn choosing_segments() {
        // Four segments as laid out by modern ld: R, RX, R, RW (with .bss).
        let segs = [
            seg(0, 0, 0x5000, 0x5000, 4),
            seg(0x5000, 0x6000, 0x4000, 0x4000, 5),
            seg(0x9000, 0xb000, 0x1000, 0x1000, 4),
            seg(0xa000, 0xd000, 0x800, 0x2000, 6),
        ];
        // The r-x mapping.
        let h = program_headers_for_mapping(&segs, 0x5000, 0x4000);
        assert_eq!(h, vec![&segs[1]]);
        let text = find_text_segment(&segs, Some(0x6100));
        assert_eq!(text, Some(&segs[1]));
        assert_eq!(find_text_segment(&segs, Some(0x20_0000)), None);
        let s = segment_for_address(
            &segs,
            text,
            None,
            &m(0x5555_0000_6000, 0x5555_0000_a000, 0x5000),
            0x5555_0000_6100,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s, &segs[1]);
        // A mapping from offset 0 is taken to show the first segment only (pprof's
        // rule: a segment starting on a later page needs a mapping that starts there).
        let all = m(0x5555_0000_0000, 0x5555_0000_c000, 0);
        let s = segment_for_address(&segs, text, None, &all, 0x5555_0000_5100).unwrap().unwrap();
        assert_eq!(s, &segs[0]);
        // Two segments sharing a page: the address's file offset decides.
        let shared = [seg(0, 0, 0x1800, 0x1800, 5), seg(0x1800, 0x2800, 0x400, 0x400, 6)];
        let mm = m(0x7000_0000_1000, 0x7000_0000_2000, 0x1000);
        assert_eq!(program_headers_for_mapping(&shared, 0x1000, 0x1000).len(), 2);
        let s = segment_for_address(&shared, None, None, &mm, 0x7000_0000_1900).unwrap().unwrap();
        assert_eq!(s, &shared[1]);
        let s = segment_for_address(&shared, None, None, &mm, 0x7000_0000_1100).unwrap().unwrap();
        assert_eq!(s, &shared[0]);
        // Mapping a page more: the first segment ends within the mapping's first
        // page and the mapping goes on past it, so it is not that segment's.
        assert_eq!(program_headers_for_mapping(&shared, 0x1000, 0x2000), vec![&shared[1]]);
        assert!(segment_for_address(&segs, text, None, &m(0x1000, 0x2000, 0x10_0000), 0x1000).is_err());
        // No loadable segment: no header, no error.
        assert_eq!(segment_for_address(&[], None, None, &m(0x1000, 0x2000, 0), 0x1000), Ok(None));
        // Kernel: use the text segment.
        let s = segment_for_address(&segs, text, Some(0x6000), &m(0x1000, 0x2000, 0), 0x1000).unwrap();
        assert_eq!(s, Some(&segs[1]));
    }

    #[test]
    fn overlapping_headers_are_ambiguous() {
        let a = seg(0x1000, 0x1000, 0x100, 0x2000, 5);
        let b = seg(0x1100, 0x2100, 0x100, 0x100, 5);
        assert!(header_for_file_offset(&[&a, &b], 0x1150).is_err());
        assert_eq!(header_for_file_offset(&[&a, &b], 0x1050), Ok(&a));
        assert!(header_for_file_offset(&[&a, &b], 0x9000).is_err());
    }
}
