//! The in-memory profile: profile.proto in columns.
//!
//! Every table of profile.proto (mappings, locations, functions) is a `Vec` and
//! everything refers to its entries by dense index (`u32`), not by the file's ids,
//! which are kept beside each entry so that encoding writes them back unchanged.
//! Samples are flat arrays: all location indexes of all samples in one `Vec<u32>`
//! with end offsets, all values in one `Vec<i64>` (row-major, one row per sample),
//! and per sample the id of its label set (sets are interned: samples share them).

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::strings::{StrId, StringTable};

/// Dense index of a [`Mapping`] in [`Profile::mappings`].
pub type MappingIdx = u32;
/// Dense index of a [`Location`] in [`Profile::locations`].
pub type LocationIdx = u32;
/// Dense index of a [`Function`] in [`Profile::functions`].
pub type FunctionIdx = u32;

/// A sample type or period type: what is measured and in which unit
/// (`cpu`/`nanoseconds`, `alloc_space`/`bytes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueType {
    /// String index of the type name.
    pub ty: StrId,
    /// String index of the unit.
    pub unit: StrId,
}

/// A label of a sample: a string value (`str`) or a number (`num`, `num_unit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Label {
    /// String index of the key.
    pub key: StrId,
    /// String index of the value, 0 for numeric labels.
    pub str: StrId,
    /// Numeric value, 0 for string labels.
    pub num: i64,
    /// String index of the unit of `num` (may be 0).
    pub num_unit: StrId,
    /// A numeric label even when `num` is 0 and there is no unit: pprof's legacy
    /// parsers make such labels in memory (a heap sample's `bytes` of 0) and
    /// pprof shows them; profile.proto cannot carry them (decoding drops a label
    /// with neither a string, a number nor a unit).
    pub keep_zero: bool,
}

impl Label {
    /// A string label.
    pub fn string(key: StrId, value: StrId) -> Label {
        Label { key, str: value, num: 0, num_unit: StrId::EMPTY, keep_zero: false }
    }

    /// A numeric label with an optional unit (`StrId::EMPTY` for none).
    pub fn number(key: StrId, num: i64, unit: StrId) -> Label {
        Label { key, str: StrId::EMPTY, num, num_unit: unit, keep_zero: false }
    }

    /// A numeric label without unit that stays one when `num` is 0 (see
    /// [`Label::keep_zero`]).
    pub fn number_kept(key: StrId, num: i64) -> Label {
        Label { key, str: StrId::EMPTY, num, num_unit: StrId::EMPTY, keep_zero: true }
    }

    /// True when this is a string label (`str` set).
    pub fn is_str(&self) -> bool {
        !self.str.is_empty()
    }

    /// True when this is a numeric label (no `str`, and a number, a unit, or
    /// [`Label::keep_zero`]).
    pub fn is_num(&self) -> bool {
        self.str.is_empty() && (self.num != 0 || !self.num_unit.is_empty() || self.keep_zero)
    }
}

/// A memory mapping of the profiled process (`/proc/self/maps` entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// The id in the file (unique, non-zero).
    pub id: u64,
    /// Start address of the mapping.
    pub memory_start: u64,
    /// End address (exclusive).
    pub memory_limit: u64,
    /// Offset in the file of `memory_start`.
    pub file_offset: u64,
    /// String index of the object file's path.
    pub filename: StrId,
    /// String index of the build ID (hex for GNU build IDs).
    pub build_id: StrId,
    /// Every location of this mapping has function names.
    pub has_functions: bool,
    /// Every location has file names.
    pub has_filenames: bool,
    /// Every location has line numbers.
    pub has_line_numbers: bool,
    /// Inlined frames are expanded.
    pub has_inline_frames: bool,
}

/// A program counter with the source lines it stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// The id in the file (unique, non-zero).
    pub id: u64,
    /// The mapping this address belongs to, if known.
    pub mapping: Option<MappingIdx>,
    /// The instruction address (return address − 1 for callers).
    pub address: u64,
    /// Start of this location's lines in [`Profile::lines`].
    pub lines_start: u32,
    /// End (exclusive) of this location's lines in [`Profile::lines`].
    pub lines_end: u32,
    /// The frames were folded (merged) by the producer.
    pub is_folded: bool,
}

