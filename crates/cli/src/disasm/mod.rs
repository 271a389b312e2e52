//! Disassembly of the functions of a binary for `-disasm`, `-weblist` and the web
//! UI's disassembly view, in-process: symbols and text from the ELF file (the
//! `object` crate), instructions decoded by `iced-x86` and printed in Go's
//! syntax ([`gosyntax`]), with the file and line of each instruction from a Go
//! binary's `.gopclntab` ([`pclntab`]), as Go's `go tool pprof` does.

pub mod gosort;
pub mod gosyntax;
pub mod pclntab;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use regex::Regex;

/// A symbol of a binary that matched a regexp.
#[derive(Clone, Debug)]
pub struct Sym {
    /// Its name, as in the symbol table (not demangled).
    pub name: String,
    /// First address.
    pub start: u64,
    /// Last address (start + size - 1, as pprof's symbol ranges are).
    pub end: u64,
}

/// One decoded instruction.
#[derive(Clone, Debug)]
pub struct Inst {
    /// Its address in the binary.
    pub addr: u64,
    /// The instruction text.
    pub text: String,
    /// Its source file, if the binary says.
    pub file: String,
    /// Its source line, or 0.
    pub line: i64,
}

struct Symbol {
    name: String,
    addr: u64,
    size: u64,
}

/// An opened binary: its symbols, text and line table.
pub struct ObjFile {
    /// Its path.
    pub name: String,
    /// What to subtract from a profile address to get the binary's address.
    pub offset: u64,
    /// Symbols by address, in the order Go's sort leaves them.
    syms: Vec<Symbol>,
    /// Symbols by address (for `sym(SB)` operands).
    by_addr: Vec<usize>,
    text_start: u64,
    text: Vec<u8>,
    lines: Option<pclntab::LineTable>,
}

impl ObjFile {
    /// Opens `path`, mapped at `start` (0: not known).
    pub fn open(path: &str, start: u64) -> Result<ObjFile, String> {
        let data = std::fs::read(path).map_err(|e| format!("open {path}: {}", go_io_error(&e)))?;
        let file = object::File::parse(&*data).map_err(|e| format!("{path}: {e}"))?;
        if file.architecture() != object::Architecture::X86_64 {
            return Err(format!("{path}: unsupported architecture {:?}", file.architecture()));
        }
        let mut offset = 0;
        if start != 0 {
            if let Some(load) = load_address(&data) {
                offset = start.wrapping_sub(load);
            } else if let Some(seg) = file.segments().next() {
                offset = start.wrapping_sub(seg.address());
            }
        }
        // The symbol table without its null entry, in its order, then sorted
        // by address as Go's disassembler sorts it (unstably: aliases end up
        // in the order Go's sort leaves them).
        let mut syms: Vec<Symbol> = file
            .symbols()
            .filter(|s| s.index().0 != 0)
            .filter_map(|s| {
                let name = s.name().ok()?.to_string();
                Some(Symbol { name, addr: s.address(), size: s.size() })
            })
            .collect();
        gosort::sort_func(&mut syms, &|a: &Symbol, b: &Symbol| a.addr.cmp(&b.addr));
        let by_addr: Vec<usize> = (0..syms.len())
            .filter(|&i| {
                !matches!(
                    syms[i].name.as_str(),
                    "runtime.text" | "text" | "_text" | "runtime.etext" | "etext" | "_etext"
                )
            })
            .collect();
        let (text_start, text) = match file.section_by_name(".text") {
            Some(s) => (s.address(), s.data().map_err(|e| format!("{path}: {e}"))?.to_vec()),
            None => return Err(format!("{path}: text section not found")),
        };
        let pcln = file
            .section_by_name(".gopclntab")
            .or_else(|| file.section_by_name(".data.rel.ro.gopclntab"))
            .and_then(|s| s.data().ok().map(<[u8]>::to_vec));
        let lines = pcln.and_then(|d| {
            let text = syms.iter().find(|s| s.name == "runtime.text").map_or(text_start, |s| s.addr);
            pclntab::LineTable::parse(d, text)
        });
        Ok(ObjFile { name: path.to_string(), offset, syms, by_addr, text_start, text, lines })
    }

