//! One opened binary: its ELF facts, symbol table and DWARF, and the lookup of
//! the frames at a file address.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::base::{self, ElfType, MappingRange, PAGE_SIZE, Segment};
use crate::demangle::{DemangleStyle, demangle};
use crate::elf::{self, ParsedElf, Reader, Sym};
use crate::error::Error;
use crate::names::{self, Caller, Names, Sections, Short};

/// One frame of the source at an address: a function, and the file and line
/// the address (for the innermost frame) or the call of the next inner frame
/// (for its callers) belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The demangled function name (Rust names without their hash); empty when
    /// unknown.
    pub function: String,
    /// The name as found in the binary (the mangled linkage name).
    pub system_name: String,
    /// The source file (absolute when the DWARF says where it was compiled);
    /// empty without DWARF.
    pub file: String,
    /// The line number, 0 when unknown.
    pub line: u32,
    /// The column number, 0 when unknown.
    pub column: u32,
    /// The line where the function is declared (`DW_AT_decl_line`), 0 when unknown.
    pub start_line: u32,
}

/// An opened ELF binary: everything needed to turn its addresses into frames.
///
/// The file is read into memory once; DWARF is parsed lazily, unit by unit, as
/// addresses are looked up. Dropping it releases everything.
pub struct Binary {
    path: PathBuf,
    elf_type: ElfType,
    segments: Vec<Segment>,
    text_addr: Option<u64>,
    build_id: String,
    symbols: Vec<Sym>,
    stext: Option<u64>,
    dwarf: Option<addr2line::Context<Reader>>,
    /// The DWARF sections `dwarf` reads (for the compilation units' names).
    sections: Option<Sections>,
    /// Qualified names for short DWARF names (`debug = "line-tables-only"`).
    names: Names,
    debuglink: Option<String>,
    debug_file: Option<PathBuf>,
    size: usize,
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binary")
            .field("path", &self.path)
            .field("elf_type", &self.elf_type)
            .field("build_id", &self.build_id)
            .field("symbols", &self.symbols.len())
            .field("has_dwarf", &self.dwarf.is_some())
            .field("debug_file", &self.debug_file)
            .finish()
    }
}

/// Reads a whole file into one shared buffer (no copy after the read).
pub(crate) fn read_file(path: &Path) -> Result<Arc<[u8]>, Error> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    let mut f = File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let len = usize::try_from(len).map_err(|_| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::OutOfMemory, "file too large"),
    })?;
    let mut buf: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
    match Arc::get_mut(&mut buf) {
        Some(slice) => f.read_exact(slice).map_err(io_err)?,
        None => {
            // Not reachable (the Arc was just made), but stay correct anyway.
            let mut v = Vec::with_capacity(len);
            f.read_to_end(&mut v).map_err(io_err)?;
            buf = Arc::from(v);
        }
    }
    Ok(buf)
}

impl Binary {
    /// Opens an ELF binary, looking for separate debug info in the default
    /// directory (`/usr/lib/debug`) when the file has no DWARF of its own.
    pub fn open(path: &Path) -> Result<Binary, Error> {
        Binary::open_with_debug_dirs(path, &[PathBuf::from("/usr/lib/debug")])
    }

    /// Opens an ELF binary; when it has no DWARF, looks for a separate debug file
    /// by build ID (`DIR/.build-id/ab/cdef….debug`) and by `.gnu_debuglink`
    /// (beside the binary, in its `.debug/` subdirectory, and `DIR/<binary's
    /// directory>/`), for each of `debug_dirs`. A debug file whose build ID
    /// differs from the binary's is ignored.
    pub fn open_with_debug_dirs(path: &Path, debug_dirs: &[PathBuf]) -> Result<Binary, Error> {
        let data = read_file(path)?;
        let parsed = elf::parse(path, &data)?;
        let size = data.len();
        drop(data);
        let mut binary = Binary::from_parsed(path, parsed, size)?;
        if binary.dwarf.is_none() {
            binary.load_debug_file(debug_dirs);
        }
        Ok(binary)
    }

