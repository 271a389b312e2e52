//! `dot`: the call graph in Graphviz DOT, as pprof composes it: a legend
//! cluster with the header lines, one box per node (sized by flat value,
//! colored by cumulative value), nodelets for label and numeric tags, and
//! edges sorted by weight.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::LazyLock;

use hashbrown::HashMap;
use regex::Regex;

use super::Report;
use crate::graph::{Graph, MAX_NODELETS, NodeInfo, Strs, Tag, base_name, go_f64_to_i64, go_log};
use crate::measurement;

/// `dot`.
pub fn print_dot(w: &mut String, rpt: &mut Report) {
    compose_dot(w, rpt, true);
}

/// The graph for the web UI: DOT without the legend box (the page shows the
/// header lines itself), the header lines, and the function name of each node
/// (`N1` is the first), which is what selecting a node refines by.
pub struct WebDot {
    /// The DOT text.
    pub dot: String,
    /// The header lines.
    pub labels: Vec<String>,
    /// Function name (or printable name when it has none) per node.
    pub names: Vec<String>,
}

/// [`WebDot`] of a report.
pub fn web_dot(rpt: &mut Report) -> WebDot {
    let mut dot = String::new();
    let (labels, names) = compose_dot(&mut dot, rpt, false);
    WebDot { dot, labels, names }
}

fn compose_dot(w: &mut String, rpt: &mut Report, legend: bool) -> (Vec<String>, Vec<String>) {
    let (strs, g, orig_count, dropped_nodes, dropped_edges) = rpt.new_trimmed_graph();
    rpt.select_output_unit(&g);
    let labels = rpt.report_labels(&g, orig_count, dropped_nodes, dropped_edges, true);
    let names = g
        .nodes
        .iter()
        .map(|&n| {
            let info = &g.node(n).info;
            let name = strs.get(info.name);
            if name.is_empty() { g.names[n as usize].clone() } else { name.to_string() }
        })
        .collect();
    let mut b = Builder { w, rpt, strs: &strs, g: &g };
    b.start();
    if legend {
        b.add_legend(&labels);
    }
    b.compose();
    b.w.push_str("}\n");
    (labels, names)
}

struct Builder<'a> {
    w: &'a mut String,
    rpt: &'a Report,
    strs: &'a Strs,
    g: &'a Graph,
}

