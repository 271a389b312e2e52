//! In-process symbolization: the memory map of a process (`/proc/PID/maps`) and
//! the frames of a list of addresses.

use std::collections::HashMap;
use std::path::Path;

use rustprof_profile::MappingInfo;

use crate::base::MappingRange;
use crate::binary::Frame;
use crate::elf::read_build_id;
use crate::error::Error;
use crate::symbolizer::Symbolizer;

/// One executable mapping of a process (a line of `/proc/PID/maps`), with the
/// build ID of its file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapEntry {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub limit: u64,
    /// Offset in the file of `start`.
    pub offset: u64,
    /// Permissions as the kernel prints them (`r-xp`).
    pub perms: String,
    /// Inode of the file (0 for anonymous mappings).
    pub inode: u64,
    /// Path of the file, or a pseudo-name like `[vdso]`; empty for anonymous
    /// memory. A file deleted since it was mapped keeps the kernel's ` (deleted)`
    /// suffix.
    pub path: String,
    /// GNU build ID of the file (lowercase hex), empty when unknown.
    pub build_id: String,
}

impl MapEntry {
    /// The address range and file offset.
    pub fn range(&self) -> MappingRange {
        MappingRange { start: self.start, limit: self.limit, offset: self.offset }
    }

    /// True when the mapping holds code (`x` permission).
    pub fn is_executable(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }

    /// True when `addr` is inside the mapping.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.limit
    }

    /// The mapping for [`rustprof_profile::ProfileBuilder::add_mapping`].
    pub fn mapping_info(&self) -> MappingInfo<'_> {
        MappingInfo {
            memory_start: self.start,
            memory_limit: self.limit,
            file_offset: self.offset,
            filename: &self.path,
            build_id: &self.build_id,
            ..MappingInfo::default()
        }
    }
}

/// True for mappings no binary can be found for: pseudo-files (`[vdso]`,
/// `[heap]`, …), `linux-vdso`, GPU device memory (`/dev/dri/`), anonymous
/// memory (`//anon`, empty names) and `memfd:` files.
pub fn is_unsymbolizable(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    path.is_empty()
        || base.starts_with('[')
        || base.starts_with("linux-vdso")
        || path.starts_with("/dev/dri/")
        || path.starts_with("//anon")
        || path.starts_with("/memfd:")
        || base.starts_with("memfd:")
}

/// Parses the text of `/proc/PID/maps`, keeping the executable mappings (build
/// IDs are left empty). Malformed lines are skipped.
pub fn parse_proc_maps(text: &str) -> Vec<MapEntry> {
    text.lines().filter_map(parse_line).filter(MapEntry::is_executable).collect()
}

fn parse_line(line: &str) -> Option<MapEntry> {
    // address perms offset dev inode [path]
    let mut rest = line.trim_start();
    let mut field = || {
        let s = rest;
        let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
        rest = s[end..].trim_start();
        Some(&s[..end]).filter(|f| !f.is_empty())
    };
    let range = field()?;
    let perms = field()?;
    let offset = field()?;
    let _dev = field()?;
    let inode = field()?;
    let (start, limit) = range.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let limit = u64::from_str_radix(limit, 16).ok()?;
    if limit < start {
        return None;
    }
    Some(MapEntry {
        start,
        limit,
        offset: u64::from_str_radix(offset, 16).ok()?,
        perms: perms.to_string(),
        inode: inode.parse().ok()?,
        path: rest.trim_end().to_string(),
        build_id: String::new(),
    })
}

/// The executable mappings of process `pid` (`None`: this process), from
/// `/proc/PID/maps`, with the build ID of each file (read from the file's
/// headers; empty when the file cannot be read or has none).
pub fn read_proc_maps(pid: Option<u32>) -> Result<Vec<MapEntry>, Error> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/maps"),
        None => "/proc/self/maps".to_string(),
    };
    let text =
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone().into(), source })?;
    let mut maps = parse_proc_maps(&text);
    let mut ids: HashMap<String, String> = HashMap::new();
    for m in &mut maps {
        if is_unsymbolizable(&m.path) || !m.path.starts_with('/') || m.path.ends_with(" (deleted)") {
            continue;
        }
        let id = ids
            .entry(m.path.clone())
            .or_insert_with(|| read_build_id(Path::new(&m.path)).ok().flatten().unwrap_or_default());
        m.build_id = id.clone();
    }
    Ok(maps)
}

