//! Operations on whole profiles: merge, compact, scale, subtract, normalize.
//!
//! Merge follows pprof's rules exactly, because the analyzer's `-raw` and `-proto`
//! output depend on them: mappings are identified by (size rounded up to 4 KiB,
//! file offset, build ID or else file name) and addresses rebased when the same
//! mapping was loaded at another address; functions by (start line, name, system
//! name, file); locations by (address relative to the mapping, mapping, lines,
//! folding); samples by (locations, string labels, numeric labels). New ids are
//! dense, 1..N in order of first use; the first profile's first mapping stays first.
//! Samples whose values are all zero are dropped.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use crate::error::CompatError;
use crate::model::{Function, Label, Line, Location, Mapping, Profile, Samples, ValueType};
use crate::strings::StrId;

const UNMAPPED: u32 = u32::MAX;

fn value_types_text(p: &Profile, vts: &[ValueType]) -> String {
    let parts: Vec<String> = vts.iter().map(|vt| format!("{}/{}", p.str(vt.ty), p.str(vt.unit))).collect();
    format!("[{}]", parts.join(" "))
}

fn same_value_type(a: &Profile, x: &ValueType, b: &Profile, y: &ValueType) -> bool {
    a.str(x.ty) == b.str(y.ty) && a.str(x.unit) == b.str(y.unit)
}

/// Checks that `b` can be merged into or compared with `a`: the same period type
/// and the same sample types in the same order.
pub fn compatible(a: &Profile, b: &Profile) -> Result<(), CompatError> {
    if !same_value_type(a, &a.period_type, b, &b.period_type) {
        return Err(CompatError::PeriodType(
            // pprof prints its `*ValueType` with `%v`: `&{type unit 0 0}` (the
            // two string indexes are always 0 once decoded).
            format!("&{{{} {} 0 0}}", a.str(a.period_type.ty), a.str(a.period_type.unit)),
            format!("&{{{} {} 0 0}}", b.str(b.period_type.ty), b.str(b.period_type.unit)),
        ));
    }
    let same = a.sample_types.len() == b.sample_types.len()
        && a.sample_types.iter().zip(&b.sample_types).all(|(x, y)| same_value_type(a, x, b, y));
    if !same {
        return Err(CompatError::SampleTypes(
            value_types_text(a, &a.sample_types),
            value_types_text(b, &b.sample_types),
        ));
    }
    Ok(())
}

/// Merges profiles into one (pprof's `Merge`). All must be [`compatible`] with the
/// first. Header: sample types, period type, drop/keep frames from the first;
/// earliest time (pprof's rule), summed durations, largest period, comments without
/// duplicates, first non-empty default sample type and doc URL.
pub fn merge(srcs: &[&Profile]) -> Result<Profile, CompatError> {
    let Some(first) = srcs.first() else {
        return Err(CompatError::NoProfiles);
    };
    for s in &srcs[1..] {
        compatible(first, s)?;
    }
    let mut m = Merger::new(first, srcs);
    for src in srcs {
        m.add(src);
    }
    let p = m.finish();
    if (0..p.samples.len()).any(|i| p.samples.values(i).iter().all(|&v| v == 0)) {
        return merge(&[&p]);
    }
    Ok(p)
}

/// Removes unreferenced mappings, locations, functions and strings, combines
/// identical samples and drops all-zero ones: `merge([p])`.
pub fn compact(p: &Profile) -> Profile {
    // A profile is always compatible with itself.
    merge(&[p]).unwrap_or_else(|_| p.clone())
}

/// Multiplies every value by `ratio` (rounded half away from zero) and drops samples
/// whose values all became zero. Does nothing when `ratio` is 1.
pub fn scale(p: &mut Profile, ratio: f64) {
    if ratio == 1.0 {
        return;
    }
    let ratios = vec![ratio; p.sample_types.len()];
    // The length matches by construction.
    let _ = scale_n(p, &ratios);
}

