//! Samples → a call graph: nodes at the granularity the profile was aggregated to,
//! edges between callers and callees, and pprof's trimming rules (node fraction,
//! node count, edge fraction, redundant residual edges, call-tree trimming).
//!
//! A node is identified by its [`NodeInfo`] (name, original name, address, file,
//! start line, line, object file), as in pprof. Cumulative values are added once
//! per node per sample (so recursion is counted once), edges once per sample, and
//! flat values go to the leaf. Strings are interned in a [`Strs`] table that lives
//! as long as the [`GraphBuilder`], so node sets can be carried from one build to
//! the next (trimming rebuilds the graph with the kept nodes).

use std::cmp::Ordering;

use hashbrown::{HashMap, HashSet};
use rustprof_profile::{Profile, StrId};

/// Interned strings of a graph.
#[derive(Default)]
pub struct Strs {
    map: HashMap<String, u32>,
    v: Vec<String>,
}

impl Strs {
    /// A table whose id 0 is the empty string.
    pub fn new() -> Self {
        let mut s = Strs::default();
        s.intern("");
        s
    }

    /// The id of `s`.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.v.len() as u32;
        self.v.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }

    /// The string of id `i`.
    #[inline]
    pub fn get(&self, i: u32) -> &str {
        &self.v[i as usize]
    }
}

/// What identifies a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct NodeInfo {
    /// Function name (string id).
    pub name: u32,
    /// System (mangled) name, only with `orig_fn_names`.
    pub orig_name: u32,
    /// Address (0 unless the granularity keeps it).
    pub address: u64,
    /// Source file (cleaned path).
    pub file: u32,
    /// Function start line.
    pub start_line: i64,
    /// Line number.
    pub lineno: i64,
    /// Column (0 unless `showcolumns` keeps it; always 0 in Go 1.19 mode).
    pub columnno: i64,
    /// Object file (mapping path).
    pub objfile: u32,
}

impl NodeInfo {
    /// The name parts pprof shows: address, function, file:line / file /
    /// `[objfile]` / `<unknown>`.
    pub fn name_components(&self, s: &Strs) -> Vec<String> {
        let mut name = Vec::new();
        if self.address != 0 {
            name.push(format!("{:016x}", self.address));
        }
        let fun = s.get(self.name);
        if !fun.is_empty() {
            name.push(fun.to_string());
        }
        let file = s.get(self.file);
        if self.lineno != 0 {
            if self.columnno != 0 {
                name.push(format!("{}:{}:{}", file, self.lineno, self.columnno));
            } else {
                name.push(format!("{}:{}", file, self.lineno));
            }
        } else if !file.is_empty() {
            name.push(file.to_string());
        } else if !fun.is_empty() {
        } else if self.objfile != 0 {
            let o = s.get(self.objfile);
            name.push(format!("[{}]", base_name(o)));
        } else {
            name.push("<unknown>".to_string());
        }
        name
    }

    /// The components joined with spaces.
    pub fn printable_name(&self, s: &Strs) -> String {
        self.name_components(s).join(" ")
    }

    /// Go's `fmt.Sprint(info)`, pprof's last tie-breaker when sorting (today's
    /// `NodeInfo` has a column between the line and the object file).
    fn go_sprint(&self, s: &Strs) -> String {
        let column = if crate::gofmt::compat_go119() { String::new() } else { format!(" {}", self.columnno) };
        format!(
            "{{{} {} {} {} {} {}{} {}}}",
            s.get(self.name),
            s.get(self.orig_name),
            self.address,
            s.get(self.file),
            self.start_line,
            self.lineno,
            column,
            s.get(self.objfile)
        )
    }
}

/// `filepath.Base`.
pub fn base_name(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Go's `filepath.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(&l) if l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A tag (label value) attached to a node, for DOT nodelets.
#[derive(Clone, Debug, Default)]
pub struct Tag {
    /// Display name.
    pub name: String,
    /// Unit of a numeric tag ("" for string tags).
    pub unit: String,
    /// Numeric value.
    pub value: i64,
    /// Flat weight.
    pub flat: i64,
    /// Flat divisor.
    pub flat_div: i64,
    /// Cumulative weight.
    pub cum: i64,
    /// Cumulative divisor.
    pub cum_div: i64,
}

impl Tag {
    /// Flat value (divided for means).
    pub fn flat_value(&self) -> i64 {
        if self.flat_div == 0 { self.flat } else { self.flat / self.flat_div }
    }

    /// Cumulative value (divided for means).
    pub fn cum_value(&self) -> i64 {
        if self.cum_div == 0 { self.cum } else { self.cum / self.cum_div }
    }
}

/// Tags by name, in insertion order.
pub type TagMap = Vec<Tag>;

/// A node of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Identity.
    pub info: NodeInfo,
    /// The node of the same function without address and line.
    pub function: u32,
    /// Flat value.
    pub flat: i64,
    /// Flat divisor (means).
    pub flat_div: i64,
    /// Cumulative value.
    pub cum: i64,
    /// Cumulative divisor (means).
    pub cum_div: i64,
    /// Incoming edges (callers), edge indexes.
    pub ins: Vec<u32>,
    /// Outgoing edges (callees), edge indexes.
    pub outs: Vec<u32>,
    /// String label tags (joined labels → tag).
    pub label_tags: TagMap,
    /// Numeric tags per joined string labels.
    pub numeric_tags: Vec<(String, TagMap)>,
}

impl Node {
    fn new(info: NodeInfo) -> Self {
        Node {
            info,
            function: 0,
            flat: 0,
            flat_div: 0,
            cum: 0,
            cum_div: 0,
            ins: Vec::new(),
            outs: Vec::new(),
            label_tags: Vec::new(),
            numeric_tags: Vec::new(),
        }
    }