    /// Parses an ELF binary already in memory; `path` is used in messages and by
    /// [`Binary::path`]. No separate debug file is looked for.
    pub fn from_bytes(path: &Path, data: Arc<[u8]>) -> Result<Binary, Error> {
        let parsed = elf::parse(path, &data)?;
        Binary::from_parsed(path, parsed, data.len())
    }

    fn from_parsed(path: &Path, p: ParsedElf, size: usize) -> Result<Binary, Error> {
        let (dwarf, sections) = match p.dwarf {
            Some(d) => {
                let sections = Arc::new(d);
                let ctx = addr2line::Context::from_arc_dwarf(sections.clone())
                    .map_err(|e| Error::Dwarf { path: path.to_path_buf(), reason: e.to_string() })?;
                (Some(ctx), Some(sections))
            }
            None => (None, None),
        };
        Ok(Binary {
            path: path.to_path_buf(),
            elf_type: p.elf_type,
            segments: p.segments,
            text_addr: p.text_addr,
            build_id: p.build_id,
            symbols: p.symbols,
            stext: p.stext,
            dwarf,
            sections,
            names: Names::default(),
            debuglink: p.debuglink,
            debug_file: None,
            size,
        })
    }

    /// Where a separate debug file may be: by build ID, then by debuglink.
    fn debug_candidates(&self, debuglink: Option<&str>, debug_dirs: &[PathBuf]) -> Vec<PathBuf> {
        let mut c = Vec::new();
        if self.build_id.len() > 2 {
            let (head, tail) = self.build_id.split_at(2);
            for d in debug_dirs {
                c.push(d.join(".build-id").join(head).join(format!("{tail}.debug")));
            }
        }
        if let Some(link) = debuglink.filter(|l| !l.is_empty() && !l.contains('/')) {
            let real = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
            if let Some(dir) = real.parent() {
                c.push(dir.join(link));
                c.push(dir.join(".debug").join(link));
                for d in debug_dirs {
                    let rel = dir.strip_prefix("/").unwrap_or(dir);
                    c.push(d.join(rel).join(link));
                }
            }
        }
        c
    }

    /// Best effort: adopt the DWARF (and the symbols, if this file has none) of a
    /// separate debug file.
    fn load_debug_file(&mut self, debug_dirs: &[PathBuf]) {
        let debuglink = self.debuglink.take();
        for cand in self.debug_candidates(debuglink.as_deref(), debug_dirs) {
            if cand == self.path || !cand.is_file() {
                continue;
            }
            let Ok(data) = read_file(&cand) else { continue };
            let Ok(parsed) = elf::parse(&cand, &data) else { continue };
            if !self.build_id.is_empty() && !parsed.build_id.is_empty() && parsed.build_id != self.build_id {
                continue;
            }
            let Some(dwarf) = parsed.dwarf else { continue };
            let sections = Arc::new(dwarf);
            let Ok(ctx) = addr2line::Context::from_arc_dwarf(sections.clone()) else { continue };
            self.dwarf = Some(ctx);
            self.sections = Some(sections);
            if self.symbols.is_empty() {
                self.symbols = parsed.symbols;
            }
            self.debug_file = Some(cand);
            return;
        }
    }

    /// The path the binary was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GNU build ID in lowercase hex; empty when the file has none.
    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    /// The ELF type.
    pub fn elf_type(&self) -> ElfType {
        self.elf_type
    }

    /// The loadable segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// True when DWARF line information was found (in the file or in a separate
    /// debug file).
    pub fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// The separate debug file the DWARF came from, if any.
    pub fn debug_file(&self) -> Option<&Path> {
        self.debug_file.as_deref()
    }

