//! Filters that reshape a profile before a report: focus/ignore/hide/show,
//! show_from, prune_from, tag filters (tagfocus/tagignore/tagshow/taghide),
//! `drop_frames` pruning, tagroot/tagleaf pseudo frames, and aggregation to a
//! granularity. They change locations' lines and samples' stacks exactly as pprof
//! does, so every report sees the same profile pprof's would.

use std::collections::HashMap;

use regex::Regex;
use rustprof_profile::{Function, Label, Line, Location, LocationIdx, Profile, StrId};

use crate::labels::{LabelView, views};
use crate::measurement;

/// Replaces the lines of location `loc`.
pub fn set_lines(p: &mut Profile, loc: usize, lines: &[Line]) {
    let l = &mut p.locations[loc];
    let cur = &p.lines[l.lines_start as usize..l.lines_end as usize];
    if cur == lines {
        return;
    }
    // A sub-range of the current lines: just narrow it.
    if let Some(off) = cur.windows(lines.len().max(1)).position(|w| w == lines).filter(|_| !lines.is_empty())
    {
        let start = l.lines_start + off as u32;
        l.lines_start = start;
        l.lines_end = start + lines.len() as u32;
        return;
    }
    if lines.is_empty() {
        l.lines_end = l.lines_start;
        return;
    }
    let start = p.lines.len() as u32;
    p.lines.extend_from_slice(lines);
    let l = &mut p.locations[loc];
    l.lines_start = start;
    l.lines_end = p.lines.len() as u32;
}

/// Per function and per mapping: does the regexp match (name or file name /
/// mapping file)?
struct Matcher {
    func: Vec<bool>,
    map: Vec<bool>,
}

impl Matcher {
    fn new(p: &Profile, re: &Regex) -> Self {
        let mut cache: HashMap<StrId, bool> = HashMap::new();
        let mut m = |id: StrId| *cache.entry(id).or_insert_with(|| re.is_match(p.str(id)));
        let func = p.functions.iter().map(|f| m(f.name) || m(f.filename)).collect();
        let map = p.mappings.iter().map(|mp| m(mp.filename)).collect();
        Matcher { func, map }
    }

    fn mapping(&self, l: &Location) -> bool {
        l.mapping.is_some_and(|m| self.map[m as usize])
    }

    fn location(&self, p: &Profile, li: usize) -> bool {
        let l = &p.locations[li];
        p.location_lines(li as u32).iter().any(|ln| self.func[ln.function as usize]) || self.mapping(l)
    }
}