    /// Flat value (divided for means).
    pub fn flat_value(&self) -> i64 {
        if self.flat_div == 0 { self.flat } else { self.flat / self.flat_div }
    }

    /// Cumulative value (divided for means).
    pub fn cum_value(&self) -> i64 {
        if self.cum_div == 0 { self.cum } else { self.cum / self.cum_div }
    }
}

/// An edge: `src` calls `dest`.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Caller node.
    pub src: u32,
    /// Callee node.
    pub dest: u32,
    /// Weight.
    pub weight: i64,
    /// Weight divisor (means).
    pub weight_div: i64,
    /// Passes through removed nodes.
    pub residual: bool,
    /// An inlined call.
    pub inline: bool,
}

impl Edge {
    /// Weight (divided for means).
    pub fn weight_value(&self) -> i64 {
        if self.weight_div == 0 { self.weight } else { self.weight / self.weight_div }
    }
}

/// A call graph.
pub struct Graph {
    /// All nodes ever created (edges refer to these).
    pub all: Vec<Node>,
    /// The nodes of the graph, in report order.
    pub nodes: Vec<u32>,
    /// Edges (dead edges are unlinked from their nodes).
    pub edges: Vec<Edge>,
    /// Printable name per node of `all`.
    pub names: Vec<String>,
    /// Per node of `all`: whether its label tags were computed (graphs with
    /// tags compute them only for the nodes that are shown, see
    /// [`GraphBuilder::add_tags_to`]).
    pub tagged: Vec<bool>,
}

/// How to build a graph.
#[derive(Clone, Default)]
pub struct GraphOptions {
    /// Index of the sample value to use.
    pub sample_index: usize,
    /// Divide by the first value (means).
    pub mean: bool,
    /// Keep object file names (and start lines) on every node.
    pub obj_names: bool,
    /// Keep system names.
    pub orig_fn_names: bool,
    /// Build a context-sensitive tree.
    pub call_tree: bool,
    /// Drop nodes with negative values.
    pub drop_negative: bool,
    /// Collect label tags (DOT nodelets).
    pub tags: bool,
    /// Only collect edges that touch a node whose printable name matches (the
    /// nodes `peek` prints); all edges when `None`.
    pub edge_filter: Option<regex::Regex>,
    /// Output unit for numeric tags.
    pub tag_unit: String,
    /// Units of numeric label keys.
    pub num_label_units: std::collections::HashMap<String, String>,
}

/// Builds graphs of one profile, repeatedly.
pub struct GraphBuilder<'p> {
    /// The profile.
    pub prof: &'p Profile,
    /// Options.
    pub opts: GraphOptions,
    /// Interned strings.
    pub strs: Strs,
    /// Per location: start of its infos in `infos`.
    loc_start: Vec<u32>,
    infos: Vec<NodeInfo>,
    /// Per label set id: the id of its joined string labels in `joined_strs` (for tags).
    joined: Vec<u32>,
    /// Distinct joined string labels.
    joined_strs: Vec<String>,
    /// Per label set id: its `bytes` numeric labels (label id in `num_labels`, value).
    set_nums: Vec<Vec<(u32, i64)>>,
    /// Distinct formatted numeric labels.
    num_labels: Vec<String>,
    /// The unit of the `bytes` label key.
    num_unit: String,
}

/// Where each tag of a node is, so that adding to it is one hash lookup.
#[derive(Default)]
struct TagIndex {
    /// (node, joined labels id) → index in the node's `label_tags`.
    labels: HashMap<(u32, u32), u32>,
    /// (node, joined labels id) → index in the node's `numeric_tags`.
    numeric: HashMap<(u32, u32), u32>,
    /// (node, `numeric_tags` index, numeric label id) → index in that tag map.
    nums: HashMap<(u32, u32, u32), u32>,
}

impl<'p> GraphBuilder<'p> {
    /// Prepares node identities for every location.
    pub fn new(prof: &'p Profile, opts: GraphOptions) -> Self {
        Self::with_strs(prof, opts, Strs::new())
    }

