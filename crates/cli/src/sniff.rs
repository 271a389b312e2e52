//! Why a file is not a profile, in words: pprof's message first
//! (`parsing profile: unrecognized profile format`), then what the data looks
//! like (JSON, an ELF binary, a Go legacy text profile, HTML...) or, for data
//! that looks like protobuf, the decoder's detail (message, field, byte offset).

use rustprof_profile::{DecodeError, Problem};

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
                    Some(what) => format!("neither a pprof profile nor a Perfetto trace: {what}"),
                    None => format!("malformed profile.proto: {fe}"),
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

const LEGACY: &[(&str, &str)] = &[
    ("heap profile:", "a legacy text heap profile (Go's debug=1 or gperftools)"),
    ("heap_v2/", "a legacy text heap profile (heap_v2)"),
    ("goroutine profile:", "a Go goroutine profile in text (debug=1)"),
    ("threadcreate profile:", "a Go threadcreate profile in text (debug=1)"),
    ("--- contention:", "a legacy text contention profile"),
    ("--- mutex:", "a legacy text mutex profile"),
    ("--- heapz", "a legacy heapz profile"),
    ("goroutine ", "a Go goroutine dump (debug=2)"),
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
            "it looks like a legacy binary CPU profile (gperftools), which rustprof does not read".into(),
        );
    }
    let text = text_prefix(data)?;
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let first = first_line(t);
    if let Some((_, what)) = LEGACY.iter().find(|(p, _)| t.starts_with(p)) {
        return Some(format!(
            "it looks like {what}, starting \"{first}\"; rustprof reads profile.proto only"
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
