//! `disasm`: annotated assembly of the functions (binary symbols) matching a
//! regexp, with the flat and cumulative values of the samples at each
//! instruction (pprof's `PrintAssembly`).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::Report;
use crate::disasm::{Inst, ObjFile, Sym};
use crate::graph::{Graph, Strs};
use crate::measurement::percentage;

/// A matched symbol and the binary it is in.
pub struct ObjSymbol {
    /// The symbol.
    pub sym: Sym,
    /// Index of its binary among those opened.
    pub file: usize,
}

/// One annotated instruction.
#[derive(Clone, Debug, Default)]
pub struct AsmInst {
    /// Its address in the binary.
    pub address: u64,
    /// Its text.
    pub instruction: String,
    /// The function of the samples on it.
    pub function: String,
    /// Base name of its source file.
    pub file: String,
    /// Its line.
    pub line: i64,
    /// Flat value.
    pub flat: i64,
    /// Cumulative value.
    pub cum: i64,
    flat_div: i64,
    cum_div: i64,
}

impl AsmInst {
    /// Flat value (divided for means).
    pub fn flat_value(&self) -> i64 {
        if self.flat_div != 0 { self.flat / self.flat_div } else { self.flat }
    }
    /// Cumulative value (divided for means).
    pub fn cum_value(&self) -> i64 {
        if self.cum_div != 0 { self.cum / self.cum_div } else { self.cum }
    }
}

/// An annotated symbol.
pub struct Routine {
    /// The symbol's name.
    pub name: String,
    /// Flat and cumulative sums of its samples.
    pub flat: i64,
    /// Cumulative sum.
    pub cum: i64,
    /// Its instructions.
    pub insts: Vec<AsmInst>,
}

/// What `disasm` shows.
pub struct Assembly {
    /// The annotated symbols, in print order.
    pub routines: Vec<Routine>,
}

fn base(path: &str) -> String {
    crate::graph::base_name(path).to_string()
}

