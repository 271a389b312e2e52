//! Flame graphs: the call tree of a filtered profile, one frame per distinct
//! path of callers, named as every other report names its nodes (the same graph
//! builder, the same granularity), with the same total for percentages.
//!
//! [`FlameTree::build`] keeps each sample's stack as frame names, root first.
//! [`FlameTree::to_json`] then grows the tree from the root, heaviest frame
//! first, until a budget of frames: a million samples with millions of distinct
//! paths cost only the frames that are shown. Children left out are always the
//! lightest of their parent, so a parent says it was cut; the web UI asks for
//! such a subtree by its path when a zoom makes it visible. Searching is exact
//! whatever was sent ([`FlameTree::matched`] looks at every sample).
//!
//! With a base (`-diff_base`, `-base`) values can be negative: each frame keeps
//! what grew (`pos`, the new profile) and what shrank (`neg`, the base), its
//! width is their sum and its colour their balance.
//!
//! [`html_file`] makes the standalone, interactive HTML file of `-flame`; the web
//! UI draws the same JSON with the same script (`web/assets/flame.js`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use hashbrown::HashMap;
use regex::Regex;

use super::Report;
use crate::graph::{GraphBuilder, NodeInfo};
use crate::measurement;

/// The name of the synthetic frame at the bottom of every stack.
pub const ROOT_NAME: &str = "root";

/// The samples of a report as flame graph stacks.
pub struct FlameTree {
    /// Frame names; 0 is [`ROOT_NAME`].
    pub names: Vec<String>,
    /// Per name: its position in name order (for stable sibling order).
    rank: Vec<u32>,
    /// Per sample: where its names start in `stacks`.
    offs: Vec<u32>,
    /// Frame names of every sample, root first (the root itself left out),
    /// each stack followed by [`END`].
    stacks: Vec<u32>,
    /// Per sample: its value if positive (the new profile), and its negated
    /// value if negative or from the base.
    vals: Vec<[i64; 2]>,
    /// Per sample: its divisor (first value) for `-mean`, else 0.
    div: Vec<i64>,
    /// The report's total, for percentages.
    pub total: i64,
    /// Some values are negative (a base was subtracted or compared).
    pub diff: bool,
    /// The base came from `-diff_base` (its samples are labelled `pprof::base`).
    pub diff_base: bool,
    /// Values are means (`-mean`).
    pub mean: bool,
    /// Multiplier of values before formatting (`1/divide_by`).
    pub ratio: f64,
    /// How to format values.
    pub units: measurement::UnitPlan,
    /// The unit of the values.
    pub sample_unit: String,
    /// The unit to show them in (`minimum`: each value in its own, as `auto`).
    pub output_unit: String,
    /// The sample type shown (`cpu`, `alloc_space`, `mean_delay`...).
    pub sample_type: String,
    /// `File Type` of the page title.
    pub title: String,
    /// The report's header lines.
    pub legend: Vec<String>,
}

/// What [`FlameTree::to_json`] sends.
#[derive(Clone, Copy, Debug)]
pub struct Emit {
    /// At most this many frames.
    pub budget: usize,
    /// Leave out frames lighter than this fraction of the subtree's root.
    pub min_fraction: f64,
}

impl Emit {
    /// For the standalone file: enough frames to zoom far in.
    pub const FILE: Emit = Emit { budget: 100_000, min_fraction: 1.0 / 200_000.0 };
    /// For the web UI's first load (the rest comes on demand).
    pub const WEB: Emit = Emit { budget: 25_000, min_fraction: 1.0 / 20_000.0 };
    /// For a subtree the web UI asks for when zooming.
    pub const SUBTREE: Emit = Emit { budget: 10_000, min_fraction: 1.0 / 20_000.0 };
}

/// The end of a stack in [`FlameTree`]'s `stacks`.
const END: u32 = u32::MAX;

