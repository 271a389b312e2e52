//! `weblist`: an HTML page of the source of the functions matching a regexp,
//! each line with its value and, on a click, the instructions it compiled to
//! (pprof's `MakeWebList` and its `sourcelisting` template, standalone).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use super::Report;
use super::source::SourceReader;
use crate::disasm::{Frame, ObjFile};
use crate::measurement::percentage;

/// An instruction with its position and samples.
#[derive(Clone, Debug, Default)]
struct InstInfo {
    obj_addr: u64,
    length: u64,
    disasm: String,
    file: String,
    line: i64,
    flat: i64,
    cum: i64,
}

/// An instruction at a source line, with the inlined calls leading to it.
#[derive(Clone, Debug)]
struct SourceInst {
    addr: u64,
    stack: Vec<(String, i64)>,
}

#[derive(Default)]
struct SourceFile {
    lines: BTreeMap<i64, Vec<SourceInst>>,
    func_name: HashMap<i64, String>,
    flat: i64,
    cum: i64,
}

struct Func {
    name: String,
    begin: i64,
    end: i64,
    flat: i64,
    cum: i64,
}

struct Printer {
    interest: HashSet<String>,
    pretty: HashMap<String, String>,
    insts: HashMap<u64, InstInfo>,
    files: HashMap<String, SourceFile>,
}

/// pprof's `canonicalizeFileName`.
fn canonical(f: &str) -> String {
    let f = f.strip_prefix("/proc/self/cwd/").unwrap_or(f);
    let f = f.strip_prefix("./").unwrap_or(f);
    crate::graph::clean_path(f)
}

impl Printer {
    fn add_stack(&mut self, addr: u64, frames: &[Frame]) {
        for (i, f) in frames.iter().enumerate() {
            if !self.interest.contains(&f.func) {
                continue;
            }
            let file = self.files.entry(canonical(&f.file)).or_default();
            let stack = frames[..i].iter().rev().map(|c| (c.file.clone(), c.line)).collect();
            file.lines.entry(f.line).or_default().push(SourceInst { addr, stack });
            file.func_name.entry(f.line).or_insert_with(|| f.func.clone());
        }
    }

    fn functions(&self, f: &SourceFile) -> Vec<Func> {
        const MERGE_LIMIT: i64 = 20;
        const EXPAND: i64 = 5;
        let mut funcs: Vec<Func> = Vec::new();
        for (&l, insts) in &f.lines {
            let mut name = f.func_name.get(&l).cloned().unwrap_or_default();
            if let Some(p) = self.pretty.get(&name) {
                name.clone_from(p);
            }
            let (mut flat, mut cum) = (0, 0);
            for x in insts {
                let i = self.insts.get(&x.addr).cloned().unwrap_or_default();
                flat += i.flat;
                cum += i.cum;
            }
            if let Some(last) = funcs.last_mut()
                && l - last.end < MERGE_LIMIT
                && last.name == name
            {
                last.end = l + 1;
                last.flat += flat;
                last.cum += cum;
                continue;
            }
            funcs.push(Func { name, begin: l, end: l + 1, flat, cum });
        }
        for i in 0..funcs.len() {
            if i == 0 {
                if funcs[i].begin > EXPAND {
                    funcs[i].begin -= EXPAND;
                } else if funcs[i].begin > 1 {
                    funcs[i].begin = 1;
                }
            } else {
                let half = ((funcs[i].begin - funcs[i - 1].end) / 2).min(EXPAND);
                funcs[i - 1].end += half;
                funcs[i].begin -= half;
            }
        }
        if let Some(last) = funcs.last_mut() {
            last.end += EXPAND;
        }
        funcs
    }
}

/// Go's `html/template` escaping of text.
pub fn go_html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// pprof's `indentation`: the column of the first non-blank character.
fn indentation(line: &str) -> usize {
    let mut column = 0;
    for c in line.chars() {
        match c {
            ' ' => column += 1,
            '\t' => {
                column += 1;
                while column % 8 != 0 {
                    column += 1;
                }
            }
            _ => return column,
        }
    }
    column
}