impl Builder<'_> {
    fn fv(&self, v: i64) -> String {
        self.rpt.format_value(v)
    }

    fn total(&self) -> i64 {
        self.rpt.total
    }

    fn start(&mut self) {
        let title = &self.rpt.opts.title;
        let name = if title.is_empty() { "unnamed" } else { title.as_str() };
        let _ = writeln!(self.w, "digraph \"{name}\" {{");
        self.w.push_str("node [style=filled fillcolor=\"#f8f8f8\"]\n");
    }

    fn add_legend(&mut self, labels: &[String]) {
        let Some(first) = labels.first() else {
            return;
        };
        let _ = write!(self.w, "subgraph cluster_L {{ \"{}\" [shape=box fontsize=16", escape_for_dot(first));
        let joined: Vec<String> = labels.iter().map(|l| escape_for_dot(l)).collect();
        let _ = write!(self.w, " label=\"{}\\l\"", joined.join("\\l"));
        let title = &self.rpt.opts.title;
        if !title.is_empty() {
            let _ = write!(self.w, " tooltip=\"{title}\"");
        }
        self.w.push_str("] }\n");
    }

    fn compose(&mut self) {
        let g = self.g;
        if g.nodes.is_empty() {
            return;
        }
        let mut ids: HashMap<u32, usize> = HashMap::with_capacity(g.nodes.len());
        let mut max_flat = g.node(g.nodes[0]).flat_value().wrapping_abs() as f64;
        for (i, &n) in g.nodes.iter().enumerate() {
            ids.insert(n, i + 1);
            let f = g.node(n).flat_value().wrapping_abs() as f64;
            if f > max_flat {
                max_flat = f;
            }
        }
        let mut has_nodelets: HashMap<u32, bool> = HashMap::new();
        let mut edges: Vec<u32> = Vec::new();
        for (i, &n) in g.nodes.iter().enumerate() {
            self.add_node(n, i + 1, max_flat);
            let h = self.add_nodelets(n, i + 1);
            has_nodelets.insert(n, h);
            edges.extend_from_slice(&g.node(n).outs);
        }
        for e in sort_edges(g, &edges) {
            let edge = &g.edges[e as usize];
            let from = ids.get(&edge.src).copied().unwrap_or(0);
            let to = ids.get(&edge.dest).copied().unwrap_or(0);
            let h = has_nodelets.get(&edge.src).copied().unwrap_or(false);
            self.add_edge(e, from, to, h);
        }
    }

    fn add_node(&mut self, n: u32, id: usize, max_flat: f64) {
        let node = self.g.node(n);
        let (flat, cum) = (node.flat_value(), node.cum_value());
        let total = self.total();
        let mut label = multiline_printable_name(&node.info, self.strs);
        let flat_value = self.fv(flat);
        if flat != 0 {
            let _ = write!(label, "{} ({})", flat_value, measurement::percentage(flat, total).trim());
        } else {
            label.push('0');
        }
        let mut cum_value = flat_value;
        if cum != flat {
            label.push_str(if flat != 0 { "\\n" } else { " " });
            cum_value = self.fv(cum);
            let _ = write!(label, "of {} ({})", cum_value, measurement::percentage(cum, total).trim());
        }
        let mut font_size = 8i64;
        let aflat = flat.wrapping_abs() as f64;
        if max_flat != 0.0 && flat != 0 && aflat <= max_flat {
            font_size += (16.0 * (aflat / max_flat).sqrt()).ceil() as i64;
        }
        let score = cum as f64 / total.wrapping_abs() as f64;
        let _ = writeln!(
            self.w,
            "N{id} [label=\"{label}\" id=\"node{id}\" fontsize={font_size} shape=box tooltip=\"{} ({cum_value})\" color=\"{}\" fillcolor=\"{}\"]",
            escape_for_dot(&self.g.names[n as usize]),
            dot_color(score, false),
            dot_color(score, true),
        );
    }

    fn add_nodelets(&mut self, n: u32, id: usize) -> bool {
        let node = self.g.node(n);
        let mut nodelets = String::new();
        let flat_tags = !node.outs.is_empty();
        let mut ts: Vec<&Tag> = node.label_tags.iter().collect();
        sort_tags(&mut ts, flat_tags);
        ts.truncate(MAX_NODELETS);
        let numeric = |name: &str| -> Option<Vec<&Tag>> {
            node.numeric_tags
                .iter()
                .find(|(k, tm)| k == name && !tm.is_empty())
                .map(|(_, tm)| tm.iter().collect())
        };
        for (i, t) in ts.iter().enumerate() {
            let w = if flat_tags { t.flat_value() } else { t.cum_value() };
            if w == 0 {
                continue;
            }
            let weight = self.fv(w);
            let _ = writeln!(
                nodelets,
                "N{id}_{i} [label = \"{}\" id=\"N{id}_{i}\" fontsize=8 shape=box3d tooltip=\"{weight}\"]",
                t.name
            );
            let _ = writeln!(
                nodelets,
                "N{id} -> N{id}_{i} [label=\" {weight}\" weight=100 tooltip=\"{weight}\" labeltooltip=\"{weight}\"]"
            );
            if let Some(nts) = numeric(&t.name) {
                self.numeric_nodelets(&mut nodelets, nts, flat_tags, &format!("N{id}_{i}"));
            }
        }
        if let Some(nts) = numeric("") {
            self.numeric_nodelets(&mut nodelets, nts, flat_tags, &format!("N{id}"));
        }
        self.w.push_str(&nodelets);
        !nodelets.is_empty()
    }

    fn numeric_nodelets(&self, out: &mut String, nts: Vec<&Tag>, flat_tags: bool, source: &str) {
        for (j, t) in collapsed_tags(nts, MAX_NODELETS, flat_tags).iter().enumerate() {
            let (w, attr) = if flat_tags || t.flat_value() == t.cum_value() {
                (t.flat_value(), "")
            } else {
                (t.cum_value(), " style=\"dotted\"")
            };
            if w != 0 {
                let weight = self.fv(w);
                let _ = writeln!(
                    out,
                    "N{source}_{j} [label = \"{}\" id=\"N{source}_{j}\" fontsize=8 shape=box3d tooltip=\"{weight}\"]",
                    t.name
                );
                let _ = writeln!(
                    out,
                    "{source} -> N{source}_{j} [label=\" {weight}\" weight=100 tooltip=\"{weight}\" labeltooltip=\"{weight}\"{attr}]"
                );
            }
        }
    }

    fn add_edge(&mut self, e: u32, from: usize, to: usize, has_nodelets: bool) {
        let edge = &self.g.edges[e as usize];
        let inline = if edge.inline { "\\n (inline)" } else { "" };
        let wv = edge.weight_value();
        let w = self.fv(wv);
        let mut attr = format!("label=\" {w}{inline}\"");
        let total = self.total();
        if total != 0 {
            let weight = 1 + (wv.wrapping_mul(100) / total).wrapping_abs().min(100);
            if weight > 1 {
                let _ = write!(attr, " weight={weight}");
            }
            let width = 1 + (wv.wrapping_mul(5) / total).wrapping_abs().min(5);
            if width > 1 {
                let _ = write!(attr, " penwidth={width}");
            }
            let _ = write!(attr, " color=\"{}\"", dot_color(wv as f64 / total.wrapping_abs() as f64, false));
        }
        let arrow = if edge.residual { "..." } else { "->" };
        let tooltip = format!(
            "\"{} {} {} ({})\"",
            escape_for_dot(&self.g.names[edge.src as usize]),
            arrow,
            escape_for_dot(&self.g.names[edge.dest as usize]),
            w
        );
        let _ = write!(attr, " tooltip={tooltip} labeltooltip={tooltip}");
        if edge.residual {
            attr.push_str(" style=\"dotted\"");
        }
        if has_nodelets {
            attr.push_str(" minlen=2");
        }
        let _ = writeln!(self.w, "N{from} -> N{to} [{attr}]");
    }
}

