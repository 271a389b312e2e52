//! Reports: one module per output format, all built from a filtered, aggregated
//! profile through the same graph and the same header lines, with units
//! formatted in one place ([`crate::measurement`]).

use std::collections::HashMap;
use std::fmt::Write as _;

use hashbrown::HashSet;
use regex::Regex;
use rustprof_profile::Profile;

use crate::commands::Format;
use crate::gofmt;
use crate::graph::{Graph, GraphBuilder, GraphOptions, Strs};
use crate::measurement;

pub mod callgrind;
pub mod dot;
pub mod flame;
pub mod folded;
pub mod proto;
pub mod raw;
pub mod source;
pub mod tags;
pub mod text;
pub mod traces;

/// What shapes a report.
#[derive(Clone, Debug)]
pub struct Options {
    /// The report.
    pub format: Format,
    /// Sort by cumulative value.
    pub cum_sort: bool,
    /// Context-sensitive tree (dot/callgrind).
    pub call_tree: bool,
    /// Drop negative nodes.
    pub drop_negative: bool,
    /// Minimal headers.
    pub compact_labels: bool,
    /// Multiply values by this (1/divide_by).
    pub ratio: f64,
    /// Title (the main binary's base name).
    pub title: String,
    /// Header lines to use instead of the profile's (web UI).
    pub profile_labels: Vec<String>,
    /// `name=value` of active filters.
    pub active_filters: Vec<String>,
    /// Units of numeric label keys.
    pub num_label_units: HashMap<String, String>,
    /// Max nodes (0: no limit).
    pub node_count: i64,
    /// Drop nodes below this fraction of the total.
    pub node_fraction: f64,
    /// Drop edges below this fraction of the total.
    pub edge_fraction: f64,
    /// Index of the value.
    pub sample_index: usize,
    /// Divide by value 0.
    pub mean: bool,
    /// Sample type name (`mean_` prefixed with `mean`).
    pub sample_type: String,
    /// Unit of the sample type.
    pub sample_unit: String,
    /// Unit to print in (`minimum` is resolved per report).
    pub output_unit: String,
    /// The command's regexp (list, peek, disasm).
    pub symbol: Option<Regex>,
    /// Source search path.
    pub source_path: String,
    /// Prefixes to trim from source paths.
    pub trim_path: String,
    /// `-list_recursion=once`: `list` counts each sample once per routine and
    /// per line (pprof sums a routine's lines, see [`source`]).
    pub list_recursion_once: bool,
}

/// A profile ready for a report, with its total and options.
pub struct Report {
    /// The (filtered, aggregated) profile.
    pub prof: Profile,
    /// The total for percentages.
    pub total: i64,
    /// Options.
    pub opts: Options,
}

/// Go's regexp error text for a Rust regex error (`error parsing regexp:
/// missing closing ): `(``), for the problems both engines name alike.
pub fn go_regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let last = s.lines().rev().find(|l| l.starts_with("error:")).unwrap_or(s);
            let problem = last.trim_start_matches("error:").trim();
            let pattern = s.lines().nth(1).unwrap_or("").trim();
            let go = match problem {
                "unclosed group" => "missing closing )",
                "unclosed character class" => "missing closing ]",
                "unopened group" => "unexpected )",
                "repetition operator missing expression" => "missing argument to repetition operator",
                "invalid escape sequence found in character class" | "unrecognized escape sequence" => {
                    "invalid escape sequence"
                }
                other => other,
            };
            format!("error parsing regexp: {go}: `{pattern}`")
        }
        other => format!("error parsing regexp: {other}"),
    }
}

/// pprof's `computeTotal`: the sum of |value| (of the diff base's samples when
/// there are any), divided by the sum of divisors for means.
pub fn compute_total(p: &Profile, index: usize, mean: bool) -> i64 {
    let (mut total, mut div, mut diff_total, mut diff_div) = (0i64, 0i64, 0i64, 0i64);
    let base_sets: Vec<bool> = (0..=p.samples.label_sets() as u32)
        .map(|id| {
            p.samples
                .label_set(id)
                .iter()
                .any(|l| l.is_str() && p.str(l.key) == "pprof::base" && p.str(l.str) == "true")
        })
        .collect();
    for i in 0..p.samples.len() {
        let v = p.samples.values(i);
        let mut x = v[index];
        let d = if mean { v[0] } else { 0 };
        if x < 0 {
            x = x.wrapping_neg();
        }
        total = total.wrapping_add(x);
        div = div.wrapping_add(d);
        if base_sets[p.samples.label_set_id(i) as usize] {
            diff_total = diff_total.wrapping_add(x);
            diff_div = diff_div.wrapping_add(d);
        }
    }
    if diff_total > 0 {
        total = diff_total;
        div = diff_div;
    }
    if div != 0 { total / div } else { total }
}

