//! Building profiles: what a profiler uses to turn stacks into a [`Profile`].
//!
//! Strings, functions and locations are interned, so adding the same function or
//! the same address twice returns the same index. Samples are either appended
//! ([`ProfileBuilder::add_sample`]) or combined with an identical earlier sample
//! ([`ProfileBuilder::merge_sample`]).

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use crate::model::{
    Function, FunctionIdx, Label, Line, Location, LocationIdx, Mapping, MappingIdx, Profile, Samples,
    ValueType,
};
use crate::strings::StrId;

/// A mapping to add with [`ProfileBuilder::add_mapping`].
#[derive(Clone, Debug, Default)]
pub struct MappingInfo<'a> {
    /// Start address.
    pub memory_start: u64,
    /// End address (exclusive).
    pub memory_limit: u64,
    /// File offset of `memory_start`.
    pub file_offset: u64,
    /// Path of the object file.
    pub filename: &'a str,
    /// Build ID (hex).
    pub build_id: &'a str,
    /// All locations of the mapping have function names.
    pub has_functions: bool,
    /// All have file names.
    pub has_filenames: bool,
    /// All have line numbers.
    pub has_line_numbers: bool,
    /// Inlined frames are expanded.
    pub has_inline_frames: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct LocKey {
    mapping: Option<MappingIdx>,
    address: u64,
    lines: Vec<Line>,
    folded: bool,
}