/// Edges in pprof's `EdgeMap.Sort` order: |weight| descending, then source
/// and destination printable names. pprof's order is not total (weights that
/// differ only in sign tie, whatever the names); the sign breaks those ties here.
fn sort_edges(g: &Graph, edges: &[u32]) -> Vec<u32> {
    let mut v = edges.to_vec();
    v.sort_by(|&a, &b| {
        let (ea, eb) = (&g.edges[a as usize], &g.edges[b as usize]);
        eb.weight
            .wrapping_abs()
            .cmp(&ea.weight.wrapping_abs())
            .then_with(|| g.names[ea.src as usize].cmp(&g.names[eb.src as usize]))
            .then_with(|| g.names[ea.dest as usize].cmp(&g.names[eb.dest as usize]))
            .then_with(|| eb.weight.cmp(&ea.weight))
    });
    v
}

/// pprof's `SortTags`: by |cum| (unless `flat`), then |flat|, descending, then
/// name (made total: signs break ties of equal absolute values).
fn sort_tags(ts: &mut [&Tag], flat: bool) {
    ts.sort_by(|a, b| {
        let cum = if flat { Ordering::Equal } else { b.cum.wrapping_abs().cmp(&a.cum.wrapping_abs()) };
        cum.then_with(|| b.flat.wrapping_abs().cmp(&a.flat.wrapping_abs()))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| b.cum.cmp(&a.cum))
            .then_with(|| b.flat.cmp(&a.flat))
    });
}

/// pprof's `collapsedTags`: the tags sorted, grouped into at most `count`
/// buckets around the heaviest ones when there are more.
fn collapsed_tags(mut ts: Vec<&Tag>, count: usize, flat: bool) -> Vec<Tag> {
    sort_tags(&mut ts, flat);
    if ts.len() <= count {
        return ts.into_iter().cloned().collect();
    }
    let mut groups: Vec<Vec<&Tag>> = ts[..count].iter().map(|&t| vec![t]).collect();
    for &t in &ts[count..] {
        let mut best = 0;
        let mut d = tag_distance(t, groups[0][0]);
        for (i, grp) in groups.iter().enumerate().skip(1) {
            let nd = tag_distance(t, grp[0]);
            if nd < d {
                best = i;
                d = nd;
            }
        }
        groups[best].push(t);
    }
    let nts: Vec<Tag> = groups
        .iter()
        .map(|grp| {
            let (name, flat, cum) = tag_group_label(grp);
            Tag { name, flat, cum, ..Default::default() }
        })
        .collect();
    let mut refs: Vec<&Tag> = nts.iter().collect();
    sort_tags(&mut refs, flat);
    refs.into_iter().cloned().collect()
}

fn tag_distance(t: &Tag, u: &Tag) -> f64 {
    let (v, _) = measurement::scale(u.value, &u.unit, &t.unit);
    let tv = t.value as f64;
    if v < tv { tv - v } else { v - tv }
}

