//! `callgrind`: the graph in the callgrind format read by KCachegrind.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::Report;
use crate::graph::{Graph, NodeInfo, Strs};
use crate::measurement;

fn callgrind_name(names: &mut HashMap<String, usize>, name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    if let Some(id) = names.get(name) {
        return format!("({id})");
    }
    let id = names.len() + 1;
    names.insert(name.to_string(), id);
    format!("({id}) {name}")
}

fn callgrind_address(prev: Option<&NodeInfo>, curr: u64) -> String {
    let abs = format!("{curr:#x}");
    let Some(prev) = prev else { return abs };
    if prev.address == curr {
        return "*".into();
    }
    let diff = curr.wrapping_sub(prev.address) as i64;
    let relative = format!("{diff:+}");
    if relative.len() < abs.len() { relative } else { abs }
}

/// Names made unique per (file, name) when several functions share them:
/// `name [i/n]`.
fn disambiguated_names(g: &Graph, s: &Strs) -> HashMap<u32, String> {
    let mut index: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    for &n in &g.nodes {
        let info = g.node(n).info;
        let f = index.entry((info.file, info.name)).or_default();
        let func = g.node(n).function;
        if !f.contains(&func) {
            f.push(func);
        }
    }
    let mut out = HashMap::new();
    for &n in &g.nodes {
        let node = g.node(n);
        let mut name = s.get(node.info.name).to_string();
        let p = &index[&(node.info.file, node.info.name)];
        if p.len() > 1 {
            let pos = p.iter().position(|&f| f == node.function).unwrap_or(0);
            name = format!("{name} [{}/{}]", pos + 1, p.len());
        }
        out.insert(n, name);
    }
    out
}

/// `callgrind`.
pub fn print_callgrind(w: &mut String, rpt: &mut Report) {
    rpt.opts.node_fraction = 0.0;
    rpt.opts.edge_fraction = 0.0;
    rpt.opts.node_count = 0;
    let (strs, g, _, _, _) = rpt.new_trimmed_graph();
    rpt.select_output_unit(&g);
    let o = &rpt.opts;
    let node_names = disambiguated_names(&g, &strs);
    let _ = writeln!(w, "positions: instr line");
    let _ = writeln!(w, "events: {}({})", o.sample_type, o.output_unit);
    let mut objfiles = HashMap::new();
    let mut files = HashMap::new();
    let mut names = HashMap::new();
    let mut prev: Option<NodeInfo> = None;
    for &n in &g.nodes {
        let node = g.node(n);
        let info = node.info;
        if prev.is_none_or(|p| info.objfile != p.objfile || info.file != p.file || info.name != p.name) {
            let _ = writeln!(w);
            let _ = writeln!(w, "ob={}", callgrind_name(&mut objfiles, strs.get(info.objfile)));
            let _ = writeln!(w, "fl={}", callgrind_name(&mut files, strs.get(info.file)));
            let _ = writeln!(w, "fn={}", callgrind_name(&mut names, strs.get(info.name)));
        }
        let addr = callgrind_address(prev.as_ref(), info.address);
        let (sv, _) = measurement::scale(node.flat_value(), &o.sample_unit, &o.output_unit);
        let _ = writeln!(w, "{} {} {}", addr, info.lineno, sv as i64);
        for e in g.sorted_edges(&node.outs) {
            let ed = &g.edges[e as usize];
            let (c, _) = measurement::scale(ed.weight, &o.sample_unit, &o.output_unit);
            let callee = g.node(ed.dest).info;
            let _ = writeln!(w, "cfl={}", callgrind_name(&mut files, strs.get(callee.file)));
            let cname = node_names.get(&ed.dest).cloned().unwrap_or_default();
            let _ = writeln!(w, "cfn={}", callgrind_name(&mut names, &cname));
            let _ =
                writeln!(w, "calls=0 {} {}", callgrind_address(prev.as_ref(), callee.address), callee.lineno);
            let _ = writeln!(w, "* * {}", c as i64);
        }
        prev = Some(info);
    }
}
