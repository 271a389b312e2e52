//! Decoding profile.proto (gzip-compressed or raw) into a [`Profile`].
//!
//! The decoder makes two passes over the uncompressed bytes. The first reads every
//! top-level field except samples (string table, functions, mappings, locations,
//! scalars) and counts the samples' frames and labels; ids are then resolved to
//! dense indexes. The second pass decodes the samples straight into exactly sized
//! columns, resolving location ids as it goes. Every error names the message, the
//! field and the byte offset; nothing is allocated from an untrusted length except
//! slices of data that is already in memory.

use std::io::Read;

use hashbrown::HashMap;

use crate::budget::{self, Counts};
use crate::error::{DecodeError, FormatError, Problem};
use crate::model::{Function, Label, Line, Location, Mapping, Profile, Samples, ValueType};
use crate::strings::{StrId, StringTable};
use crate::wire::{Reader, WT_LEN, WT_VARINT, count_packed};

/// Limits for decoding.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Largest uncompressed size accepted, in bytes (default 16 GiB).
    pub max_uncompressed: u64,
    /// Most memory the decoded tables and samples may take, in bytes, counted
    /// from the file's element counts before they are allocated (default 32 GiB).
    pub max_memory: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { max_uncompressed: 16 << 30, max_memory: 32 << 30 }
    }
}

/// True when `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// Decodes a profile from bytes, gzip-compressed or not (detected).
pub fn decode(data: &[u8]) -> Result<Profile, DecodeError> {
    decode_with(data, &DecodeOptions::default())
}

/// [`decode`] with explicit limits.
pub fn decode_with(data: &[u8], opts: &DecodeOptions) -> Result<Profile, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::Empty);
    }
    if is_gzip(data) {
        let hint = gzip_size_hint(data);
        let raw = gunzip(data, hint, opts)?;
        decode_uncompressed_with(&raw, opts)
    } else {
        if data.len() as u64 > opts.max_uncompressed {
            return Err(DecodeError::TooLarge { limit: opts.max_uncompressed });
        }
        decode_uncompressed_with(data, opts)
    }
}

/// Decodes a profile from a reader (gzip detected). The input is read to its end.
pub fn decode_reader<R: Read>(r: R) -> Result<Profile, DecodeError> {
    decode_reader_with(r, 0, &DecodeOptions::default())
}

/// [`decode_reader`] with a hint of the uncompressed size (0 for none, e.g. the
/// gzip trailer's ISIZE) so that the buffer is allocated once, and with limits.
pub fn decode_reader_with<R: Read>(
    mut r: R,
    size_hint: u64,
    opts: &DecodeOptions,
) -> Result<Profile, DecodeError> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DecodeError::Io(e)),
        }
    }
    if n == 0 {
        return Err(DecodeError::Empty);
    }
    let chained = (&head[..n]).chain(r);
    let raw = if is_gzip(&head[..n]) {
        read_limited(flate2::read::MultiGzDecoder::new(chained), size_hint, opts, true)?
    } else {
        read_limited(chained, size_hint, opts, false)?
    };
    decode_uncompressed_with(&raw, opts)
}

/// The uncompressed size recorded in a gzip member's trailer (ISIZE, modulo 2^32),
/// bounded to a plausible ratio of the compressed size; 0 when unknown.
pub fn gzip_size_hint(data: &[u8]) -> u64 {
    if data.len() < 18 {
        return 0;
    }
    let t = &data[data.len() - 4..];
    let isize = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as u64;
    // deflate cannot expand more than ~1032:1.
    isize.min(data.len() as u64 * 1032)
}

/// Decompresses a gzip stream (all members) into memory.
pub fn gunzip(data: &[u8], size_hint: u64, opts: &DecodeOptions) -> Result<Vec<u8>, DecodeError> {
    read_limited(flate2::read::MultiGzDecoder::new(data), size_hint, opts, true)
}

