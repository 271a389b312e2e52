//! A legacy profile while it is parsed, as pprof's parsers hold it: locations
//! made from addresses and shared by the samples that use them, mappings read
//! from the memory map at the end, and then pprof's passes in its order
//! (locations numbered by first use, main binary first, each address matched
//! to its mapping or to a fake one) before it becomes a [`Profile`].

use hashbrown::HashMap;
use rustprof_profile::{Function, Label, Line, Location, Mapping, Profile, Samples, ValueType};

/// A sample: location indexes (leaf first), values, and the `bytes` label of
/// heap profiles.
pub(crate) struct Sample {
    pub(crate) locs: Vec<usize>,
    pub(crate) values: Vec<i64>,
    pub(crate) bytes: Option<i64>,
}

/// A location: an address, its mapping once matched, and for Java profiles
/// one line (function index, line number).
#[derive(Clone, Copy)]
pub(crate) struct Loc {
    pub(crate) address: u64,
    pub(crate) mapping: Option<usize>,
    pub(crate) line: Option<(usize, i64)>,
}

/// A function of a Java profile.
pub(crate) struct Func {
    pub(crate) name: Vec<u8>,
    pub(crate) filename: Vec<u8>,
}

/// A mapping of the memory map section.
#[derive(Clone, Default)]
pub(crate) struct Map {
    pub(crate) start: u64,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) file: Vec<u8>,
    pub(crate) build_id: Vec<u8>,
}

/// The profile being parsed.
#[derive(Default)]
pub(crate) struct Raw {
    pub(crate) sample_types: Vec<(String, String)>,
    pub(crate) period_type: (String, String),
    pub(crate) period: i64,
    pub(crate) duration_nanos: i64,
    pub(crate) samples: Vec<Sample>,
    pub(crate) locations: Vec<Loc>,
    pub(crate) functions: Vec<Func>,
    pub(crate) mappings: Vec<Map>,
    by_address: HashMap<u64, usize>,
}

/// pprof's `libRx`: a shared library's file name.
fn is_lib(file: &[u8]) -> bool {
    let f = String::from_utf8_lossy(file);
    if f.ends_with(".so") {
        return true;
    }
    let b = f.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        (w[..3] == *b".so") && (w[3] == b'.' || w[3] == b'_') && b.get(i + 4).is_some_and(u8::is_ascii_digit)
    })
}

impl Raw {
    /// A profile of these sample types and period.
    pub(crate) fn new(types: &[(&str, &str)], period_type: (&str, &str), period: i64) -> Raw {
        Raw {
            sample_types: types.iter().map(|(t, u)| (t.to_string(), u.to_string())).collect(),
            period_type: (period_type.0.into(), period_type.1.into()),
            period,
            ..Default::default()
        }
    }

    /// The location of `addr`, made on first use.
    pub(crate) fn location(&mut self, addr: u64) -> usize {
        let next = self.locations.len();
        let i = *self.by_address.entry(addr).or_insert(next);
        if i == next {
            self.locations.push(Loc { address: addr, mapping: None, line: None });
        }
        i
    }

    /// The location already made for `addr`.
    pub(crate) fn location_of(&self, addr: u64) -> Option<usize> {
        self.by_address.get(&addr).copied()
    }