/// pprof's `trimPath`: strips configured prefixes, or guesses one from the
/// source path's base names, and `/proc/self/cwd/`.
pub fn trim_path(path: &str, trim: &str, search: &str) -> String {
    if trim.is_empty() {
        for dir in split_list(search) {
            let want = format!("/{}/", crate::graph::base_name(dir));
            if let Some(found) = path.find(&want) {
                return path[found + want.len()..].to_string();
            }
        }
    }
    let mut prefixes: Vec<String> = split_list(trim).into_iter().map(str::to_string).collect();
    prefixes.push("/proc/self/cwd/./".into());
    prefixes.push("/proc/self/cwd/".into());
    for mut t in prefixes {
        if !t.ends_with('/') {
            t.push('/');
        }
        if let Some(rest) = path.strip_prefix(t.as_str()) {
            return rest.to_string();
        }
    }
    path.to_string()
}

/// Go's `filepath.SplitList` (empty string → no entries).
pub fn split_list(s: &str) -> Vec<&str> {
    if s.is_empty() { Vec::new() } else { s.split(':').collect() }
}

/// A graph with the builder that made it (its string table names the nodes).
pub struct BuiltGraph<'p> {
    /// The builder (strings, options).
    pub builder: GraphBuilder<'p>,
    /// The graph.
    pub graph: Graph,
}

impl Report {
    /// Formats a value in the output unit (after `divide_by`).
    pub fn format_value(&self, v: i64) -> String {
        let mut v = v;
        let r = self.opts.ratio;
        if r > 0.0 && r != 1.0 {
            v = (v as f64 * r) as i64;
        }
        measurement::scaled_label(v, &self.opts.sample_unit, &self.opts.output_unit)
    }

    fn graph_options(&self) -> GraphOptions {
        let o = &self.opts;
        GraphOptions {
            sample_index: o.sample_index,
            mean: o.mean,
            obj_names: matches!(
                o.format,
                Format::Raw | Format::List | Format::WebList | Format::Dis | Format::Callgrind
            ),
            orig_fn_names: false,
            call_tree: o.call_tree && matches!(o.format, Format::Dot | Format::Callgrind),
            drop_negative: o.drop_negative,
            tags: o.format == Format::Dot,
            // peek prints only the matching nodes and their edges.
            edge_filter: if o.format == Format::Tree { o.symbol.clone() } else { None },
            tag_unit: o.output_unit.clone(),
            num_label_units: o.num_label_units.clone(),
        }
    }

    /// Applies pprof's per-graph changes to the profile (source path trimming).
    fn prepare_graph(&mut self) {
        let (trim, search) = (self.opts.trim_path.clone(), self.opts.source_path.clone());
        let mut cache: HashMap<u32, rustprof_profile::StrId> = HashMap::new();
        for fi in 0..self.prof.functions.len() {
            let f = self.prof.functions[fi].filename;
            let id = match cache.get(&f.0) {
                Some(&id) => id,
                None => {
                    let old = self.prof.str(f).to_string();
                    let new = trim_path(&old, &trim, &search);
                    let id = if new == old { f } else { self.prof.strings.intern(&new) };
                    cache.insert(f.0, id);
                    id
                }
            };
            self.prof.functions[fi].filename = id;
        }
    }