/// pprof's `FilterSamplesByName`; returns whether focus, ignore, hide and show
/// matched.
pub fn filter_samples_by_name(
    p: &mut Profile,
    focus: Option<&Regex>,
    ignore: Option<&Regex>,
    hide: Option<&Regex>,
    show: Option<&Regex>,
) -> (bool, bool, bool, bool) {
    let (mut fm, mut im, mut hm, mut hnm) = (false, false, false, false);
    let fmat = focus.map(|r| Matcher::new(p, r));
    let imat = ignore.map(|r| Matcher::new(p, r));
    let hmat = hide.map(|r| Matcher::new(p, r));
    let smat = show.map(|r| Matcher::new(p, r));
    // 0: neither, 1: focused, 2: ignored.
    let mut foi = vec![0u8; p.locations.len()];
    let mut hidden = vec![false; p.locations.len()];
    let mut any_hidden = false;
    for li in 0..p.locations.len() {
        if imat.as_ref().is_some_and(|m| m.location(p, li)) {
            im = true;
            foi[li] = 2;
        } else if fmat.as_ref().is_none_or(|m| m.location(p, li)) {
            fm = true;
            foi[li] = 1;
        }
        if let Some(h) = &hmat
            && h.location(p, li)
        {
            hm = true;
            let loc = p.locations[li];
            let lines: Vec<Line> = if h.mapping(&loc) {
                Vec::new()
            } else {
                p.location_lines(li as u32)
                    .iter()
                    .copied()
                    .filter(|ln| !h.func[ln.function as usize])
                    .collect()
            };
            if lines.is_empty() {
                hidden[li] = true;
                any_hidden = true;
            }
            set_lines(p, li, &lines);
        }
        if let Some(s) = &smat {
            let loc = p.locations[li];
            let lines: Vec<Line> = if s.mapping(&loc) {
                p.location_lines(li as u32).to_vec()
            } else {
                p.location_lines(li as u32)
                    .iter()
                    .copied()
                    .filter(|ln| s.func[ln.function as usize])
                    .collect()
            };
            if lines.is_empty() {
                hidden[li] = true;
                any_hidden = true;
            } else {
                hnm = true;
            }
            set_lines(p, li, &lines);
        }
    }
    if focus.is_none() && ignore.is_none() && !any_hidden {
        // Every location is "focused": only samples without locations go.
        if (0..p.samples.len()).any(|i| p.samples.locations(i).is_empty()) {
            p.samples.retain(|_, s| !s.locations.is_empty());
        }
        return (fm, im, hm, hnm);
    }
    p.samples.map_locations(|_, locs, out| {
        let mut f = false;
        for &l in locs {
            match foi[l as usize] {
                1 => f = true,
                2 => return false,
                _ => {}
            }
        }
        if !f {
            return false;
        }
        if any_hidden {
            out.extend(locs.iter().copied().filter(|&l| !hidden[l as usize]));
            !out.is_empty()
        } else {
            out.extend_from_slice(locs);
            true
        }
    });
    (fm, im, hm, hnm)
}

/// pprof's `ShowFrom`: drops frames above the highest (closest to the root)
/// matching frame, and samples with no match.
pub fn show_from(p: &mut Profile, re: &Regex) -> bool {
    let m = Matcher::new(p, re);
    let mut matched = false;
    let mut show = vec![false; p.locations.len()];
    #[allow(clippy::needless_range_loop)] // `p` is borrowed mutably inside.
    for li in 0..p.locations.len() {
        let loc = p.locations[li];
        if m.mapping(&loc) {
            show[li] = true;
            matched = true;
            continue;
        }
        let lines = p.location_lines(li as u32).to_vec();
        if let Some(i) = lines.iter().rposition(|ln| m.func[ln.function as usize]) {
            set_lines(p, li, &lines[..=i]);
            show[li] = true;
            matched = true;
        }
    }
    p.samples.map_locations(|_, locs, out| match locs.iter().rposition(|&l| show[l as usize]) {
        Some(i) => {
            out.extend_from_slice(&locs[..=i]);
            true
        }
        None => false,
    });
    matched
}

/// pprof's `simplifyFunc`: the name without a leading `.` and without its argument
/// list (but keeping `(anonymous namespace)` and `operator()`).
pub fn simplify_func(f: &str) -> &str {
    let name = f.strip_prefix('.').unwrap_or(f);
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Compare bytes, not `&name[i..]`: `i` walks bytes and may sit inside a
        // multi-byte character (Go's `·`); `(` is ASCII, so `..i` below is a boundary.
        if bytes[i..].starts_with(b"(anonymous namespace)") {
            i += "(anonymous namespace)".len();
            continue;
        }
        if bytes[i..].starts_with(b"operator()") {
            i += "operator()".len();
            continue;
        }
        if bytes[i] == b'(' {
            return &name[..i];
        }
        i += 1;
    }
    name
}

