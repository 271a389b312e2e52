//! Turning raw stacks (addresses) into a symbolized profile: one Location per
//! distinct address with its inlined frames as Lines, Mappings from
//! `/proc/self/maps` with file offsets and GNU build IDs, Rust names demangled
//! without the hash. Shared by every profiler, through the process-wide symbol
//! cache ([`crate::symbols`]). Building is rustprof's own work: its
//! allocations are not the program's ([`crate::heap::Own`]).

use std::collections::HashMap;

use rustprof_profile::{Label, Line, LocationIdx, MappingIdx, Profile, ProfileBuilder};
use rustprof_symbolize::MapEntry;

/// A stack: addresses leaf first. When `exact_leaf`, the first address is an
/// interrupted PC (used as is); every other address is a return address, whose
/// Location address is the call instruction (`ra - 1`), as Go writes them.
pub(crate) struct Stack<'a> {
    pub(crate) frames: &'a [u64],
    pub(crate) exact_leaf: bool,
}

/// A label to attach to a sample.
pub(crate) enum LabelValue {
    Str(String),
    Num(i64, &'static str),
}

/// Addresses, values and labels of one sample.
type RawSample = (Vec<u64>, Vec<i64>, Vec<(String, LabelValue)>);

/// A test on a frame: its function's name and its source file (empty when
/// unknown).
pub(crate) type FramePredicate = fn(&str, &str) -> bool;

/// A location's mapping, lines and per-line (entry, plumbing) marks, for trimming.
type Trim = (Option<MappingIdx>, Vec<Line>, Vec<(bool, bool)>);

/// Collects samples, then symbolizes and builds the profile.
pub(crate) struct StackProfile {
    sample_types: Vec<(&'static str, &'static str)>,
    period: (&'static str, &'static str, i64),
    samples: Vec<RawSample>,
    index: HashMap<(Vec<u64>, Vec<u8>), usize>,
    /// Fake functions for addresses that stand for something else (lost samples).
    pseudo: HashMap<u64, String>,
    pub(crate) time_nanos: i64,
    pub(crate) duration_nanos: i64,
    pub(crate) comments: Vec<String>,
    pub(crate) default_sample_type: Option<&'static str>,
    /// Leading frames to drop from every sample, e.g. the allocator's own:
    /// everything up to the deepest of the first 48 locations that has a
    /// frame matching `.0`, then the locations all of whose frames match
    /// `.1`. A stack made only of such frames is kept whole.
    pub(crate) trim: Option<(FramePredicate, FramePredicate)>,
}

impl StackProfile {
    /// A profile with these sample types and period.
    pub(crate) fn new(
        sample_types: &[(&'static str, &'static str)],
        period_type: (&'static str, &'static str),
        period: i64,
    ) -> Self {
        StackProfile {
            sample_types: sample_types.to_vec(),
            period: (period_type.0, period_type.1, period),
            samples: Vec::new(),
            index: HashMap::new(),
            pseudo: HashMap::new(),
            time_nanos: 0,
            duration_nanos: 0,
            comments: Vec::new(),
            default_sample_type: None,
            trim: None,
        }
    }

    /// Registers a pseudo address that symbolizes to `name` (e.g. lost samples).
    pub(crate) fn pseudo_frame(&mut self, addr: u64, name: &str) {
        self.pseudo.insert(addr, name.to_string());
    }

