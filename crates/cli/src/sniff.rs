//! Why a file is not a profile, in words: pprof's message first
//! (`parsing profile: unrecognized profile format`), then what the data looks
//! like (JSON, an ELF binary, a Go goroutine dump, HTML...) or, for data that
//! looks like protobuf, the decoder's detail (message, field, byte offset).
//! Which decoding failures go on to the legacy formats ([`crate::legacy`]).

use rustprof_profile::{DecodeError, Problem};

/// Whether pprof tries its legacy parsers after this profile.proto failure (it
/// does for anything but empty, concatenated or invalid-but-decoded data).
pub fn try_legacy(e: &DecodeError) -> bool {
    match e {
        DecodeError::Format(fe) => !matches!(
            fe.problem,
            Problem::Concatenated
                | Problem::UnknownId(_)
                | Problem::DuplicateId(_)
                | Problem::ZeroId
                | Problem::ValueCount { .. }
                | Problem::NoSampleTypes
        ),
        _ => false,
    }
}

/// pprof's message for a legacy profile that it recognized but found malformed,
/// with the format it started like.
pub fn legacy_error(data: &[u8], message: &str) -> String {
    match looks_like_raw(data) {
        Some(what) => format!("{message} ({what})"),
        None => message.to_string(),
    }
}

/// The message for a profile that failed to decode, as pprof's `ParseData`
/// words it (`parsing profile: ...`), with rustprof's detail in parentheses.
pub fn parse_error(data: &[u8], e: &DecodeError) -> String {
    match e {
        DecodeError::Format(fe) => match fe.problem {
            // pprof's errConcatProfile, reported as it is.
            Problem::Concatenated => "parsing profile: concatenated profiles detected".into(),
            // pprof parses these and rejects them in CheckValid: "malformed profile".
            Problem::UnknownId(_)
            | Problem::DuplicateId(_)
            | Problem::ZeroId
            | Problem::ValueCount { .. }
            | Problem::NoSampleTypes => format!("parsing profile: {e}"),
            // Anything else fails pprof's protobuf decoding, and then its legacy
            // parsers: "unrecognized profile format".
            _ => {
                let detail = match looks_like(data) {
                    Some(what) => {
                        format!("not profile.proto, a Perfetto trace or a legacy profile pprof reads: {what}")
                    }
                    None => format!("malformed profile.proto: {fe}; not a legacy profile pprof reads either"),
                };
                format!("parsing profile: unrecognized profile format ({detail})")
            }
        },
        DecodeError::Empty => "parsing profile: empty input file".into(),
        DecodeError::TooLarge { .. } | DecodeError::TooMuchMemory { .. } => {
            format!("parsing profile: {e}; {}", crate::limits::HINT)
        }
        _ => format!("parsing profile: {e}"),
    }
}

/// What `data` (a file's or response's bytes, maybe gzipped) looks like, when
/// it is recognizably something other than profile.proto.
pub fn looks_like(data: &[u8]) -> Option<String> {
    if rustprof_profile::is_gzip(data) {
        let mut head = Vec::new();
        let mut gz = flate2::read::MultiGzDecoder::new(data);
        // A prefix is enough to tell; a corrupt stream tells nothing.
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut gz, 4096), &mut head);
        return looks_like_raw(&head).map(|w| format!("{w}, gzip-compressed"));
    }
    looks_like_raw(data)
}

/// Starts of legacy text profiles: a file starting so that is rejected has a
/// malformed header or sample line.
const LEGACY: &[(&str, &str)] = &[
    ("heap profile:", "a legacy text heap profile (Go's debug=1 or gperftools)"),
    ("goroutine profile:", "a Go goroutine profile in text (debug=1)"),
    ("threadcreate profile:", "a Go threadcreate profile in text (debug=1)"),
    ("--- contention:", "a Go block profile in text (debug=1)"),
    ("--- mutex:", "a Go mutex profile in text (debug=1)"),
    ("--- contentionz", "a contentionz profile"),
    ("--- heapz", "a Java heapz profile"),
    ("--- threadz", "a threadz profile"),
];

fn looks_like_raw(data: &[u8]) -> Option<String> {
    if data.starts_with(b"\x7fELF") {
        return Some(
            "it is an ELF binary (a binary goes before the profile: rustprof [binary] profile)".into(),
        );
    }
    if data.len() >= 12 && data[..8] == [0; 8] && (data[8..12] == [3, 0, 0, 0] || data[8..12] == [0, 0, 0, 3])
    {
        return Some(
            "it starts like a gperftools binary CPU profile, but its header or records are malformed".into(),
        );
    }
    let text = text_prefix(data)?;
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let first = first_line(t);
    if let Some((_, what)) = LEGACY.iter().find(|(p, _)| t.starts_with(p)) {
        return Some(format!("it starts like {what}, \"{first}\", but a header or sample line is malformed"));
    }
    if t.starts_with("goroutine ") {
        return Some(format!(
            "it looks like a Go goroutine dump (debug=2), starting \"{first}\"; pprof reads debug=0 and debug=1 goroutine profiles"
        ));
    }
    let what = if t.starts_with('{') || t.starts_with('[') {
        "JSON"
    } else if t
        .as_bytes()
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"<!doc") || p.eq_ignore_ascii_case(b"<html"))
    {
        "HTML"
    } else if t.starts_with("<?xml") || t.starts_with("<svg") {
        "XML"
    } else if t.starts_with("#!") {
        "a script"
    } else {
        "text"
    };
    Some(format!("it looks like {what}, starting \"{first}\""))
}

/// The data as text when its first bytes are printable UTF-8 (a character
/// cut at the end of the prefix is allowed).
fn text_prefix(data: &[u8]) -> Option<&str> {
    let head = &data[..data.len().min(512)];
    let s = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() && head.len() == 512 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let printable = s.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'));
    (printable && !s.trim().is_empty()).then_some(s)
}

/// The first line, at most 60 characters, with `...` when cut.
fn first_line(t: &str) -> String {
    let line = t.lines().next().unwrap_or("").trim_end();
    let mut out: String = line.chars().take(60).collect();
    if out.len() < line.len() {
        out.push_str("...");
    }
    out.replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(looks_like(b"{\"traceEvents\": []}").unwrap().contains("JSON, starting \"{\\\"traceEvents"));
        assert!(looks_like(b"\x7fELF\x02\x01\x01\0\0\0").unwrap().contains("ELF binary"));
        assert!(
            looks_like(b"heap profile: 1: 2 [3: 4] @ heapprofile\n").unwrap().contains("legacy text heap")
        );
        assert!(looks_like(b"<!DOCTYPE html><html>").unwrap().contains("HTML"));
        assert!(looks_like(b"goroutine 1 [running]:\nmain.main()").unwrap().contains("goroutine dump"));
        // Protobuf-looking binary: no guess.
        assert_eq!(looks_like(b"\x0a\x04\x08\x01\x10\x02\x32\x00"), None);
        let long = "x".repeat(100);
        assert!(looks_like(long.as_bytes()).unwrap().ends_with("...\""));
        // A multi-byte character cut by the 512-byte prefix is still text.
        let cut = format!("{}é", "a".repeat(511));
        assert!(looks_like(cut.as_bytes()).unwrap().contains("text"));
    }
}