impl Location {
    /// Number of lines (1 + number of frames inlined into this address).
    pub fn num_lines(&self) -> usize {
        (self.lines_end - self.lines_start) as usize
    }
}

/// One source line of a location. When a location has several, the first is the
/// innermost inlined function and the last is the function the code belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Line {
    /// The function.
    pub function: FunctionIdx,
    /// Line number (0 when unknown).
    pub line: i64,
    /// Column number (0 when unknown).
    pub column: i64,
}

/// A function: its names and where its source is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Function {
    /// The id in the file (unique, non-zero).
    pub id: u64,
    /// String index of the (demangled) name.
    pub name: StrId,
    /// String index of the name as the system knows it (mangled).
    pub system_name: StrId,
    /// String index of the source file path.
    pub filename: StrId,
    /// Line where the function starts.
    pub start_line: i64,
}

/// Distinct label sets, interned: most samples share one of a few sets (Go's CPU
/// profiles share one set per `pprof.Do` scope), so each sample stores a `u32`.
#[derive(Default)]
struct LabelSets {
    /// `ends[i]` is the end of set `i + 1` in `labels`; set 0 is the empty set.
    ends: Vec<u32>,
    labels: Vec<Label>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl LabelSets {
    fn get(&self, id: u32) -> &[Label] {
        if id == 0 {
            return &[];
        }
        let i = id as usize - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.labels[start..self.ends[i] as usize]
    }

    fn hash(&self, labels: &[Label]) -> u64 {
        self.hasher.hash_one(labels)
    }

    /// The id of this set, adding it when new; `None` when the table is full.
    fn intern(&mut self, labels: &[Label]) -> Option<u32> {
        if labels.is_empty() {
            return Some(0);
        }
        let h = self.hash(labels);
        if let Some(&id) = self.index.find(h, |&id| self.get(id) == labels) {
            return Some(id);
        }
        let end = u32::try_from(self.labels.len() + labels.len()).ok()?;
        let id = u32::try_from(self.ends.len() + 1).ok()?;
        self.labels.extend_from_slice(labels);
        self.ends.push(end);
        let (ends, all, hasher) = (&self.ends, &self.labels, &self.hasher);
        self.index.insert_unique(h, id, |&j| {
            let i = j as usize - 1;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hasher.hash_one(&all[start..ends[i] as usize])
        });
        Some(id)
    }

    fn heap_bytes(&self) -> usize {
        self.ends.capacity() * 4
            + self.labels.capacity() * std::mem::size_of::<Label>()
            + self.index.capacity() * 8
    }
}

impl Clone for LabelSets {
    fn clone(&self) -> Self {
        let mut c = LabelSets { hasher: self.hasher, ..Default::default() };
        c.ends = self.ends.clone();
        c.labels = self.labels.clone();
        for id in 1..=self.ends.len() as u32 {
            let h = self.hash(self.get(id));
            let (ends, all, hasher) = (&c.ends, &c.labels, &c.hasher);
            c.index.insert_unique(h, id, |&j| {
                let i = j as usize - 1;
                let start = if i == 0 { 0 } else { ends[i - 1] as usize };
                hasher.hash_one(&all[start..ends[i] as usize])
            });
        }
        c
    }
}

/// The samples of a profile, in columns.
///
/// Equality compares the samples (their locations, values and labels in order),
/// not how label sets happen to be numbered inside.
#[derive(Clone, Default)]
pub struct Samples {
    n_values: usize,
    loc_ends: Vec<u32>,
    locs: Vec<LocationIdx>,
    values: Vec<i64>,
    label_set: Vec<u32>,
    sets: LabelSets,
}

impl PartialEq for Samples {
    fn eq(&self, other: &Self) -> bool {
        self.n_values == other.n_values
            && self.loc_ends == other.loc_ends
            && self.locs == other.locs
            && self.values == other.values
            && (0..self.len()).all(|i| self.labels(i) == other.labels(i))
    }
}

impl Eq for Samples {}

impl fmt::Debug for Samples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A borrowed view of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRef<'a> {
    /// Location indexes, leaf first.
    pub locations: &'a [LocationIdx],
    /// One value per sample type.
    pub values: &'a [i64],
    /// Labels in file order.
    pub labels: &'a [Label],
}