    /// Adds `values` to the sample with this stack and labels.
    pub(crate) fn add(&mut self, stack: Stack<'_>, values: &[i64], labels: Vec<(String, LabelValue)>) {
        let addrs: Vec<u64> = stack
            .frames
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                if (i == 0 && stack.exact_leaf) || self.pseudo.contains_key(&a) {
                    a
                } else {
                    a.wrapping_sub(1)
                }
            })
            .collect();
        let mut key_labels = Vec::new();
        for (k, v) in &labels {
            key_labels.extend_from_slice(k.as_bytes());
            key_labels.push(0);
            match v {
                LabelValue::Str(s) => key_labels.extend_from_slice(s.as_bytes()),
                LabelValue::Num(n, u) => {
                    key_labels.extend_from_slice(&n.to_le_bytes());
                    key_labels.extend_from_slice(u.as_bytes());
                }
            }
            key_labels.push(1);
        }
        let key = (addrs, key_labels);
        match self.index.get(&key) {
            Some(&i) => {
                for (a, v) in self.samples[i].1.iter_mut().zip(values) {
                    *a += v;
                }
            }
            None => {
                self.index.insert(key.clone(), self.samples.len());
                self.samples.push((key.0, values.to_vec(), labels));
            }
        }
    }

    /// Symbolizes every address and builds the profile.
    /// The caller hands the profile over ([`crate::heap::hand_over`]) when it
    /// leaves rustprof.
    pub(crate) fn build(self) -> Profile {
        let _inside = crate::heap::Own::enter();
        // Libraries unloaded since their samples were taken keep their names.
        let maps =
            crate::maphistory::with_unloaded(rustprof_symbolize::read_proc_maps(None).unwrap_or_default());
        self.build_with_maps(&maps)
    }

    pub(crate) fn build_with_maps(self, maps: &[MapEntry]) -> Profile {
        let _inside = crate::heap::Own::enter();
        let mut b = ProfileBuilder::new(&self.sample_types);
        b.period(self.period.0, self.period.1, self.period.2);
        b.time_nanos(self.time_nanos);
        b.duration_nanos(self.duration_nanos);
        for c in &self.comments {
            b.comment(c);
        }
        if let Some(d) = self.default_sample_type {
            b.default_sample_type(d);
        }
        // Mappings: every executable mapping, main binary first (as in maps order).
        let map_idx: Vec<MappingIdx> = maps.iter().map(|m| b.add_mapping(&m.mapping_info())).collect();
        // Distinct addresses, symbolized together.
        let mut addrs: Vec<u64> = self.samples.iter().flat_map(|s| s.0.iter().copied()).collect();
        addrs.sort_unstable();
        addrs.dedup();
        addrs.retain(|a| !self.pseudo.contains_key(a));
        let frames = crate::symbols::symbolize(maps, &addrs);
        let mut symbolized_mapping = vec![false; maps.len()];
        let mut loc_of: HashMap<u64, LocationIdx> = HashMap::new();
        // For trimming, per address: its mapping, lines, and per line whether it
        // is an entry or a plumbing frame.
        let mut trim_info: HashMap<u64, Trim> = HashMap::new();
        for (addr, af) in addrs.iter().zip(frames) {
            let mut lines = Vec::with_capacity(af.frames.len());
            for f in &af.frames {
                let func = b.add_function(&f.function, &f.system_name, &f.file, f.start_line as i64);
                lines.push(Line { function: func, line: f.line as i64, column: 0 });
            }
            if let Some(m) = af.mapping
                && !lines.is_empty()
            {
                symbolized_mapping[m] = true;
            }
            let loc = b.add_location(af.mapping.map(|m| map_idx[m]), *addr, &lines, false);
            loc_of.insert(*addr, loc);
            if let Some((entry, plumbing)) = self.trim {
                let flags = af
                    .frames
                    .iter()
                    .map(|f| (entry(&f.function, &f.file), plumbing(&f.function, &f.file)))
                    .collect();
                trim_info.insert(*addr, (af.mapping.map(|m| map_idx[m]), lines, flags));
            }
        }
        // Locations of an address without its innermost `n` lines (trimming
        // inside a location whose allocator frames were inlined into the caller).
        let mut partial: HashMap<(u64, usize), LocationIdx> = HashMap::new();
        for (addr, name) in &self.pseudo {
            let func = b.add_function(name, name, "", 0);
            let loc = b.add_location(None, *addr, &[Line { function: func, line: 0, column: 0 }], false);
            loc_of.insert(*addr, loc);
        }
        for (i, done) in symbolized_mapping.iter().enumerate() {
            if *done {
                let m = b.mapping_mut(map_idx[i]);
                m.has_functions = true;
                m.has_filenames = true;
                m.has_line_numbers = true;
                m.has_inline_frames = true;
            }
        }
        for (addrs, values, labels) in &self.samples {
            let (skip, first) = match &self.trim {
                Some(_) => trim_point(addrs, &trim_info),
                None => (0, None),
            };
            let mut locs: Vec<LocationIdx> = addrs[skip..].iter().map(|a| loc_of[a]).collect();
            if let Some(n) = first {
                let a = addrs[skip];
                locs[0] = *partial.entry((a, n)).or_insert_with(|| {
                    let (m, lines, _) = &trim_info[&a];
                    b.add_location(*m, a, &lines[n..], false)
                });
            }
            let labels: Vec<Label> = labels
                .iter()
                .map(|(k, v)| match v {
                    LabelValue::Str(s) => b.label_str(k, s),
                    LabelValue::Num(n, u) => b.label_num(k, *n, u),
                })
                .collect();
            if skip > 0 || first.is_some() {
                b.merge_sample(&locs, values, &labels);
            } else {
                b.add_sample(&locs, values, &labels);
            }
        }
        b.build()
    }
}

/// Where a trimmed stack starts: the number of whole locations to drop, and the
/// number of inner lines to drop from the first one kept (when the allocator's
/// frames were inlined into it). Everything up to the deepest entry frame among
/// the first 48 locations goes, then the plumbing frames after it. A stack that
/// would be left empty is kept whole.
fn trim_point(addrs: &[u64], info: &HashMap<u64, Trim>) -> (usize, Option<usize>) {
    let flags = |a: &u64| info.get(a).map(|i| i.2.as_slice()).unwrap_or(&[]);
    let Some(k) = addrs.iter().take(48).rposition(|a| flags(a).iter().any(|f| f.0)) else {
        return (0, None);
    };
    // Inside location k: after its outermost entry line, then plumbing lines.
    let f = flags(&addrs[k]);
    let mut j = f.iter().rposition(|x| x.0).map_or(0, |j| j + 1);
    while j < f.len() && f[j].1 {
        j += 1;
    }
    if j < f.len() {
        return (k, Some(j));
    }
    let mut skip = k + 1;
    loop {
        let Some(a) = addrs.get(skip) else { return (0, None) };
        let f = flags(a);
        let n = f.iter().take_while(|x| x.1).count();
        if f.is_empty() || n == 0 {
            return (skip, None);
        }
        if n < f.len() {
            return (skip, Some(n));
        }
        skip += 1;
    }
}