    /// The locations of a stack, each address less one when `adjust(i)` (return
    /// addresses point after the call).
    pub(crate) fn stack(&mut self, addrs: &[u64], adjust: impl Fn(usize) -> bool) -> Vec<usize> {
        addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| self.location(if adjust(i) { a.wrapping_sub(1) } else { a }))
            .collect()
    }

    /// pprof's `ParseMemoryMapFromScanner` after the maps are read: merge
    /// adjacent mappings, main binary first, then number locations, functions and
    /// mappings.
    pub(crate) fn add_mappings(&mut self, maps: Vec<Map>) {
        self.mappings.extend(maps);
        self.massage_mappings();
        self.remap_locations();
        self.remap_functions();
        self.remap_mapping_ids();
    }

    fn massage_mappings(&mut self) {
        if self.mappings.len() > 1 {
            let mut out: Vec<Map> = Vec::with_capacity(self.mappings.len());
            for m in std::mem::take(&mut self.mappings) {
                if let Some(lm) = out.last_mut()
                    && adjacent(lm, &m)
                {
                    lm.limit = m.limit;
                    if !m.file.is_empty() {
                        lm.file = m.file;
                    }
                    if !m.build_id.is_empty() {
                        lm.build_id = m.build_id;
                    }
                    continue;
                }
                out.push(m);
            }
            self.mappings = out;
        }
        let main = self.mappings.iter().position(|m| {
            let file = String::from_utf8_lossy(&m.file).replace("(deleted)", "");
            let file = file.trim();
            !file.is_empty() && !is_lib(file.as_bytes()) && !file.starts_with('[')
        });
        if let Some(i) = main {
            self.mappings.swap(0, i);
        }
    }

    /// pprof's `remapLocationIDs`: only the locations samples use, in order of first use.
    pub(crate) fn remap_locations(&mut self) {
        let mut new_index = vec![usize::MAX; self.locations.len()];
        let mut locs = Vec::new();
        for s in &mut self.samples {
            for l in &mut s.locs {
                if new_index[*l] == usize::MAX {
                    new_index[*l] = locs.len();
                    locs.push(self.locations[*l]);
                }
                *l = new_index[*l];
            }
        }
        for v in self.by_address.values_mut() {
            *v = new_index[*v];
        }
        self.by_address.retain(|_, v| *v != usize::MAX);
        self.locations = locs;
    }

    /// pprof's `remapFunctionIDs`: functions in order of first use by a location.
    fn remap_functions(&mut self) {
        let mut new_index = vec![usize::MAX; self.functions.len()];
        let mut order = Vec::new();
        for l in &mut self.locations {
            if let Some((f, _)) = &mut l.line {
                if new_index[*f] == usize::MAX {
                    new_index[*f] = order.len();
                    order.push(*f);
                }
                *f = new_index[*f];
            }
        }
        let mut old: Vec<Option<Func>> = std::mem::take(&mut self.functions).into_iter().map(Some).collect();
        self.functions = order.into_iter().filter_map(|i| old[i].take()).collect();
    }

    /// pprof's `remapMappingIDs`: the hugepage and 0x400000 fixes, then each
    /// address to its mapping, or to a fake mapping covering everything.
    pub(crate) fn remap_mapping_ids(&mut self) {
        if self.mappings.len() > 1
            && self.mappings[0].file.starts_with(b"/anon_hugepage")
            && self.mappings[0].limit == self.mappings[1].start
        {
            self.mappings.remove(0);
        }
        if let Some(m) = self.mappings.first_mut()
            && m.start.wrapping_sub(m.offset) == 0x400000
        {
            m.start = 0x400000;
            m.offset = 0;
        }
        let mut fake = None;
        'next: for l in &mut self.locations {
            let a = l.address;
            if l.mapping.is_some() || a == 0 {
                continue;
            }
            for (i, m) in self.mappings.iter().enumerate() {
                if m.start <= a && a < m.limit {
                    l.mapping = Some(i);
                    continue 'next;
                }
            }
            for (i, m) in self.mappings.iter_mut().enumerate() {
                if m.offset != 0 && m.start.wrapping_sub(m.offset) <= a && a < m.start {
                    m.start = m.start.wrapping_sub(m.offset);
                    m.offset = 0;
                    l.mapping = Some(i);
                    continue 'next;
                }
            }
            let f = *fake.get_or_insert_with(|| {
                self.mappings.push(Map { limit: u64::MAX, ..Default::default() });
                self.mappings.len() - 1
            });
            l.mapping = Some(f);
        }
    }

    /// pprof's `cleanupDuplicateLocations`: a leaf address repeated (less one) as
    /// its caller is dropped from the stack.
    pub(crate) fn cleanup_duplicate_locations(&mut self) {
        for s in &mut self.samples {
            if s.locs.len() > 1
                && self.locations[s.locs[0]].address == self.locations[s.locs[1]].address.wrapping_add(1)
            {
                s.locs.remove(1);
            }
        }
    }

    /// The profile, with pprof's `drop_frames`/`keep_frames` for its kind, after
    /// pprof's validity check of the sample values.
    pub(crate) fn into_profile(self) -> Result<Profile, String> {
        let n = self.sample_types.len();
        if n == 0 && !self.samples.is_empty() {
            return Err("malformed profile: missing sample type information".into());
        }
        if let Some(s) = self.samples.iter().find(|s| s.values.len() != n) {
            return Err(format!(
                "malformed profile: mismatch: sample has {} values vs. {} types",
                s.values.len(),
                n
            ));
        }
        let mut p = Profile::new();
        let vt = |p: &mut Profile, (t, u): &(String, String)| ValueType {
            ty: p.strings.intern(t),
            unit: p.strings.intern(u),
        };
        for st in &self.sample_types {
            let v = vt(&mut p, st);
            p.sample_types.push(v);
        }
        let bytes = p.strings.intern("bytes");
        let mut samples = Samples::new(n);
        let mut locs = Vec::new();
        for s in &self.samples {
            locs.clear();
            locs.extend(s.locs.iter().map(|&l| l as u32));
            match s.bytes {
                Some(b) => samples.push(&locs, &s.values, &[Label::number_kept(bytes, b)]),
                None => samples.push(&locs, &s.values, &[]),
            }
        }
        p.samples = samples;
        for (i, m) in self.mappings.iter().enumerate() {
            let filename = p.strings.intern(&String::from_utf8_lossy(&m.file));
            let build_id = p.strings.intern(&String::from_utf8_lossy(&m.build_id));
            p.mappings.push(Mapping {
                id: i as u64 + 1,
                memory_start: m.start,
                memory_limit: m.limit,
                file_offset: m.offset,
                filename,
                build_id,
                ..Default::default()
            });
        }
        for (i, f) in self.functions.iter().enumerate() {
            let name = p.strings.intern(&String::from_utf8_lossy(&f.name));
            let filename = p.strings.intern(&String::from_utf8_lossy(&f.filename));
            p.functions.push(Function { id: i as u64 + 1, name, system_name: name, filename, start_line: 0 });
        }
        for (i, l) in self.locations.iter().enumerate() {
            let start = p.lines.len() as u32;
            if let Some((f, line)) = l.line {
                p.lines.push(Line { function: f as u32, line, column: 0 });
            }
            p.locations.push(Location {
                id: i as u64 + 1,
                mapping: l.mapping.map(|m| m as u32),
                address: l.address,
                lines_start: start,
                lines_end: p.lines.len() as u32,
                is_folded: false,
            });
        }
        let pt = vt(&mut p, &self.period_type);
        p.period_type = pt;
        p.period = self.period;
        p.duration_nanos = self.duration_nanos;
        let types: Vec<&str> = self.sample_types.iter().map(|(t, _)| t.as_str()).collect();
        let (drop, keep) = super::frames::for_types(&types);
        p.drop_frames = p.strings.intern(drop);
        p.keep_frames = p.strings.intern(keep);
        Ok(p)
    }
}

/// pprof's `adjacent`: `m2` continues `m1` (same file and build ID when both
/// have one, contiguous addresses and offsets).
fn adjacent(m1: &Map, m2: &Map) -> bool {
    if !m1.file.is_empty() && !m2.file.is_empty() && m1.file != m2.file {
        return false;
    }
    if !m1.build_id.is_empty() && !m2.build_id.is_empty() && m1.build_id != m2.build_id {
        return false;
    }
    if m1.limit != m2.start {
        return false;
    }
    if m1.offset != 0
        && m2.offset != 0
        && m1.offset.wrapping_add(m1.limit.wrapping_sub(m1.start)) != m2.offset
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libs() {
        assert!(is_lib(b"/lib/libc.so.6") && is_lib(b"/x/liba.so") && is_lib(b"libz.so_1"));
        assert!(!is_lib(b"/bin/app") && !is_lib(b"/x/a.so.x") && !is_lib(b"/x/a.sox"));
    }
}