/// Multiplies each value by the ratio of its sample type. A sample is kept when one
/// of its scaled values is non-zero (pprof's rule: unscaled values do not count).
pub fn scale_n(p: &mut Profile, ratios: &[f64]) -> Result<(), CompatError> {
    if ratios.len() != p.sample_types.len() {
        return Err(CompatError::Ratios { got: ratios.len(), want: p.sample_types.len() });
    }
    if ratios.iter().all(|&r| r == 1.0) {
        return Ok(());
    }
    let n = ratios.len();
    let mut keep = Vec::with_capacity(p.samples.len());
    for row in p.samples.all_values_mut().chunks_exact_mut(n) {
        let mut k = false;
        for (v, &r) in row.iter_mut().zip(ratios) {
            if r != 1.0 {
                *v = (*v as f64 * r).round() as i64;
                k |= *v != 0;
            }
        }
        keep.push(k);
    }
    if keep.iter().all(|&k| k) {
        return Ok(());
    }
    p.samples.retain(|i, _| keep[i]);
    Ok(())
}

/// `a − b`: `b`'s values negated and merged with `a` (what `-base` does).
pub fn subtract(a: &Profile, b: &Profile) -> Result<Profile, CompatError> {
    compatible(a, b)?;
    let mut neg = b.clone();
    for v in neg.samples.all_values_mut() {
        *v = v.wrapping_neg();
    }
    merge(&[a, &neg])
}

/// Scales `p` so that each sample type's total equals `base`'s (pprof's
/// `-normalize`); a type with a zero total in `p` scales to zero.
pub fn normalize(p: &mut Profile, base: &Profile) -> Result<(), CompatError> {
    compatible(p, base)?;
    let bt = base.totals();
    let st = p.totals();
    let ratios: Vec<f64> =
        bt.iter().zip(&st).map(|(&b, &s)| if s == 0 { 0.0 } else { b as f64 / s as f64 }).collect();
    scale_n(p, &ratios)
}

/// (address relative to the mapping, mapping, (function, line, column) per line, folded).
type LocationKey = (u64, u32, Vec<(u32, i64, i64)>, bool);

/// The state of a merge.
struct Merger {
    out: Profile,
    hasher: DefaultHashBuilder,
    mappings: HashMap<(u64, u64, StrId), u32>,
    functions: HashMap<(i64, StrId, StrId, StrId), u32>,
    locations: HashMap<LocationKey, u32>,
    samples: HashTable<u32>,
    // Per-source tables, indexed by the source's dense index.
    str_map: Vec<u32>,
    map_map: Vec<(u32, i64)>,
    fn_map: Vec<u32>,
    loc_map: Vec<u32>,
    scratch_locs: Vec<u32>,
    scratch_labels: Vec<Label>,
}

impl Merger {
    fn new(first: &Profile, srcs: &[&Profile]) -> Merger {
        let mut out = Profile::new();
        let mut time = 0i64;
        let mut duration = 0i64;
        let mut period = 0i64;
        let mut seen_comments: Vec<&str> = Vec::new();
        let mut seen_set: hashbrown::HashSet<&str> = hashbrown::HashSet::new();
        let mut dst = String::new();
        let mut doc = String::new();
        for s in srcs {
            if time == 0 || s.time_nanos < time {
                time = s.time_nanos;
            }
            duration = duration.wrapping_add(s.duration_nanos);
            if period == 0 || period < s.period {
                period = s.period;
            }
            for &c in &s.comments {
                let c = s.str(c);
                // A set, not a scan of the list: a profile may carry millions.
                if seen_set.insert(c) {
                    seen_comments.push(c);
                }
            }
            if dst.is_empty() {
                dst = s.str(s.default_sample_type).to_string();
            }
            if doc.is_empty() {
                doc = s.str(s.doc_url).to_string();
            }
        }
        for vt in &first.sample_types {
            let v = ValueType {
                ty: out.strings.intern(first.str(vt.ty)),
                unit: out.strings.intern(first.str(vt.unit)),
            };
            out.sample_types.push(v);
        }
        out.samples = Samples::new(first.sample_types.len());
        out.drop_frames = out.strings.intern(first.str(first.drop_frames));
        out.keep_frames = out.strings.intern(first.str(first.keep_frames));
        out.time_nanos = time;
        out.duration_nanos = duration;
        out.period_type = ValueType {
            ty: out.strings.intern(first.str(first.period_type.ty)),
            unit: out.strings.intern(first.str(first.period_type.unit)),
        };
        out.period = period;
        for c in &seen_comments {
            let id = out.strings.intern(c);
            out.comments.push(id);
        }
        out.default_sample_type = out.strings.intern(&dst);
        out.doc_url = out.strings.intern(&doc);
        Merger {
            out,
            hasher: DefaultHashBuilder::default(),
            mappings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            samples: HashTable::new(),
            str_map: Vec::new(),
            map_map: Vec::new(),
            fn_map: Vec::new(),
            loc_map: Vec::new(),
            scratch_locs: Vec::new(),
            scratch_labels: Vec::new(),
        }
    }