fn tag_group_label(g: &[&Tag]) -> (String, i64, i64) {
    if g.len() == 1 {
        let t = g[0];
        return (measurement::label(t.value, &t.unit), t.flat_value(), t.cum_value());
    }
    let (mut min, mut max) = (g[0], g[0]);
    let (mut df, mut f) = (min.flat_div, min.flat);
    let (mut dc, mut c) = (min.cum_div, min.cum);
    for &t in &g[1..] {
        let (v, _) = measurement::scale(t.value, &t.unit, &min.unit);
        if go_f64_to_i64(v) < min.value {
            min = t;
        }
        let (v, _) = measurement::scale(t.value, &t.unit, &max.unit);
        if go_f64_to_i64(v) > max.value {
            max = t;
        }
        f = f.wrapping_add(t.flat);
        df = df.wrapping_add(t.flat_div);
        c = c.wrapping_add(t.cum);
        dc = dc.wrapping_add(t.cum_div);
    }
    if df != 0 {
        f = f.wrapping_div(df);
    }
    if dc != 0 {
        c = c.wrapping_div(dc);
    }
    let label =
        format!("{}..{}", measurement::label(min.value, &min.unit), measurement::label(max.value, &max.unit));
    (label, f, c)
}

/// Go's `uint8(f)` on amd64 for the color channels (via a 64-bit truncation).
fn go_f64_to_u8(v: f64) -> u8 {
    go_f64_to_i64(v) as u8
}

/// pprof's `dotColor`: grey at 0, shifting to red for positive and green for
/// negative scores (in [-1, 1]); light for backgrounds.
fn dot_color(score: f64, background: bool) -> String {
    // pprof's `1.0 - shift` (shift = 0.7), folded exactly as Go folds constants.
    const EXPONENT: f64 = 0.3;
    let (mut saturation, value) = if background { (0.1, 0.93) } else { (1.0, 0.7) };
    let mut score = go_max(-1.0, go_min(1.0, score));
    if score.abs() < 0.2 {
        saturation *= score.abs() / 0.2;
    }
    if score > 0.0 {
        score = go_pow(score, EXPONENT);
    }
    if score < 0.0 {
        score = -go_pow(-score, EXPONENT);
    }
    let (r, g);
    if score < 0.0 {
        g = value;
        r = value * (1.0 + saturation * score);
    } else {
        r = value;
        g = value * (1.0 - saturation * score);
    }
    let b = value * (1.0 - saturation);
    format!("#{:02x}{:02x}{:02x}", go_f64_to_u8(r * 255.0), go_f64_to_u8(g * 255.0), go_f64_to_u8(b * 255.0))
}

/// Go's `math.Pow(x, y)` for 0 < x and 0 < y < 0.5 (all `dotColor` needs):
/// `Exp(y * Log(x))` with Go's own `Log` and `Exp`, so colors round as pprof's.
fn go_pow(x: f64, y: f64) -> f64 {
    if x == 1.0 {
        return 1.0;
    }
    if x.is_nan() || !(0.0 < y && y < 0.5) || x <= 0.0 || x.is_infinite() {
        return x.powf(y);
    }
    go_exp(y * go_log(x))
}

/// Go's `math.Exp` as its amd64 assembly computes it (a Taylor series on a
/// reduced argument, with fused multiply-adds when the CPU has AVX and FMA).
fn go_exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2U: f64 = 0.693_147_180_559_663;
    const LN2L: f64 = 2.823_529_056_303_157_7e-13;
    const OVERFLOW: f64 = 709.782_712_893_384;
    const C: [f64; 9] = [
        0.5,
        1.0,
        2.0,
        0.166_666_666_666_666_66,
        0.041_666_666_666_666_664,
        0.008_333_333_333_333_333,
        0.001_388_888_888_888_889,
        0.000_198_412_698_412_698_4,
        2.480_158_730_158_73e-5,
    ];
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    if x > OVERFLOW {
        return f64::INFINITY;
    }
    let k = (LOG2E * x).round_ties_even() as i32;
    let kf = f64::from(k);
    let mut x0 = x;
    if has_fma() {
        x0 = (-LN2U).mul_add(kf, x0);
        x0 = (-LN2L).mul_add(kf, x0);
        x0 *= 0.0625;
        let mut x1 = C[8];
        for c in [C[7], C[6], C[5], C[4], C[3], C[0], C[1]] {
            x1 = x1.mul_add(x0, c);
        }
        x0 *= x1;
        for _ in 0..3 {
            x0 *= x0 + C[2];
        }
        x0 = x0.mul_add(x0 + C[2], C[1]);
    } else {
        x0 -= LN2U * kf;
        x0 -= LN2L * kf;
        x0 *= 0.0625;
        let mut x1 = C[8];
        for c in [C[7], C[6], C[5], C[4], C[3], C[0], C[1]] {
            x1 = x1 * x0 + c;
        }
        x0 *= x1;
        for _ in 0..4 {
            x0 *= C[2] + x0;
        }
        x0 += C[1];
    }
    let e = k + 0x3ff;
    if e <= 0 {
        if e < -52 {
            return 0.0;
        }
        x0 *= f64::from_bits(((e + 0x3fe) as u64) << 52);
        return x0 * f64::from_bits(1u64 << 52);
    }
    if e >= 0x7ff {
        return f64::INFINITY;
    }
    x0 * f64::from_bits((e as u64) << 52)
}