    /// Like [`GraphBuilder::new`], interning into an existing string table (so
    /// that node infos of an earlier graph can select nodes of this one).
    pub fn with_strs(prof: &'p Profile, opts: GraphOptions, mut strs: Strs) -> Self {
        let mut loc_start = Vec::with_capacity(prof.locations.len() + 1);
        let mut infos = Vec::with_capacity(prof.lines.len() + prof.locations.len());
        let mut file_cache: HashMap<StrId, u32> = HashMap::new();
        let mut str_cache: HashMap<StrId, u32> = HashMap::new();
        let go119 = crate::gofmt::compat_go119();
        for loc in &prof.locations {
            loc_start.push(infos.len() as u32);
            let objfile = match loc.mapping {
                Some(m) => {
                    let f = prof.mappings[m as usize].filename;
                    *str_cache.entry(f).or_insert_with(|| strs.intern(prof.str(f)))
                }
                None => 0,
            };
            let lines = &prof.lines[loc.lines_start as usize..loc.lines_end as usize];
            if lines.is_empty() {
                infos.push(NodeInfo { address: loc.address, objfile, ..Default::default() });
                continue;
            }
            for line in lines {
                let f = &prof.functions[line.function as usize];
                let name = *str_cache.entry(f.name).or_insert_with(|| strs.intern(prof.str(f.name)));
                let mut ni = NodeInfo {
                    address: loc.address,
                    lineno: line.line,
                    columnno: if go119 { 0 } else { line.column },
                    name,
                    ..Default::default()
                };
                if !prof.str(f.filename).is_empty() {
                    ni.file = *file_cache
                        .entry(f.filename)
                        .or_insert_with(|| strs.intern(&clean_path(prof.str(f.filename))));
                }
                if opts.orig_fn_names {
                    ni.orig_name = *str_cache
                        .entry(f.system_name)
                        .or_insert_with(|| strs.intern(prof.str(f.system_name)));
                }
                if opts.obj_names || (ni.name == 0 && ni.orig_name == 0) {
                    ni.objfile = objfile;
                    ni.start_line = f.start_line;
                }
                infos.push(ni);
            }
        }
        loc_start.push(infos.len() as u32);
        let mut joined = Vec::new();
        let mut joined_strs: Vec<String> = Vec::new();
        let mut set_nums = Vec::new();
        let mut num_labels: Vec<String> = Vec::new();
        // Reports keep only the `bytes` numeric label, in its unit.
        let num_unit = opts.num_label_units.get("bytes").cloned().unwrap_or_default();
        if opts.tags {
            let mut joined_ids: HashMap<String, u32> = HashMap::new();
            let mut num_ids: HashMap<String, u32> = HashMap::new();
            for id in 0..=prof.samples.label_sets() as u32 {
                let set = prof.samples.label_set(id);
                let mut labels: Vec<String> = set
                    .iter()
                    .filter(|l| l.is_str() && prof.str(l.key) != "pprof::base")
                    .map(|l| format!("{}:{}", prof.str(l.key), prof.str(l.str)))
                    .collect();
                labels.sort();
                let text = labels.join("\\n");
                let jid = *joined_ids.entry(text).or_insert_with_key(|t| {
                    joined_strs.push(t.clone());
                    (joined_strs.len() - 1) as u32
                });
                joined.push(jid);
                let nums: Vec<(u32, i64)> = set
                    .iter()
                    .filter(|l| l.is_num() && prof.str(l.key) == "bytes")
                    .map(|l| {
                        let label = crate::measurement::scaled_label(l.num, &num_unit, &opts.tag_unit);
                        let lid = *num_ids.entry(label).or_insert_with_key(|t| {
                            num_labels.push(t.clone());
                            (num_labels.len() - 1) as u32
                        });
                        (lid, l.num)
                    })
                    .collect();
                set_nums.push(nums);
            }
        }
        GraphBuilder {
            prof,
            opts,
            strs,
            loc_start,
            infos,
            joined,
            joined_strs,
            set_nums,
            num_labels,
            num_unit,
        }
    }

    /// Gives back the string table.
    pub fn into_strs(self) -> Strs {
        self.strs
    }

    /// The node infos of location `loc` (one per line, innermost first).
    pub fn location_infos(&self, loc: u32) -> &[NodeInfo] {
        &self.infos[self.loc_start[loc as usize] as usize..self.loc_start[loc as usize + 1] as usize]
    }

    fn weights(&self, i: usize) -> (i64, i64) {
        // Used by the call-tree builder.
        let v = self.prof.samples.values(i);
        let w = v[self.opts.sample_index];
        let dw = if self.opts.mean { v[0] } else { 0 };
        (w, dw)
    }

    /// Builds the graph, keeping only nodes in `kept` when given.
    pub fn build(&mut self, kept: Option<&HashSet<NodeInfo>>) -> Graph {
        self.build_with(kept, true)
    }