/// pprof's `rightPad`: tabs expanded, padded with spaces to `n` columns.
fn right_pad(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(n.max(s.len()));
    let mut column = 0;
    for c in s.chars() {
        column += 1;
        if c == '\t' {
            out.push(' ');
            while column % 8 != 0 {
                column += 1;
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    while column < n {
        column += 1;
        out.push(' ');
    }
    out
}

fn value_or_dot(v: i64, rpt: &Report) -> String {
    if v == 0 { ".".into() } else { rpt.format_value(v) }
}

const CSS: &str = include_str!("weblist.css");
const JS: &str = include_str!("weblist.js");

/// `weblist`: the standalone HTML page.
pub fn print_web_list(w: &mut String, rpt: &mut Report) -> Result<(), String> {
    let Some(sym) = rpt.opts.symbol.clone() else {
        return Err("weblist needs a regexp".into());
    };
    let mut source_path = rpt.opts.source_path.clone();
    if source_path.is_empty() {
        source_path = std::env::current_dir()
            .map_err(|e| format!("could not stat current dir: {e}"))?
            .to_string_lossy()
            .into_owned();
    }
    let address = super::asm::parse_uint(sym.as_str());
    let p = &rpt.prof;
    let mut sp = Printer {
        interest: HashSet::new(),
        pretty: HashMap::new(),
        insts: HashMap::new(),
        files: HashMap::new(),
    };
    // The binaries, opened once each (None: could not be opened).
    let mut objects: HashMap<String, Option<usize>> = HashMap::new();
    let mut objs: Vec<ObjFile> = Vec::new();
    let mut object_of = |m: Option<u32>| -> Option<usize> {
        let m = &p.mappings[m? as usize];
        let file = p.str(m.filename).to_string();
        *objects.entry(file.clone()).or_insert_with(|| {
            ObjFile::open(&file, m.memory_start).ok().map(|o| {
                objs.push(o);
                objs.len() - 1
            })
        })
    };
    // Address → (location, binary).
    let mut addrs: HashMap<u64, (u32, Option<usize>)> = HashMap::new();
    let mut flat: HashMap<u64, i64> = HashMap::new();
    let mut cum: HashMap<u64, i64> = HashMap::new();
    let index = rpt.opts.sample_index;
    for i in 0..p.samples.len() {
        let v = p.samples.values(i);
        let mut value = v[index];
        if rpt.opts.mean && v[0] != 0 {
            value /= v[0];
        }
        let locs = p.samples.locations(i);
        for k in (0..locs.len()).rev() {
            let li = locs[k];
            let loc = &p.locations[li as usize];
            let lines = p.location_lines(li);
            for line in lines {
                let f = &p.functions[line.function as usize];
                sp.pretty.insert(p.str(f.system_name).to_string(), p.str(f.name).to_string());
            }
            let addr = loc.address;
            *cum.entry(addr).or_default() += value;
            if k == 0 {
                *flat.entry(addr).or_default() += value;
            }
            let mut mark = |j: usize, sp: &mut Printer| {
                let f = &p.functions[lines[j].function as usize];
                sp.interest.insert(p.str(f.name).to_string());
                sp.interest.insert(p.str(f.system_name).to_string());
                addrs.entry(addr).or_insert_with(|| (li, object_of(loc.mapping)));
            };
            if address == Some(addr) {
                if !lines.is_empty() {
                    mark(lines.len() - 1, &mut sp);
                }
                continue;
            }
            let match_file =
                loc.mapping.is_some_and(|m| sym.is_match(p.str(p.mappings[m as usize].filename)));
            for (j, line) in lines.iter().enumerate() {
                let f = &p.functions[line.function as usize];
                let matches = sym.is_match(p.str(f.name))
                    || sym.is_match(p.str(f.system_name))
                    || sym.is_match(p.str(f.filename));
                if (j == 0 && match_file) || matches {
                    mark(j, &mut sp);
                }
            }
        }
    }
    if sp.interest.is_empty() {
        return Err(format!("no matches found for regexp: {}", sym.as_str()));
    }

    // Address ranges around the samples, disassembled.
    let mut with_obj: Vec<u64> = addrs.iter().filter(|(_, v)| v.1.is_some()).map(|(&a, _)| a).collect();
    let mut unprocessed: Vec<u64> = addrs.iter().filter(|(_, v)| v.1.is_none()).map(|(&a, _)| a).collect();
    with_obj.sort_unstable();
    unprocessed.sort_unstable();
    const EXPAND: u64 = 500;
    struct Range {
        begin: u64,
        end: u64,
        obj: usize,
        score: i64,
    }
    let mut ranges: Vec<Range> = Vec::new();
    let mut i = 0;
    while i < with_obj.len() {
        let (mut begin, mut end) = (with_obj[i], with_obj[i]);
        let mut sum = flat.get(&begin).copied().unwrap_or(0);
        i += 1;
        let (li, obj) = addrs[&begin];
        let m = &p.mappings[p.locations[li as usize].mapping.unwrap_or(0) as usize];
        while i < with_obj.len()
            && with_obj[i] <= end.wrapping_add(2 * EXPAND)
            && with_obj[i] < m.memory_limit
        {
            end = with_obj[i];
            sum += flat.get(&end).copied().unwrap_or(0);
            i += 1;
        }
        if m.memory_start.wrapping_sub(begin) >= EXPAND {
            begin = begin.wrapping_sub(EXPAND);
        } else {
            begin = m.memory_start;
        }
        if m.memory_limit.wrapping_sub(end) >= EXPAND {
            end = end.wrapping_add(EXPAND);
        } else {
            end = m.memory_limit;
        }
        ranges.push(Range { begin, end, obj: obj.unwrap_or(0), score: sum });
    }
    for &addr in &unprocessed {
        let li = addrs[&addr].0;
        let frames: Vec<Frame> = p
            .location_lines(li)
            .iter()
            .map(|l| {
                let f = &p.functions[l.function as usize];
                Frame { func: p.str(f.name).to_string(), file: p.str(f.filename).to_string(), line: l.line }
            })
            .collect();
        let mut x = InstInfo { obj_addr: addr, length: 1, ..Default::default() };
        if let Some(f) = frames.first() {
            x.file.clone_from(&f.file);
            x.line = f.line;
        }
        sp.insts.insert(addr, x);
        sp.add_stack(addr, &frames);
    }
    // Go's (unstable) sort, so that ranges of equal weight keep Go's order.
    crate::disasm::gosort::sort_func(&mut ranges, &|a: &Range, b: &Range| b.score.cmp(&a.score));
    ranges.truncate(25);
    if rpt.opts.intel_syntax {
        // Go's disassembler has no Intel syntax: pprof skips the ranges.
        ranges.clear();
    }
    for r in &ranges {
        let obj = &objs[r.obj];
        let (obj_begin, obj_end) = (obj.obj_addr(r.begin), obj.obj_addr(r.end));
        let base = r.begin.wrapping_sub(obj_begin);
        let insts = obj.disasm(obj_begin, obj_end);
        let mut last_frames: Option<Vec<Frame>> = None;
        let (mut last_addr, mut max_addr) = (0u64, 0u64);
        for (k, inst) in insts.iter().enumerate() {
            let addr = inst.addr.wrapping_add(base);
            if addr <= max_addr {
                continue;
            }
            max_addr = addr;
            let length = match insts.get(k + 1) {
                Some(n) if n.addr > inst.addr => n.addr - inst.addr,
                _ => 1,
            };
            let mut frames = obj.source_line(addr).unwrap_or_else(|| {
                vec![Frame { func: String::new(), file: inst.file.clone(), line: inst.line }]
            });
            let mut x =
                InstInfo { obj_addr: inst.addr, length, disasm: inst.text.clone(), ..Default::default() };
            if let Some(f) = frames.first() {
                x.file.clone_from(&f.file);
                x.line = f.line;
            }
            sp.insts.insert(addr, x);
            const NEIGHBORHOOD: u64 = 32;
            if frames.first().is_some_and(|f| f.line != 0) {
                last_frames = Some(frames.clone());
                last_addr = addr;
            } else if addr.wrapping_sub(last_addr) <= NEIGHBORHOOD
                && let Some(l) = &last_frames
            {
                frames = l.clone();
            }
            sp.add_stack(addr, &frames);
        }
    }
    // Samples of each instruction.
    for (&addr, inst) in sp.insts.iter_mut() {
        for a in addr..addr.saturating_add(inst.length) {
            inst.flat += flat.get(&a).copied().unwrap_or(0);
            inst.cum += cum.get(&a).copied().unwrap_or(0);
        }
    }
    let insts = sp.insts.clone();
    for file in sp.files.values_mut() {
        let mut seen = HashSet::new();
        for line in file.lines.values() {
            for x in line {
                if !seen.insert(x.addr) {
                    continue;
                }
                let i = insts.get(&x.addr).cloned().unwrap_or_default();
                file.cum += i.cum;
                file.flat += i.flat;
            }
        }
    }
    let mut names: Vec<&String> = sp.files.keys().collect();
    names.sort();

    let legend = rpt.profile_labels();
    let from_legend =
        |prefix: &str| legend.iter().find_map(|l| l.strip_prefix(prefix)).unwrap_or("unknown").to_string();
    let title = format!("{} {}", from_legend("File: "), from_legend("Type: "));
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html>\n<head>\n  <meta charset=\"utf-8\">\n  <title>{}</title>\n  \n  {CSS}\n  {JS}\n</head>\n<body>\n\n",
        go_html_escape(&title)
    );
    w.push_str("<div class=\"legend\">");
    for (k, l) in legend.iter().enumerate() {
        if k > 0 {
            w.push_str("<br>\n");
        }
        w.push_str(&go_html_escape(l));
    }
    let _ = write!(w, "<br>Total: {}</div>", go_html_escape(&rpt.format_value(rpt.total)));
    let mut reader = SourceReader::new(&source_path, &rpt.opts.trim_path);
    for fname in names {
        let f = &sp.files[fname];
        for func in sp.functions(f) {
            if func.cum == 0 {
                continue;
            }
            let _ = write!(
                w,
                "<h2>{}</h2><p class=\"filename\">{}</p>\n<pre onClick=\"pprof_toggle_asm(event)\">\n",
                go_html_escape(&func.name),
                go_html_escape(fname)
            );
            let head = format!(
                "  Total:  {:>10} {:>10} (flat, cum) {}",
                rpt.format_value(func.flat),
                rpt.format_value(func.cum),
                percentage(func.cum, rpt.total)
            );
            w.push_str(&go_html_escape(&head));
            for l in func.begin..func.end {
                let empty = Vec::new();
                let at = f.lines.get(&l).unwrap_or(&empty);
                let contents = match reader.line(fname, l) {
                    Some(c) => c,
                    None if at.is_empty() => continue,
                    None if l == 0 => "<instructions with unknown line numbers>".to_string(),
                    None => "???".to_string(),
                };
                write_line(w, rpt, &sp, &mut reader, l, at, &contents);
            }
            w.push_str("\n</pre>\n");
        }
    }
    w.push_str("\n</body>\n</html>\n");
    Ok(())
}

/// One source line and its instructions (pprof's `makeWebListLine`).
fn write_line(
    w: &mut String,
    rpt: &Report,
    sp: &Printer,
    reader: &mut SourceReader,
    lineno: i64,
    at: &[SourceInst],
    contents: &str,
) {
    let (mut flat, mut cum) = (0, 0);
    let mut last_addr = 0u64;
    // (instruction, starts a block, inlined calls)
    type Row<'a> = (InstInfo, bool, &'a [(String, i64)]);
    let mut asm: Vec<Row<'_>> = Vec::new();
    for x in at {
        let i = sp.insts.get(&x.addr).cloned().unwrap_or_default();
        flat += i.flat;
        cum += i.cum;
        let last_len = sp.insts.get(&last_addr).map_or(0, |l| l.length);
        let starts_block = x.addr != last_addr.wrapping_add(last_len);
        last_addr = x.addr;
        asm.push((i, starts_block, &x.stack));
    }
    let class = if asm.is_empty() {
        "nop"
    } else if asm.iter().any(|(i, _, stack)| !stack.is_empty() || !i.disasm.is_empty()) {
        "livesrc"
    } else {
        "deadsrc"
    };
    let _ = write!(
        w,
        "\n<span class=line>{}</span> <span class={class}>",
        go_html_escape(&format!(" {lineno:>6}"))
    );
    let text =
        format!("  {:>10} {:>10} {:>8}  {} ", value_or_dot(flat, rpt), value_or_dot(cum, rpt), "", contents);
    w.push_str(&go_html_escape(&text));
    w.push_str("</span>");
    if class != "livesrc" {
        return;
    }
    let indent = indentation(contents);
    w.push_str("<span class=asm>");
    let mut cur_calls: Vec<(String, i64)> = Vec::new();
    for (k, (i, starts_block, stack)) in asm.iter().enumerate() {
        if *starts_block && k != 0 {
            w.push_str(&go_html_escape(&format!(" {:>8} {:>28}\n", "", "⋮")));
        }
        for (j, c) in stack.iter().enumerate() {
            if j < cur_calls.len() && cur_calls[j] == *c {
                continue;
            }
            cur_calls.clear();
            let fline = reader.line(&c.0, c.1).unwrap_or_default();
            let src = format!("{}{}", " ".repeat(indent + 4 + 4 * j), fline.trim());
            w.push_str(&go_html_escape(&format!(" {:>8} {:>10} {:>10} {:>8}  ", "", "", "", "")));
            let _ = writeln!(
                w,
                "<span class=inlinesrc>{}</span> <span class=unimportant>{}:{}</span>",
                go_html_escape(&right_pad(&src, 80)),
                go_html_escape(crate::graph::base_name(&c.0)),
                c.1
            );
        }
        cur_calls = stack.to_vec();
        if i.disasm.is_empty() {
            continue;
        }
        let fileline = if i.file.is_empty() {
            String::new()
        } else {
            format!("{}:{}", go_html_escape(crate::graph::base_name(&i.file)), i.line)
        };
        let text = format!("{}{}", " ".repeat(indent + 4 + 4 * stack.len()), i.disasm);
        let row = format!(
            " {:>8} {:>10} {:>10} {:>8x}: {} ",
            "",
            value_or_dot(i.flat, rpt),
            value_or_dot(i.cum, rpt),
            i.obj_addr,
            right_pad(&text, 80)
        );
        w.push_str(&go_html_escape(&row));
        let _ = writeln!(w, "<span class=unimportant>{}</span>", go_html_escape(&fileline));
    }
    w.push_str("</span>");
}
