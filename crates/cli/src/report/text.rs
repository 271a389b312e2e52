//! `top`/`text` (a flat list of nodes) and `tree`/`peek` (each node with its
//! callers above and callees below).

use std::fmt::Write as _;

use super::Report;
use crate::measurement::percentage;

/// One row of the top list.
#[derive(Clone, Debug)]
pub struct TextItem {
    /// Printable node name.
    pub name: String,
    /// `(inline)`, `(partial-inline)` or empty.
    pub inline_label: String,
    /// Flat value.
    pub flat: i64,
    /// Cumulative value.
    pub cum: i64,
    /// Formatted flat value.
    pub flat_format: String,
    /// Formatted cumulative value.
    pub cum_format: String,
}

/// The rows and header lines of a top report (pprof's `TextItems`).
pub fn text_items(rpt: &mut Report) -> (Vec<TextItem>, Vec<String>) {
    let (_strs, g, orig, dropped, _) = rpt.new_trimmed_graph();
    rpt.select_output_unit(&g);
    let labels = rpt.report_labels(&g, orig, dropped, 0, false);
    let mut items = Vec::with_capacity(g.nodes.len());
    for &n in &g.nodes {
        let node = g.node(n);
        let (mut inline, mut noinline) = (false, false);
        for &e in &node.ins {
            if g.edges[e as usize].inline {
                inline = true;
            } else {
                noinline = true;
            }
        }
        let inl = match (inline, noinline) {
            (true, true) => "(partial-inline)",
            (true, false) => "(inline)",
            _ => "",
        };
        let (flat, cum) = (node.flat_value(), node.cum_value());
        items.push(TextItem {
            name: g.names[n as usize].clone(),
            inline_label: inl.to_string(),
            flat,
            cum,
            flat_format: rpt.format_value(flat),
            cum_format: rpt.format_value(cum),
        });
    }
    (items, labels)
}

/// `top`/`text`.
pub fn print_text(w: &mut String, rpt: &mut Report) {
    let (items, labels) = text_items(rpt);
    let _ = writeln!(w, "{}", labels.join("\n"));
    let _ = writeln!(w, "{:>10} {:>5}% {:>5}% {:>10} {:>5}%", "flat", "flat", "sum", "cum", "cum");
    let mut flat_sum = 0i64;
    for item in &items {
        let inl =
            if item.inline_label.is_empty() { String::new() } else { format!(" {}", item.inline_label) };
        flat_sum += item.flat;
        let _ = writeln!(
            w,
            "{:>10} {} {} {:>10} {}  {}{}",
            item.flat_format,
            percentage(item.flat, rpt.total),
            percentage(flat_sum, rpt.total),
            item.cum_format,
            percentage(item.cum, rpt.total),
            item.name,
            inl
        );
    }
}

/// `tree`, and `peek` (with the command's regexp: only matching nodes).
pub fn print_tree(w: &mut String, rpt: &mut Report) -> Result<(), String> {
    print_tree_limited(w, rpt, 0).map(|_| ())
}

/// [`print_tree`] printing at most `max_entries` nodes (0: all), the first ones
/// in report order; returns how many nodes were printed and how many matched.
///
/// When more nodes match, the first ones are found on a graph without edges
/// and only their edges are collected (a large profile has many).
pub fn print_tree_limited(
    w: &mut String,
    rpt: &mut Report,
    max_entries: usize,
) -> Result<(usize, usize), String> {
    if max_entries > 0
        && let Some(rx) = rpt.opts.symbol.clone()
    {
        let (first, matched) = first_matching(rpt, &rx, max_entries);
        if matched > max_entries {
            let alternatives: Vec<String> = first.iter().map(|n| regex::escape(n)).collect();
            let exact =
                regex::Regex::new(&format!("^(?:{})$", alternatives.join("|"))).map_err(|e| e.to_string())?;
            rpt.opts.symbol = Some(exact);
            let printed = print_tree_inner(w, rpt, max_entries);
            rpt.opts.symbol = Some(rx);
            return printed.map(|(shown, _)| (shown, matched));
        }
    }
    print_tree_inner(w, rpt, max_entries)
}

/// The names of the first `n` nodes matching `rx` in report order, and how
/// many match, from a graph without edges.
fn first_matching(rpt: &mut Report, rx: &regex::Regex, n: usize) -> (Vec<String>, usize) {
    let cum = rpt.opts.cum_sort;
    let built = rpt.new_graph_with(None, false);
    let mut g = built.graph;
    let strs = built.builder.into_strs();
    g.sort(cum, false, &strs);
    let matching: Vec<&String> =
        g.nodes.iter().map(|&k| &g.names[k as usize]).filter(|s| rx.is_match(s)).collect();
    (matching.iter().take(n).map(|s| s.to_string()).collect(), matching.len())
}

fn print_tree_inner(w: &mut String, rpt: &mut Report, max_entries: usize) -> Result<(usize, usize), String> {
    const SEPARATOR: &str = "----------------------------------------------------------+-------------";
    const LEGEND: &str = "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t ";
    let (_strs, g, orig, dropped, _) = rpt.new_trimmed_graph();
    rpt.select_output_unit(&g);
    let _ = writeln!(w, "{}", rpt.report_labels(&g, orig, dropped, 0, false).join("\n"));
    let _ = writeln!(w, "{SEPARATOR}");
    let _ = writeln!(w, "{LEGEND}");
    let rx = rpt.opts.symbol.clone();
    let mut flat_sum = 0i64;
    let mut matched = 0;
    for &n in &g.nodes {
        let node = g.node(n);
        let name = &g.names[n as usize];
        let (flat, cum) = (node.flat_value(), node.cum_value());
        if let Some(rx) = &rx
            && !rx.is_match(name)
        {
            continue;
        }
        matched += 1;
        if max_entries > 0 && matched > max_entries {
            continue;
        }
        let _ = writeln!(w, "{SEPARATOR}");
        for e in g.sorted_edges(&node.ins) {
            let ed = &g.edges[e as usize];
            let inline = if ed.inline { " (inline)" } else { "" };
            let _ = writeln!(
                w,
                "{:>50} {} |   {}{}",
                rpt.format_value(ed.weight),
                percentage(ed.weight, cum),
                g.names[ed.src as usize],
                inline
            );
        }
        flat_sum += flat;
        let _ = writeln!(
            w,
            "{:>10} {} {} {:>10} {}                | {}",
            rpt.format_value(flat),
            percentage(flat, rpt.total),
            percentage(flat_sum, rpt.total),
            rpt.format_value(cum),
            percentage(cum, rpt.total),
            name
        );
        for e in g.sorted_edges(&node.outs) {
            let ed = &g.edges[e as usize];
            let inline = if ed.inline { " (inline)" } else { "" };
            let _ = writeln!(
                w,
                "{:>50} {} |   {}{}",
                rpt.format_value(ed.weight),
                percentage(ed.weight, cum),
                g.names[ed.dest as usize],
                inline
            );
        }
    }
    if !g.nodes.is_empty() {
        let _ = writeln!(w, "{SEPARATOR}");
    }
    if let Some(rx) = &rx
        && matched == 0
    {
        return Err(format!("no matches found for regexp: {}", rx.as_str()));
    }
    let shown = if max_entries > 0 { matched.min(max_entries) } else { matched };
    Ok((shown, matched))
}