    /// The binary's address of a profile address.
    pub fn obj_addr(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.offset)
    }

    /// The symbols whose name matches `rx` and, with `addr` non-zero, that hold
    /// `addr`, by address.
    pub fn symbols(&self, rx: &Regex, addr: u64) -> Vec<Sym> {
        self.syms
            .iter()
            .filter(|s| !(s.addr == 0 && s.size == 0))
            .filter(|s| {
                rx.is_match(&s.name) && (addr == 0 || (s.addr <= addr && addr < s.addr.wrapping_add(s.size)))
            })
            .map(|s| Sym {
                name: s.name.clone(),
                start: s.addr,
                end: s.addr.wrapping_add(s.size).wrapping_sub(1),
            })
            .collect()
    }

    fn lookup(&self, addr: u64) -> Option<(String, u64)> {
        let i = self.by_addr.partition_point(|&i| self.syms[i].addr <= addr);
        if i == 0 {
            return None;
        }
        let s = &self.syms[self.by_addr[i - 1]];
        (s.addr != 0 && s.addr <= addr && addr < s.addr.wrapping_add(s.size))
            .then(|| (s.name.clone(), s.addr))
    }

    /// The instructions from `start` up to (not including) `end`, decoded from
    /// the text cut at `end`, as Go's disassembler does.
    pub fn disasm(&self, start: u64, end: u64) -> Vec<Inst> {
        let text_end = self.text_start + self.text.len() as u64;
        let start = start.max(self.text_start);
        let end = end.min(text_end);
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        let code = &self.text[..(end - self.text_start) as usize];
        let lookup = |a: u64| self.lookup(a);
        let mut pc = start;
        while pc < end {
            let i = (pc - self.text_start) as usize;
            let bytes = &code[i..];
            let (text, size) = decode(bytes, pc, &lookup);
            let (file, line) = self.lines.as_ref().map(|t| t.pc_to_line(pc)).unwrap_or_default();
            out.push(Inst { addr: pc, text, file, line });
            pc += size;
        }
        out
    }
}

/// A source position of an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The function.
    pub func: String,
    /// The source file.
    pub file: String,
    /// The line.
    pub line: i64,
}

impl ObjFile {
    /// The source position of the profile address `addr`, from a Go binary's
    /// line table (the function is the outermost one, the file and line those
    /// of the innermost inlined call, as Go's tools report them); `None` where
    /// the binary has no Go line table for it.
    pub fn source_line(&self, addr: u64) -> Option<Vec<Frame>> {
        let t = self.lines.as_ref()?;
        let (func, file, line) = t.pc_to_func(self.obj_addr(addr))?;
        Some(vec![Frame { func, file, line }])
    }
}

/// Decodes the instruction at the start of `bytes` (at address `pc`) as Go's
/// disassembler does: its Go syntax and size; `?` and 1 for bytes Go's decoder
/// does not take for an instruction. `lookup` names addresses after symbols.
pub fn decode(bytes: &[u8], pc: u64, lookup: gosyntax::Lookup<'_>) -> (String, u64) {
    let mut dec = iced_x86::Decoder::with_ip(64, bytes, pc, iced_x86::DecoderOptions::NONE);
    let inst = dec.decode();
    if inst.is_invalid() || inst.len() == 0 || !gosyntax::known_to_go(&inst, &bytes[..inst.len()]) {
        return ("?".to_string(), 1);
    }
    let mut size = inst.len() as u64;
    if matches!(inst.mnemonic(), iced_x86::Mnemonic::Vzeroupper | iced_x86::Mnemonic::Vzeroall) {
        // Go's decoder reads a ModRM byte (and its SIB and displacement)
        // after VZEROUPPER and VZEROALL.
        size += bytes.get(size as usize).map_or(1, |&m| modrm_len(m, bytes.get(size as usize + 1)));
    }
    if size as usize > bytes.len() {
        return ("?".to_string(), 1);
    }
    (gosyntax::format(&inst, &bytes[..inst.len()], lookup), size)
}

/// The length of a ModRM byte `m` with its SIB byte (`sib`) and displacement.
fn modrm_len(m: u8, sib: Option<&u8>) -> u64 {
    let (md, rm) = (m >> 6, m & 7);
    if md == 3 {
        return 1;
    }
    let mut n = 1;
    if rm == 4 {
        n += 1;
        if md == 0 && sib.is_some_and(|s| s & 7 == 5) {
            n += 4;
        }
    } else if md == 0 && rm == 5 {
        n += 4;
    }
    n + match md {
        1 => 1,
        2 => 4,
        _ => 0,
    }
}

/// The start of the page of the first executable segment (pprof's load address).
fn load_address(data: &[u8]) -> Option<u64> {
    use object::elf::{FileHeader64, PT_LOAD};
    use object::read::elf::{FileHeader, ProgramHeader};
    let e = object::Endianness::Little;
    let h = FileHeader64::<object::Endianness>::parse(data).ok()?;
    for p in h.program_headers(e, data).ok()? {
        if p.p_type(e) == PT_LOAD && p.p_flags(e).0 & 1 != 0 {
            let (vaddr, align) = (p.p_vaddr(e), p.p_align(e));
            return Some(if align == 0 { vaddr } else { vaddr - vaddr % align });
        }
    }
    None
}

fn go_io_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    let base = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = base.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
