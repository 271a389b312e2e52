//! Thread dumps (`--- threadz N ---`, then `--- Thread ID (name: ...) stack:
//! ---` blocks of addresses): one sample per thread, a `same as previous
//! thread` block counting for the one before.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::maps::is_sentinel;
use super::num::hex_addresses;
use super::raw::{Raw, Sample};
use super::scan::{Scanner, is_space_or_comment, trim};
use super::{Parsed, additional_sections};

/// pprof's `parseThread`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (threadz, thread) = RE.get_or_init(|| {
        (
            Regex::new(r"(?-u)--- threadz [0-9]+ ---").expect("valid regexp"),
            Regex::new(r"(?-u)--- Thread ([[:xdigit:]]+) \(name: (.*)/([0-9]+)\) stack: ---")
                .expect("valid regexp"),
        )
    });
    let mut s = Scanner::new(b);
    while s.scan() && is_space_or_comment(s.text()) {}
    let mut line: Vec<u8> = s.text().to_vec();
    if threadz.is_match(&line) {
        while s.scan() {
            line = s.text().to_vec();
            if is_sentinel(&line) || line.starts_with(b"-") {
                break;
            }
        }
    } else if !thread.is_match(&line) {
        return Ok(None);
    }
    let mut p = Raw::new(&[("thread", "count")], ("thread", "count"), 1);
    while !is_sentinel(&line) {
        if line.starts_with(b"---- no stack trace for") {
            break;
        }
        if !thread.is_match(&line) {
            return Ok(None);
        }
        let addrs;
        (line, addrs) = thread_sample(&mut s)?;
        if addrs.is_empty() {
            if let Some(last) = p.samples.last_mut() {
                last.values[0] += 1;
            }
            continue;
        }
        let locs = p.stack(&addrs, |i| i > 0);
        p.samples.push(Sample { locs, values: vec![1], bytes: None });
    }
    additional_sections(&mut s, &mut p)?;
    p.cleanup_duplicate_locations();
    Ok(Some(p))
}

/// pprof's `parseThreadSample`: the line after the stack and its addresses
/// (none for `same as previous thread`).
fn thread_sample(s: &mut Scanner<'_>) -> Result<(Vec<u8>, Vec<u64>), String> {
    let mut line: &[u8] = b"";
    let mut same = false;
    let mut addrs = Vec::new();
    while s.scan() {
        line = trim(s.text());
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b"---") {
            break;
        }
        if super::scan::contains(line, b"same as previous thread") {
            same = true;
            continue;
        }
        let a = hex_addresses(line)
            .map_err(|e| format!("malformed sample: {}: {e}", String::from_utf8_lossy(line)))?;
        addrs.extend(a);
    }
    s.err()?;
    if same {
        addrs.clear();
    }
    Ok((line.to_vec(), addrs))
}
