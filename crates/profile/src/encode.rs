//! Encoding a [`Profile`] as profile.proto, raw or gzip-compressed.
//!
//! The output is deterministic: fields in profile.proto's order, the string table
//! as it is in memory, the file ids kept, repeated numbers packed when there are
//! more than two, zero-valued optional fields left out (but `default_sample_type`
//! always written): the choices of pprof's encoder, so that the uncompressed bytes
//! are pprof's. The gzip header has no time stamp. `decode(encode(p)) == p` for
//! every valid profile.

use std::io::{self, Write};

use hashbrown::HashMap;

use crate::model::{Label, Profile};
use crate::strings::{StrId, unescape};
use crate::wire::Writer;

/// The gzip level used by [`encode`] and [`write_gzip`] (zlib's default).
pub const DEFAULT_LEVEL: u32 = 6;

/// Encodes the profile as uncompressed protobuf bytes, its string table as it is
/// in memory.
pub fn encode_uncompressed(p: &Profile) -> Vec<u8> {
    write(p, &Identity, p.strings.iter().map(|(_, s)| unescape(s)), false)
}

/// Encodes the profile as pprof's `Profile.Write` does, uncompressed: the string
/// table rebuilt in the order pprof's `preEncode` meets the strings (duplicates
/// merged), each sample's string labels sorted by key, then its numeric labels
/// sorted by key (labels that are neither dropped, as pprof's model has no
/// place for them). For a profile pprof would write, the bytes are pprof's.
pub fn encode_uncompressed_as_pprof(p: &Profile) -> Vec<u8> {
    let order = PprofOrder::new(p);
    let table: Vec<&str> = order.table.clone();
    write(p, &order, table.iter().map(|s| unescape(s)), true)
}

/// [`encode_uncompressed_as_pprof`], gzip-compressed (level [`DEFAULT_LEVEL`]).
/// The gzip stream is flate2's, not Go's: only the uncompressed bytes agree.
pub fn encode_as_pprof(p: &Profile) -> Vec<u8> {
    gzip(&encode_uncompressed_as_pprof(p), DEFAULT_LEVEL)
}

/// Maps the profile's string indexes to the ones written.
trait Strs {
    fn id(&self, s: StrId) -> u64;
}

struct Identity;

impl Strs for Identity {
    #[inline]
    fn id(&self, s: StrId) -> u64 {
        s.0 as u64
    }
}

/// pprof's string order (`preEncode`).
struct PprofOrder<'a> {
    remap: Vec<u32>,
    table: Vec<&'a str>,
}

impl<'a> PprofOrder<'a> {
    fn new(p: &'a Profile) -> Self {
        let mut o = PprofOrder { remap: vec![u32::MAX; p.strings.len()], table: Vec::new() };
        let mut by_text: HashMap<&'a str, u32> = HashMap::new();
        let mut add = |id: StrId| {
            let Some(slot) = o.remap.get_mut(id.index()) else { return };
            if *slot != u32::MAX {
                return;
            }
            let text = p.strings.get(id);
            let next = o.table.len() as u32;
            let n = *by_text.entry(text).or_insert_with(|| {
                o.table.push(text);
                next
            });
            *slot = n;
        };
        add(StrId::EMPTY);
        for vt in &p.sample_types {
            add(vt.ty);
            add(vt.unit);
        }
        let mut labels = Vec::new();
        for s in p.samples.iter() {
            pprof_labels(p, s.labels, &mut labels);
            for l in &labels {
                add(l.key);
                if l.is_str() {
                    add(l.str);
                } else {
                    add(l.num_unit);
                }
            }
        }
        for m in &p.mappings {
            add(m.filename);
            add(m.build_id);
        }
        for f in &p.functions {
            add(f.name);
            add(f.system_name);
            add(f.filename);
        }
        add(p.drop_frames);
        add(p.keep_frames);
        add(p.period_type.ty);
        add(p.period_type.unit);
        for &c in &p.comments {
            add(c);
        }
        add(p.default_sample_type);
        add(p.doc_url);
        o
    }
}

impl Strs for PprofOrder<'_> {
    #[inline]
    fn id(&self, s: StrId) -> u64 {
        self.remap.get(s.index()).copied().unwrap_or(0) as u64
    }
}

/// A sample's labels in pprof's order: string labels by key, then numeric labels
/// by key (stable within a key).
fn pprof_labels(p: &Profile, labels: &[Label], out: &mut Vec<Label>) {
    out.clear();
    out.extend(labels.iter().filter(|l| l.is_str()).copied());
    out.sort_by(|a, b| p.strings.get(a.key).cmp(p.strings.get(b.key)));
    let strs = out.len();
    out.extend(labels.iter().filter(|l| l.is_num()).copied());
    out[strs..].sort_by(|a, b| p.strings.get(a.key).cmp(p.strings.get(b.key)));
}