impl Samples {
    /// No samples, each with `n_values` values.
    pub fn new(n_values: usize) -> Self {
        Samples { n_values, ..Default::default() }
    }

    /// No samples, with room for `n` of them with `frames` locations in all.
    pub fn with_capacity(n_values: usize, n: usize, frames: usize) -> Self {
        Samples {
            n_values,
            loc_ends: Vec::with_capacity(n),
            locs: Vec::with_capacity(frames),
            values: Vec::with_capacity(n.saturating_mul(n_values)),
            label_set: Vec::with_capacity(n),
            sets: LabelSets::default(),
        }
    }

    /// [`Samples::with_capacity`], `None` when the memory is refused.
    pub fn try_with_capacity(n_values: usize, n: usize, frames: usize) -> Option<Self> {
        let mut s = Samples { n_values, ..Samples::default() };
        s.loc_ends.try_reserve_exact(n).ok()?;
        s.locs.try_reserve_exact(frames).ok()?;
        s.values.try_reserve_exact(n.checked_mul(n_values)?).ok()?;
        s.label_set.try_reserve_exact(n).ok()?;
        Some(s)
    }

    /// Number of values of each sample.
    #[inline]
    pub fn n_values(&self) -> usize {
        self.n_values
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.loc_ends.len()
    }