    /// Builds the graph (pprof's `newGraph`), keeping only `kept` nodes if given.
    pub fn new_graph(&mut self, kept: Option<(&HashSet<crate::graph::NodeInfo>, Strs)>) -> BuiltGraph<'_> {
        self.new_graph_with(kept, true)
    }

    /// [`Report::new_graph`], optionally without edges.
    pub fn new_graph_with(
        &mut self,
        kept: Option<(&HashSet<crate::graph::NodeInfo>, Strs)>,
        edges: bool,
    ) -> BuiltGraph<'_> {
        self.prepare_graph();
        let opts = self.graph_options();
        let (set, strs) = match kept {
            Some((set, strs)) => (Some(set), strs),
            None => (None, Strs::new()),
        };
        let mut builder = GraphBuilder::with_strs(&self.prof, opts, strs);
        let graph = builder.build_with(set, edges);
        crate::timing::mark("graph built");
        BuiltGraph { builder, graph }
    }

    /// pprof's `newTrimmedGraph`: the graph after node fraction, node count and
    /// edge fraction trimming; with the original node count and the numbers of
    /// dropped nodes and edges.
    ///
    /// Intermediate graphs are built without edges when nothing looks at them
    /// (lists sort by values only); the final graph always has its edges.
    pub fn new_trimmed_graph(&mut self) -> (Strs, Graph, usize, usize, usize) {
        let o = self.opts.clone();
        let visual = o.format == Format::Dot;
        let call_tree = o.call_tree && matches!(o.format, Format::Dot | Format::Callgrind);
        // Edges of the graph that gets sorted matter for call trees (trimmed in
        // place) and for graphs (entropy order). The first graph is that one
        // only when no node can fall below the node fraction; without any
        // trimming, it is the final one.
        let sorted_edges = visual || call_tree;
        let eager = call_tree || (o.node_fraction <= 0.0 && (visual || o.node_count <= 0));
        let BuiltGraph { builder, graph: mut g } = self.new_graph_with(None, eager);
        let mut strs = builder.into_strs();
        let mut has_edges = eager;
        let mut kept_set: Option<HashSet<crate::graph::NodeInfo>> = None;
        // The nodes `g` was built with (label tags are computed against them).
        let mut g_kept: Option<HashSet<crate::graph::NodeInfo>> = None;
        let (total_value, _) = g.sum();
        let node_cutoff = ((total_value as f64 * o.node_fraction) as i64).abs();
        let edge_cutoff = ((total_value as f64 * o.edge_fraction) as i64).abs();
        let mut dropped_nodes = 0;
        if node_cutoff > 0 {
            let kept = g.nodes_above_cutoff(node_cutoff);
            if kept.len() != g.nodes.len() {
                dropped_nodes = g.nodes.len() - kept.len();
                if call_tree {
                    g.trim_tree(&kept.into_iter().collect());
                } else {
                    let set = g.info_set(&kept);
                    // Without a node count, this graph is the final one.
                    let edges = sorted_edges || o.node_count <= 0;
                    let BuiltGraph { builder, graph } = self.new_graph_with(Some((&set, strs)), edges);
                    strs = builder.into_strs();
                    g = graph;
                    has_edges = edges;
                    kept_set = Some(set.clone());
                    g_kept = Some(set);
                }
            }
        }
        if sorted_edges && !has_edges {
            // No node fell below the cutoff: the first graph is sorted, with edges.
            let BuiltGraph { builder, graph } = self.new_graph_with(None, true);
            strs = builder.into_strs();
            g = graph;
            has_edges = true;
        }
        let orig_count = g.nodes.len();
        g.sort(o.cum_sort, visual, &strs);
        if o.node_count > 0 {
            if visual {
                // Only the first nodes can be selected: their tags count.
                let first: Vec<u32> = g.nodes.iter().take(o.node_count as usize).copied().collect();
                strs = self.add_tags(&mut g, strs, g_kept.as_ref(), &first);
            }
            g.trim_low_frequency_tags(node_cutoff);
            if has_edges {
                g.trim_low_frequency_edges(edge_cutoff);
            }
            let top = g.select_top_nodes(o.node_count as usize, visual);
            if call_tree {
                if top.len() != g.nodes.len() {
                    g.trim_tree(&top.into_iter().collect());
                    g.sort(o.cum_sort, visual, &strs);
                }
            } else {
                let set = g.info_set(&top);
                if set.len() != g.nodes.len() {
                    let BuiltGraph { builder, graph } = self.new_graph_with(Some((&set, strs)), true);
                    strs = builder.into_strs();
                    let old = std::mem::replace(&mut g, graph);
                    if visual {
                        // The nodes kept were among those tagged above.
                        g.adopt_tags(old);
                    }
                    has_edges = true;
                    g.sort(o.cum_sort, visual, &strs);
                    g_kept = Some(set);
                }
            }
        }
        if !has_edges {
            // The same nodes again, now with their edges, in the order sorted above.
            let order: Vec<crate::graph::NodeInfo> = g.nodes.iter().map(|&n| g.node(n).info).collect();
            let BuiltGraph { builder, graph } =
                self.new_graph_with(kept_set.as_ref().map(|s| (s, strs)), true);
            strs = builder.into_strs();
            g = graph;
            let pos: HashMap<crate::graph::NodeInfo, u32> =
                g.nodes.iter().map(|&n| (g.node(n).info, n)).collect();
            g.nodes = order.iter().filter_map(|i| pos.get(i).copied()).collect();
            g_kept = kept_set;
        }
        if visual {
            let shown = g.nodes.clone();
            strs = self.add_tags(&mut g, strs, g_kept.as_ref(), &shown);
        }
        g.trim_low_frequency_tags(node_cutoff);
        let dropped_edges = g.trim_low_frequency_edges(edge_cutoff);
        if visual {
            g.remove_redundant_edges();
        }
        (strs, g, orig_count, dropped_nodes, dropped_edges)
    }

    /// Computes the label tags of nodes `subset` of `g` (built with `kept`).
    fn add_tags(
        &self,
        g: &mut Graph,
        strs: Strs,
        kept: Option<&HashSet<crate::graph::NodeInfo>>,
        subset: &[u32],
    ) -> Strs {
        let builder = GraphBuilder::with_strs(&self.prof, self.graph_options(), strs);
        builder.add_tags_to(g, kept, subset);
        builder.into_strs()
    }

    /// pprof's `selectOutputUnit`: for `minimum`, the unit of the smallest
    /// non-zero node value (or of 100× it when that is much smaller than the total).
    pub fn select_output_unit(&mut self, g: &Graph) {
        let o = &self.opts;
        if o.output_unit != "minimum" || g.nodes.is_empty() {
            return;
        }
        let mut min_value = 0i64;
        for &n in &g.nodes {
            let node = g.node(n);
            let mut m = node.flat_value().abs();
            if m == 0 {
                m = node.cum_value().abs();
            }
            if m > 0 && (min_value == 0 || m < min_value) {
                min_value = m;
            }
        }
        let mut max_value = self.total;
        if min_value == 0 {
            min_value = max_value;
        }
        let r = o.ratio;
        if r > 0.0 && r != 1.0 {
            min_value = (min_value as f64 * r) as i64;
            max_value = (max_value as f64 * r) as i64;
        }
        let (_, min_unit) = measurement::scale(min_value, &o.sample_unit, "minimum");
        let (_, max_unit) = measurement::scale(max_value, &o.sample_unit, "minimum");
        let mut unit = min_unit.clone();
        if min_unit != max_unit && min_value.wrapping_mul(100) < max_value && o.format != Format::Callgrind {
            unit = measurement::scale(min_value.wrapping_mul(100), &o.sample_unit, "minimum").1;
        }
        self.opts.output_unit = if unit.is_empty() { o.sample_unit.clone() } else { unit };
    }

    /// The File/Build ID/comments/Type/Time/Duration header lines.
    pub fn profile_labels(&self) -> Vec<String> {
        let p = &self.prof;
        let o = &self.opts;
        let mut label = Vec::new();
        if let Some(m) = p.mappings.first() {
            let file = p.str(m.filename);
            if !file.is_empty() {
                label.push(format!("File: {}", crate::graph::base_name(file)));
            }
            let bid = p.str(m.build_id);
            if !bid.is_empty() {
                label.push(format!("Build ID: {bid}"));
            }
        }
        for &c in &p.comments {
            let c = p.str(c);
            if !c.starts_with('#') {
                label.push(c.to_string());
            }
        }
        if !o.sample_type.is_empty() {
            label.push(format!("Type: {}", o.sample_type));
        }
        if p.time_nanos != 0 {
            label.push(format!("Time: {}", gofmt::pprof_time(p.time_nanos)));
        }
        if p.duration_nanos != 0 {
            let duration = measurement::label(p.duration_nanos, "nanoseconds");
            let (total_nanos, total_unit) = measurement::scale(self.total, &o.sample_unit, "nanoseconds");
            let mut ratio = String::new();
            if total_unit == "ns" && total_nanos != 0.0 {
                ratio = format!("({})", measurement::percentage(total_nanos as i64, p.duration_nanos));
            }
            label.push(format!(
                "Duration: {}, Total samples = {} {}",
                duration,
                self.format_value(self.total),
                ratio
            ));
        }
        label
    }

    /// Header lines of graph-based reports (pprof's `reportLabels`).
    pub fn report_labels(
        &self,
        g: &Graph,
        orig_count: usize,
        dropped_nodes: usize,
        dropped_edges: usize,
        full_headers: bool,
    ) -> Vec<String> {
        let o = &self.opts;
        let node_count = g.nodes.len();
        let mut label = Vec::new();
        if !o.profile_labels.is_empty() {
            label.extend(o.profile_labels.iter().cloned());
        } else if full_headers || !o.compact_labels {
            label = self.profile_labels();
        }
        let flat_sum: i64 = g.nodes.iter().map(|&n| g.node(n).flat_value()).sum();
        if !o.active_filters.is_empty() {
            label.push("Active filters:".into());
            for f in &o.active_filters {
                let f = if f.len() > 80 {
                    // pprof cuts at byte 80, inside a character if need be: the
                    // cut character's bytes are printed as they are.
                    let raw = rustprof_profile::unescape(f);
                    format!("{}…", rustprof_profile::escape_bytes(&raw[..80.min(raw.len())]))
                } else {
                    f.clone()
                };
                label.push(format!("   {f}"));
            }
        }
        label.push(format!(
            "Showing nodes accounting for {}, {} of {} total",
            self.format_value(flat_sum),
            measurement::percentage(flat_sum, self.total).trim(),
            self.format_value(self.total)
        ));
        if self.total != 0 {
            if dropped_nodes > 0 {
                label.push(gen_label(
                    dropped_nodes,
                    "node",
                    "cum",
                    &self.format_value(((self.total as f64 * o.node_fraction) as i64).abs()),
                ));
            }
            if dropped_edges > 0 {
                label.push(gen_label(
                    dropped_edges,
                    "edge",
                    "freq",
                    &self.format_value(((self.total as f64 * o.edge_fraction) as i64).abs()),
                ));
            }
            if node_count > 0 && node_count < orig_count {
                label.push(format!("Showing top {node_count} nodes out of {orig_count}"));
            }
        }
        if full_headers {
            label.push("\nSee https://git.io/JfYMW for how to read the graph".into());
        }
        label
    }
}