    fn s(&mut self, src: &Profile, id: StrId) -> StrId {
        let slot = &mut self.str_map[id.index()];
        if *slot == UNMAPPED {
            *slot = self.out.strings.intern(src.str(id)).0;
        }
        StrId(*slot)
    }

    fn add(&mut self, src: &Profile) {
        self.str_map.clear();
        self.str_map.resize(src.strings.len(), UNMAPPED);
        self.map_map.clear();
        self.map_map.resize(src.mappings.len(), (UNMAPPED, 0));
        self.fn_map.clear();
        self.fn_map.resize(src.functions.len(), UNMAPPED);
        self.loc_map.clear();
        self.loc_map.resize(src.locations.len(), UNMAPPED);

        if self.out.mappings.is_empty() && !src.mappings.is_empty() {
            self.map_mapping(src, 0);
        }
        for i in 0..src.samples.len() {
            let s = src.samples.get(i);
            if s.values.iter().all(|&v| v == 0) {
                continue;
            }
            let mut locs = std::mem::take(&mut self.scratch_locs);
            locs.clear();
            for &l in s.locations {
                locs.push(self.map_location(src, l));
            }
            let mut labels = std::mem::take(&mut self.scratch_labels);
            labels.clear();
            for lab in s.labels {
                if lab.is_str() {
                    labels.push(Label::string(self.s(src, lab.key), self.s(src, lab.str)));
                } else if lab.is_num() {
                    labels.push(Label::number(self.s(src, lab.key), lab.num, self.s(src, lab.num_unit)));
                }
            }
            // pprof keeps labels in maps keyed by name: string labels by key, then
            // numeric labels by key, each key's values in their original order.
            let strings = &self.out.strings;
            labels.sort_by(|a, b| {
                a.is_num().cmp(&b.is_num()).then_with(|| strings.get(a.key).cmp(strings.get(b.key)))
            });
            self.add_sample(&locs, s.values, &labels);
            self.scratch_locs = locs;
            self.scratch_labels = labels;
        }
    }

    fn add_sample(&mut self, locs: &[u32], values: &[i64], labels: &[Label]) {
        let mut h = self.hasher.build_hasher();
        locs.hash(&mut h);
        labels.hash(&mut h);
        let h = h.finish();
        let samples = &self.out.samples;
        if let Some(&j) = self.samples.find(h, |&j| {
            let s = samples.get(j as usize);
            s.locations == locs && s.labels == labels
        }) {
            for (a, v) in self.out.samples.values_mut(j as usize).iter_mut().zip(values) {
                *a = a.wrapping_add(*v);
            }
            return;
        }
        let j = self.out.samples.len() as u32;
        self.out.samples.push(locs, values, labels);
        let samples = &self.out.samples;
        let hasher = &self.hasher;
        self.samples.insert_unique(h, j, |&k| {
            let s = samples.get(k as usize);
            let mut hh = hasher.build_hasher();
            s.locations.hash(&mut hh);
            s.labels.hash(&mut hh);
            hh.finish()
        });
    }

    fn map_mapping(&mut self, src: &Profile, i: u32) -> (u32, i64) {
        let cached = self.map_map[i as usize];
        if cached.0 != UNMAPPED {
            return cached;
        }
        let m = &src.mappings[i as usize];
        let size = m.memory_limit.wrapping_sub(m.memory_start);
        let size = size.wrapping_add(0xfff) & !0xfff;
        let ident = if !src.str(m.build_id).is_empty() { m.build_id } else { m.filename };
        let ident = self.s(src, ident);
        let key = (size, m.file_offset, ident);
        if let Some(&j) = self.mappings.get(&key) {
            let dst = &self.out.mappings[j as usize];
            let info = (j, dst.memory_start.wrapping_sub(m.memory_start) as i64);
            self.map_map[i as usize] = info;
            return info;
        }
        let j = self.out.mappings.len() as u32;
        let nm = Mapping {
            id: j as u64 + 1,
            filename: self.s(src, m.filename),
            build_id: self.s(src, m.build_id),
            ..*m
        };
        self.out.mappings.push(nm);
        self.mappings.insert(key, j);
        self.map_map[i as usize] = (j, 0);
        (j, 0)
    }