    /// Number of function symbols in the symbol table.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> usize {
        self.size
    }

    /// The address of the kernel relocation symbol `_stext`, used only for
    /// kernel images (pprof: when the name contains `vmlinux` or the mapping is
    /// not page aligned).
    fn kernel_offset(&self, m: &MappingRange) -> Option<u64> {
        let aligned = |a: u64| a.is_multiple_of(PAGE_SIZE);
        let name = self.path.to_string_lossy();
        if name.contains("vmlinux") || !aligned(m.start) || !aligned(m.limit) || !aligned(m.offset) {
            self.stext
        } else {
            None
        }
    }

    /// Checks that some base can be computed for this mapping (what pprof does
    /// when it opens a binary, before any address is known).
    pub fn check_mapping(&self, m: &MappingRange) -> Result<(), Error> {
        let text = base::find_text_segment(&self.segments, self.text_addr);
        base::get_base(self.elf_type, text, self.kernel_offset(m), m)
            .map(|_| ())
            .map_err(|e| Error::Base { path: self.path.clone(), reason: e.0 })
    }

    /// The base of `m` for runtime address `addr`: `file address = addr - base`.
    pub fn base(&self, m: &MappingRange, addr: u64) -> Result<u64, Error> {
        let stext = self.kernel_offset(m);
        let text = base::find_text_segment(&self.segments, self.text_addr);
        let base_err = |e: base::BaseError| Error::Base { path: self.path.clone(), reason: e.0 };
        let seg = base::segment_for_address(&self.segments, text, stext, m, addr).map_err(base_err)?;
        base::get_base(self.elf_type, seg, stext, m).map_err(base_err)
    }

    /// The file address (ELF virtual address) of runtime address `addr` in
    /// mapping `m`. Fails when `addr` is outside the mapping or no base can be
    /// computed.
    pub fn file_address(&self, m: &MappingRange, addr: u64) -> Result<u64, Error> {
        if m.limit > m.start && (addr < m.start || addr >= m.limit) {
            return Err(Error::Base {
                path: self.path.clone(),
                reason: format!(
                    "address 0x{addr:x} is outside the mapping [0x{:x}, 0x{:x})",
                    m.start, m.limit
                ),
            });
        }
        Ok(addr.wrapping_sub(self.base(m, addr)?))
    }

    /// The mangled name of the function symbol covering file address `addr`.
    pub fn symbol_name(&self, addr: u64) -> Option<&str> {
        elf::lookup_symbol(&self.symbols, addr).map(|s| &*s.name)
    }

    /// The frames at file address `addr`, innermost (inlined) first, the function
    /// the code belongs to last; empty when neither DWARF nor the symbol table
    /// knows the address. Names are demangled in `style`.
    ///
    /// Where the DWARF names a function only briefly (`debug =
    /// "line-tables-only"`: `count_primes`, no module path), the outermost
    /// frame takes the symbol table's name and inlined Rust frames a
    /// reconstructed one (see the `names` module): `fixture::count_primes`.
    pub fn frames(&self, addr: u64, style: DemangleStyle) -> Vec<Frame> {
        let mut raw = Vec::new();
        if let Some(ctx) = &self.dwarf {
            dwarf_frames(ctx, addr, style, &mut raw);
        }
        let symbol = elf::lookup_symbol(&self.symbols, addr);
        if raw.is_empty() {
            return symbol
                .map(|sym| Frame {
                    function: demangle(&sym.name, style),
                    system_name: sym.name.to_string(),
                    ..Frame::default()
                })
                .into_iter()
                .collect();
        }
        // Outermost first, so that a closure can be named after its caller.
        let n = raw.len();
        for i in (0..n).rev() {
            let short = !raw[i].frame.system_name.is_empty() && !names::is_mangled(&raw[i].frame.system_name);
            let outermost = i == n - 1;
            if outermost && (short || raw[i].frame.system_name.is_empty()) {
                // As pprof and perf: the symbol's name (unless it is another
                // function's, e.g. an alias of folded code).
                if let Some(sym) = symbol {
                    let function = demangle(&sym.name, style);
                    let same = raw[i].frame.system_name.is_empty()
                        || names::key(names::last_segment(&function))
                            == names::key(&raw[i].frame.system_name);
                    if same || !raw[i].rust {
                        raw[i].frame.function = function;
                        raw[i].frame.system_name = sym.name.to_string();
                        continue;
                    }
                }
            }
            if !(short && raw[i].rust) {
                continue;
            }
            let (Some(ctx), Some(sections)) = (&self.dwarf, &self.sections) else { continue };
            let callers: Vec<Caller<'_>> = raw[i + 1..]
                .iter()
                .map(|r| Caller {
                    function: &r.frame.function,
                    file: &r.frame.file,
                    dwarf_name: &r.dwarf_name,
                })
                .collect();
            let f = &raw[i].frame;
            let s = Short { name: &f.system_name, file: &f.file, line: f.line };
            if let Some(q) = self.names.qualify(&s, &callers, &self.symbols, ctx, sections, style) {
                raw[i].frame.function = q.function;
                raw[i].frame.system_name = q.system_name;
            }
        }
        raw.into_iter().map(|r| r.frame).collect()
    }
}

