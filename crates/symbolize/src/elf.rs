//! Reading ELF files: headers, loadable segments, the GNU build ID, the
//! `.gnu_debuglink`, the symbol table and the DWARF sections.
//!
//! Everything is read from memory (the whole file, read with `std::fs`), or for
//! [`read_build_id`] from a few small reads of the file: no `mmap`, no `unsafe`.
//! Every offset and size comes from the file and is checked by `object` before
//! use, so a truncated or garbage file gives an [`Error`], never a panic.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use object::elf;
use object::read::elf::{ElfFile, FileHeader, ProgramHeader, SectionHeader};
use object::read::{ReadCache, ReadRef};
use object::{
    Endianness, FileKind, Object, ObjectSection, ObjectSymbol, SectionIndex, SectionKind, SymbolKind,
};

use crate::base::{ElfType, Segment};
use crate::error::Error;

/// The gimli reader used for DWARF: ranges of one shared buffer (the file, or a
/// decompressed section).
pub(crate) type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// A function symbol of the symbol table.
#[derive(Clone, Debug)]
pub(crate) struct Sym {
    pub(crate) addr: u64,
    pub(crate) size: u64,
    pub(crate) name: Box<str>,
}

/// What symbolization needs from an ELF file.
pub(crate) struct ParsedElf {
    pub(crate) elf_type: ElfType,
    pub(crate) segments: Vec<Segment>,
    pub(crate) text_addr: Option<u64>,
    pub(crate) build_id: String,
    pub(crate) debuglink: Option<String>,
    /// Function symbols sorted by address, one per address.
    pub(crate) symbols: Vec<Sym>,
    /// Address of `_stext` (kernel images).
    pub(crate) stext: Option<u64>,
    /// The DWARF sections; `None` when the file has no `.debug_info`.
    pub(crate) dwarf: Option<gimli::Dwarf<Reader>>,
}

fn elf_err(path: &Path, e: object::Error) -> Error {
    Error::Elf { path: path.to_path_buf(), reason: e.to_string() }
}

/// Lowercase hex of a build ID's bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    s
}

/// Parses an ELF file held in memory.
pub(crate) fn parse(path: &Path, data: &Arc<[u8]>) -> Result<ParsedElf, Error> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(Error::NotElf { path: path.to_path_buf() });
    }
    let bytes: &[u8] = data;
    match FileKind::parse(bytes).map_err(|e| elf_err(path, e))? {
        FileKind::Elf32 => parse_as::<elf::FileHeader32<Endianness>>(path, data),
        FileKind::Elf64 => parse_as::<elf::FileHeader64<Endianness>>(path, data),
        _ => Err(Error::Elf { path: path.to_path_buf(), reason: "unsupported ELF class".to_string() }),
    }
}

fn parse_as<Elf: FileHeader<Endian = Endianness>>(path: &Path, data: &Arc<[u8]>) -> Result<ParsedElf, Error> {
    let bytes: &[u8] = data;
    let file = ElfFile::<Elf, &[u8]>::parse(bytes).map_err(|e| elf_err(path, e))?;
    let endian = file.endian();
    let header = file.elf_header();
    let elf_type = ElfType::from_raw(header.e_type(endian).0);
    let segments = load_segments::<Elf>(file.elf_program_headers(), endian);
    let text_addr = file.section_by_name(".text").map(|s| s.address());
    let build_id =
        build_id_in::<Elf, &[u8]>(bytes).map_err(|e| elf_err(path, e))?.map(hex).unwrap_or_default();
    let debuglink = match file.gnu_debuglink() {
        Ok(Some((name, _crc))) => Some(String::from_utf8_lossy(name).into_owned()),
        _ => None,
    };
    let (symbols, stext) = read_symbols(&file);
    let dwarf = load_dwarf(path, &file, data)?;
    Ok(ParsedElf { elf_type, segments, text_addr, build_id, debuglink, symbols, stext, dwarf })
}

fn load_segments<Elf: FileHeader<Endian = Endianness>>(
    headers: &[Elf::ProgramHeader],
    endian: Endianness,
) -> Vec<Segment> {
    headers
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .map(|p| Segment {
            offset: p.p_offset(endian).into(),
            vaddr: p.p_vaddr(endian).into(),
            filesz: p.p_filesz(endian).into(),
            memsz: p.p_memsz(endian).into(),
            flags: p.p_flags(endian).0,
        })
        .collect()
}