fn write<'t, S: Strs>(
    p: &Profile,
    strs: &S,
    table: impl Iterator<Item = std::borrow::Cow<'t, [u8]>>,
    pprof_label_order: bool,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(estimate(p));
    let mut tmp = Writer::with_capacity(256);
    let mut tmp2 = Writer::with_capacity(64);

    for vt in &p.sample_types {
        tmp.buf.clear();
        tmp.uint_opt(1, strs.id(vt.ty));
        tmp.uint_opt(2, strs.id(vt.unit));
        w.bytes(1, &tmp.buf);
    }

    let locations = &p.locations;
    let mut sorted = Vec::new();
    for s in p.samples.iter() {
        tmp.buf.clear();
        tmp.packed(1, s.locations.iter().map(|&l| locations[l as usize].id));
        tmp.packed(2, s.values.iter().map(|&v| v as u64));
        let labels = if pprof_label_order {
            pprof_labels(p, s.labels, &mut sorted);
            &sorted[..]
        } else {
            s.labels
        };
        for l in labels {
            tmp2.buf.clear();
            tmp2.uint_opt(1, strs.id(l.key));
            tmp2.uint_opt(2, strs.id(l.str));
            tmp2.uint_opt(3, l.num as u64);
            tmp2.uint_opt(4, strs.id(l.num_unit));
            tmp.bytes(3, &tmp2.buf);
        }
        w.bytes(2, &tmp.buf);
    }

    for m in &p.mappings {
        tmp.buf.clear();
        tmp.uint_opt(1, m.id);
        tmp.uint_opt(2, m.memory_start);
        tmp.uint_opt(3, m.memory_limit);
        tmp.uint_opt(4, m.file_offset);
        tmp.uint_opt(5, strs.id(m.filename));
        tmp.uint_opt(6, strs.id(m.build_id));
        tmp.bool_opt(7, m.has_functions);
        tmp.bool_opt(8, m.has_filenames);
        tmp.bool_opt(9, m.has_line_numbers);
        tmp.bool_opt(10, m.has_inline_frames);
        w.bytes(3, &tmp.buf);
    }

    for loc in &p.locations {
        tmp.buf.clear();
        tmp.uint_opt(1, loc.id);
        if let Some(m) = loc.mapping {
            tmp.uint_opt(2, p.mappings[m as usize].id);
        }
        tmp.uint_opt(3, loc.address);
        for line in &p.lines[loc.lines_start as usize..loc.lines_end as usize] {
            tmp2.buf.clear();
            tmp2.uint_opt(1, p.functions[line.function as usize].id);
            tmp2.uint_opt(2, line.line as u64);
            tmp2.uint_opt(3, line.column as u64);
            tmp.bytes(4, &tmp2.buf);
        }
        tmp.bool_opt(5, loc.is_folded);
        w.bytes(4, &tmp.buf);
    }

    for f in &p.functions {
        tmp.buf.clear();
        tmp.uint_opt(1, f.id);
        tmp.uint_opt(2, strs.id(f.name));
        tmp.uint_opt(3, strs.id(f.system_name));
        tmp.uint_opt(4, strs.id(f.filename));
        tmp.uint_opt(5, f.start_line as u64);
        w.bytes(5, &tmp.buf);
    }

    for s in table {
        w.bytes(6, &s);
    }
    w.uint_opt(7, strs.id(p.drop_frames));
    w.uint_opt(8, strs.id(p.keep_frames));
    w.uint_opt(9, p.time_nanos as u64);
    w.uint_opt(10, p.duration_nanos as u64);
    if !p.period_type.ty.is_empty() || !p.period_type.unit.is_empty() {
        tmp.buf.clear();
        tmp.uint_opt(1, strs.id(p.period_type.ty));
        tmp.uint_opt(2, strs.id(p.period_type.unit));
        w.bytes(11, &tmp.buf);
    }
    w.uint_opt(12, p.period as u64);
    w.packed(13, p.comments.iter().map(|&c| strs.id(c)));
    // pprof writes default_sample_type even when 0 (encodeInt64, not ...Opt).
    w.uint(14, strs.id(p.default_sample_type));
    w.uint_opt(15, strs.id(p.doc_url));
    w.buf
}

fn estimate(p: &Profile) -> usize {
    p.samples.total_frames() * 3
        + p.samples.all_values().len() * 4
        + p.samples.len() * 6
        + p.locations.len() * 16
        + p.lines.len() * 8
        + p.functions.len() * 16
        + p.strings.byte_len()
        + p.strings.len() * 2
        + 64
}

/// Encodes the profile gzip-compressed (level [`DEFAULT_LEVEL`]).
pub fn encode(p: &Profile) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_gzip(p, &mut out);
    out
}

/// Writes the profile gzip-compressed to `w` (level [`DEFAULT_LEVEL`]).
pub fn write_gzip<W: Write>(p: &Profile, w: W) -> io::Result<()> {
    write_gzip_level(p, w, DEFAULT_LEVEL)
}

/// Writes the profile gzip-compressed at `level` (0–9; 1 is fastest, as Go's
/// runtime profiles use).
pub fn write_gzip_level<W: Write>(p: &Profile, w: W, level: u32) -> io::Result<()> {
    let raw = encode_uncompressed(p);
    write_gzip_bytes(&raw, w, level)
}

fn gzip(raw: &[u8], level: u32) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_gzip_bytes(raw, &mut out, level);
    out
}

fn write_gzip_bytes<W: Write>(raw: &[u8], w: W, level: u32) -> io::Result<()> {
    let mut gz = flate2::GzBuilder::new().write(w, flate2::Compression::new(level.min(9)));
    gz.write_all(raw)?;
    gz.finish()?.flush()
}