/// A frame of the tree being grown.
#[derive(Default)]
struct Node {
    name: u32,
    pos: i64,
    neg: i64,
    div: i64,
    self_pos: i64,
    self_neg: i64,
    self_div: i64,
    /// Children heavy enough to be candidates, heaviest first.
    kids: Vec<u32>,
    /// Some children were too light to be candidates.
    small: bool,
    /// The samples through this frame (until it is expanded).
    samples: Vec<Entry>,
    expanded: bool,
}

impl Node {
    fn weight(&self) -> i64 {
        self.pos.saturating_add(self.neg)
    }
}

/// A sample going through a frame: where the name of its next frame is in
/// `stacks`, its index and its values (carried along: reading them from the
/// sample arrays at every level would cost a cache miss each).
/// The next few names are kept too, read from `stacks` a cache line at a
/// time rather than one name (one miss) per level.
#[derive(Clone, Copy, Default)]
struct Entry {
    at: u32,
    sample: u32,
    pos: i64,
    neg: i64,
    /// `stacks[at - k..at - k + AHEAD]`.
    ahead: [u32; AHEAD],
    k: u32,
}

/// How many names an [`Entry`] reads at once.
const AHEAD: usize = 6;

impl Entry {
    fn new(tree: &FlameTree, at: u32, sample: u32) -> Entry {
        let [pos, neg] = tree.vals[sample as usize];
        let mut e = Entry { at, sample, pos, neg, ahead: [END; AHEAD], k: 0 };
        e.fill(tree);
        e
    }

    fn fill(&mut self, tree: &FlameTree) {
        let at = self.at as usize;
        let end = (at + AHEAD).min(tree.stacks.len());
        self.ahead = [END; AHEAD];
        self.ahead[..end - at].copy_from_slice(&tree.stacks[at..end]);
        self.k = 0;
    }

    /// The name of the next frame ([`END`] at the end of the stack).
    fn next(&self) -> u32 {
        self.ahead[self.k as usize]
    }

    /// The entry one frame deeper.
    fn step(&self, tree: &FlameTree) -> Entry {
        let mut e = *self;
        e.at += 1;
        e.k += 1;
        if e.k as usize == AHEAD {
            e.fill(tree);
        }
        e
    }
}

/// A child while a frame's samples are split.
struct Bucket {
    name: u32,
    pos: i64,
    neg: i64,
    div: i64,
    count: u32,
}