/// The GNU build ID: from the `PT_NOTE` segments first, then from the
/// `SHT_NOTE` sections (files without program headers, debug files).
fn build_id_in<'data, Elf: FileHeader<Endian = Endianness>, R: ReadRef<'data>>(
    data: R,
) -> object::Result<Option<&'data [u8]>> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    for ph in header.program_headers(endian, data)? {
        // A malformed note segment is skipped: the sections may still have it.
        if let Ok(Some(mut notes)) = ph.notes(endian, data) {
            while let Ok(Some(note)) = notes.next() {
                if note.name() == elf::ELF_NOTE_GNU && note.n_type(endian) == elf::NT_GNU_BUILD_ID {
                    return Ok(Some(note.desc()));
                }
            }
        }
    }
    let sections = header.sections(endian, data)?;
    for sh in sections.iter() {
        if let Ok(Some(mut notes)) = sh.notes(endian, data) {
            while let Ok(Some(note)) = notes.next() {
                if note.name() == elf::ELF_NOTE_GNU && note.n_type(endian) == elf::NT_GNU_BUILD_ID {
                    return Ok(Some(note.desc()));
                }
            }
        }
    }
    Ok(None)
}

/// Reads the GNU build ID of an ELF file (lowercase hex), reading only its
/// headers and notes rather than the whole file. `Ok(None)` when the file is ELF
/// but has no build ID.
pub fn read_build_id(path: &Path) -> Result<Option<String>, Error> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_err)?;
    let cache = ReadCache::new(file);
    let magic = (&cache).read_bytes_at(0, 4).map_err(|()| Error::NotElf { path: path.to_path_buf() })?;
    if magic != b"\x7fELF" {
        return Err(Error::NotElf { path: path.to_path_buf() });
    }
    let id = match FileKind::parse(&cache).map_err(|e| elf_err(path, e))? {
        FileKind::Elf32 => build_id_in::<elf::FileHeader32<Endianness>, _>(&cache),
        FileKind::Elf64 => build_id_in::<elf::FileHeader64<Endianness>, _>(&cache),
        _ => {
            return Err(Error::Elf { path: path.to_path_buf(), reason: "unsupported ELF class".to_string() });
        }
    };
    Ok(id.map_err(|e| elf_err(path, e))?.map(hex))
}

/// Function symbols from `.symtab`, or from `.dynsym` when `.symtab` has none;
/// plus the address of `_stext`.
fn read_symbols<'data, Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'data, Elf, &'data [u8]>,
) -> (Vec<Sym>, Option<u64>) {
    let exec_sections: Vec<SectionIndex> =
        file.sections().filter(|s| s.kind() == SectionKind::Text).map(|s| s.index()).collect();
    let mut stext = None;
    let mut syms = collect_symbols(file.symbols(), &exec_sections, &mut stext);
    if syms.is_empty() {
        syms = collect_symbols(file.dynamic_symbols(), &exec_sections, &mut stext);
    }
    // One symbol per address: prefer sized, then global, then the shortest name.
    syms.sort_by(|(a, ag), (b, bg)| {
        a.addr
            .cmp(&b.addr)
            .then((a.size == 0).cmp(&(b.size == 0)))
            .then(bg.cmp(ag))
            .then(a.name.len().cmp(&b.name.len()))
            .then(a.name.cmp(&b.name))
    });
    syms.dedup_by(|later, first| later.0.addr == first.0.addr);
    (syms.into_iter().map(|(s, _)| s).collect(), stext)
}

fn collect_symbols<'data, S: ObjectSymbol<'data>>(
    symbols: impl Iterator<Item = S>,
    exec_sections: &[SectionIndex],
    stext: &mut Option<u64>,
) -> Vec<(Sym, bool)> {
    let mut out = Vec::new();
    for s in symbols {
        let Ok(name) = s.name_bytes() else { continue };
        if name == b"_stext" {
            *stext = Some(s.address());
        }
        let is_code = match s.kind() {
            SymbolKind::Text => true,
            SymbolKind::Unknown => s.section_index().is_some_and(|i| exec_sections.contains(&i)),
            _ => false,
        };
        if !is_code || !s.is_definition() || s.address() == 0 || name.is_empty() || name[0] == b'$' {
            continue;
        }
        let name = String::from_utf8_lossy(name).into_owned().into_boxed_str();
        out.push((Sym { addr: s.address(), size: s.size(), name }, s.is_global()));
    }
    out
}

/// The function symbol covering `addr`, if any.
pub(crate) fn lookup_symbol(symbols: &[Sym], addr: u64) -> Option<&Sym> {
    let i = symbols.partition_point(|s| s.addr <= addr);
    let s = symbols.get(i.checked_sub(1)?)?;
    if s.size == 0 || addr - s.addr < s.size { Some(s) } else { None }
}