/// Builds a [`Profile`] incrementally.
pub struct ProfileBuilder {
    p: Profile,
    functions: HashMap<(StrId, StrId, StrId, i64), FunctionIdx>,
    locations: HashMap<LocKey, LocationIdx>,
    by_address: HashMap<(Option<MappingIdx>, u64), LocationIdx>,
    samples: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl ProfileBuilder {
    /// A builder for a profile whose samples have these `(type, unit)` values,
    /// e.g. `[("samples", "count"), ("cpu", "nanoseconds")]`.
    pub fn new(sample_types: &[(&str, &str)]) -> Self {
        let mut p = Profile::new();
        for (t, u) in sample_types {
            let vt = ValueType { ty: p.strings.intern(t), unit: p.strings.intern(u) };
            p.sample_types.push(vt);
        }
        p.samples = Samples::new(sample_types.len());
        ProfileBuilder {
            p,
            functions: HashMap::new(),
            locations: HashMap::new(),
            by_address: HashMap::new(),
            samples: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Interns a string.
    pub fn intern(&mut self, s: &str) -> StrId {
        self.p.strings.intern(s)
    }

    /// Sets the period type and period.
    pub fn period(&mut self, ty: &str, unit: &str, period: i64) -> &mut Self {
        self.p.period_type = ValueType { ty: self.intern(ty), unit: self.intern(unit) };
        self.p.period = period;
        self
    }

    /// Sets the collection time (ns since the epoch).
    pub fn time_nanos(&mut self, t: i64) -> &mut Self {
        self.p.time_nanos = t;
        self
    }

    /// Sets the collection duration (ns).
    pub fn duration_nanos(&mut self, d: i64) -> &mut Self {
        self.p.duration_nanos = d;
        self
    }

    /// Adds a comment.
    pub fn comment(&mut self, c: &str) -> &mut Self {
        let id = self.intern(c);
        self.p.comments.push(id);
        self
    }

    /// Sets the default sample type (a type name).
    pub fn default_sample_type(&mut self, ty: &str) -> &mut Self {
        self.p.default_sample_type = self.intern(ty);
        self
    }

    /// Sets the documentation URL.
    pub fn doc_url(&mut self, url: &str) -> &mut Self {
        self.p.doc_url = self.intern(url);
        self
    }

    /// Sets the drop_frames / keep_frames regexps.
    pub fn frames_filter(&mut self, drop: &str, keep: &str) -> &mut Self {
        self.p.drop_frames = self.intern(drop);
        self.p.keep_frames = self.intern(keep);
        self
    }

    /// Adds a mapping; its id is its position + 1.
    pub fn add_mapping(&mut self, m: &MappingInfo<'_>) -> MappingIdx {
        let idx = self.p.mappings.len() as MappingIdx;
        let mapping = Mapping {
            id: idx as u64 + 1,
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: self.intern(m.filename),
            build_id: self.intern(m.build_id),
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        };
        self.p.mappings.push(mapping);
        idx
    }

    /// Mutable access to a mapping added earlier (e.g. to set `has_functions` once
    /// every location is symbolized).
    pub fn mapping_mut(&mut self, idx: MappingIdx) -> &mut Mapping {
        &mut self.p.mappings[idx as usize]
    }

    /// Interns a function; its id is its position + 1.
    pub fn add_function(
        &mut self,
        name: &str,
        system_name: &str,
        filename: &str,
        start_line: i64,
    ) -> FunctionIdx {
        let key = (self.intern(name), self.intern(system_name), self.intern(filename), start_line);
        if let Some(&f) = self.functions.get(&key) {
            return f;
        }
        let idx = self.p.functions.len() as FunctionIdx;
        self.p.functions.push(Function {
            id: idx as u64 + 1,
            name: key.0,
            system_name: key.1,
            filename: key.2,
            start_line,
        });
        self.functions.insert(key, idx);
        idx
    }

    /// Interns a location: the same mapping, address, lines and folding return the
    /// same index. Its id is its position + 1. `lines` are innermost first.
    pub fn add_location(
        &mut self,
        mapping: Option<MappingIdx>,
        address: u64,
        lines: &[Line],
        is_folded: bool,
    ) -> LocationIdx {
        let key = LocKey { mapping, address, lines: lines.to_vec(), folded: is_folded };
        if let Some(&l) = self.locations.get(&key) {
            return l;
        }
        let idx = self.p.locations.len() as LocationIdx;
        let start = self.p.lines.len() as u32;
        self.p.lines.extend_from_slice(lines);
        self.p.locations.push(Location {
            id: idx as u64 + 1,
            mapping,
            address,
            lines_start: start,
            lines_end: self.p.lines.len() as u32,
            is_folded,
        });
        self.locations.insert(key, idx);
        self.by_address.entry((mapping, address)).or_insert(idx);
        idx
    }

    /// The first location added for this mapping and address, if any.
    pub fn location_at(&self, mapping: Option<MappingIdx>, address: u64) -> Option<LocationIdx> {
        self.by_address.get(&(mapping, address)).copied()
    }

    /// A string label.
    pub fn label_str(&mut self, key: &str, value: &str) -> Label {
        Label::string(self.intern(key), self.intern(value))
    }

    /// A numeric label; `unit` may be empty.
    pub fn label_num(&mut self, key: &str, num: i64, unit: &str) -> Label {
        Label::number(self.intern(key), num, self.intern(unit))
    }

    /// Appends a sample (locations leaf first, one value per sample type).
    ///
    /// # Panics
    /// When `values` does not have one value per sample type.
    pub fn add_sample(&mut self, locations: &[LocationIdx], values: &[i64], labels: &[Label]) {
        let i = self.p.samples.len() as u32;
        self.p.samples.push(locations, values, labels);
        let h = sample_hash(&self.hasher, locations, labels);
        let samples = &self.p.samples;
        let hasher = &self.hasher;
        self.samples.insert_unique(h, i, |&j| {
            let s = samples.get(j as usize);
            sample_hash(hasher, s.locations, s.labels)
        });
    }

    /// Adds `values` to an earlier sample with the same locations and labels (in
    /// the same order), or appends a new sample.
    pub fn merge_sample(&mut self, locations: &[LocationIdx], values: &[i64], labels: &[Label]) {
        let h = sample_hash(&self.hasher, locations, labels);
        let samples = &self.p.samples;
        let found = self.samples.find(h, |&j| {
            let s = samples.get(j as usize);
            s.locations == locations && s.labels == labels
        });
        match found {
            Some(&j) => {
                for (a, v) in self.p.samples.values_mut(j as usize).iter_mut().zip(values) {
                    *a += v;
                }
            }
            None => self.add_sample(locations, values, labels),
        }
    }

    /// Read access to the profile built so far.
    pub fn profile(&self) -> &Profile {
        &self.p
    }

    /// Finishes the profile.
    pub fn build(self) -> Profile {
        self.p
    }
}

fn sample_hash(h: &DefaultHashBuilder, locations: &[LocationIdx], labels: &[Label]) -> u64 {
    let mut s = h.build_hasher();
    locations.hash(&mut s);
    labels.hash(&mut s);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_and_merging() {
        let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.period("cpu", "nanoseconds", 10_000_000);
        let m = b.add_mapping(&MappingInfo {
            memory_start: 0x1000,
            memory_limit: 0x2000,
            filename: "/bin/x",
            ..Default::default()
        });
        let f = b.add_function("main", "main", "main.rs", 1);
        assert_eq!(b.add_function("main", "main", "main.rs", 1), f);
        let line = Line { function: f, line: 3, column: 0 };
        let l1 = b.add_location(Some(m), 0x1100, &[line], false);
        assert_eq!(b.add_location(Some(m), 0x1100, &[line], false), l1);
        assert_eq!(b.location_at(Some(m), 0x1100), Some(l1));
        let lab = b.label_str("k", "v");
        b.merge_sample(&[l1], &[1, 10], &[lab]);
        b.merge_sample(&[l1], &[2, 20], &[lab]);
        b.merge_sample(&[l1], &[1, 10], &[]);
        let p = b.build();
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.samples.values(0), &[3, 30]);
        assert_eq!(p.samples.values(1), &[1, 10]);
        crate::validate(&p).unwrap();
    }
}
