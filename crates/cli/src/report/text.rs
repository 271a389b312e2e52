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
    Ok(())
}