impl FlameTree {
    /// Takes the stacks of a report's (filtered, aggregated) profile.
    pub fn build(rpt: &mut Report) -> FlameTree {
        rpt.prepare_graph();
        let mut gopts = rpt.graph_options();
        gopts.call_tree = false;
        gopts.tags = false;
        gopts.edge_filter = None;
        let prof = &rpt.prof;
        let builder = GraphBuilder::new(prof, gopts);

        // Per location, the frame name of each line, caller-most last.
        let mut names: Vec<String> = vec![ROOT_NAME.to_string()];
        let mut by_name: HashMap<String, u32> = HashMap::new();
        let mut by_info: HashMap<NodeInfo, u32> = HashMap::new();
        let mut loc_start: Vec<u32> = Vec::with_capacity(prof.locations.len() + 1);
        let mut loc_names: Vec<u32> = Vec::with_capacity(prof.locations.len() * 2);
        for loc in 0..prof.locations.len() as u32 {
            loc_start.push(loc_names.len() as u32);
            for info in builder.location_infos(loc) {
                let id = *by_info.entry(*info).or_insert_with(|| {
                    let n = info.printable_name(&builder.strs);
                    *by_name.entry(n).or_insert_with_key(|n| {
                        names.push(n.clone());
                        (names.len() - 1) as u32
                    })
                });
                loc_names.push(id);
            }
        }
        loc_start.push(loc_names.len() as u32);
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let mut rank = vec![0u32; names.len()];
        for (r, &n) in order.iter().enumerate() {
            rank[n as usize] = r as u32;
        }

        let samples = &prof.samples;
        let base_sets: Vec<bool> = (0..=samples.label_sets() as u32)
            .map(|id| {
                samples
                    .label_set(id)
                    .iter()
                    .any(|l| l.is_str() && prof.str(l.key) == "pprof::base" && prof.str(l.str) == "true")
            })
            .collect();
        let (si, mean) = (rpt.opts.sample_index, rpt.opts.mean);
        let n = samples.len();
        let mut offs: Vec<u32> = Vec::with_capacity(n + 1);
        let mut stacks: Vec<u32> = Vec::with_capacity(samples.total_frames() + n);
        let (mut vals, mut div) = (Vec::with_capacity(n), Vec::new());
        let mut diff_base = false;
        for i in 0..n {
            let row = samples.values(i);
            let w = row[si];
            let dw = if mean { row[0] } else { 0 };
            if w == 0 && dw == 0 {
                continue;
            }
            let base = base_sets[samples.label_set_id(i) as usize];
            diff_base |= base;
            let (p, m) = if base || w < 0 { (0, w.wrapping_neg()) } else { (w, 0) };
            offs.push(stacks.len() as u32);
            for &loc in samples.locations(i).iter().rev() {
                let (s, e) = (loc_start[loc as usize] as usize, loc_start[loc as usize + 1] as usize);
                stacks.extend(loc_names[s..e].iter().rev());
            }
            stacks.push(END);
            vals.push([p, m]);
            if mean {
                div.push(dw);
            }
        }
        offs.push(stacks.len() as u32);

        let o = &rpt.opts;
        let units = measurement::unit_plan(&o.sample_unit, &o.output_unit);
        let legend = {
            let mut l = rpt.profile_labels();
            if !o.active_filters.is_empty() {
                l.push("Active filters:".into());
                l.extend(o.active_filters.iter().map(|f| format!("   {f}")));
            }
            l
        };
        let title = page_title(&legend);
        FlameTree {
            diff: vals.iter().any(|v| v[1] != 0),
            names,
            rank,
            offs,
            stacks,
            vals,
            div,
            total: rpt.total,
            diff_base,
            mean,
            ratio: o.ratio,
            units,
            sample_unit: o.sample_unit.clone(),
            output_unit: o.output_unit.clone(),
            sample_type: o.sample_type.clone(),
            title,
            legend,
        }
    }

    /// A value as the flame graph's script shows it (each value in its own
    /// unit unless the options fix one).
    pub fn format_value(&self, v: i64) -> String {
        let mut v = v;
        if self.ratio > 0.0 && self.ratio != 1.0 {
            v = (v as f64 * self.ratio) as i64;
        }
        let to = if self.output_unit == "minimum" { "auto" } else { self.output_unit.as_str() };
        measurement::scaled_label(v, &self.sample_unit, to)
    }

    /// The number of samples (with a non-zero value).
    pub fn samples(&self) -> usize {
        self.vals.len()
    }

    fn stack(&self, s: u32) -> &[u32] {
        &self.stacks[self.offs[s as usize] as usize..self.offs[s as usize + 1] as usize - 1]
    }

    /// The net value of the samples with a frame whose name matches `re`: the
    /// frames a search highlights, each stack counted once.
    pub fn matched(&self, re: &Regex) -> i64 {
        let hit: Vec<bool> = self.names.iter().enumerate().map(|(i, n)| i > 0 && re.is_match(n)).collect();
        let mut sum = 0i64;
        for s in 0..self.samples() as u32 {
            if self.stack(s).iter().any(|&n| hit[n as usize]) {
                let [p, m] = self.vals[s as usize];
                sum = sum.wrapping_add(p.wrapping_sub(m));
            }
        }
        sum
    }