fn gen_label(d: usize, n: &str, l: &str, f: &str) -> String {
    let n = if d > 1 { format!("{n}s") } else { n.to_string() };
    format!("Dropped {d} {n} ({l} <= {f})")
}

/// Generates the report straight into `w` (for reports that are written as they
/// are produced); other reports are generated whole and then written.
pub fn generate_to(rpt: &mut Report, w: &mut dyn std::io::Write) -> Result<(), String> {
    match rpt.opts.format {
        Format::Traces => traces::write_traces(w, rpt).map_err(|e| e.to_string()),
        Format::Folded => folded::write_folded(w, rpt).map_err(|e| e.to_string()),
        _ => {
            let out = generate(rpt)?;
            w.write_all(&out).map_err(|e| e.to_string())
        }
    }
}

/// Generates the report's output.
pub fn generate(rpt: &mut Report) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    match rpt.opts.format {
        Format::Comments => {
            for &c in &rpt.prof.comments {
                let _ = writeln!(out, "{}", rpt.prof.str(c));
            }
        }
        Format::Dot => dot::print_dot(&mut out, rpt),
        Format::Tree => text::print_tree(&mut out, rpt)?,
        Format::Text => text::print_text(&mut out, rpt),
        Format::Traces => {
            let mut buf = Vec::new();
            traces::write_traces(&mut buf, rpt).map_err(|e| e.to_string())?;
            return Ok(buf);
        }
        Format::Raw => out = raw::profile_string(&rpt.prof),
        Format::Tags => tags::print_tags(&mut out, rpt),
        Format::Proto => return Ok(proto::print_proto(rpt)),
        Format::TopProto => return Ok(proto::print_top_proto(rpt)),
        Format::List => source::print_source(&mut out, rpt)?,
        Format::Callgrind => callgrind::print_callgrind(&mut out, rpt),
        Format::Dis => {
            return Err("disasm is not supported yet: rustprof has no disassembler".into());
        }
        Format::WebList => source::print_web_source(&mut out, rpt)?,
        Format::Flame => return Ok(flame::print_flame(rpt)),
        Format::Folded => {
            let mut buf = Vec::new();
            folded::write_folded(&mut buf, rpt).map_err(|e| e.to_string())?;
            return Ok(buf);
        }
    }
    Ok(out.into_bytes())
}
