//! Recognizing a trace file and reading it.
//!
//! A Perfetto trace is a `Trace` message: `packet` fields (number 1, bytes),
//! each a `TracePacket`. profile.proto also starts with field 1 bytes (a
//! `ValueType`, whose own fields are 1 and 2), so the test looks inside the
//! first packet: a field numbered 3 or more there (a timestamp, a sequence id,
//! a track descriptor...) is a trace. A gzip-compressed trace (`.pftrace.gz`,
//! as `gzip` or a server's `Content-Encoding` leaves it) is read through, as
//! profiles are, within the same size limit (`-max_profile_size`).

use rustprof_profile::Profile;

use super::model::Model;
use crate::config::Config;
use crate::driver::{Source, Ui, errln};

/// What a trace given where a profile is expected gets told.
pub const NOT_A_PROFILE: &str = "an execution trace (Perfetto), not a profile: -trace_profile=sync|syscall|sched|offcpu \
derives a profile from it, -trace_summary prints it, -http shows its timeline";

/// Whether `data` (uncompressed) is a Perfetto trace rather than a profile.
pub fn is_trace(data: &[u8]) -> bool {
    let mut r = data;
    let Some(key) = varint(&mut r) else { return false };
    if key != (1 << 3 | 2) {
        return false;
    }
    let Some(len) = varint(&mut r) else { return false };
    let body = &r[..(len as usize).min(r.len())];
    let mut b = body;
    // The first field of the packet says it.
    match varint(&mut b) {
        Some(k) => {
            let (num, wire) = (k >> 3, k & 7);
            (3..1 << 16).contains(&num) && matches!(wire, 0 | 1 | 2 | 5)
        }
        None => false,
    }
}

fn varint(r: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = r.split_first()?;
        *r = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A trace read from a file, and the warning to show for it (a cut file).
pub struct Loaded {
    /// The indexed trace.
    pub model: Model,
    /// `path: the trace ends inside a packet at byte N: read up to there`.
    pub warning: Option<String>,
}

/// Decodes trace bytes read from `path` (already recognized by [`is_trace`]).
pub fn decode(path: &str, data: &[u8]) -> Result<Loaded, String> {
    crate::timing::mark("read");
    let model = super::index::from_bytes(data).map_err(|e| format!("parsing trace: {e}"))?;
    crate::timing::mark("trace indexed");
    let warning = model.truncated_at.map(|at| {
        format!(
            "{path}: the trace is cut short (an incomplete packet at byte {at} of {}): read up to its last complete packet",
            data.len()
        )
    });
    if model.events == 0 {
        return Err("parsing trace: the trace has no events".into());
    }
    Ok(Loaded { model, warning })
}

/// Reads a local file as a trace: `Ok(None)` when it is not one.
pub fn read(path: &str) -> Result<Option<Loaded>, String> {
    if !sniff_file(path) {
        return Ok(None);
    }
    let data = gunzipped(crate::limits::read_file(path)?)?;
    if !is_trace(&data) {
        return Ok(None);
    }
    decode(path, &data).map(Some)
}

/// `data` decompressed when it is gzip, within the profile size limit; as it
/// is otherwise. A corrupt or cut gzip stream is an error naming what broke.
fn gunzipped(data: Vec<u8>) -> Result<Vec<u8>, String> {
    if !rustprof_profile::is_gzip(&data) {
        return Ok(data);
    }
    let hint = rustprof_profile::gzip_size_hint(&data);
    rustprof_profile::gunzip(&data, hint, &crate::limits::decode_options())
        .map_err(|e| format!("decompressing the gzip-compressed trace: {e}"))
}

/// Whether the file at `path` starts like a trace, gzip-compressed or not
/// (reads its first bytes only; a FIFO or device is not opened: it could be
/// read only once, and [`read_source`] reads it).
pub fn sniff_file(path: &str) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(f) = std::fs::File::open(path) else { return false };
    starts_like_trace(std::io::BufReader::new(f))
}

/// Whether `data` (a whole file, gzip-compressed or not) is a trace.
fn is_trace_data(data: &[u8]) -> bool {
    starts_like_trace(data)
}

