//! `list`: annotated source of the functions matching a regexp, with flat and
//! cumulative values per line, read from `-source_path`.
//!
//! A line's cumulative value counts each sample once (a graph node's value),
//! but a routine's, as pprof prints it, is the sum of its lines': a sample of a
//! recursive function that is on several of its lines counts once per line, and
//! the routine can show more than 100% of the total (pprof #707). With
//! `-list_recursion=once` ([`Options::list_recursion_once`]) every sample counts
//! once per routine and once per line, computed from the samples
//! ([`once_cums`]).
//!
//! [`Options::list_recursion_once`]: super::Options::list_recursion_once

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{BuiltGraph, Report, split_list, trim_path};
use crate::graph::{Graph, GraphBuilder, NodeInfo, Order, Strs};
use crate::measurement::percentage;

/// Reads source files once, by the name the profile gives them.
pub struct SourceReader {
    search_path: String,
    trim: String,
    files: HashMap<String, Vec<String>>,
    errors: HashMap<String, String>,
}

impl SourceReader {
    /// A reader searching `search_path` (colon-separated) after trimming `trim`.
    pub fn new(search_path: &str, trim: &str) -> Self {
        SourceReader {
            search_path: search_path.to_string(),
            trim: trim.to_string(),
            files: HashMap::new(),
            errors: HashMap::new(),
        }
    }

    /// Line `lineno` (1-based) of `path`, if it exists.
    pub fn line(&mut self, path: &str, lineno: i64) -> Option<String> {
        if !self.files.contains_key(path) {
            let mut lines = vec![String::new()];
            match open_source_file(path, &self.search_path, &self.trim) {
                Ok(text) => {
                    for l in text.split('\n') {
                        lines.push(l.strip_suffix('\r').unwrap_or(l).to_string());
                    }
                    // A final newline does not start another line.
                    if text.ends_with('\n') || text.is_empty() {
                        lines.pop();
                    }
                }
                Err(e) => {
                    self.errors.insert(path.to_string(), e);
                }
            }
            self.files.insert(path.to_string(), lines);
        }
        let lines = &self.files[path];
        if lineno <= 0 || lineno as usize >= lines.len() {
            return None;
        }
        Some(lines[lineno as usize].clone())
    }

    /// The error of opening `path`, if any.
    pub fn file_error(&self, path: &str) -> Option<&String> {
        self.errors.get(path)
    }
}

/// Go's `filepath.Join(dir, path)`.
fn join(dir: &str, path: &str) -> String {
    crate::graph::clean_path(&format!("{dir}/{path}"))
}

fn parent_dir(dir: &str) -> String {
    let c = crate::graph::clean_path(dir);
    match c.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => c[..i].to_string(),
        None => ".".into(),
    }
}

/// Finds a source file: absolute paths as they are, relative ones in each search
/// directory and its parents.
pub fn open_source_file(path: &str, search: &str, trim: &str) -> Result<String, String> {
    let path = trim_path(path, trim, search);
    // The file name's own bytes (a profile's path need not be UTF-8), and the
    // source's bytes kept as they are (escaped) for the listing.
    let read = |p: &str| {
        use std::os::unix::ffi::OsStrExt;
        let raw = rustprof_profile::unescape(p);
        std::fs::read(std::ffi::OsStr::from_bytes(&raw))
            .ok()
            .map(|b| rustprof_profile::escape_bytes(&b).into_owned())
    };
    if path.starts_with('/') {
        return read(&path).ok_or_else(|| {
            let e = std::fs::metadata(&path).err().map(|e| e.to_string()).unwrap_or_default();
            format!("open {path}: {}", go_io_error(&e))
        });
    }
    for dir in split_list(search) {
        let mut dir = dir.to_string();
        loop {
            if let Some(t) = read(&join(&dir, &path)) {
                return Ok(t);
            }
            let parent = parent_dir(&dir);
            if parent == dir {
                break;
            }
            dir = parent;
        }
    }
    Err(format!("could not find file {path} on path {search}"))
}