/// pprof's `Prune`: for each stack, drops the frames from the first (root-most)
/// frame matching `drop` (and not `keep`) toward the leaf, once a non-matching
/// frame was seen.
pub fn prune(p: &mut Profile, drop: &Regex, keep: Option<&Regex>) {
    let n = p.locations.len();
    let mut prune = vec![false; n];
    let mut beneath = vec![false; n];
    let names: Vec<bool> = p
        .functions
        .iter()
        .map(|f: &Function| {
            let name = p.str(f.name);
            if name.is_empty() {
                return false;
            }
            let s = simplify_func(name);
            drop.is_match(s) && !keep.is_some_and(|k| k.is_match(s))
        })
        .collect();
    for li in 0..n {
        let lines = p.location_lines(li as u32).to_vec();
        if let Some(i) = lines.iter().rposition(|ln| names[ln.function as usize]) {
            beneath[li] = true;
            if i == lines.len() - 1 {
                prune[li] = true;
            } else {
                set_lines(p, li, &lines[i + 1..]);
            }
        }
    }
    p.samples.map_locations(|_, locs, out| {
        let mut found_user = false;
        for i in (0..locs.len()).rev() {
            let id = locs[i] as usize;
            if !prune[id] && !beneath[id] {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            if prune[id] {
                out.extend_from_slice(&locs[i + 1..]);
                return true;
            }
            out.extend_from_slice(&locs[i..]);
            return true;
        }
        out.extend_from_slice(locs);
        true
    });
}

/// pprof's `RemoveUninteresting`: applies the profile's `drop_frames`/`keep_frames`.
pub fn remove_uninteresting(p: &mut Profile) -> Result<(), String> {
    let drop_s = p.str(p.drop_frames).to_string();
    if drop_s.is_empty() {
        return Ok(());
    }
    let drop = Regex::new(&format!("^({drop_s})$"))
        .map_err(|e| format!("failed to compile regexp {drop_s}: {}", crate::report::go_regex_error(&e)))?;
    let keep_s = p.str(p.keep_frames).to_string();
    let keep = if keep_s.is_empty() {
        None
    } else {
        Some(Regex::new(&format!("^({keep_s})$")).map_err(|e| {
            format!("failed to compile regexp {keep_s}: {}", crate::report::go_regex_error(&e))
        })?)
    };
    prune(p, &drop, keep.as_ref());
    Ok(())
}

/// pprof's `PruneFrom`: keeps the first matching frame of each stack and drops
/// everything below it (toward the leaf).
pub fn prune_from(p: &mut Profile, re: &Regex) {
    let n = p.locations.len();
    let mut beneath = vec![false; n];
    let names: Vec<bool> = p
        .functions
        .iter()
        .map(|f| {
            let name = p.str(f.name);
            !name.is_empty() && re.is_match(simplify_func(name))
        })
        .collect();
    #[allow(clippy::needless_range_loop)] // `p` is borrowed mutably inside.
    for li in 0..n {
        let lines = p.location_lines(li as u32).to_vec();
        if let Some(i) = lines.iter().position(|ln| names[ln.function as usize]) {
            beneath[li] = true;
            set_lines(p, li, &lines[i..]);
        }
    }
    p.samples.map_locations(|_, locs, out| {
        match locs.iter().position(|&l| beneath[l as usize]) {
            Some(i) => out.extend_from_slice(&locs[i..]),
            None => out.extend_from_slice(locs),
        }
        true
    });
}

/// A compiled `-tagfocus`/`-tagignore` expression.
pub enum TagFilter {
    /// Numeric range, optionally for one key.
    Num {
        /// Restrict to this key.
        key: Option<String>,
        /// The range test on (value, unit).
        range: NumRange,
    },
    /// Regexps over `key:value` (no key: all must match) or over one key's values
    /// (any matches).
    Str {
        /// Restrict to this key.
        key: Option<String>,
        /// The regexps.
        res: Vec<Regex>,
    },
}

/// A numeric tag range: `32kb`, `:64kb`, `4mb:`, `12kb:64mb`.
pub struct NumRange {
    lo: Option<f64>,
    hi: Option<f64>,
    unit: String,
}

impl NumRange {
    fn matches(&self, v: i64, unit: &str) -> bool {
        let (sv, su) = measurement::scale(v, unit, &self.unit);
        if su != self.unit {
            return false;
        }
        self.lo.is_none_or(|lo| sv >= lo) && self.hi.is_none_or(|hi| sv <= hi)
    }
}

fn range_tokens(filter: &str) -> Vec<(usize, usize, String, String)> {
    // ([+-]?[[:digit:]]+)([[:alpha:]]+)?, at most 2 matches.
    let b = filter.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 2 {
        let start = i;
        let mut j = i;
        if b[j] == b'+' || b[j] == b'-' {
            j += 1;
        }
        let ds = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == ds {
            i += 1;
            continue;
        }
        let num = filter[start..j].to_string();
        let us = j;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        let unit = filter[us..j].to_string();
        out.push((start, j, num, unit));
        i = j;
    }
    out
}

/// pprof's `parseTagFilterRange`.
pub fn parse_tag_range(filter: &str) -> Option<NumRange> {
    let toks = range_tokens(filter);
    let first = toks.first()?;
    let v: i64 = first.2.parse().ok()?;
    let (scaled, unit) = measurement::scale(v, &first.3, &first.3);
    let m0 = &filter[first.0..first.1];
    if toks.len() == 1 {
        return if filter == m0 {
            Some(NumRange { lo: Some(scaled), hi: Some(scaled), unit })
        } else if filter == format!("{m0}:") {
            Some(NumRange { lo: Some(scaled), hi: None, unit })
        } else if filter == format!(":{m0}") {
            Some(NumRange { lo: None, hi: Some(scaled), unit })
        } else {
            None
        };
    }
    let second = &toks[1];
    let m1 = &filter[second.0..second.1];
    if filter != format!("{m0}:{m1}") {
        return None;
    }
    let v2: i64 = second.2.parse().ok()?;
    let (scaled2, unit2) = measurement::scale(v2, &second.3, &unit);
    if unit2 != unit {
        return None;
    }
    Some(NumRange { lo: Some(scaled), hi: Some(scaled2), unit })
}

/// Compiles a tag filter option; `warn` receives pprof's "Interpreted ... as range"
/// message.
pub fn compile_tag_filter(
    name: &str,
    value: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Option<TagFilter>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let (key, value) = match value.split_once('=') {
        Some((k, v)) => (Some(k.to_string()), v),
        None => (None, value),
    };
    if let Some(range) = parse_tag_range(value) {
        warn(format!("{name}:Interpreted '{value}' as range, not regexp"));
        return Ok(Some(TagFilter::Num { key, range }));
    }
    let mut res = Vec::new();
    for t in value.split(',') {
        let re = Regex::new(t)
            .map_err(|e| format!("parsing {name} regexp: {}", crate::report::go_regex_error(&e)))?;
        res.push(re);
    }
    Ok(Some(TagFilter::Str { key, res }))
}

impl TagFilter {
    fn matches(&self, v: &LabelView, units: &HashMap<String, String>) -> bool {
        match self {
            TagFilter::Num { key: None, range } => v.nums.iter().any(|(k, vals, _)| {
                let unit = units.get(k).map(String::as_str).unwrap_or("");
                vals.iter().any(|&x| range.matches(x, unit))
            }),
            TagFilter::Num { key: Some(key), range } => match v.num_values(key) {
                Some((vals, _)) => {
                    let unit = units.get(key).map(String::as_str).unwrap_or("");
                    vals.iter().any(|&x| range.matches(x, unit))
                }
                None => false,
            },
            TagFilter::Str { key: None, res } => res.iter().all(|rx| {
                v.strs.iter().any(|(k, vals)| vals.iter().any(|val| rx.is_match(&format!("{k}:{val}"))))
            }),
            TagFilter::Str { key: Some(key), res } => match v.str_values(key) {
                Some(vals) => res.iter().any(|rx| vals.iter().any(|val| rx.is_match(val))),
                None => false,
            },
        }
    }
}

/// pprof's `FilterSamplesByTag`; returns whether focus and ignore matched.
pub fn filter_samples_by_tag(
    p: &mut Profile,
    focus: Option<&TagFilter>,
    ignore: Option<&TagFilter>,
    units: &HashMap<String, String>,
) -> (bool, bool) {
    if focus.is_none() && ignore.is_none() {
        return (false, false);
    }
    let views = views(p);
    let verdicts: Vec<(bool, bool)> = views
        .iter()
        .map(|v| (focus.is_none_or(|f| f.matches(v, units)), ignore.is_some_and(|f| f.matches(v, units))))
        .collect();
    let (mut fm, mut im) = (false, false);
    let keep: Vec<bool> = (0..p.samples.len())
        .map(|i| {
            let (f, ig) = verdicts[p.samples.label_set_id(i) as usize];
            fm |= f;
            im |= ig;
            f && !ig
        })
        .collect();
    p.samples.map_locations(|i, locs, out| {
        out.extend_from_slice(locs);
        keep[i]
    });
    (fm, im)
}

/// pprof's `FilterTagsByName`: keeps label keys matching `show` and not `hide`;
/// returns whether show and hide matched a key of some sample.
pub fn filter_tags_by_name(p: &mut Profile, show: Option<&Regex>, hide: Option<&Regex>) -> (bool, bool) {
    if show.is_none() && hide.is_none() {
        return (false, false);
    }
    let (mut sm, mut hm) = (false, false);
    // Which label sets are used by samples (matching only counts for those).
    let mut used = vec![false; p.samples.label_sets() + 1];
    for i in 0..p.samples.len() {
        used[p.samples.label_set_id(i) as usize] = true;
    }
    let strings = p.strings.clone();
    let mut id = 0usize;
    p.samples.map_labels(|old, new| {
        let is_used = used.get(id).copied().unwrap_or(false);
        id += 1;
        for l in old {
            if !l.is_str() && !l.is_num() {
                continue;
            }
            let name = strings.get(l.key);
            let ms = show.is_none_or(|r| r.is_match(name));
            let mh = hide.is_some_and(|r| r.is_match(name));
            if is_used {
                sm |= ms;
                hm |= mh;
            }
            if ms && !mh {
                new.push(*l);
            }
        }
    });
    (sm, hm)
}

/// pprof's tagroot/tagleaf: adds pseudo frames `value[,value]` (file = the key) at
/// the root or leaf of every sample. Returns whether any sample had a root / leaf
/// key.
pub fn add_label_nodes(
    p: &mut Profile,
    root_keys: &[String],
    leaf_keys: &[String],
    output_unit: &str,
) -> (bool, bool) {
    if root_keys.is_empty() && leaf_keys.is_empty() {
        return (false, false);
    }
    let mut next_loc = p.locations.iter().map(|l| l.id).max().unwrap_or(0) + 1;
    let mut next_fn = p.functions.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    let views = views(p);
    let mut interned: HashMap<(String, String), LocationIdx> = HashMap::new();
    let (mut rootm, mut leafm) = (false, false);
    // Per label set: (leaf locations, root locations).
    let mut per_set: Vec<(Vec<LocationIdx>, Vec<LocationIdx>)> = vec![Default::default(); views.len()];
    let mut matched_sets: Vec<(bool, bool)> = vec![(false, false); views.len()];
    let ids: Vec<u32> = (0..p.samples.len()).map(|i| p.samples.label_set_id(i)).collect();
    // Label sets in order of first use, as pprof creates frames sample by sample.
    let mut done = vec![false; views.len()];
    for &id in &ids {
        if std::mem::replace(&mut done[id as usize], true) {
            continue;
        }
        let v = &views[id as usize];
        let mut make = |keys: &[String]| -> (Vec<LocationIdx>, bool) {
            let mut locs = Vec::new();
            let mut matched = false;
            for k in keys.iter().rev() {
                let values = format_label_values(v, k, output_unit);
                matched |= !values.is_empty();
                let key = (values.join(","), k.clone());
                let loc = match interned.get(&key) {
                    Some(&l) => l,
                    None => {
                        let name = p.strings.intern(&key.0);
                        let file = p.strings.intern(&key.1);
                        let fidx = p.functions.len() as u32;
                        p.functions.push(Function {
                            id: next_fn,
                            name,
                            system_name: StrId::EMPTY,
                            filename: file,
                            start_line: 0,
                        });
                        next_fn += 1;
                        let start = p.lines.len() as u32;
                        p.lines.push(Line { function: fidx, line: 0, column: 0 });
                        let lidx = p.locations.len() as u32;
                        p.locations.push(Location {
                            id: next_loc,
                            mapping: None,
                            address: 0,
                            lines_start: start,
                            lines_end: start + 1,
                            is_folded: false,
                        });
                        next_loc += 1;
                        interned.insert(key, lidx);
                        lidx
                    }
                };
                locs.push(loc);
            }
            (locs, matched)
        };
        let (roots, rm) = make(root_keys);
        let (leaves, lm) = make(leaf_keys);
        per_set[id as usize] = (leaves, roots);
        matched_sets[id as usize] = (rm, lm);
    }
    for &id in &ids {
        let (r, l) = matched_sets[id as usize];
        rootm |= r;
        leafm |= l;
    }
    p.samples.map_locations(|i, locs, out| {
        let (leaves, roots) = &per_set[ids[i] as usize];
        out.extend_from_slice(leaves);
        out.extend_from_slice(locs);
        out.extend_from_slice(roots);
        true
    });
    (rootm, leafm)
}

fn format_label_values(v: &LabelView, k: &str, output_unit: &str) -> Vec<String> {
    let mut values: Vec<String> = v.str_values(k).cloned().unwrap_or_default();
    if let Some((nums, units)) = v.num_values(k) {
        if nums.len() != units.len() && !units.is_empty() {
            return values;
        }
        for (i, &n) in nums.iter().enumerate() {
            if !units.is_empty() {
                values.push(measurement::scaled_label(n, &units[i], output_unit));
            } else {
                values.push(measurement::scaled_label(n, "", ""));
            }
        }
    }
    values
}

/// pprof's `Aggregate`: forgets what the granularity does not keep.
pub fn aggregate(
    p: &mut Profile,
    inline: bool,
    function: bool,
    filename: bool,
    linenumber: bool,
    column: bool,
    address: bool,
) {
    for m in &mut p.mappings {
        m.has_inline_frames &= inline;
        m.has_functions &= function;
        m.has_filenames &= filename;
        m.has_line_numbers &= linenumber;
    }
    if !function || !filename {
        for f in &mut p.functions {
            if !function {
                f.name = StrId::EMPTY;
                f.system_name = StrId::EMPTY;
            }
            if !filename {
                f.filename = StrId::EMPTY;
            }
        }
    }
    if !inline || !address || !linenumber || !column {
        for li in 0..p.locations.len() {
            let l = p.locations[li];
            if !inline && l.num_lines() > 1 {
                p.locations[li].lines_start = l.lines_end - 1;
            }
            if !linenumber {
                let l = p.locations[li];
                for ln in &mut p.lines[l.lines_start as usize..l.lines_end as usize] {
                    ln.line = 0;
                    ln.column = 0;
                }
            }
            if !column {
                let l = p.locations[li];
                for ln in &mut p.lines[l.lines_start as usize..l.lines_end as usize] {
                    ln.column = 0;
                }
            }
            if !address {
                p.locations[li].address = 0;
            }
        }
    }
}

/// Removes the label `key` from every sample (pprof's `RemoveLabel`), e.g.
/// `pprof::base` before building a graph.
pub fn remove_label(p: &mut Profile, key: &str) {
    let strings = p.strings.clone();
    p.samples.map_labels(|old, new| {
        new.extend(old.iter().filter(|l: &&Label| !(l.is_str() && strings.get(l.key) == key)).copied());
    });
}