/// The DWARF sections of `file`, as ranges of `data` (or decompressed copies).
fn load_dwarf<'data, Elf: FileHeader<Endian = Endianness>>(
    path: &Path,
    file: &ElfFile<'data, Elf, &'data [u8]>,
    data: &Arc<[u8]>,
) -> Result<Option<gimli::Dwarf<Reader>>, Error> {
    let endian =
        if file.is_little_endian() { gimli::RunTimeEndian::Little } else { gimli::RunTimeEndian::Big };
    let empty: Arc<[u8]> = Arc::from(&[][..]);
    let mut has_info = false;
    let dwarf = gimli::Dwarf::load(|id: gimli::SectionId| -> Result<Reader, Error> {
        let Some(section) = file.section_by_name(id.name()) else {
            return Ok(Reader::new(empty.clone(), endian));
        };
        let compressed = section.compressed_file_range().map_err(|e| elf_err(path, e))?;
        let reader = if compressed.format == object::CompressionFormat::None {
            match section.file_range() {
                Some((offset, size)) => {
                    let start = usize::try_from(offset).ok();
                    let end = start.zip(usize::try_from(size).ok()).and_then(|(s, n)| s.checked_add(n));
                    match (start, end) {
                        (Some(s), Some(e)) if e <= data.len() => {
                            Reader::new(data.clone(), endian).range(s..e)
                        }
                        _ => {
                            return Err(Error::Elf {
                                path: path.to_path_buf(),
                                reason: format!("section {} extends past the end of the file", id.name()),
                            });
                        }
                    }
                }
                None => Reader::new(empty.clone(), endian),
            }
        } else {
            let bytes = section.uncompressed_data().map_err(|e| Error::Dwarf {
                path: path.to_path_buf(),
                reason: format!("cannot decompress {}: {e}", id.name()),
            })?;
            let owned: Arc<[u8]> = match bytes {
                Cow::Borrowed(b) => Arc::from(b),
                Cow::Owned(v) => Arc::from(v),
            };
            Reader::new(owned, endian)
        };
        // String sections are NUL-terminated strings back to back. One that is
        // not is corrupt, and would make every string read run to its end.
        let is_strings = matches!(id, gimli::SectionId::DebugStr | gimli::SectionId::DebugLineStr);
        if is_strings && !gimli::Reader::is_empty(&reader) {
            let last = gimli::Reader::to_slice(&reader).ok().and_then(|s| s.last().copied());
            if last != Some(0) {
                return Err(Error::Dwarf {
                    path: path.to_path_buf(),
                    reason: format!("{} does not end with a NUL byte", id.name()),
                });
            }
        }
        if id == gimli::SectionId::DebugInfo && !gimli::Reader::is_empty(&reader) {
            has_info = true;
        }
        Ok(reader)
    })?;
    Ok(has_info.then_some(dwarf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn symbol_lookup() {
        let syms = vec![
            Sym { addr: 0x1000, size: 0x10, name: "a".into() },
            Sym { addr: 0x1020, size: 0, name: "b".into() },
            Sym { addr: 0x1040, size: 0x8, name: "c".into() },
        ];
        assert_eq!(lookup_symbol(&syms, 0xfff).map(|s| &*s.name), None);
        assert_eq!(lookup_symbol(&syms, 0x1000).map(|s| &*s.name), Some("a"));
        assert_eq!(lookup_symbol(&syms, 0x100f).map(|s| &*s.name), Some("a"));
        assert_eq!(lookup_symbol(&syms, 0x1010).map(|s| &*s.name), None);
        assert_eq!(lookup_symbol(&syms, 0x1030).map(|s| &*s.name), Some("b"));
        assert_eq!(lookup_symbol(&syms, 0x1047).map(|s| &*s.name), Some("c"));
        assert_eq!(lookup_symbol(&syms, 0x1048).map(|s| &*s.name), None);
        assert_eq!(lookup_symbol(&[], 0x1048).map(|s| &*s.name), None);
    }

    #[test]
    fn not_elf_and_truncated() {
        let p = Path::new("/nonexistent/x");
        assert!(matches!(parse(p, &Arc::from(&b"hello world"[..])), Err(Error::NotElf { .. })));
        assert!(matches!(parse(p, &Arc::from(&b""[..])), Err(Error::NotElf { .. })));
        assert!(matches!(parse(p, &Arc::from(&b"\x7fELF\x02\x01"[..])), Err(Error::Elf { .. })));
    }
}