    /// Parses a frame path (`12.407.33`: name ids from the root, `""` for the root).
    pub fn parse_path(&self, path: &str) -> Result<Vec<u32>, String> {
        if path.is_empty() {
            return Ok(Vec::new());
        }
        path.split('.')
            .map(|p| match p.parse::<u32>() {
                Ok(id) if id > 0 && (id as usize) < self.names.len() => Ok(id),
                _ => Err(format!("bad frame path {}", crate::gofmt::quote(path))),
            })
            .collect()
    }

    /// Splits the samples of frame `f` among its children; `slots` is scratch
    /// space (one entry per name, all `u32::MAX` between calls).
    fn expand(&self, nodes: &mut Vec<Node>, f: usize, cutoff: i64, slots: &mut [u32]) {
        let samples = std::mem::take(&mut nodes[f].samples);
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut keys: Vec<u32> = Vec::with_capacity(samples.len());
        let (mut sp, mut sn, mut sd) = (0i64, 0i64, 0i64);
        for e in &samples {
            let name = e.next();
            let (p, m) = (e.pos, e.neg);
            let d = if self.mean { self.div[e.sample as usize] } else { 0 };
            if name == END {
                sp = sp.wrapping_add(p);
                sn = sn.wrapping_add(m);
                sd = sd.wrapping_add(d);
                keys.push(u32::MAX);
                continue;
            }
            let slot = &mut slots[name as usize];
            if *slot == u32::MAX {
                *slot = buckets.len() as u32;
                buckets.push(Bucket { name, pos: 0, neg: 0, div: 0, count: 0 });
            }
            let b = *slot;
            let bk = &mut buckets[b as usize];
            bk.pos = bk.pos.wrapping_add(p);
            bk.neg = bk.neg.wrapping_add(m);
            bk.div = bk.div.wrapping_add(d);
            bk.count += 1;
            keys.push(b);
        }
        for bk in &buckets {
            slots[bk.name as usize] = u32::MAX;
        }
        // Candidates, heaviest first (ties by name).
        let mut order: Vec<u32> = (0..buckets.len() as u32)
            .filter(|&b| {
                let bk = &buckets[b as usize];
                bk.pos.saturating_add(bk.neg) >= cutoff
            })
            .collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&buckets[a as usize], &buckets[b as usize]);
            y.pos
                .saturating_add(y.neg)
                .cmp(&x.pos.saturating_add(x.neg))
                .then(self.rank[x.name as usize].cmp(&self.rank[y.name as usize]))
        });
        let small = order.len() < buckets.len();
        let mut slot = vec![u32::MAX; buckets.len()];
        let first = nodes.len() as u32;
        for (k, &b) in order.iter().enumerate() {
            let bk = &buckets[b as usize];
            slot[b as usize] = first + k as u32;
            nodes.push(Node {
                name: bk.name,
                pos: bk.pos,
                neg: bk.neg,
                div: bk.div,
                samples: Vec::with_capacity(bk.count as usize),
                ..Default::default()
            });
        }
        if !order.is_empty() {
            for (e, &k) in samples.iter().zip(&keys) {
                if k != u32::MAX && slot[k as usize] != u32::MAX {
                    nodes[slot[k as usize] as usize].samples.push(e.step(self));
                }
            }
        }
        let node = &mut nodes[f];
        node.self_pos = sp;
        node.self_neg = sn;
        node.self_div = sd;
        node.kids = (first..first + order.len() as u32).collect();
        node.small = small;
        node.expanded = true;
    }

    /// The JSON of the frame at `path` (name ids from the root; empty: the
    /// root) and the heaviest frames below it within `emit`; see the module
    /// documentation and `web/assets/flame.js` for the layout.
    pub fn to_json(&self, path: &[u32], emit: Emit) -> Result<String, String> {
        let depth = path.len() as u32;
        let selected: Vec<Entry> = (0..self.samples() as u32)
            .filter(|&s| path.is_empty() || self.stack(s).starts_with(path))
            .map(|s| Entry::new(self, self.offs[s as usize] + depth, s))
            .collect();
        if selected.is_empty() && !path.is_empty() {
            return Err("no such frame (the profile or its options changed?)".into());
        }
        let mut root = Node { name: path.last().copied().unwrap_or(0), ..Default::default() };
        for e in &selected {
            root.pos = root.pos.wrapping_add(e.pos);
            root.neg = root.neg.wrapping_add(e.neg);
            if self.mean {
                root.div = root.div.wrapping_add(self.div[e.sample as usize]);
            }
        }
        root.samples = selected;
        let cutoff = ((root.weight() as f64 * emit.min_fraction).ceil() as i64).max(1);
        let mut nodes = vec![root];
        let mut slots = vec![u32::MAX; self.names.len()];
        // Heaviest first; among equals, name order then creation order, so that
        // the children shown are always the first ones of their parent.
        let mut heap: BinaryHeap<(i64, Reverse<u32>, Reverse<u32>)> = BinaryHeap::new();
        heap.push((nodes[0].weight(), Reverse(0), Reverse(0)));
        let mut expanded = 0usize;
        while let Some((_, _, Reverse(f))) = heap.pop() {
            if expanded >= emit.budget.max(1) {
                break;
            }
            let f = f as usize;
            let first = nodes.len();
            self.expand(&mut nodes, f, cutoff, &mut slots);
            expanded += 1;
            for (k, n) in nodes.iter().enumerate().skip(first) {
                heap.push((n.weight(), Reverse(self.rank[n.name as usize]), Reverse(k as u32)));
            }
        }
        drop(heap);
        Ok(self.write_json(&nodes, path))
    }

    fn write_json(&self, nodes: &[Node], path: &[u32]) -> String {
        let mut local: HashMap<u32, u32> = HashMap::new();
        let mut names: Vec<u32> = Vec::new();
        let mut body = String::with_capacity(1 << 16);
        let mut stack = vec![0u32];
        let mut first = true;
        while let Some(f) = stack.pop() {
            let n = &nodes[f as usize];
            let name = *local.entry(n.name).or_insert_with(|| {
                names.push(n.name);
                (names.len() - 1) as u32
            });
            let shown: Vec<u32> = n.kids.iter().copied().filter(|&k| nodes[k as usize].expanded).collect();
            if !first {
                body.push(',');
            }
            first = false;
            let _ = write!(body, "{},{},{},{},{}", name, n.pos, n.neg, n.self_pos, n.self_neg);
            if self.mean {
                let _ = write!(body, ",{},{}", n.div, n.self_div);
            }
            let cut = !n.expanded || n.small || shown.len() < n.kids.len();
            if cut {
                let _ = write!(body, ",{}", -(shown.len() as i64) - 1);
            } else {
                let _ = write!(body, ",{}", shown.len());
            }
            stack.extend(shown.iter().rev());
        }
        let mut out = String::with_capacity(body.len() + 4096);
        out.push_str("{\"version\":2,\"title\":");
        push_json_str(&mut out, &self.title);
        out.push_str(",\"sampleType\":");
        push_json_str(&mut out, &self.sample_type);
        out.push_str(",\"legend\":[");
        for (i, l) in self.legend.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, l);
        }
        let path_text: Vec<String> = path.iter().map(u32::to_string).collect();
        let _ = write!(
            out,
            "],\"total\":{},\"diff\":{},\"diffBase\":{},\"mean\":{},\"ratio\":{},\"path\":\"{}\",\"units\":{{\"list\":[",
            self.total,
            self.diff,
            self.diff_base,
            self.mean,
            json_f64(self.ratio),
            path_text.join(".")
        );
        for (i, (u, f)) in self.units.units.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            push_json_str(&mut out, u);
            let _ = write!(out, ",{}]", json_f64(*f));
        }
        out.push_str("],\"fixed\":");
        push_unit(&mut out, self.units.fixed);
        out.push_str(",\"default\":");
        push_unit(&mut out, self.units.default);
        out.push_str(",\"suffix\":");
        push_json_str(&mut out, &self.units.suffix);
        out.push_str("},\"names\":[");
        for (i, &n) in names.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, &self.names[n as usize]);
        }
        out.push_str("],\"nameIds\":[");
        let ids: Vec<String> = names.iter().map(u32::to_string).collect();
        out.push_str(&ids.join(","));
        out.push_str("],\"nodes\":[");
        out.push_str(&body);
        out.push_str("]}");
        out
    }
}