    fn map_function(&mut self, src: &Profile, i: u32) -> u32 {
        let cached = self.fn_map[i as usize];
        if cached != UNMAPPED {
            return cached;
        }
        let f = src.functions[i as usize];
        let key = (f.start_line, self.s(src, f.name), self.s(src, f.system_name), self.s(src, f.filename));
        let j = match self.functions.get(&key) {
            Some(&j) => j,
            None => {
                let j = self.out.functions.len() as u32;
                self.out.functions.push(Function {
                    id: j as u64 + 1,
                    name: key.1,
                    system_name: key.2,
                    filename: key.3,
                    start_line: f.start_line,
                });
                self.functions.insert(key, j);
                j
            }
        };
        self.fn_map[i as usize] = j;
        j
    }

    fn map_location(&mut self, src: &Profile, i: u32) -> u32 {
        let cached = self.loc_map[i as usize];
        if cached != UNMAPPED {
            return cached;
        }
        let loc = src.locations[i as usize];
        let (mapping, offset) = match loc.mapping {
            Some(m) => {
                let (j, off) = self.map_mapping(src, m);
                (Some(j), off)
            }
            None => (None, 0),
        };
        let address = (loc.address as i64).wrapping_add(offset) as u64;
        let lines: Vec<Line> = src.lines[loc.lines_start as usize..loc.lines_end as usize]
            .iter()
            .map(|ln| Line { function: self.map_function(src, ln.function), ..*ln })
            .collect();
        let (key_addr, key_map) = match mapping {
            Some(m) => (address.wrapping_sub(self.out.mappings[m as usize].memory_start), m),
            None => (address, UNMAPPED),
        };
        let key = (
            key_addr,
            key_map,
            lines.iter().map(|l| (l.function, l.line, l.column)).collect::<Vec<_>>(),
            loc.is_folded,
        );
        let j = match self.locations.get(&key) {
            Some(&j) => j,
            None => {
                let j = self.out.locations.len() as u32;
                let start = self.out.lines.len() as u32;
                self.out.lines.extend_from_slice(&lines);
                self.out.locations.push(Location {
                    id: j as u64 + 1,
                    mapping,
                    address,
                    lines_start: start,
                    lines_end: self.out.lines.len() as u32,
                    is_folded: loc.is_folded,
                });
                self.locations.insert(key, j);
                j
            }
        };
        self.loc_map[i as usize] = j;
        j
    }