fn go_io_error(e: &str) -> String {
    // Rust: "No such file or directory (os error 2)"; Go: "no such file or directory".
    let base = e.split(" (os error").next().unwrap_or(e);
    let mut c = base.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// One annotated source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrcLine {
    /// The text of the line.
    pub text: String,
    /// Its number (1-based).
    pub lineno: i64,
    /// Flat value of the samples on this line.
    pub flat: i64,
    /// Cumulative value of the samples through this line.
    pub cum: i64,
}

fn source_from_file(
    file: &str,
    reader: &mut SourceReader,
    g: &Graph,
    fns: &[u32],
    once_lines: Option<&HashMap<i64, i64>>,
) -> Result<Vec<SrcLine>, String> {
    const MARGIN: i64 = 5;
    let first = g.node(fns[0]).info;
    let mut start = if first.start_line != 0 { first.start_line } else { first.lineno - MARGIN };
    let mut end = first.lineno + MARGIN;
    let mut line_nodes: HashMap<i64, (i64, i64)> = HashMap::new();
    for &n in fns {
        let node = g.node(n);
        let lineno = node.info.lineno;
        let mut node_start = node.info.start_line;
        if node_start == 0 {
            node_start = lineno - MARGIN;
        }
        let node_end = lineno + MARGIN;
        if node_start < start {
            start = node_start;
        } else if node_end > end {
            end = node_end;
        }
        let e = line_nodes.entry(lineno).or_default();
        e.0 += node.flat;
        e.1 += node.cum;
    }
    if let Some(once) = once_lines {
        for (lineno, e) in line_nodes.iter_mut() {
            e.1 = once.get(lineno).copied().unwrap_or(0);
        }
    }
    if start < 1 {
        start = 1;
    }
    let mut src = Vec::new();
    let mut lineno = start;
    while lineno <= end {
        let Some(line) = reader.line(file, lineno) else { break };
        let (flat, cum) = line_nodes.get(&lineno).copied().unwrap_or((0, 0));
        src.push(SrcLine { text: line.trim_end_matches('\n').to_string(), lineno, flat, cum });
        lineno += 1;
    }
    if let Some(e) = reader.file_error(file) {
        return Err(e.clone());
    }
    Ok(src)
}

fn value_or_dot(v: i64, rpt: &Report) -> String {
    if v == 0 { ".".into() } else { rpt.format_value(v) }
}

/// One function's listing in one of its source files.
#[derive(Clone, Debug)]
pub struct Routine {
    /// The function.
    pub name: String,
    /// The source file.
    pub file: String,
    /// Flat value of the function in this file.
    pub flat: i64,
    /// Cumulative value of the function in this file.
    pub cum: i64,
    /// The annotated lines, or why the file could not be read.
    pub lines: Result<Vec<SrcLine>, String>,
}

/// An entry of a listing, in the order `list` prints them.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A matching function without file names.
    NoSource(String),
    /// A function in a file.
    Routine(Routine),
}

/// What `list` shows: every matching function in every source file.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The entries, functions by name, files by name.
    pub entries: Vec<Entry>,
    /// How many functions matched the regexp.
    pub matched: usize,
    /// How many of them are listed (all, or the heaviest `max_functions`).
    pub shown: usize,
}