fn push_unit(out: &mut String, u: Option<(&str, f64)>) {
    match u {
        Some((name, f)) => {
            out.push('[');
            push_json_str(out, name);
            let _ = write!(out, ",{}]", json_f64(f));
        }
        None => out.push_str("null"),
    }
}

/// A float as JSON (no NaN or infinities in JSON: those become 0).
pub fn json_f64(v: f64) -> String {
    if v.is_finite() { format!("{v:?}") } else { "0".into() }
}

/// Appends `s` as a JSON string literal, safe inside an HTML `<script>` element
/// (`<`, `>` and `&` are escaped too).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `<File> <Type>` from a report's header lines, as pprof titles its pages.
pub fn page_title(legend: &[String]) -> String {
    let get = |prefix: &str| {
        legend
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::to_string)
            .unwrap_or_else(|| "unknown".into())
    };
    format!("{} {}", get("File: "), get("Type: "))
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The flame graph's script (shared with the web UI).
pub const FLAME_JS: &str = include_str!("../web/assets/flame.js");
/// The flame graph's style sheet (shared with the web UI).
pub const FLAME_CSS: &str = include_str!("../web/assets/flame.css");

/// The standalone HTML file of `-flame`: the data, the script and the styles
/// in one file that needs nothing else (no server, no network).
pub fn html_file(tree: &FlameTree) -> String {
    let json = tree.to_json(&[], Emit::FILE).unwrap_or_default();
    let title = html_escape(&tree.title);
    let mut legend = String::new();
    for l in &tree.legend {
        let _ = writeln!(legend, "<div>{}</div>", html_escape(l));
    }
    let mut out = String::with_capacity(json.len() + FLAME_JS.len() + FLAME_CSS.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"rustprof\">\n<title>{title} — flame graph</title>\n\
         <style>\n{FLAME_CSS}</style>\n</head>\n<body class=\"fg-standalone\">\n\
         <div class=\"fg-bar\"><span class=\"fg-title\">{title}</span>\n\
         <input id=\"search\" type=\"search\" placeholder=\"Search regexp\" autocomplete=\"off\" spellcheck=\"false\">\n\
         <span id=\"fg-matched\" class=\"fg-matched\"></span>\n\
         <button id=\"fg-reset\" type=\"button\">Reset zoom</button></div>\n\
         <div class=\"fg-legend\">{legend}</div>\n\
         <div id=\"flame\" class=\"fg-container\"></div>\n\
         <script type=\"application/json\" id=\"fg-data\">{json}</script>\n\
         <script>\n{FLAME_JS}</script>\n\
         <script>rustprofFlame.start({{}});</script>\n</body>\n</html>\n"
    );
    out
}

/// `-flame`: the standalone flame graph of a report.
pub fn print_flame(rpt: &mut Report) -> Vec<u8> {
    let tree = FlameTree::build(rpt);
    html_file(&tree).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_script_safe() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c</script>\n\u{1}&");
        assert_eq!(s, "\"a\\\"b\\\\c\\u003c/script\\u003e\\n\\u0001\\u0026\"");
    }

    #[test]
    fn titles_and_escapes() {
        let legend = vec!["File: x.test".to_string(), "Type: cpu".to_string()];
        assert_eq!(page_title(&legend), "x.test cpu");
        assert_eq!(page_title(&[]), "unknown unknown");
        assert_eq!(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(json_f64(f64::NAN), "0");
        assert_eq!(json_f64(0.5), "0.5");
        assert_eq!(json_f64(1.0), "1.0");
    }
}