fn read_limited<R: Read>(
    r: R,
    size_hint: u64,
    opts: &DecodeOptions,
    gz: bool,
) -> Result<Vec<u8>, DecodeError> {
    let limit = opts.max_uncompressed;
    let cap = size_hint.min(limit).min(isize::MAX as u64) as usize;
    let oom = |bytes: usize| DecodeError::OutOfMemory { bytes: bytes as u64 };
    let mut out = Vec::new();
    if cap > 0 {
        out.try_reserve_exact(cap).map_err(|_| oom(cap))?;
    }
    // Read in chunks, growing with `try_reserve`, so that running out of memory
    // is an error naming the size rather than an abort.
    let mut take = r.take(limit.saturating_add(1));
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match take.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if gz => return Err(DecodeError::Gzip(e)),
            Err(e) => return Err(DecodeError::Io(e)),
        };
        if out.capacity() - out.len() < n {
            let want = out.len().saturating_add(n);
            out.try_reserve(n).map_err(|_| oom(want))?;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    if out.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(out)
}

/// Decodes uncompressed profile.proto bytes.
pub fn decode_uncompressed(data: &[u8]) -> Result<Profile, DecodeError> {
    decode_uncompressed_with(data, &DecodeOptions::default())
}

/// [`decode_uncompressed`] with explicit limits ([`DecodeOptions::max_memory`]).
pub fn decode_uncompressed_with(data: &[u8], opts: &DecodeOptions) -> Result<Profile, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::Empty);
    }
    match (Decoder { max_memory: opts.max_memory, ..Decoder::default() }).run(data) {
        // A string index out of range: decode again, watching for the first one
        // (in file order) to name its field and offset. Error path only: the
        // fast path keeps no record per string reference.
        Err(Failure::BadString(nstr)) => {
            let d = Decoder { max_memory: opts.max_memory, bad_from: Some(nstr), ..Decoder::default() };
            match d.run(data) {
                Err(Failure::Decode(e)) => Err(e),
                // Unreachable with the same input; reported plainly anyway.
                _ => Err(FormatError {
                    message: "Profile",
                    field: "string_table",
                    offset: 0,
                    problem: Problem::StringIndex { index: nstr as u64, len: nstr },
                }
                .into()),
            }
        }
        Err(Failure::Decode(e)) => Err(e),
        Ok(p) => Ok(p),
    }
}

/// Why a decoding run stopped.
enum Failure {
    /// A string index ≥ this table size was seen (fast path).
    BadString(usize),
    /// The error to report.
    Decode(DecodeError),
}

impl From<FormatError> for Failure {
    fn from(e: FormatError) -> Self {
        Failure::Decode(DecodeError::Format(e))
    }
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Self {
        Failure::Decode(e)
    }
}

fn ferr(message: &'static str, field: &'static str, offset: u64, problem: Problem) -> FormatError {
    FormatError { message, field, offset, problem }
}

/// Maps file ids to dense indexes.
enum IdMap {
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u32>),
}

const NONE: u32 = u32::MAX;

impl IdMap {
    /// Builds the map, failing on id 0 or a duplicate (returns the entry's index).
    fn build(ids: &[u64]) -> Result<IdMap, (usize, Problem)> {
        let max = ids.iter().copied().max().unwrap_or(0);
        if max <= (ids.len() as u64).saturating_mul(4) + 64 {
            let mut t = vec![NONE; max as usize + 1];
            for (i, &id) in ids.iter().enumerate() {
                if id == 0 {
                    return Err((i, Problem::ZeroId));
                }
                let slot = &mut t[id as usize];
                if *slot != NONE {
                    return Err((i, Problem::DuplicateId(id)));
                }
                *slot = i as u32;
            }
            Ok(IdMap::Dense(t))
        } else {
            let mut m = HashMap::with_capacity(ids.len());
            for (i, &id) in ids.iter().enumerate() {
                if id == 0 {
                    return Err((i, Problem::ZeroId));
                }
                if m.insert(id, i as u32).is_some() {
                    return Err((i, Problem::DuplicateId(id)));
                }
            }
            Ok(IdMap::Sparse(m))
        }
    }

    #[inline]
    fn get(&self, id: u64) -> Option<u32> {
        match self {
            IdMap::Dense(t) => match t.get(id as usize) {
                Some(&i) if i != NONE => Some(i),
                _ => None,
            },
            IdMap::Sparse(m) => m.get(&id).copied(),
        }
    }
}

/// A string index read before the string table's size was known.
#[derive(Clone, Copy)]
struct PendingStr {
    raw: u64,
    message: &'static str,
    field: &'static str,
    offset: u64,
}