/// The listing of the functions matching the report's regexp (pprof's `list`);
/// with `max_functions` > 0, only that many: those with the largest flat, then
/// cumulative, values (the web UI's Source view bounds its page this way).
pub fn listing(rpt: &mut Report, max_functions: usize) -> Result<Listing, String> {
    let symbol = rpt.opts.symbol.clone();
    let (once, sample_index) = (rpt.opts.list_recursion_once, rpt.opts.sample_index);
    // Lines' values are all a listing needs: no edges.
    let BuiltGraph { builder, graph: g } = rpt.new_graph_with(None, false);
    let Some(symbol) = symbol else {
        return Err("list needs a regexp".into());
    };
    let mut functions: Vec<u32> = Vec::new();
    let mut function_nodes: HashMap<u32, Vec<u32>> = HashMap::new();
    for &n in &g.nodes {
        let name = g.node(n).info.name;
        if !symbol.is_match(builder.strs.get(name)) {
            continue;
        }
        let e = function_nodes.entry(name).or_default();
        if e.is_empty() {
            functions.push(n);
        }
        e.push(n);
    }
    if function_nodes.is_empty() {
        return Err(format!("no matches found for regexp: {}", symbol.as_str()));
    }
    let once =
        once.then(|| once_cums(&builder, &g, function_nodes.values().flatten().copied(), sample_index));
    let strs: Strs = builder.into_strs();
    let matched = functions.len();
    if max_functions > 0 && functions.len() > max_functions {
        let weight = |n: u32| {
            function_nodes[&g.node(n).info.name]
                .iter()
                .fold((0i64, 0i64), |(f, c), &m| (f + g.node(m).flat.abs(), c + g.node(m).cum.abs()))
        };
        let mut by_weight: Vec<(i64, i64, u32)> =
            functions.iter().map(|&n| (weight(n).0, weight(n).1, n)).collect();
        by_weight.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        functions = by_weight.into_iter().take(max_functions).map(|(_, _, n)| n).collect();
    }
    g.sort_nodes(&mut functions, Order::Name, &strs);
    let mut source_path = rpt.opts.source_path.clone();
    if source_path.is_empty() {
        source_path = std::env::current_dir()
            .map_err(|e| format!("could not stat current dir: {e}"))?
            .to_string_lossy()
            .into_owned();
    }
    let mut reader = SourceReader::new(&source_path, &rpt.opts.trim_path);
    let mut entries = Vec::new();
    for &f in &functions {
        let name_id = g.node(f).info.name;
        let name = strs.get(name_id);
        let mut source_files: Vec<u32> = Vec::new();
        let mut file_nodes: HashMap<u32, Vec<u32>> = HashMap::new();
        for &n in &function_nodes[&name_id] {
            let file = g.node(n).info.file;
            if file == 0 {
                continue;
            }
            let e = file_nodes.entry(file).or_default();
            if e.is_empty() {
                source_files.push(n);
            }
            e.push(n);
        }
        if source_files.is_empty() {
            entries.push(Entry::NoSource(name.to_string()));
            continue;
        }
        g.sort_nodes(&mut source_files, Order::File, &strs);
        for &fl in &source_files {
            let file_id = g.node(fl).info.file;
            let filename = strs.get(file_id);
            let fns = &file_nodes[&file_id];
            let (flat, mut cum) =
                fns.iter().fold((0, 0), |(a, b), &n| (a + g.node(n).flat, b + g.node(n).cum));
            let once_lines = once.as_ref().map(|o| {
                cum = o.routines.get(&(name_id, file_id)).copied().unwrap_or(0);
                o.lines.get(&(name_id, file_id)).unwrap_or(&o.none)
            });
            let lines = source_from_file(filename, &mut reader, &g, fns, once_lines);
            entries.push(Entry::Routine(Routine {
                name: name.to_string(),
                file: filename.to_string(),
                flat,
                cum,
                lines,
            }));
        }
    }
    Ok(Listing { entries, matched, shown: functions.len() })
}

/// Cumulative values that count each sample once: per routine (function name
/// and file) and per line of a routine.
pub struct OnceCums {
    /// `(name, file)` → value.
    pub routines: HashMap<(u32, u32), i64>,
    /// `(name, file)` → line → value.
    pub lines: HashMap<(u32, u32), HashMap<i64, i64>>,
    none: HashMap<i64, i64>,
}