/// A frame as the DWARF gives it, with its language.
struct RawFrame {
    frame: Frame,
    rust: bool,
    /// The name the DWARF gives (with generic arguments when short).
    dwarf_name: String,
}

/// Appends the DWARF frames of `addr`; stops quietly at the first DWARF error
/// (what was found before it is kept).
fn dwarf_frames(ctx: &addr2line::Context<Reader>, addr: u64, style: DemangleStyle, out: &mut Vec<RawFrame>) {
    // addr2line computes `addr + 1` (an overflow for the last address), and no
    // code lives there anyway.
    if addr == u64::MAX {
        return;
    }
    let Ok(mut iter) = ctx.find_frames(addr).skip_all_loads() else { return };
    let unit = ctx.find_dwarf_and_unit(addr).skip_all_loads();
    while let Ok(Some(frame)) = iter.next() {
        let (system_name, rust) = match &frame.function {
            Some(f) => (
                f.raw_name().map(|n| n.into_owned()).unwrap_or_default(),
                f.language == Some(gimli::DW_LANG_Rust),
            ),
            None => (String::new(), false),
        };
        let function = if system_name.is_empty() { String::new() } else { demangle(&system_name, style) };
        let (file, line, column) = match &frame.location {
            Some(loc) => (loc.file.unwrap_or("").to_string(), loc.line.unwrap_or(0), loc.column.unwrap_or(0)),
            None => (String::new(), 0, 0),
        };
        let start_line = match (unit, frame.dw_die_offset) {
            (Some(u), Some(off)) => decl_line(u, off).unwrap_or(0),
            _ => 0,
        };
        let dwarf_name = system_name.clone();
        out.push(RawFrame {
            frame: Frame { function, system_name, file, line, column, start_line },
            rust,
            dwarf_name,
        });
    }
}

/// `DW_AT_decl_line` of the DIE at `offset`, following `DW_AT_abstract_origin`
/// and `DW_AT_specification` (a few hops, within the unit).
fn decl_line(unit: gimli::UnitRef<'_, Reader>, mut offset: gimli::UnitOffset) -> Option<u32> {
    for _ in 0..4 {
        let entry = unit.entry(offset).ok()?;
        if let Some(v) = entry.attr_value(gimli::DW_AT_decl_line) {
            return v.udata_value().and_then(|n| u32::try_from(n).ok());
        }
        let next = entry
            .attr_value(gimli::DW_AT_abstract_origin)
            .or_else(|| entry.attr_value(gimli::DW_AT_specification))?;
        offset = match next {
            gimli::AttributeValue::UnitRef(o) => o,
            gimli::AttributeValue::DebugInfoRef(o) => o.to_unit_offset(&unit.header)?,
            _ => return None,
        };
    }
    None
}