#[derive(Default)]
struct Decoder {
    /// Limit of [`DecodeOptions::max_memory`].
    max_memory: u64,
    /// Largest string index referred to before the string table was known.
    max_str: u64,
    /// Second run after a bad string index: the table's size, to catch the first
    /// reference at or beyond it.
    bad_from: Option<usize>,
    /// The first bad reference other than a comment, and the first comment.
    first_bad: Option<PendingStr>,
    first_bad_comment: Option<PendingStr>,
    n_labels: usize,
    loc_offsets: Vec<u64>,
    loc_mapping_ids: Vec<u64>,
    line_function_ids: Vec<u64>,
    map_offsets: Vec<u64>,
    fn_offsets: Vec<u64>,
    n_samples: usize,
    n_frames: usize,
    time_seen: bool,
}

fn expect_wt(
    wt: u8,
    expected: u8,
    message: &'static str,
    field: &'static str,
    off: u64,
) -> Result<(), FormatError> {
    if wt != expected {
        return Err(ferr(message, field, off, Problem::WireType { expected, found: wt }));
    }
    Ok(())
}

/// Reads a varint field value after checking its wire type.
#[inline]
fn read_uint(
    r: &mut Reader<'_>,
    wt: u8,
    message: &'static str,
    field: &'static str,
    off: u64,
) -> Result<u64, FormatError> {
    expect_wt(wt, WT_VARINT, message, field, off)?;
    r.varint().map_err(|p| ferr(message, field, off, p))
}

#[inline]
fn read_key(r: &mut Reader<'_>, message: &'static str) -> Result<(u64, u8, u64), FormatError> {
    let off = r.offset();
    let (f, wt) = r.key().map_err(|p| ferr(message, "(field key)", off, p))?;
    Ok((f, wt, off))
}

#[inline]
fn skip(r: &mut Reader<'_>, wt: u8, message: &'static str, off: u64) -> Result<(), FormatError> {
    r.skip(wt).map_err(|p| ferr(message, "(unknown field)", off, p))
}

#[inline]
fn read_len<'a>(
    r: &mut Reader<'a>,
    wt: u8,
    message: &'static str,
    field: &'static str,
    off: u64,
) -> Result<(&'a [u8], u64), FormatError> {
    expect_wt(wt, WT_LEN, message, field, off)?;
    r.bytes().map_err(|p| ferr(message, field, off, p))
}

impl Decoder {
    #[inline]
    fn str_later(&mut self, raw: u64, message: &'static str, field: &'static str, offset: u64) -> StrId {
        self.max_str = self.max_str.max(raw);
        if let Some(n) = self.bad_from
            && raw >= n as u64
            && self.first_bad.is_none()
        {
            self.first_bad = Some(PendingStr { raw, message, field, offset });
        }
        StrId(raw.min(u32::MAX as u64) as u32)
    }

    #[inline]
    fn comment(&mut self, raw: u64, offset: u64, comments: &mut Vec<StrId>) {
        self.max_str = self.max_str.max(raw);
        if let Some(n) = self.bad_from
            && raw >= n as u64
            && self.first_bad_comment.is_none()
        {
            self.first_bad_comment = Some(PendingStr { raw, message: "Profile", field: "comment", offset });
        }
        comments.push(StrId(raw.min(u32::MAX as u64) as u32));
    }