    fn finish(self) -> Profile {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{MappingInfo, ProfileBuilder};

    type Spec<'a> = (&'a [&'a str], i64, &'a [(&'a str, &'a str)]);

    fn cpu(samples: &[Spec<'_>], map_start: u64) -> Profile {
        let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.period("cpu", "nanoseconds", 10);
        let m = b.add_mapping(&MappingInfo {
            memory_start: map_start,
            memory_limit: map_start + 0x10000,
            filename: "/bin/app",
            ..Default::default()
        });
        for (stack, n, labels) in samples {
            let locs: Vec<u32> = stack
                .iter()
                .map(|name| {
                    let f = b.add_function(name, name, "app.rs", 0);
                    let addr = map_start + 0x100 + name.len() as u64 * 16 + name.as_bytes()[0] as u64;
                    b.add_location(Some(m), addr, &[Line { function: f, line: 1, column: 0 }], false)
                })
                .collect();
            let labels: Vec<Label> = labels.iter().map(|(k, v)| b.label_str(k, v)).collect();
            b.add_sample(&locs, &[*n, n * 10], &labels);
        }
        b.build()
    }

    fn flat(p: &Profile) -> Vec<(Vec<String>, Vec<i64>)> {
        p.samples
            .iter()
            .map(|s| {
                let names = s
                    .locations
                    .iter()
                    .map(|&l| p.str(p.functions[p.location_lines(l)[0].function as usize].name).to_string())
                    .collect();
                (names, s.values.to_vec())
            })
            .collect()
    }

    #[test]
    fn merge_combines_identical_samples_across_aslr() {
        let a = cpu(&[(&["leaf", "main"], 2, &[]), (&["other", "main"], 1, &[])], 0x400000);
        let b = cpu(&[(&["leaf", "main"], 3, &[]), (&["leaf", "main"], 1, &[("k", "v")])], 0x7f0000);
        let m = merge(&[&a, &b]).unwrap();
        crate::validate(&m).unwrap();
        assert_eq!(m.mappings.len(), 1);
        assert_eq!(m.mappings[0].memory_start, 0x400000);
        assert_eq!(
            flat(&m),
            vec![
                (vec!["leaf".into(), "main".into()], vec![5, 50]),
                (vec!["other".into(), "main".into()], vec![1, 10]),
                (vec!["leaf".into(), "main".into()], vec![1, 10]),
            ]
        );
        // Locations of b were rebased onto a's mapping: no new locations.
        assert_eq!(m.locations.len(), 3);
        assert_eq!(m.duration_nanos, a.duration_nanos + b.duration_nanos);
    }

    #[test]
    fn subtract_and_drop_zero() {
        let a = cpu(&[(&["f", "main"], 5, &[]), (&["g", "main"], 2, &[])], 0x1000);
        let b = cpu(&[(&["f", "main"], 3, &[]), (&["g", "main"], 2, &[])], 0x1000);
        let d = subtract(&a, &b).unwrap();
        assert_eq!(flat(&d), vec![(vec!["f".into(), "main".into()], vec![2, 20])]);
        // g's location is gone after the re-merge that drops zero samples.
        assert_eq!(d.locations.len(), 2);
    }

    #[test]
    fn scale_rounds_and_drops() {
        let mut a = cpu(&[(&["f"], 5, &[]), (&["g"], 1, &[])], 0x1000);
        scale(&mut a, 0.3);
        // 5*0.3 = 1.5 → 2, 50*0.3 = 15; 1*0.3 → 0, 10*0.3 = 3 → kept.
        assert_eq!(flat(&a), vec![(vec!["f".into()], vec![2, 15]), (vec!["g".into()], vec![0, 3])]);
        scale(&mut a, 0.01);
        assert!(flat(&a).is_empty());
        let mut c = cpu(&[(&["f"], 4, &[])], 0x1000);
        scale_n(&mut c, &[1.0, 0.5]).unwrap();
        assert_eq!(flat(&c), vec![(vec!["f".into()], vec![4, 20])]);
        assert!(scale_n(&mut c, &[1.0]).is_err());
    }

    #[test]
    fn normalize_to_base_totals() {
        let mut a = cpu(&[(&["f"], 2, &[]), (&["g"], 2, &[])], 0x1000);
        let b = cpu(&[(&["f"], 8, &[])], 0x1000);
        normalize(&mut a, &b).unwrap();
        assert_eq!(a.totals(), vec![8, 80]);
    }

    #[test]
    fn incompatible_profiles() {
        let a = cpu(&[(&["f"], 1, &[])], 0x1000);
        let mut b = ProfileBuilder::new(&[("alloc_space", "bytes")]);
        b.period("space", "bytes", 1);
        let b = b.build();
        let e = merge(&[&a, &b]).unwrap_err();
        assert_eq!(e.to_string(), "incompatible period types &{cpu nanoseconds 0 0} and &{space bytes 0 0}");
        let mut c = ProfileBuilder::new(&[("samples", "count")]);
        c.period("cpu", "nanoseconds", 1);
        let e = compatible(&a, &c.build()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "incompatible sample types [samples/count cpu/nanoseconds] and [samples/count]"
        );
    }

    #[test]
    fn compact_drops_unused_entries() {
        let mut a = cpu(&[(&["f", "main"], 1, &[]), (&["g", "main"], 1, &[])], 0x1000);
        a.samples.retain(|i, _| i == 0);
        a.strings.push("unused");
        let c = compact(&a);
        assert_eq!(c.locations.len(), 2);
        assert_eq!(c.functions.len(), 2);
        assert!(c.strings.iter().all(|(_, s)| s != "unused" && s != "g"));
    }
}