    /// True when there are no samples.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.loc_ends.is_empty()
    }

    /// Total number of location references of all samples.
    pub fn total_frames(&self) -> usize {
        self.locs.len()
    }

    /// Number of distinct non-empty label sets.
    pub fn label_sets(&self) -> usize {
        self.sets.ends.len()
    }

    /// Appends a sample.
    ///
    /// # Panics
    /// When `values.len()` is not [`Samples::n_values`], or when the columns grow past
    /// `u32::MAX` entries.
    pub fn push(&mut self, locations: &[LocationIdx], values: &[i64], labels: &[Label]) {
        assert_eq!(values.len(), self.n_values, "sample value count");
        self.locs.extend_from_slice(locations);
        self.values.extend_from_slice(values);
        assert!(self.raw_finish_sample(labels), "too many frames or labels");
    }

    /// Location indexes of sample `i`, leaf first.
    #[inline]
    pub fn locations(&self, i: usize) -> &[LocationIdx] {
        let start = if i == 0 { 0 } else { self.loc_ends[i - 1] as usize };
        &self.locs[start..self.loc_ends[i] as usize]
    }

    /// Values of sample `i`.
    #[inline]
    pub fn values(&self, i: usize) -> &[i64] {
        &self.values[i * self.n_values..(i + 1) * self.n_values]
    }

    /// Mutable values of sample `i`.
    #[inline]
    pub fn values_mut(&mut self, i: usize) -> &mut [i64] {
        &mut self.values[i * self.n_values..(i + 1) * self.n_values]
    }

    /// All values, row-major.
    pub fn all_values(&self) -> &[i64] {
        &self.values
    }

    /// All values, row-major, mutable.
    pub fn all_values_mut(&mut self) -> &mut [i64] {
        &mut self.values
    }

    /// Labels of sample `i`.
    #[inline]
    pub fn labels(&self, i: usize) -> &[Label] {
        self.sets.get(self.label_set[i])
    }

    /// The label set id of sample `i`: samples with equal labels (in the same order)
    /// have the same id; 0 is the empty set.
    #[inline]
    pub fn label_set_id(&self, i: usize) -> u32 {
        self.label_set[i]
    }

    /// The labels of a label set id.
    #[inline]
    pub fn label_set(&self, id: u32) -> &[Label] {
        self.sets.get(id)
    }

    /// Sample `i`.
    #[inline]
    pub fn get(&self, i: usize) -> SampleRef<'_> {
        SampleRef { locations: self.locations(i), values: self.values(i), labels: self.labels(i) }
    }

    /// Iterates over all samples.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SampleRef<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Keeps the samples for which `keep(index, sample)` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, SampleRef<'_>) -> bool) {
        let mut out = Samples::with_capacity(self.n_values, self.len(), self.locs.len());
        for i in 0..self.len() {
            let s = self.get(i);
            if keep(i, s) {
                out.push(s.locations, s.values, s.labels);
            }
        }
        *self = out;
    }

    /// Rebuilds the samples with new location lists: `f(index, old_locations, new)`
    /// fills `new` (empty on entry) and returns whether to keep the sample. Values
    /// and labels are kept.
    pub fn map_locations(&mut self, mut f: impl FnMut(usize, &[LocationIdx], &mut Vec<LocationIdx>) -> bool) {
        let n = self.len();
        let mut out = Samples {
            n_values: self.n_values,
            loc_ends: Vec::with_capacity(n),
            locs: Vec::with_capacity(self.locs.len()),
            values: Vec::with_capacity(self.values.len()),
            label_set: Vec::with_capacity(n),
            sets: std::mem::take(&mut self.sets),
        };
        let mut buf = Vec::new();
        for i in 0..n {
            buf.clear();
            if f(i, self.locations(i), &mut buf) {
                out.locs.extend_from_slice(&buf);
                out.loc_ends.push(u32::try_from(out.locs.len()).expect("too many frames"));
                out.values.extend_from_slice(self.values(i));
                out.label_set.push(self.label_set[i]);
            }
        }
        *self = out;
    }

    /// Rewrites every distinct label set once: `f(old, new)` fills `new` (empty on
    /// entry). Samples keep their values and locations.
    pub fn map_labels(&mut self, mut f: impl FnMut(&[Label], &mut Vec<Label>)) {
        let old = std::mem::take(&mut self.sets);
        let mut remap = vec![0u32; old.ends.len() + 1];
        let mut buf = Vec::new();
        for (id, slot) in remap.iter_mut().enumerate() {
            buf.clear();
            f(old.get(id as u32), &mut buf);
            *slot = self.sets.intern(&buf).expect("label sets shrink or keep their size");
        }
        for s in &mut self.label_set {
            *s = remap[*s as usize];
        }
    }

    /// Releases spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.loc_ends.shrink_to_fit();
        self.locs.shrink_to_fit();
        self.values.shrink_to_fit();
        self.label_set.shrink_to_fit();
    }

    /// Bytes held by the sample columns.
    pub fn heap_bytes(&self) -> usize {
        self.loc_ends.capacity() * 4
            + self.locs.capacity() * 4
            + self.values.capacity() * 8
            + self.label_set.capacity() * 4
            + self.sets.heap_bytes()
    }

    /// The location and value columns, for a decoder that pushes a sample's parts
    /// then calls [`Samples::raw_finish_sample`].
    pub(crate) fn raw_columns(&mut self) -> (&mut Vec<LocationIdx>, &mut Vec<i64>) {
        (&mut self.locs, &mut self.values)
    }

    /// Closes the sample whose locations and values were pushed to the raw columns;
    /// false when the columns are too long for `u32` offsets.
    pub(crate) fn raw_finish_sample(&mut self, labels: &[Label]) -> bool {
        let Ok(l) = u32::try_from(self.locs.len()) else { return false };
        let Some(set) = self.sets.intern(labels) else { return false };
        self.loc_ends.push(l);
        self.label_set.push(set);
        true
    }
}