    fn run(mut self, data: &[u8]) -> Result<Profile, Failure> {
        let mut p = Profile::new();
        // Count first, allocate once: an absurd count fails here, before any table
        // is allocated.
        let counts = Counts::scan(data);
        let (tables, what) = counts.table_bytes();
        budget::check(tables, what, self.max_memory)?;
        p.strings = StringTable::try_with_capacity_raw(counts.strings, counts.string_bytes)
            .ok_or(DecodeError::OutOfMemory { bytes: tables })?;
        budget::reserve(&mut p.sample_types, counts.sample_types)?;
        budget::reserve(&mut p.mappings, counts.mappings)?;
        budget::reserve(&mut self.map_offsets, counts.mappings)?;
        budget::reserve(&mut p.locations, counts.locations)?;
        budget::reserve(&mut self.loc_offsets, counts.locations)?;
        budget::reserve(&mut self.loc_mapping_ids, counts.locations)?;
        budget::reserve(&mut p.functions, counts.functions)?;
        budget::reserve(&mut self.fn_offsets, counts.functions)?;
        budget::reserve(&mut p.comments, counts.comments)?;
        let mut comments = std::mem::take(&mut p.comments);

        // Pass 1: everything but samples.
        let mut r = Reader::new(data, 0);
        while !r.is_empty() {
            let (field, wt, off) = read_key(&mut r, "Profile")?;
            match field {
                1 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "sample_type", off)?;
                    let vt = self.value_type(b, boff, "sample_type")?;
                    p.sample_types.push(vt);
                }
                2 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "sample", off)?;
                    self.count_sample(b, boff)?;
                }
                3 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "mapping", off)?;
                    let m = self.mapping(b, boff)?;
                    self.map_offsets.push(off);
                    p.mappings.push(m);
                }
                4 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "location", off)?;
                    let loc = self.location(b, boff, &mut p.lines)?;
                    self.loc_offsets.push(off);
                    p.locations.push(loc);
                }
                5 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "function", off)?;
                    let f = self.function(b, boff)?;
                    self.fn_offsets.push(off);
                    p.functions.push(f);
                }
                6 => {
                    let (b, _) = read_len(&mut r, wt, "Profile", "string_table", off)?;
                    // Bytes that are not UTF-8 are kept (escaped), not replaced.
                    let s = crate::strings::escape_bytes(b);
                    if p.strings.is_empty() && !s.is_empty() {
                        return Err(ferr("Profile", "string_table", off, Problem::FirstStringNotEmpty).into());
                    }
                    if p.strings.len() >= u32::MAX as usize {
                        return Err(ferr("Profile", "string_table", off, Problem::TooLarge).into());
                    }
                    p.strings.push(&s);
                }
                7 => {
                    let v = read_uint(&mut r, wt, "Profile", "drop_frames", off)?;
                    p.drop_frames = self.str_later(v, "Profile", "drop_frames", off);
                }
                8 => {
                    let v = read_uint(&mut r, wt, "Profile", "keep_frames", off)?;
                    p.keep_frames = self.str_later(v, "Profile", "keep_frames", off);
                }
                9 => {
                    let v = read_uint(&mut r, wt, "Profile", "time_nanos", off)?;
                    if self.time_seen && p.time_nanos != 0 {
                        return Err(ferr("Profile", "time_nanos", off, Problem::Concatenated).into());
                    }
                    self.time_seen = true;
                    p.time_nanos = v as i64;
                }
                10 => p.duration_nanos = read_uint(&mut r, wt, "Profile", "duration_nanos", off)? as i64,
                11 => {
                    let (b, boff) = read_len(&mut r, wt, "Profile", "period_type", off)?;
                    p.period_type = self.value_type(b, boff, "period_type")?;
                }
                12 => p.period = read_uint(&mut r, wt, "Profile", "period", off)? as i64,
                13 => {
                    if wt == WT_LEN {
                        let (b, boff) = read_len(&mut r, wt, "Profile", "comment", off)?;
                        let mut pr = Reader::new(b, boff);
                        while !pr.is_empty() {
                            let o = pr.offset();
                            let v = pr.varint().map_err(|e| ferr("Profile", "comment", o, e))?;
                            self.comment(v, o, &mut comments);
                        }
                    } else {
                        let v = read_uint(&mut r, wt, "Profile", "comment", off)?;
                        self.comment(v, off, &mut comments);
                    }
                }
                14 => {
                    let v = read_uint(&mut r, wt, "Profile", "default_sample_type", off)?;
                    p.default_sample_type = self.str_later(v, "Profile", "default_sample_type", off);
                }
                15 => {
                    let v = read_uint(&mut r, wt, "Profile", "doc_url", off)?;
                    p.doc_url = self.str_later(v, "Profile", "doc_url", off);
                }
                _ => skip(&mut r, wt, "Profile", off)?,
            }
        }
        p.comments = comments;

        if p.strings.is_empty() {
            return Err(ferr("Profile", "string_table", 0, Problem::NoStringTable).into());
        }
        let nstr = p.strings.len();
        if self.max_str >= nstr as u64 {
            if let Some(ps) = self.first_bad.or(self.first_bad_comment) {
                let problem = Problem::StringIndex { index: ps.raw, len: nstr };
                return Err(ferr(ps.message, ps.field, ps.offset, problem).into());
            }
            return Err(Failure::BadString(nstr));
        }

        // Resolve ids.
        let map_ids: Vec<u64> = p.mappings.iter().map(|m| m.id).collect();
        let mapping_ix =
            IdMap::build(&map_ids).map_err(|(i, e)| ferr("Mapping", "id", self.map_offsets[i], e))?;
        let fn_ids: Vec<u64> = p.functions.iter().map(|f| f.id).collect();
        let function_ix =
            IdMap::build(&fn_ids).map_err(|(i, e)| ferr("Function", "id", self.fn_offsets[i], e))?;
        let loc_ids: Vec<u64> = p.locations.iter().map(|l| l.id).collect();
        let location_ix =
            IdMap::build(&loc_ids).map_err(|(i, e)| ferr("Location", "id", self.loc_offsets[i], e))?;
        drop((map_ids, fn_ids, loc_ids));

        for (i, loc) in p.locations.iter_mut().enumerate() {
            let mid = self.loc_mapping_ids[i];
            if mid != 0 {
                match mapping_ix.get(mid) {
                    Some(ix) => loc.mapping = Some(ix),
                    None => {
                        return Err(ferr(
                            "Location",
                            "mapping_id",
                            self.loc_offsets[i],
                            Problem::UnknownId(mid),
                        )
                        .into());
                    }
                }
            }
            for li in loc.lines_start..loc.lines_end {
                let fid = self.line_function_ids[li as usize];
                match function_ix.get(fid) {
                    Some(ix) => p.lines[li as usize].function = ix,
                    None => {
                        let problem = if fid == 0 { Problem::ZeroId } else { Problem::UnknownId(fid) };
                        return Err(ferr("Line", "function_id", self.loc_offsets[i], problem).into());
                    }
                }
            }
        }
        drop(mapping_ix);
        drop(function_ix);
        self.line_function_ids = Vec::new();
        self.loc_mapping_ids = Vec::new();

        // Pass 2: samples.
        let ntypes = p.sample_types.len();
        if self.n_samples > 0 && ntypes == 0 {
            return Err(ferr("Profile", "sample_type", 0, Problem::NoSampleTypes).into());
        }
        let (sample_bytes, what) = budget::sample_bytes(self.n_samples, ntypes, self.n_frames, self.n_labels);
        budget::check(tables.saturating_add(sample_bytes), what, self.max_memory)?;
        let mut samples = Samples::try_with_capacity(ntypes, self.n_samples, self.n_frames)
            .ok_or(DecodeError::OutOfMemory { bytes: sample_bytes })?;
        let mut labels = Vec::new();
        let mut r = Reader::new(data, 0);
        while !r.is_empty() {
            let (field, wt, off) = read_key(&mut r, "Profile")?;
            if field == 2 && wt == WT_LEN {
                let (b, boff) = r.bytes().map_err(|e| ferr("Profile", "sample", off, e))?;
                decode_sample(b, boff, off, &location_ix, nstr, ntypes, &mut samples, &mut labels)?;
            } else {
                skip(&mut r, wt, "Profile", off)?;
            }
        }
        p.samples = samples;
        Ok(p)
    }

    fn value_type(&mut self, b: &[u8], base: u64, what: &'static str) -> Result<ValueType, FormatError> {
        let mut r = Reader::new(b, base);
        let mut vt = ValueType::default();
        while !r.is_empty() {
            let (f, wt, off) = read_key(&mut r, "ValueType")?;
            match f {
                1 => {
                    let v = read_uint(&mut r, wt, "ValueType", "type", off)?;
                    vt.ty = self.str_later(v, "ValueType", what_type(what), off);
                }
                2 => {
                    let v = read_uint(&mut r, wt, "ValueType", "unit", off)?;
                    vt.unit = self.str_later(v, "ValueType", "unit", off);
                }
                _ => skip(&mut r, wt, "ValueType", off)?,
            }
        }
        Ok(vt)
    }

    fn count_sample(&mut self, b: &[u8], base: u64) -> Result<(), FormatError> {
        let mut r = Reader::new(b, base);
        while !r.is_empty() {
            let (f, wt, off) = read_key(&mut r, "Sample")?;
            match (f, wt) {
                (1, WT_LEN) => {
                    let (d, _) = r.bytes().map_err(|e| ferr("Sample", "location_id", off, e))?;
                    self.n_frames += count_packed(d);
                }
                (1, _) => {
                    r.skip(wt).map_err(|e| ferr("Sample", "location_id", off, e))?;
                    self.n_frames += 1;
                }
                (3, _) => {
                    self.n_labels += 1;
                    skip(&mut r, wt, "Sample", off)?;
                }
                _ => skip(&mut r, wt, "Sample", off)?,
            }
        }
        self.n_samples += 1;
        Ok(())
    }

    fn mapping(&mut self, b: &[u8], base: u64) -> Result<Mapping, FormatError> {
        const M: &str = "Mapping";
        let mut r = Reader::new(b, base);
        let mut m = Mapping::default();
        while !r.is_empty() {
            let (f, wt, off) = read_key(&mut r, M)?;
            match f {
                1 => m.id = read_uint(&mut r, wt, M, "id", off)?,
                2 => m.memory_start = read_uint(&mut r, wt, M, "memory_start", off)?,
                3 => m.memory_limit = read_uint(&mut r, wt, M, "memory_limit", off)?,
                4 => m.file_offset = read_uint(&mut r, wt, M, "file_offset", off)?,
                5 => {
                    let v = read_uint(&mut r, wt, M, "filename", off)?;
                    m.filename = self.str_later(v, M, "filename", off);
                }
                6 => {
                    let v = read_uint(&mut r, wt, M, "build_id", off)?;
                    m.build_id = self.str_later(v, M, "build_id", off);
                }
                7 => m.has_functions = read_uint(&mut r, wt, M, "has_functions", off)? != 0,
                8 => m.has_filenames = read_uint(&mut r, wt, M, "has_filenames", off)? != 0,
                9 => m.has_line_numbers = read_uint(&mut r, wt, M, "has_line_numbers", off)? != 0,
                10 => m.has_inline_frames = read_uint(&mut r, wt, M, "has_inline_frames", off)? != 0,
                _ => skip(&mut r, wt, M, off)?,
            }
        }
        Ok(m)
    }

    fn location(&mut self, b: &[u8], base: u64, lines: &mut Vec<Line>) -> Result<Location, FormatError> {
        const L: &str = "Location";
        let mut r = Reader::new(b, base);
        let start = u32::try_from(lines.len()).map_err(|_| ferr(L, "line", base, Problem::TooLarge))?;
        let mut loc = Location { lines_start: start, lines_end: start, ..Default::default() };
        let mut mapping_id = 0;
        while !r.is_empty() {
            let (f, wt, off) = read_key(&mut r, L)?;
            match f {
                1 => loc.id = read_uint(&mut r, wt, L, "id", off)?,
                2 => mapping_id = read_uint(&mut r, wt, L, "mapping_id", off)?,
                3 => loc.address = read_uint(&mut r, wt, L, "address", off)?,
                4 => {
                    let (lb, lbase) = read_len(&mut r, wt, L, "line", off)?;
                    let mut lr = Reader::new(lb, lbase);
                    let mut line = Line::default();
                    let mut fid = 0;
                    while !lr.is_empty() {
                        let (lf, lwt, loff) = read_key(&mut lr, "Line")?;
                        match lf {
                            1 => fid = read_uint(&mut lr, lwt, "Line", "function_id", loff)?,
                            2 => line.line = read_uint(&mut lr, lwt, "Line", "line", loff)? as i64,
                            3 => line.column = read_uint(&mut lr, lwt, "Line", "column", loff)? as i64,
                            _ => skip(&mut lr, lwt, "Line", loff)?,
                        }
                    }
                    lines.push(line);
                    self.line_function_ids.push(fid);
                }
                5 => loc.is_folded = read_uint(&mut r, wt, L, "is_folded", off)? != 0,
                _ => skip(&mut r, wt, L, off)?,
            }
        }
        loc.lines_end = u32::try_from(lines.len()).map_err(|_| ferr(L, "line", base, Problem::TooLarge))?;
        self.loc_mapping_ids.push(mapping_id);
        Ok(loc)
    }

    fn function(&mut self, b: &[u8], base: u64) -> Result<Function, FormatError> {
        const F: &str = "Function";
        let mut r = Reader::new(b, base);
        let mut func = Function::default();
        while !r.is_empty() {
            let (f, wt, off) = read_key(&mut r, F)?;
            match f {
                1 => func.id = read_uint(&mut r, wt, F, "id", off)?,
                2 => {
                    let v = read_uint(&mut r, wt, F, "name", off)?;
                    func.name = self.str_later(v, F, "name", off);
                }
                3 => {
                    let v = read_uint(&mut r, wt, F, "system_name", off)?;
                    func.system_name = self.str_later(v, F, "system_name", off);
                }
                4 => {
                    let v = read_uint(&mut r, wt, F, "filename", off)?;
                    func.filename = self.str_later(v, F, "filename", off);
                }
                5 => func.start_line = read_uint(&mut r, wt, F, "start_line", off)? as i64,
                _ => skip(&mut r, wt, F, off)?,
            }
        }
        Ok(func)
    }
}