/// Whether Go's amd64 `Exp` takes its FMA path on this CPU.
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

/// Go's `math.Min` (NaN wins).
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

/// Go's `math.Max` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// The node's label lines: the short function name split at `::` and `.`,
/// the file's base name, each followed by `\n`.
fn multiline_printable_name(info: &NodeInfo, strs: &Strs) -> String {
    let mut name = escape_for_dot(&shorten_function_name(strs.get(info.name)));
    name = name.replace("::", "\\n");
    name = name.replace("[...]", "[…]");
    name = name.replace('.', "\\n");
    let file = strs.get(info.file);
    let file = if file.is_empty() { String::new() } else { base_name(file).to_string() };
    let mut parts = Vec::new();
    if info.address != 0 {
        parts.push(format!("{:016x}", info.address));
    }
    if !name.is_empty() {
        parts.push(name.clone());
    }
    if info.lineno != 0 && info.columnno != 0 {
        parts.push(format!("{}:{}:{}", file, info.lineno, info.columnno));
    } else if info.lineno != 0 {
        parts.push(format!("{}:{}", file, info.lineno));
    } else if !file.is_empty() {
        parts.push(file);
    } else if !name.is_empty() {
    } else if info.objfile != 0 && !strs.get(info.objfile).is_empty() {
        parts.push(format!("[{}]", base_name(strs.get(info.objfile))));
    } else {
        parts.push("<unknown>".to_string());
    }
    let mut s = parts.join("\\n");
    s.push_str("\\n");
    s
}

// Go's `\w` and `\d` are ASCII-only: spelled out below.
static JAVA_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:[a-z][0-9A-Za-z_]*\.)*([A-Z][0-9A-Za-z_$]*\.(?:<init>|[a-z][0-9A-Za-z_$]*(?:\$[0-9]+)?))(?:(?:\()|$)",
    )
});
static GO_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[0-9A-Za-z_\-.]+/)+(.+)"));
static GO_VER_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^(.*?)/v(?:[2-9]|[1-9][0-9]+)([./].*)$"));
static CPP_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:[_a-zA-Z][0-9A-Za-z_]*::)+(_*[A-Z][0-9A-Za-z_]*::~?[_a-zA-Z][0-9A-Za-z_]*(?:<.*>)?)")
});
static CPP_ANON_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\(anonymous namespace\)::"));

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regexp")
}

/// pprof's `ShortenFunctionName`: drops package paths, module versions, Java
/// packages and C++ namespaces.
pub fn shorten_function_name(f: &str) -> String {
    let f = CPP_ANON_RE.replace_all(f, "");
    let f = GO_VER_RE.replace_all(&f, "${1}${2}").into_owned();
    for re in [&*GO_RE, &*JAVA_RE, &*CPP_RE] {
        if let Some(c) = re.captures(&f) {
            return c.iter().skip(1).map(|m| m.map_or("", |m| m.as_str())).collect();
        }
    }
    f
}

/// Escapes backslashes and quotes, and turns newlines into left-justified breaks.
fn escape_for_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\l")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_names() {
        assert_eq!(shorten_function_name("github.com/x/y/v2/pkg.(*T).M"), "pkg.(*T).M");
        assert_eq!(shorten_function_name("runtime.mallocgc"), "runtime.mallocgc");
        assert_eq!(shorten_function_name("java.lang.String.indexOf(I)"), "String.indexOf");
        assert_eq!(shorten_function_name("(anonymous namespace)::ns::Foo::bar"), "Foo::bar");
        assert_eq!(shorten_function_name("core::ptr::drop_in_place"), "core::ptr::drop_in_place");
    }

    #[test]
    fn colors() {
        assert_eq!(dot_color(0.0, false), "#b2b2b2");
        assert_eq!(dot_color(1.0, false), "#b20000");
        assert_eq!(dot_color(-1.0, true), "#d5edd5");
        assert_eq!(dot_color(-1.0, false), "#00b200");
        assert_eq!(dot_color(1.0, true), "#edd5d5");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_for_dot("a\"b\\c\nd"), "a\\\"b\\\\c\\ld");
    }
}