/// Walks the samples once and adds each sample's value at most once to every
/// routine and every routine's line it reaches, for the routines of `nodes`
/// (nodes of `g`, which `builder` built).
pub fn once_cums(
    builder: &GraphBuilder<'_>,
    g: &Graph,
    nodes: impl Iterator<Item = u32>,
    sample_index: usize,
) -> OnceCums {
    // Dense ids of the routines and lines of the nodes.
    let mut node_keys: HashMap<NodeInfo, (u32, u32)> = HashMap::new();
    let mut routine_ids: HashMap<(u32, u32), u32> = HashMap::new();
    let mut line_ids: HashMap<(u32, u32, i64), u32> = HashMap::new();
    for n in nodes {
        let info = g.node(n).info;
        let r = (info.name, info.file);
        let next = routine_ids.len() as u32;
        let rid = *routine_ids.entry(r).or_insert(next);
        let next = line_ids.len() as u32;
        let lid = *line_ids.entry((r.0, r.1, info.lineno)).or_insert(next);
        node_keys.insert(info, (rid, lid));
    }
    let prof = builder.prof;
    // Per location: the (routine, line) ids its frames reach.
    let per_loc: Vec<Vec<(u32, u32)>> = (0..prof.locations.len() as u32)
        .map(|l| builder.location_infos(l).iter().filter_map(|i| node_keys.get(i).copied()).collect())
        .collect();
    let mut routine_sum = vec![0i64; routine_ids.len()];
    let mut line_sum = vec![0i64; line_ids.len()];
    let mut routine_seen = vec![usize::MAX; routine_ids.len()];
    let mut line_seen = vec![usize::MAX; line_ids.len()];
    for i in 0..prof.samples.len() {
        let w = prof.samples.values(i)[sample_index];
        if w == 0 {
            continue;
        }
        for &l in prof.samples.locations(i) {
            for &(r, k) in &per_loc[l as usize] {
                if routine_seen[r as usize] != i {
                    routine_seen[r as usize] = i;
                    routine_sum[r as usize] += w;
                }
                if line_seen[k as usize] != i {
                    line_seen[k as usize] = i;
                    line_sum[k as usize] += w;
                }
            }
        }
    }
    let routines = routine_ids.iter().map(|(&r, &id)| (r, routine_sum[id as usize])).collect();
    let mut lines: HashMap<(u32, u32), HashMap<i64, i64>> = HashMap::new();
    for (&(name, file, lineno), &id) in &line_ids {
        lines.entry((name, file)).or_default().insert(lineno, line_sum[id as usize]);
    }
    OnceCums { routines, lines, none: HashMap::new() }
}

/// `list`.
pub fn print_source(w: &mut String, rpt: &mut Report) -> Result<(), String> {
    let listing = listing(rpt, 0)?;
    let _ = writeln!(w, "Total: {}", rpt.format_value(rpt.total));
    for entry in &listing.entries {
        let r = match entry {
            Entry::NoSource(name) => {
                let _ = writeln!(w, "No source information for {name}");
                continue;
            }
            Entry::Routine(r) => r,
        };
        let _ = writeln!(w, "ROUTINE ======================== {} in {}", r.name, r.file);
        let _ = writeln!(
            w,
            "{:>10} {:>10} (flat, cum) {} of Total",
            rpt.format_value(r.flat),
            rpt.format_value(r.cum),
            percentage(r.cum, rpt.total)
        );
        match &r.lines {
            Err(e) => {
                let _ = writeln!(w, " Error: {e}");
            }
            Ok(lines) => {
                for l in lines {
                    let _ = writeln!(
                        w,
                        "{:>10} {:>10} {:>6}:{}",
                        value_or_dot(l.flat, rpt),
                        value_or_dot(l.cum, rpt),
                        l.lineno,
                        l.text
                    );
                }
            }
        }
    }
    Ok(())
}

/// `weblist` needs a disassembler, which rustprof does not have.
pub fn print_web_source(_w: &mut String, _rpt: &mut Report) -> Result<(), String> {
    Err("weblist is not supported: rustprof has no disassembler; use -list for annotated source".into())
}