/// The frames of one address, as found by [`symbolize_addresses`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressFrames {
    /// Index in the `maps` slice of the mapping holding the address, if any.
    pub mapping: Option<usize>,
    /// Frames, innermost inlined function first; empty when the address could not
    /// be symbolized.
    pub frames: Vec<Frame>,
}

/// Symbolizes `addresses` of a process whose executable mappings are `maps`
/// (from [`read_proc_maps`]): one [`AddressFrames`] per address, in order.
///
/// Addresses are looked up as given: for return addresses of callers, pass the
/// return address − 1 so that the call instruction is what is found. Each
/// binary is opened once through `symbolizer` (and stays in its cache); a binary
/// whose build ID differs from the mapping's is not used.
pub fn symbolize_addresses(
    symbolizer: &mut Symbolizer,
    maps: &[MapEntry],
    addresses: &[u64],
) -> Vec<AddressFrames> {
    let mut out: Vec<AddressFrames> = vec![AddressFrames::default(); addresses.len()];
    let mut order: Vec<usize> = (0..maps.len()).collect();
    order.sort_by_key(|&i| maps[i].start);
    let mut by_mapping: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &addr) in addresses.iter().enumerate() {
        let j = order.partition_point(|&k| maps[k].start <= addr);
        let Some(&k) = j.checked_sub(1).and_then(|j| order.get(j)) else { continue };
        if maps[k].contains(addr) {
            out[i].mapping = Some(k);
            by_mapping.entry(k).or_default().push(i);
        }
    }
    let style = symbolizer.demangle_style();
    let mut mappings: Vec<_> = by_mapping.into_iter().collect();
    mappings.sort_by_key(|(k, _)| *k);
    for (k, idxs) in mappings {
        let m = &maps[k];
        if is_unsymbolizable(&m.path) {
            continue;
        }
        let Ok(binary) = symbolizer.open_expecting(Path::new(&m.path), &m.build_id) else { continue };
        let range = m.range();
        for i in idxs {
            if let Ok(file_addr) = binary.file_address(&range, addresses[i]) {
                out[i].frames = binary.frames(file_addr, style);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c6a00000-55d0c6a52000 r--p 00000000 fd:01 1234                       /usr/bin/prog with space
55d0c6a52000-55d0c6b00000 r-xp 00052000 fd:01 1234                       /usr/bin/prog with space
55d0c6d00000-55d0c6d21000 rw-p 00000000 00:00 0                          [heap]
7f1e2a000000-7f1e2a022000 r-xp 00022000 fd:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd6e5f2000-7ffd6e5f4000 r-xp 00000000 00:00 0                          [vdso]
7f1e2b000000-7f1e2b001000 r-xp 00000000 00:00 0
garbage line
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn parses_executable_mappings() {
        let maps = parse_proc_maps(MAPS);
        let paths: Vec<&str> = maps.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/usr/bin/prog with space", "/usr/lib/x86_64-linux-gnu/libc.so.6", "[vdso]", "", "[vsyscall]"]
        );
        assert_eq!(maps[0].start, 0x55d0c6a52000);
        assert_eq!(maps[0].limit, 0x55d0c6b00000);
        assert_eq!(maps[0].offset, 0x52000);
        assert_eq!(maps[0].inode, 1234);
        assert_eq!(maps[0].perms, "r-xp");
        let info = maps[1].mapping_info();
        assert_eq!(info.filename, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(info.file_offset, 0x22000);
    }

    #[test]
    fn unsymbolizable_names() {
        for p in [
            "",
            "[vdso]",
            "[heap]",
            "/x/[anon]",
            "linux-vdso.so.1",
            "/dev/dri/card0",
            "//anon",
            "/memfd:x (deleted)",
        ] {
            assert!(is_unsymbolizable(p), "{p}");
        }
        for p in ["/usr/bin/prog", "libc.so.6", "/dev/zero"] {
            assert!(!is_unsymbolizable(p), "{p}");
        }
    }

    #[test]
    fn addresses_outside_mappings_have_no_frames() {
        let maps = parse_proc_maps(MAPS);
        let mut s = Symbolizer::new();
        let r = symbolize_addresses(&mut s, &maps, &[0x10, 0x7ffd6e5f2010, 0x55d0c6a52010]);
        assert_eq!(r[0], AddressFrames::default());
        assert_eq!(r[1].mapping, Some(2));
        assert!(r[1].frames.is_empty());
        // The file does not exist here: no frames, no panic.
        assert_eq!(r[2].mapping, Some(0));
        assert!(r[2].frames.is_empty());
    }
}