fn starts_like_trace<R: std::io::BufRead>(mut raw: R) -> bool {
    let Ok(start) = raw.fill_buf() else { return false };
    let gz = rustprof_profile::is_gzip(start);
    let reader: Box<dyn std::io::Read + '_> =
        if gz { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
    // A prefix is enough to tell; a corrupt stream tells nothing.
    let mut head = Vec::with_capacity(64);
    let _ = std::io::Read::read_to_end(&mut std::io::Read::take(reader, 64), &mut head);
    is_trace(&head)
}

/// Reads one local source for the profile pipeline: a profile as it is, a
/// trace as the profile `-trace_profile` asks for (else an error saying what
/// to do with a trace).
pub fn read_source(path: &str, s: &Source, ui: &mut dyn Ui) -> Result<Profile, String> {
    let data = crate::limits::read_file(path)?;
    if !is_trace_data(&data) {
        if s.trace_profile.is_some() {
            let what = crate::sniff::looks_like(&data).map(|w| format!(": {w}")).unwrap_or_default();
            return Err(format!("-trace_profile reads an execution trace, and this is not one{what}"));
        }
        return crate::fetch::decode_profile(&data);
    }
    let Some(kind) = s.trace_profile else { return Err(NOT_A_PROFILE.into()) };
    let data = gunzipped(data)?;
    let loaded = decode(path, &data)?;
    if let Some(w) = &loaded.warning {
        ui.print_err(w);
    }
    Ok(super::profiles::profile(&loaded.model, kind, path))
}

/// The trace-only modes (`-trace_summary`, `-http` on a trace): the exit
/// status when the source was handled here, `None` when it is for the
/// profile pipeline.
pub fn run_trace(s: &Source, cfg: &Config, ui: &mut dyn Ui) -> Option<i32> {
    let wants = s.trace_summary || (!s.http_hostport.is_empty() && s.trace_profile.is_none());
    if !wants || s.sources.len() != 1 || !s.base.is_empty() {
        if s.trace_summary {
            errln("-trace_summary reads one execution trace (and no -base)");
            return Some(1);
        }
        return None;
    }
    let path = &s.sources[0];
    if crate::sources::adjust_url(path, s.seconds, s.timeout).is_some()
        && !std::path::Path::new(path).exists()
    {
        if s.trace_summary {
            errln(&format!("{path}: -trace_summary reads a trace file, not a URL"));
            return Some(1);
        }
        return None;
    }
    let loaded = match read(path) {
        Ok(Some(l)) => l,
        Ok(None) if s.trace_summary => {
            let what = std::fs::read(path)
                .ok()
                .and_then(|d| crate::sniff::looks_like(&d))
                .map(|w| format!(": {w}"))
                .unwrap_or_else(|| ": it looks like a pprof profile; -top and friends read it".into());
            errln(&format!("{path}: -trace_summary reads an execution trace, and this is not one{what}"));
            return Some(1);
        }
        Ok(None) => return None,
        Err(e) => {
            errln(&format!("{path}: {e}"));
            return Some(1);
        }
    };
    if let Some(w) = &loaded.warning {
        ui.print_err(w);
    }
    if s.trace_summary {
        let text = super::summary::render(&loaded.model, path);
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, text.as_bytes());
        return Some(0);
    }
    match crate::web::timeline::serve(loaded.model, path, cfg.clone(), s, ui) {
        Ok(()) => Some(0),
        Err(e) => {
            errln(&e);
            Some(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rustprof_trace::{Event, Trace, Track, TrackKind};

    #[test]
    fn traces_and_profiles_told_apart() {
        let mut t = Trace::default();
        t.tracks.push(Track {
            uuid: 2,
            parent: None,
            name: "main".into(),
            kind: TrackKind::Thread { pid: 1, tid: 1 },
        });
        t.events.push(Event::instant(5, 2, "x", "y"));
        let bytes = rustprof_trace::encode(&t);
        assert!(is_trace(&bytes));
        let mut b = rustprof_profile::ProfileBuilder::new(&[("samples", "count")]);
        b.add_sample(&[], &[1], &[]);
        let prof = rustprof_profile::encode_uncompressed(&b.build());
        assert!(!is_trace(&prof));
        assert!(!is_trace(b""));
        assert!(!is_trace(b"{\"a\":1}"));
        // Cut inside the last packet: read up to it, with a warning.
        let cut = &bytes[..bytes.len() - 2];
        let l = decode("t.pftrace", cut);
        match l {
            Ok(l) => assert!(l.warning.unwrap().starts_with("t.pftrace: the trace is cut short")),
            Err(e) => assert_eq!(e, "parsing trace: the trace has no events"),
        }
    }
}