/// The annotated assembly of the symbols matching the report's regexp (or
/// holding the address it names); with `max_funcs`, only that many, by flat sum.
/// Binaries that cannot be opened are skipped, their errors given to `open_error`.
pub fn assembly(
    rpt: &mut Report,
    max_funcs: Option<usize>,
    open_error: &mut dyn FnMut(String),
) -> Result<Assembly, String> {
    let Some(rx) = rpt.opts.symbol.clone() else {
        return Err("disasm needs a regexp".into());
    };
    let prof_mappings: Vec<(String, u64, u64)> = rpt
        .prof
        .mappings
        .iter()
        .map(|m| (rpt.prof.str(m.filename).to_string(), m.memory_start, m.memory_limit))
        .collect();
    let built = rpt.new_graph_with(None, false);
    let g: Graph = built.graph;
    let strs: Strs = built.builder.into_strs();
    let address = parse_uint(rx.as_str());

    // The binaries with samples in functions that match.
    let mut matched_files: HashMap<&str, bool> = HashMap::new();
    for &n in &g.nodes {
        let info = g.node(n).info;
        let name = info.name_components(&strs).join(" ");
        if rx.is_match(&name) && info.objfile != 0 {
            matched_files.insert(strs.get(info.objfile), true);
        }
    }
    let mut files: Vec<ObjFile> = Vec::new();
    let mut symbols: Vec<ObjSymbol> = Vec::new();
    for (file, start, limit) in &prof_mappings {
        if !matched_files.contains_key(file.as_str()) {
            match address {
                Some(a) if *start <= a && a <= *limit => {}
                _ => continue,
            }
        }
        let f = match ObjFile::open(file, *start) {
            Ok(f) => f,
            Err(e) => {
                open_error(e);
                continue;
            }
        };
        for sym in f.symbols(&rx, address.unwrap_or(0)) {
            symbols.push(ObjSymbol { sym, file: files.len() });
        }
        files.push(f);
    }

    // The nodes of each symbol.
    let mut sym_nodes: Vec<Vec<u32>> = vec![Vec::new(); symbols.len()];
    for (i, s) in symbols.iter().enumerate() {
        for &n in &g.nodes {
            let a = files[s.file].obj_addr(g.node(n).info.address);
            if a >= s.sym.start && a < s.sym.end {
                sym_nodes[i].push(n);
            }
        }
    }
    let sum = |ns: &[u32]| ns.iter().fold((0i64, 0i64), |(f, c), &n| (f + g.node(n).flat, c + g.node(n).cum));
    let mut order: Vec<usize> = (0..symbols.len()).filter(|&i| !sym_nodes[i].is_empty()).collect();
    let by_name = |a: usize, b: usize| {
        symbols[a].sym.name.cmp(&symbols[b].sym.name).then(symbols[a].sym.start.cmp(&symbols[b].sym.start))
    };
    match max_funcs {
        None => order.sort_by(|&a, &b| by_name(a, b)),
        Some(max) => {
            order.sort_by(|&a, &b| sum(&sym_nodes[b]).0.cmp(&sum(&sym_nodes[a]).0).then(by_name(a, b)));
            order.truncate(max);
        }
    }
    if order.is_empty() {
        return Err(match address {
            None => format!("no matches found for regexp {}", rx.as_str()),
            Some(a) if symbols.is_empty() => format!("no matches found for address {a:#x}"),
            Some(a) => {
                format!(
                    "address {a:#x} found in binary, but the corresponding symbols do not have samples in the profile"
                )
            }
        });
    }
    if rpt.opts.intel_syntax {
        // Go's disassembler prints Go's syntax only.
        return Err("printing assembly in Intel syntax is not supported".into());
    }
    let mut routines = Vec::new();
    for i in order {
        let s = &symbols[i];
        let (flat, cum) = sum(&sym_nodes[i]);
        let f = &files[s.file];
        let insts = f.disasm(s.sym.start, s.sym.end);
        let insts = annotate(&insts, &sym_nodes[i], f, &g, &strs);
        routines.push(Routine { name: s.sym.name.clone(), flat, cum, insts });
    }
    Ok(Assembly { routines })
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let s2 = s.replace('_', "");
    let (digits, radix) = if let Some(h) = s2.strip_prefix("0x").or_else(|| s2.strip_prefix("0X")) {
        (h.to_string(), 16)
    } else if let Some(b) = s2.strip_prefix("0b").or_else(|| s2.strip_prefix("0B")) {
        (b.to_string(), 2)
    } else if let Some(o) = s2.strip_prefix("0o").or_else(|| s2.strip_prefix("0O")) {
        (o.to_string(), 8)
    } else if s2.len() > 1 && s2.starts_with('0') {
        (s2[1..].to_string(), 8)
    } else {
        (s2.clone(), 10)
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Sums the samples of each instruction (those from its address up to the next).
fn annotate(insts: &[Inst], nodes: &[u32], f: &ObjFile, g: &Graph, strs: &Strs) -> Vec<AsmInst> {
    let mut samples: Vec<u32> = nodes.to_vec();
    samples.sort_by_key(|&n| g.node(n).info.address);
    let mut s = 0;
    let mut out = Vec::with_capacity(insts.len());
    for (ix, inst) in insts.iter().enumerate() {
        let mut n = AsmInst {
            address: inst.addr,
            instruction: inst.text.clone(),
            file: if inst.file.is_empty() { String::new() } else { base(&inst.file) },
            line: inst.line,
            ..Default::default()
        };
        let next = insts.get(ix + 1).map_or(u64::MAX, |i| i.addr);
        while s < samples.len() {
            let node = g.node(samples[s]);
            if f.obj_addr(node.info.address) >= next {
                break;
            }
            n.flat_div += node.flat_div;
            n.flat += node.flat;
            n.cum_div += node.cum_div;
            n.cum += node.cum;
            if node.info.file != 0 && n.file.is_empty() {
                n.file = base(strs.get(node.info.file));
            }
            if node.info.lineno != 0 && n.line == 0 {
                n.line = node.info.lineno;
            }
            if node.info.name != 0 && n.function.is_empty() {
                n.function = strs.get(node.info.name).to_string();
            }
            s += 1;
        }
        out.push(n);
    }
    out
}

fn value_or_dot(v: i64, rpt: &Report) -> String {
    if v == 0 { ".".into() } else { rpt.format_value(v) }
}

/// `disasm`.
pub fn print_assembly(w: &mut String, rpt: &mut Report) -> Result<(), String> {
    // pprof prints the errors of binaries it cannot open on stdout, at once.
    let asm = assembly(rpt, None, &mut |e| println!("{e}"))?;
    write_assembly(w, rpt, &asm);
    Ok(())
}

/// Writes `asm` as `disasm` prints it.
pub fn write_assembly(w: &mut String, rpt: &Report, asm: &Assembly) {
    let _ = writeln!(w, "Total: {}", rpt.format_value(rpt.total));
    for r in &asm.routines {
        let _ = writeln!(w, "ROUTINE ======================== {}", r.name);
        let _ = writeln!(
            w,
            "{:>10} {:>10} (flat, cum) {} of Total",
            rpt.format_value(r.flat),
            rpt.format_value(r.cum),
            percentage(r.cum, rpt.total)
        );
        let (mut function, mut file, mut line) = (String::new(), String::new(), 0i64);
        for n in &r.insts {
            let mut loc = String::new();
            if n.function != function || n.file != file || n.line != line {
                function.clone_from(&n.function);
                file.clone_from(&n.file);
                line = n.line;
                if !n.function.is_empty() {
                    loc = format!("{} ", n.function);
                }
                if !n.file.is_empty() {
                    loc.push_str(&n.file);
                    if n.line != 0 {
                        let _ = write!(loc, ":{}", n.line);
                    }
                }
            }
            let (flat, cum) = (value_or_dot(n.flat_value(), rpt), value_or_dot(n.cum_value(), rpt));
            if loc.is_empty() {
                let _ = writeln!(w, "{flat:>10} {cum:>10} {:>10x}: {}", n.address, n.instruction);
            } else if n.instruction.chars().count() < 40 {
                let _ = writeln!(w, "{flat:>10} {cum:>10} {:>10x}: {:<40};{loc}", n.address, n.instruction);
            } else {
                let _ = writeln!(w, "{:74};{loc}", "");
                let _ = writeln!(w, "{flat:>10} {cum:>10} {:>10x}: {}", n.address, n.instruction);
            }
        }
    }
}