    /// Builds the graph; without `edges`, only node values are computed (faster,
    /// for graphs whose edges are not looked at).
    pub fn build_with(&mut self, kept: Option<&HashSet<NodeInfo>>, edges: bool) -> Graph {
        if self.opts.call_tree {
            return self.build_tree(kept);
        }
        let mut nm = NodeMap::default();
        // Per location, node index per line (NONE when not kept).
        let mut loc_nodes: Vec<u32> = Vec::with_capacity(self.infos.len());
        for &info in &self.infos {
            loc_nodes.push(nm.find_or_insert(info, kept).unwrap_or(NONE));
        }
        let n_nodes = nm.nodes.len();
        let n_samples = self.prof.samples.len();
        let want_edges: Vec<bool> = match &self.opts.edge_filter {
            Some(rx) => nm.nodes.iter().map(|n| rx.is_match(&n.info.printable_name(&self.strs))).collect(),
            None => vec![true; n_nodes],
        };
        let want_edges = &want_edges;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let parts: Vec<Partial> = if threads > 1 && n_samples >= 100_000 {
            let chunk = n_samples.div_ceil(threads);
            let this = &*self;
            let loc_nodes = &loc_nodes;
            std::thread::scope(|sc| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let range = (t * chunk).min(n_samples)..((t + 1) * chunk).min(n_samples);
                        sc.spawn(move || this.walk(loc_nodes, want_edges, range, edges))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("graph worker panicked")).collect()
            })
        } else {
            vec![self.walk(&loc_nodes, want_edges, 0..n_samples, edges)]
        };
        self.assemble(nm.nodes, parts)
    }

    /// Walks samples `range`, accumulating node values and edges (pprof's
    /// `newGraph` loop).
    fn walk(
        &self,
        loc_nodes: &[u32],
        want_edges: &[bool],
        range: std::ops::Range<usize>,
        with_edges: bool,
    ) -> Partial {
        let mut vals = vec![NodeAcc { stamp: u32::MAX, ..Default::default() }; want_edges.len()];
        let mut edges = EdgeTable::new();
        let samples = &self.prof.samples;
        let (si, mean) = (self.opts.sample_index, self.opts.mean);
        let nv = samples.n_values();
        let values = samples.all_values();
        for i in range {
            let row = &values[i * nv..(i + 1) * nv];
            let w = row[si];
            let dw = if mean { row[0] } else { 0 };
            if dw == 0 && w == 0 {
                continue;
            }
            let stamp = i as u32;
            let mut parent = NONE;
            let mut residual = false;
            for &loc in samples.locations(i).iter().rev() {
                let s = self.loc_start[loc as usize] as usize;
                let e = self.loc_start[loc as usize + 1] as usize;
                let last = e - s - 1;
                for ni in (0..e - s).rev() {
                    let n = loc_nodes[s + ni];
                    if n == NONE {
                        residual = true;
                        continue;
                    }
                    let v = &mut vals[n as usize];
                    if v.stamp != stamp {
                        v.stamp = stamp;
                        v.cum += w;
                        v.cum_div += dw;
                    }
                    if with_edges
                        && parent != NONE
                        && n != parent
                        && (want_edges[parent as usize] || want_edges[n as usize])
                    {
                        edges.add(parent, n, w, dw, residual, ni != last, stamp);
                    }
                    parent = n;
                    residual = false;
                }
            }
            if parent != NONE && !residual {
                let v = &mut vals[parent as usize];
                v.flat += w;
                v.flat_div += dw;
            }
        }
        Partial { vals, edges: edges.into_ordered() }
    }

    /// Combines the partial results of the walks (in sample order) into a graph.
    fn assemble(&self, mut nodes: Vec<Node>, parts: Vec<Partial>) -> Graph {
        let mut edges: Vec<Edge> = Vec::new();
        let mut index: HashMap<(u32, u32), u32> = HashMap::new();
        for part in parts {
            for (n, v) in part.vals.iter().enumerate() {
                let node = &mut nodes[n];
                node.flat += v.flat;
                node.flat_div += v.flat_div;
                node.cum += v.cum;
                node.cum_div += v.cum_div;
            }
            for e in part.edges {
                match index.get(&(e.src, e.dest)) {
                    Some(&i) => {
                        let ed = &mut edges[i as usize];
                        ed.weight += e.w;
                        ed.weight_div += e.wd;
                        ed.residual |= e.residual;
                        ed.inline &= e.inline;
                    }
                    None => {
                        let i = edges.len() as u32;
                        index.insert((e.src, e.dest), i);
                        edges.push(Edge {
                            src: e.src,
                            dest: e.dest,
                            weight: e.w,
                            weight_div: e.wd,
                            residual: e.residual,
                            inline: e.inline,
                        });
                        nodes[e.src as usize].outs.push(i);
                        nodes[e.dest as usize].ins.push(i);
                    }
                }
            }
        }
        self.finish(nodes, edges)
    }

    /// Adds a sample's weight to the label tags of node `n` (pprof's tag
    /// bookkeeping of `newGraph`), finding each tag through `ix`.
    #[allow(clippy::too_many_arguments)]
    fn add_tags(&self, ix: &mut TagIndex, n: u32, node: &mut Node, set: u32, dw: i64, w: i64, flat: bool) {
        let jid = self.joined[set as usize];
        let labels = &self.joined_strs[jid as usize];
        let add = |t: &mut Tag| {
            if flat {
                t.flat_div += dw;
                t.flat += w;
            } else {
                t.cum_div += dw;
                t.cum += w;
            }
        };
        if !labels.is_empty() {
            let k = *ix.labels.entry((n, jid)).or_insert_with(|| {
                node.label_tags.push(Tag { name: labels.clone(), ..Default::default() });
                (node.label_tags.len() - 1) as u32
            });
            add(&mut node.label_tags[k as usize]);
        }
        let pos = *ix.numeric.entry((n, jid)).or_insert_with(|| {
            node.numeric_tags.push((labels.clone(), Vec::new()));
            (node.numeric_tags.len() - 1) as u32
        });
        for &(lid, num) in &self.set_nums[set as usize] {
            let tm = &mut node.numeric_tags[pos as usize].1;
            let k = *ix.nums.entry((n, pos, lid)).or_insert_with(|| {
                tm.push(Tag {
                    name: self.num_labels[lid as usize].clone(),
                    unit: self.num_unit.clone(),
                    value: num,
                    ..Default::default()
                });
                (tm.len() - 1) as u32
            });
            add(&mut tm[k as usize]);
        }
    }

    fn build_tree(&mut self, kept: Option<&HashSet<NodeInfo>>) -> Graph {
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: HashMap<(u32, NodeInfo), u32> = HashMap::new();
        let mut edges: Vec<Edge> = Vec::new();
        let mut edge_ix: HashMap<(u32, u32), u32> = HashMap::new();
        let mut tag_ix = TagIndex::default();
        let samples = &self.prof.samples;
        for i in 0..samples.len() {
            let (w, dw) = self.weights(i);
            if dw == 0 && w == 0 {
                continue;
            }
            let set = samples.label_set_id(i);
            let mut parent = NONE;
            for &loc in samples.locations(i).iter().rev() {
                let s = self.loc_start[loc as usize] as usize;
                let e = self.loc_start[loc as usize + 1] as usize;
                let last = e - s - 1;
                for li in (0..e - s).rev() {
                    let info = self.infos[s + li];
                    if let Some(k) = kept
                        && !k.contains(&info)
                    {
                        continue;
                    }
                    let n = match index.get(&(parent, info)) {
                        Some(&n) => n,
                        None => {
                            let n = nodes.len() as u32;
                            nodes.push(Node::new(info));
                            index.insert((parent, info), n);
                            // As in pprof, the function node (no address, no line)
                            // lives in the same parent's node map.
                            let mut finfo = info;
                            finfo.address = 0;
                            finfo.lineno = 0;
                            finfo.columnno = 0;
                            let f = match index.get(&(parent, finfo)) {
                                Some(&f) => f,
                                None => {
                                    let f = nodes.len() as u32;
                                    let mut fnode = Node::new(finfo);
                                    fnode.function = f;
                                    nodes.push(fnode);
                                    index.insert((parent, finfo), f);
                                    f
                                }
                            };
                            nodes[n as usize].function = f;
                            n
                        }
                    };
                    {
                        let node = &mut nodes[n as usize];
                        node.cum_div += dw;
                        node.cum += w;
                    }
                    if self.opts.tags {
                        let node = &mut nodes[n as usize];
                        self.add_tags(&mut tag_ix, n, node, set, dw, w, false);
                    }
                    if parent != NONE {
                        let inline = li != last;
                        match edge_ix.get(&(parent, n)) {
                            Some(&idx) => {
                                let ed = &mut edges[idx as usize];
                                ed.weight_div += dw;
                                ed.weight += w;
                                if !inline {
                                    ed.inline = false;
                                }
                            }
                            None => {
                                edges.push(Edge {
                                    src: parent,
                                    dest: n,
                                    weight: w,
                                    weight_div: dw,
                                    residual: false,
                                    inline,
                                });
                                let idx = (edges.len() - 1) as u32;
                                edge_ix.insert((parent, n), idx);
                                nodes[parent as usize].outs.push(idx);
                                nodes[n as usize].ins.push(idx);
                            }
                        }
                    }
                    parent = n;
                }
            }
            if parent != NONE {
                let node = &mut nodes[parent as usize];
                node.flat_div += dw;
                node.flat += w;
                if self.opts.tags {
                    let node = &mut nodes[parent as usize];
                    self.add_tags(&mut tag_ix, parent, node, set, dw, w, true);
                }
            }
        }
        self.finish(nodes, edges)
    }

    fn finish(&self, all: Vec<Node>, edges: Vec<Edge>) -> Graph {
        let names: Vec<String> = all.iter().map(|n| n.info.printable_name(&self.strs)).collect();
        let mut nodes = Vec::with_capacity(all.len());
        for (i, n) in all.iter().enumerate() {
            if n.cum == 0 && n.flat == 0 {
                continue;
            }
            if self.opts.drop_negative && is_negative(n) {
                continue;
            }
            nodes.push(i as u32);
        }
        // Call trees get their tags while they are built; other graphs on demand.
        let tagged = vec![self.opts.call_tree; all.len()];
        Graph { all, nodes, edges, names, tagged }
    }

    /// Computes the label tags of the nodes `subset` of `g`, a graph this
    /// builder's options built with `kept`, skipping nodes already done.
    /// Tags are per-sample bookkeeping on every node a sample goes through:
    /// doing it only for the nodes a graph shows keeps large profiles fast.
    pub fn add_tags_to(&self, g: &mut Graph, kept: Option<&HashSet<NodeInfo>>, subset: &[u32]) {
        if !self.opts.tags {
            return;
        }
        let mut wanted = vec![false; g.all.len()];
        let mut any = false;
        for &n in subset {
            let n = n as usize;
            if n < g.all.len() && !g.tagged[n] {
                wanted[n] = true;
                g.tagged[n] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let index: HashMap<NodeInfo, u32> =
            g.all.iter().enumerate().map(|(i, n)| (n.info, i as u32)).collect();
        let loc_nodes: Vec<u32> = self
            .infos
            .iter()
            .map(|info| {
                if kept.is_some_and(|k| !k.contains(info)) {
                    return NONE;
                }
                index.get(info).copied().unwrap_or(NONE)
            })
            .collect();
        let mut ix = TagIndex::default();
        let mut stamps = vec![u32::MAX; g.all.len()];
        let samples = &self.prof.samples;
        let (si, mean) = (self.opts.sample_index, self.opts.mean);
        for i in 0..samples.len() {
            let row = samples.values(i);
            let w = row[si];
            let dw = if mean { row[0] } else { 0 };
            if dw == 0 && w == 0 {
                continue;
            }
            let set = samples.label_set_id(i);
            let stamp = i as u32;
            let mut parent = NONE;
            let mut residual = false;
            for &loc in samples.locations(i).iter().rev() {
                let s = self.loc_start[loc as usize] as usize;
                let e = self.loc_start[loc as usize + 1] as usize;
                for &n in loc_nodes[s..e].iter().rev() {
                    if n == NONE {
                        residual = true;
                        continue;
                    }
                    if stamps[n as usize] != stamp {
                        stamps[n as usize] = stamp;
                        if wanted[n as usize] {
                            self.add_tags(&mut ix, n, &mut g.all[n as usize], set, dw, w, false);
                        }
                    }
                    parent = n;
                    residual = false;
                }
            }
            if parent != NONE && !residual && wanted[parent as usize] {
                self.add_tags(&mut ix, parent, &mut g.all[parent as usize], set, dw, w, true);
            }
        }
    }
}

const NONE: u32 = u32::MAX;

/// A node's values while samples are walked (with the last sample that counted
/// it, so recursion counts once), kept together for the cache.
#[derive(Clone, Copy, Default)]
struct NodeAcc {
    stamp: u32,
    flat: i64,
    flat_div: i64,
    cum: i64,
    cum_div: i64,
}

/// An edge while samples are walked.
#[derive(Clone, Copy, Default)]
struct EdgeAcc {
    src: u32,
    dest: u32,
    w: i64,
    wd: i64,
    residual: bool,
    inline: bool,
}

/// What one walk over a range of samples accumulated.
struct Partial {
    vals: Vec<NodeAcc>,
    /// Edges in creation order.
    edges: Vec<EdgeAcc>,
}

/// Open-addressing table of edges keyed by (caller, callee): one probe sequence
/// per lookup, weights and flags stored inline.
struct EdgeTable {
    slots: Vec<EdgeSlot>,
    len: usize,
    shift: u32,
}

#[derive(Clone, Copy)]
struct EdgeSlot {
    key: u64,
    stamp: u32,
    order: u32,
    acc: EdgeAcc,
}

const EMPTY_KEY: u64 = u64::MAX;

impl EdgeTable {
    fn new() -> Self {
        let cap = 1 << 12;
        EdgeTable {
            slots: vec![EdgeSlot { key: EMPTY_KEY, stamp: 0, order: 0, acc: EdgeAcc::default() }; cap],
            len: 0,
            shift: 64 - 12,
        }
    }

    #[inline]
    fn slot_of(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn add(&mut self, src: u32, dest: u32, w: i64, wd: i64, residual: bool, inline: bool, stamp: u32) {
        let key = ((src as u64) << 32) | dest as u64;
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(key);
        loop {
            let slot = &mut self.slots[i];
            if slot.key == key {
                if slot.stamp != stamp {
                    slot.stamp = stamp;
                    slot.acc.w += w;
                    slot.acc.wd += wd;
                    slot.acc.residual |= residual;
                    slot.acc.inline &= inline;
                }
                return;
            }
            if slot.key == EMPTY_KEY {
                *slot = EdgeSlot {
                    key,
                    stamp,
                    order: self.len as u32,
                    acc: EdgeAcc { src, dest, w, wd, residual, inline },
                };
                self.len += 1;
                if self.len * 2 > self.slots.len() {
                    self.grow();
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let cap = old.len() * 2;
        self.slots = vec![EdgeSlot { key: EMPTY_KEY, stamp: 0, order: 0, acc: EdgeAcc::default() }; cap];
        self.shift -= 1;
        let mask = cap - 1;
        for s in old {
            if s.key == EMPTY_KEY {
                continue;
            }
            let mut i = self.slot_of(s.key);
            while self.slots[i].key != EMPTY_KEY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    fn into_ordered(self) -> Vec<EdgeAcc> {
        let mut v: Vec<(u32, EdgeAcc)> =
            self.slots.into_iter().filter(|s| s.key != EMPTY_KEY).map(|s| (s.order, s.acc)).collect();
        v.sort_unstable_by_key(|(o, _)| *o);
        v.into_iter().map(|(_, a)| a).collect()
    }
}

#[derive(Default)]
struct NodeMap {
    nodes: Vec<Node>,
    index: HashMap<NodeInfo, u32>,
}

impl NodeMap {
    fn find_or_insert(&mut self, info: NodeInfo, kept: Option<&HashSet<NodeInfo>>) -> Option<u32> {
        if let Some(k) = kept
            && !k.contains(&info)
        {
            return None;
        }
        if let Some(&n) = self.index.get(&info) {
            return Some(n);
        }
        let n = self.nodes.len() as u32;
        self.nodes.push(Node::new(info));
        self.index.insert(info, n);
        if info.address == 0 && info.lineno == 0 {
            self.nodes[n as usize].function = n;
        } else {
            let mut f = info;
            f.address = 0;
            f.lineno = 0;
            f.columnno = 0;
            let fnode = self.find_or_insert(f, None).unwrap_or(n);
            self.nodes[n as usize].function = fnode;
        }
        Some(n)
    }
}

fn is_negative(n: &Node) -> bool {
    n.flat < 0 || (n.flat == 0 && n.cum < 0)
}

/// Node orders (pprof's `NodeOrder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// |flat| desc, name, |cum| desc.
    FlatName,
    /// |flat| desc, |cum| desc, name.
    FlatCumName,
    /// |cum| desc, name, |flat| desc.
    CumName,
    /// By function name.
    Name,
    /// By file, then start line.
    File,
    /// By address.
    Address,
    /// Entropy score (graphs).
    Entropy,
}

impl Graph {
    /// The node at index `n` of `all`.
    #[inline]
    pub fn node(&self, n: u32) -> &Node {
        &self.all[n as usize]
    }

    /// Sum of flat and cum over the graph's nodes.
    pub fn sum(&self) -> (i64, i64) {
        self.nodes.iter().fold((0, 0), |(f, c), &n| (f + self.node(n).flat, c + self.node(n).cum))
    }

    /// Sorts `list` (node indexes) in `order`.
    pub fn sort_nodes(&self, list: &mut [u32], order: Order, strs: &Strs) {
        let score: Vec<i64> = match order {
            Order::CumName => self.all.iter().map(|n| n.cum).collect(),
            Order::Entropy => (0..self.all.len()).map(|i| self.entropy_score(i as u32)).collect(),
            _ => Vec::new(),
        };
        let tie = |l: u32, r: u32| self.node(l).info.go_sprint(strs).cmp(&self.node(r).info.go_sprint(strs));
        list.sort_by(|&l, &r| {
            let (a, b) = (self.node(l), self.node(r));
            let name = || self.names[l as usize].cmp(&self.names[r as usize]);
            let ord = match order {
                Order::FlatName => b
                    .flat
                    .abs()
                    .cmp(&a.flat.abs())
                    .then_with(name)
                    .then_with(|| b.cum.abs().cmp(&a.cum.abs())),
                Order::FlatCumName => b
                    .flat
                    .abs()
                    .cmp(&a.flat.abs())
                    .then_with(|| b.cum.abs().cmp(&a.cum.abs()))
                    .then_with(name),
                Order::Name => strs.get(a.info.name).cmp(strs.get(b.info.name)),
                Order::File => strs
                    .get(a.info.file)
                    .cmp(strs.get(b.info.file))
                    .then(a.info.start_line.cmp(&b.info.start_line)),
                Order::Address => a.info.address.cmp(&b.info.address),
                Order::CumName | Order::Entropy => score[r as usize]
                    .wrapping_abs()
                    .cmp(&score[l as usize].wrapping_abs())
                    .then_with(name)
                    .then_with(|| b.flat.abs().cmp(&a.flat.abs())),
            };
            if ord == Ordering::Equal { tie(l, r) } else { ord }
        });
    }

    /// Sorts the graph's nodes for a report (pprof's `SortNodes`).
    pub fn sort(&mut self, cum: bool, visual: bool, strs: &Strs) {
        let order = if visual {
            Order::Entropy
        } else if cum {
            Order::CumName
        } else {
            Order::FlatName
        };
        let mut list = std::mem::take(&mut self.nodes);
        self.sort_nodes(&mut list, order, strs);
        self.nodes = list;
    }

    fn entropy_score(&self, n: u32) -> i64 {
        let node = self.node(n);
        let mut score = 0.0f64;
        if node.ins.is_empty() {
            score += 1.0;
        } else {
            score += self.edge_entropy(&node.ins, 0);
        }
        if node.outs.is_empty() {
            score += 1.0;
        } else {
            score += self.edge_entropy(&node.outs, node.flat);
        }
        go_f64_to_i64(score * node.cum as f64).wrapping_add(node.flat)
    }

    fn edge_entropy(&self, edges: &[u32], self_w: i64) -> f64 {
        let mut score = 0.0;
        let mut total = self_w;
        for &e in edges {
            let w = self.edges[e as usize].weight;
            if w > 0 {
                total += w.abs();
            }
        }
        if total != 0 {
            for &e in edges {
                let frac = self.edges[e as usize].weight.abs() as f64 / total as f64;
                score += -frac * go_log2(frac);
            }
            if self_w > 0 {
                let frac = self_w.abs() as f64 / total as f64;
                score += -frac * go_log2(frac);
            }
        }
        score
    }

    /// Edges sorted as pprof's `EdgeMap.Sort`: |weight| desc, then source and
    /// destination names.
    pub fn sorted_edges(&self, edges: &[u32]) -> Vec<u32> {
        let mut v = edges.to_vec();
        v.sort_by(|&a, &b| {
            let (ea, eb) = (&self.edges[a as usize], &self.edges[b as usize]);
            // pprof ties weights that differ only in sign whatever the names,
            // which is not a total order (Rust's sort may panic on it): the
            // sign breaks those ties last instead.
            eb.weight
                .wrapping_abs()
                .cmp(&ea.weight.wrapping_abs())
                .then_with(|| self.names[ea.src as usize].cmp(&self.names[eb.src as usize]))
                .then_with(|| self.names[ea.dest as usize].cmp(&self.names[eb.dest as usize]))
                .then_with(|| eb.weight.cmp(&ea.weight))
        });
        v
    }

    /// Infos of the nodes whose |cum| is at least `cutoff`.
    pub fn nodes_above_cutoff(&self, cutoff: i64) -> Vec<u32> {
        self.nodes.iter().copied().filter(|&n| self.node(n).cum.abs() >= cutoff).collect()
    }

    /// The node infos of a node list.
    pub fn info_set(&self, list: &[u32]) -> HashSet<NodeInfo> {
        list.iter().map(|&n| self.node(n).info).collect()
    }

    /// Takes the label tags of the nodes of `old` that have them, for the
    /// nodes of this graph with the same info. A node's tags only depend on
    /// the samples through it (and whether it is their leaf), not on which
    /// other nodes a graph keeps, so a graph rebuilt with fewer nodes need
    /// not walk the samples again for them.
    pub fn adopt_tags(&mut self, old: Graph) {
        let mut done: HashMap<NodeInfo, Node> = HashMap::new();
        for (node, tagged) in old.all.into_iter().zip(old.tagged) {
            if tagged {
                done.insert(node.info, node);
            }
        }
        for (node, tagged) in self.all.iter_mut().zip(self.tagged.iter_mut()) {
            if *tagged {
                continue;
            }
            if let Some(old) = done.remove(&node.info) {
                node.label_tags = old.label_tags;
                node.numeric_tags = old.numeric_tags;
                *tagged = true;
            }
        }
    }

    /// Drops tags whose flat and cum are both below `cutoff`.
    pub fn trim_low_frequency_tags(&mut self, cutoff: i64) {
        for &n in &self.nodes {
            let node = &mut self.all[n as usize];
            node.label_tags.retain(|t| t.flat.abs() >= cutoff || t.cum.abs() >= cutoff);
            for (_, tm) in &mut node.numeric_tags {
                tm.retain(|t| t.flat.abs() >= cutoff || t.cum.abs() >= cutoff);
            }
        }
    }

    fn unlink(&mut self, e: u32) {
        let (src, dest) = (self.edges[e as usize].src, self.edges[e as usize].dest);
        self.all[src as usize].outs.retain(|&x| x != e);
        self.all[dest as usize].ins.retain(|&x| x != e);
    }

    /// Removes edges whose |weight| is below `cutoff`; returns how many.
    pub fn trim_low_frequency_edges(&mut self, cutoff: i64) -> usize {
        let mut dropped = 0;
        for k in 0..self.nodes.len() {
            let n = self.nodes[k];
            let ins = self.all[n as usize].ins.clone();
            for e in ins {
                if self.edges[e as usize].weight.abs() < cutoff {
                    self.unlink(e);
                    dropped += 1;
                }
            }
        }
        dropped
    }

    /// The first `max` nodes (for graphs, counting up to 4 tag nodelets per node).
    pub fn select_top_nodes(&self, max_nodes: usize, visual: bool) -> Vec<u32> {
        let mut max = max_nodes;
        if max > 0 && visual {
            let mut count = 0;
            for (i, &n) in self.nodes.iter().enumerate() {
                let tags = count_tags(self.node(n)).min(MAX_NODELETS);
                count += tags + 1;
                if count >= max {
                    max = i + 1;
                    break;
                }
            }
        }
        let max = max.min(self.nodes.len());
        self.nodes[..max].to_vec()
    }

    /// Removes residual edges that are implied by other paths (graphs only).
    pub fn remove_redundant_edges(&mut self) {
        for k in (0..self.nodes.len()).rev() {
            let n = self.nodes[k];
            let ins = self.sorted_edges(&self.all[n as usize].ins);
            for &e in ins.iter().rev() {
                if !self.edges[e as usize].residual {
                    break;
                }
                if self.is_redundant_edge(e) {
                    self.unlink(e);
                }
            }
        }
    }

    fn is_redundant_edge(&self, e: u32) -> bool {
        let (src, n) = (self.edges[e as usize].src, self.edges[e as usize].dest);
        let mut seen = HashSet::new();
        seen.insert(n);
        let mut queue = std::collections::VecDeque::from([n]);
        while let Some(n) = queue.pop_front() {
            for &ie in &self.all[n as usize].ins {
                let s = self.edges[ie as usize].src;
                if ie == e || seen.contains(&s) {
                    continue;
                }
                if s == src {
                    return true;
                }
                seen.insert(s);
                queue.push_back(s);
            }
        }
        false
    }

    /// Keeps only `kept` nodes of a tree, connecting each kept node to its nearest
    /// kept ancestor with a residual edge.
    pub fn trim_tree(&mut self, kept: &HashSet<u32>) {
        let old = std::mem::take(&mut self.nodes);
        for &cur in &old {
            if kept.contains(&cur) {
                self.nodes.push(cur);
                continue;
            }
            let ins = self.all[cur as usize].ins.clone();
            if ins.is_empty() {
                for e in self.all[cur as usize].outs.clone() {
                    let dest = self.edges[e as usize].dest;
                    self.all[dest as usize].ins.retain(|&x| x != e);
                }
                self.all[cur as usize].outs.clear();
                continue;
            }
            let pe = ins[0];
            let parent = self.edges[pe as usize].src;
            let parent_inline = self.edges[pe as usize].inline;
            self.all[parent as usize].outs.retain(|&x| x != pe);
            for e in self.all[cur as usize].outs.clone() {
                let child = self.edges[e as usize].dest;
                self.all[child as usize].ins.retain(|&x| x != e);
                self.all[child as usize].ins.push(e);
                self.all[parent as usize].outs.push(e);
                let ed = &mut self.edges[e as usize];
                ed.src = parent;
                ed.residual = true;
                ed.inline = parent_inline && ed.inline;
            }
            self.all[cur as usize].outs.clear();
            self.all[cur as usize].ins.clear();
        }
        self.remove_redundant_edges();
    }
}

/// Go's `int64(f)` on amd64: NaN and out-of-range values give `i64::MIN`
/// (Rust's `as` saturates instead).
pub fn go_f64_to_i64(v: f64) -> i64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    if !(-TWO_63..TWO_63).contains(&v) { i64::MIN } else { v as i64 }
}

/// Go's `math.Log2` (frexp, then Go's `math.Log` of the fraction), so that
/// entropy scores round exactly as pprof's do.
fn go_log2(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    go_log(frac) * std::f64::consts::LOG2_E + f64::from(exp)
}

/// `math.Frexp` for finite non-zero `x`: `x == frac * 2^exp`, |frac| in [0.5, 1).
fn frexp(x: f64) -> (f64, i32) {
    let (mut x, mut exp) = (x, 0);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (frac, exp)
}

/// Go's `math.Log` (the FreeBSD algorithm its amd64 assembly also follows).
pub fn go_log(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const L1: f64 = 0.666_666_666_666_673_5;
    const L2: f64 = 0.399_999_999_994_094_2;
    const L3: f64 = 0.285_714_287_436_623_9;
    const L4: f64 = 0.222_221_984_321_497_84;
    const L5: f64 = 0.181_835_721_616_180_5;
    const L6: f64 = 0.153_138_376_992_093_73;
    const L7: f64 = 0.147_981_986_051_165_86;
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    let (mut f1, mut ki) = frexp(x);
    if f1 < std::f64::consts::SQRT_2 / 2.0 {
        f1 *= 2.0;
        ki -= 1;
    }
    let f = f1 - 1.0;
    let k = f64::from(ki);
    let s = f / (2.0 + f);
    let s2 = s * s;
    let s4 = s2 * s2;
    let t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
    let t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
    let r = t1 + t2;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// Max tag nodelets per DOT node.
pub const MAX_NODELETS: usize = 4;

fn count_tags(n: &Node) -> usize {
    let mut count = n.label_tags.iter().filter(|t| t.flat != 0).count();
    for (_, tm) in &n.numeric_tags {
        count += tm.iter().filter(|t| t.flat != 0).count();
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(clean_path("a//b/./c/../d"), "a/b/d");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path(""), ".");
        assert_eq!(base_name("/srv/app/skeletor.test"), "skeletor.test");
        assert_eq!(base_name("x/"), "x");
    }
}