/// A profile: profile.proto in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// All strings; index 0 is `""`.
    pub strings: StringTable,
    /// What each value of a sample measures.
    pub sample_types: Vec<ValueType>,
    /// The samples.
    pub samples: Samples,
    /// Mappings; the first is the main binary by convention.
    pub mappings: Vec<Mapping>,
    /// Locations.
    pub locations: Vec<Location>,
    /// Lines of all locations (see [`Location::lines_start`]).
    pub lines: Vec<Line>,
    /// Functions.
    pub functions: Vec<Function>,
    /// Regexp of frames to drop (string index).
    pub drop_frames: StrId,
    /// Regexp of frames to keep despite `drop_frames` (string index).
    pub keep_frames: StrId,
    /// When the profile was collected, in ns since the Unix epoch.
    pub time_nanos: i64,
    /// How long the collection took, in ns.
    pub duration_nanos: i64,
    /// What one event of the sampling period is (both ids 0 when absent).
    pub period_type: ValueType,
    /// The sampling period, in units of `period_type`.
    pub period: i64,
    /// Free-form comments (string indexes).
    pub comments: Vec<StrId>,
    /// The sample type shown by default (string index of a type name, 0 = last type).
    pub default_sample_type: StrId,
    /// Documentation URL (string index).
    pub doc_url: StrId,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::new()
    }
}

impl Profile {
    /// An empty profile with no sample types.
    pub fn new() -> Self {
        Profile {
            strings: StringTable::new(),
            sample_types: Vec::new(),
            samples: Samples::new(0),
            mappings: Vec::new(),
            locations: Vec::new(),
            lines: Vec::new(),
            functions: Vec::new(),
            drop_frames: StrId::EMPTY,
            keep_frames: StrId::EMPTY,
            time_nanos: 0,
            duration_nanos: 0,
            period_type: ValueType::default(),
            period: 0,
            comments: Vec::new(),
            default_sample_type: StrId::EMPTY,
            doc_url: StrId::EMPTY,
        }
    }

    /// The string at `id`.
    #[inline]
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    /// The lines of location `loc`, innermost (inlined) first.
    #[inline]
    pub fn location_lines(&self, loc: LocationIdx) -> &[Line] {
        let l = &self.locations[loc as usize];
        &self.lines[l.lines_start as usize..l.lines_end as usize]
    }

    /// `type/unit` names of the sample types, e.g. `["samples/count", "cpu/nanoseconds"]`.
    pub fn sample_type_names(&self) -> Vec<(String, String)> {
        self.sample_types
            .iter()
            .map(|vt| (self.str(vt.ty).to_string(), self.str(vt.unit).to_string()))
            .collect()
    }

    /// Index of the sample type with this type name.
    pub fn sample_type_index(&self, name: &str) -> Option<usize> {
        self.sample_types.iter().position(|vt| self.str(vt.ty) == name)
    }

    /// The index of the value shown by default: `default_sample_type` when it names a
    /// sample type, else the last one (pprof's rule).
    pub fn default_sample_index(&self) -> usize {
        let dst = self.str(self.default_sample_type);
        if !dst.is_empty()
            && let Some(i) = self.sample_type_index(dst)
        {
            return i;
        }
        self.sample_types.len().saturating_sub(1)
    }

    /// Per sample type, the sum of all samples' values.
    pub fn totals(&self) -> Vec<i64> {
        let n = self.sample_types.len();
        let mut t = vec![0i64; n];
        if n == 0 {
            return t;
        }
        for row in self.samples.all_values().chunks_exact(n) {
            for (a, v) in t.iter_mut().zip(row) {
                *a = a.wrapping_add(*v);
            }
        }
        t
    }

    /// Rough number of bytes held in memory by this profile.
    pub fn heap_bytes(&self) -> usize {
        self.strings.byte_len()
            + self.strings.len() * 8
            + self.samples.heap_bytes()
            + self.locations.capacity() * std::mem::size_of::<Location>()
            + self.lines.capacity() * std::mem::size_of::<Line>()
            + self.functions.capacity() * std::mem::size_of::<Function>()
            + self.mappings.capacity() * std::mem::size_of::<Mapping>()
    }
}
