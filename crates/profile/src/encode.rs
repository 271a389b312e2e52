//! Encoding a [`Profile`] as profile.proto, raw or gzip-compressed.
//!
//! The output is deterministic: fields in profile.proto's order, the string table
//! as it is in memory, the file ids kept, repeated numbers packed when there are two
//! or more, zero-valued optional fields left out, and a gzip header without a time
//! stamp. `decode(encode(p)) == p` for every valid profile.

use std::io::{self, Write};

use crate::model::Profile;
use crate::wire::Writer;

/// The gzip level used by [`encode`] and [`write_gzip`] (zlib's default).
pub const DEFAULT_LEVEL: u32 = 6;

/// Encodes the profile as uncompressed protobuf bytes.
pub fn encode_uncompressed(p: &Profile) -> Vec<u8> {
    let mut w = Writer::with_capacity(estimate(p));
    let mut tmp = Writer::with_capacity(256);
    let mut tmp2 = Writer::with_capacity(64);

    for vt in &p.sample_types {
        tmp.buf.clear();
        tmp.uint_opt(1, vt.ty.0 as u64);
        tmp.uint_opt(2, vt.unit.0 as u64);
        w.bytes(1, &tmp.buf);
    }

    let locations = &p.locations;
    for s in p.samples.iter() {
        tmp.buf.clear();
        tmp.packed(1, s.locations.iter().map(|&l| locations[l as usize].id));
        tmp.packed(2, s.values.iter().map(|&v| v as u64));
        for l in s.labels {
            tmp2.buf.clear();
            tmp2.uint_opt(1, l.key.0 as u64);
            tmp2.uint_opt(2, l.str.0 as u64);
            tmp2.uint_opt(3, l.num as u64);
            tmp2.uint_opt(4, l.num_unit.0 as u64);
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
        tmp.uint_opt(5, m.filename.0 as u64);
        tmp.uint_opt(6, m.build_id.0 as u64);
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
        tmp.uint_opt(2, f.name.0 as u64);
        tmp.uint_opt(3, f.system_name.0 as u64);
        tmp.uint_opt(4, f.filename.0 as u64);
        tmp.uint_opt(5, f.start_line as u64);
        w.bytes(5, &tmp.buf);
    }

    for (_, s) in p.strings.iter() {
        w.bytes(6, s.as_bytes());
    }
    w.uint_opt(7, p.drop_frames.0 as u64);
    w.uint_opt(8, p.keep_frames.0 as u64);
    w.uint_opt(9, p.time_nanos as u64);
    w.uint_opt(10, p.duration_nanos as u64);
    if !p.period_type.ty.is_empty() || !p.period_type.unit.is_empty() {
        tmp.buf.clear();
        tmp.uint_opt(1, p.period_type.ty.0 as u64);
        tmp.uint_opt(2, p.period_type.unit.0 as u64);
        w.bytes(11, &tmp.buf);
    }
    w.uint_opt(12, p.period as u64);
    w.packed(13, p.comments.iter().map(|c| c.0 as u64));
    w.uint_opt(14, p.default_sample_type.0 as u64);
    w.uint_opt(15, p.doc_url.0 as u64);
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
    let mut gz = flate2::GzBuilder::new().write(w, flate2::Compression::new(level.min(9)));
    gz.write_all(&raw)?;
    gz.finish()?.flush()
}