fn what_type(what: &'static str) -> &'static str {
    if what == "period_type" { "type (period_type)" } else { "type" }
}

#[inline]
fn check_str(
    v: u64,
    nstr: usize,
    message: &'static str,
    field: &'static str,
    off: u64,
) -> Result<StrId, FormatError> {
    if v >= nstr as u64 {
        return Err(ferr(message, field, off, Problem::StringIndex { index: v, len: nstr }));
    }
    Ok(StrId(v as u32))
}

#[allow(clippy::too_many_arguments)]
fn decode_sample(
    b: &[u8],
    base: u64,
    sample_off: u64,
    location_ix: &IdMap,
    nstr: usize,
    ntypes: usize,
    samples: &mut Samples,
    labels: &mut Vec<Label>,
) -> Result<(), FormatError> {
    const S: &str = "Sample";
    labels.clear();
    let (locs, values) = samples.raw_columns();
    let vstart = values.len();
    let mut r = Reader::new(b, base);
    while !r.is_empty() {
        let (f, wt, off) = read_key(&mut r, S)?;
        match f {
            1 => {
                if wt == WT_LEN {
                    let (d, dbase) = r.bytes().map_err(|e| ferr(S, "location_id", off, e))?;
                    let mut pr = Reader::new(d, dbase);
                    while !pr.is_empty() {
                        let o = pr.offset();
                        let id = pr.varint().map_err(|e| ferr(S, "location_id", o, e))?;
                        match location_ix.get(id) {
                            Some(ix) => locs.push(ix),
                            None => return Err(ferr(S, "location_id", o, unknown(id))),
                        }
                    }
                } else {
                    let id = read_uint(&mut r, wt, S, "location_id", off)?;
                    match location_ix.get(id) {
                        Some(ix) => locs.push(ix),
                        None => return Err(ferr(S, "location_id", off, unknown(id))),
                    }
                }
            }
            2 => {
                if wt == WT_LEN {
                    let (d, dbase) = r.bytes().map_err(|e| ferr(S, "value", off, e))?;
                    let mut pr = Reader::new(d, dbase);
                    while !pr.is_empty() {
                        let o = pr.offset();
                        values.push(pr.varint().map_err(|e| ferr(S, "value", o, e))? as i64);
                    }
                } else {
                    values.push(read_uint(&mut r, wt, S, "value", off)? as i64);
                }
            }
            3 => {
                let (lb, lbase) = read_len(&mut r, wt, S, "label", off)?;
                let mut lr = Reader::new(lb, lbase);
                let mut label = Label::default();
                while !lr.is_empty() {
                    let (lf, lwt, loff) = read_key(&mut lr, "Label")?;
                    match lf {
                        1 => {
                            let v = read_uint(&mut lr, lwt, "Label", "key", loff)?;
                            label.key = check_str(v, nstr, "Label", "key", loff)?;
                        }
                        2 => {
                            let v = read_uint(&mut lr, lwt, "Label", "str", loff)?;
                            label.str = check_str(v, nstr, "Label", "str", loff)?;
                        }
                        3 => label.num = read_uint(&mut lr, lwt, "Label", "num", loff)? as i64,
                        4 => {
                            let v = read_uint(&mut lr, lwt, "Label", "num_unit", loff)?;
                            label.num_unit = check_str(v, nstr, "Label", "num_unit", loff)?;
                        }
                        _ => skip(&mut lr, lwt, "Label", loff)?,
                    }
                }
                labels.push(label);
            }
            _ => skip(&mut r, wt, S, off)?,
        }
    }
    let found = values.len() - vstart;
    if found != ntypes {
        return Err(ferr(S, "value", sample_off, Problem::ValueCount { found, expected: ntypes }));
    }
    if !samples.raw_finish_sample(labels) {
        return Err(ferr(S, "location_id", sample_off, Problem::TooLarge));
    }
    Ok(())
}

fn unknown(id: u64) -> Problem {
    if id == 0 { Problem::ZeroId } else { Problem::UnknownId(id) }
}
