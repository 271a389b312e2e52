//! Contention profiles in text: Go's `debug=1` block (`--- contention:`) and
//! mutex (`--- mutex:`) profiles and C++ `--- contentionz`. The header's
//! `cycles/second` and `sampling period` turn the sampled cycles and counts into
//! nanoseconds and contentions.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::num::{f64_to_i64, hex_addresses, parse_int};
use super::raw::{Raw, Sample};
use super::scan::{Scanner, is_space_or_comment, trim};
use super::{Parsed, additional_sections};

/// pprof's `parseContention`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    let mut s = Scanner::new(b);
    if !s.scan() {
        s.err()?;
        return Ok(None);
    }
    let first = s.text();
    if ![&b"--- contentionz "[..], b"--- mutex:", b"--- contention:"].iter().any(|p| first.starts_with(p)) {
        return Ok(None);
    }
    let mut p = Raw::new(&[("contentions", "count"), ("delay", "nanoseconds")], ("contentions", "count"), 1);
    let mut cpu_hz = 0i64;
    while s.scan() {
        let line = trim(s.text());
        if is_space_or_comment(line) {
            continue;
        }
        if line.starts_with(b"---") {
            break;
        }
        let Some(eq) = line.iter().position(|&c| c == b'=') else { break };
        let (key, val) = (trim(&line[..eq]), trim(&line[eq + 1..]));
        match key {
            b"cycles/second" => match parse_int(val, true) {
                Ok(v) => cpu_hz = v,
                Err(_) => return Ok(None),
            },
            b"sampling period" => match parse_int(val, true) {
                Ok(v) => p.period = v,
                Err(_) => return Ok(None),
            },
            b"ms since reset" => match parse_int(val, true) {
                Ok(ms) => p.duration_nanos = ms.wrapping_mul(1_000_000),
                Err(_) => return Ok(None),
            },
            b"discarded samples" => {}
            // C++ contentionz profiles have no format or resolution: these are Java's.
            _ => return Ok(None),
        }
    }
    s.err()?;
    loop {
        let line = trim(s.text());
        if line.starts_with(b"---") {
            break;
        }
        if !is_space_or_comment(line) {
            let Some((values, addrs)) = sample(line, p.period, cpu_hz)? else { return Ok(None) };
            let locs = p.stack(&addrs, |_| true);
            p.samples.push(Sample { locs, values, bytes: None });
        }
        if !s.scan() {
            break;
        }
    }
    s.err()?;
    additional_sections(&mut s, &mut p)?;
    Ok(Some(p))
}

/// pprof's `parseContentionSample`: `[contentions, delay]` and the addresses;
/// `None` for a line that is no sample.
#[allow(clippy::type_complexity)]
fn sample(line: &[u8], period: i64, cpu_hz: i64) -> Result<Option<(Vec<i64>, Vec<u64>)>, String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?-u)([0-9]+) *([0-9]+) @([ x0-9a-f]*)").expect("valid regexp"));
    let Some(c) = re.captures(line) else { return Ok(None) };
    let bad = |e: String| format!("malformed sample: {}: {e}", String::from_utf8_lossy(line));
    let mut cycles = parse_int(&c[1], false).map_err(bad)?;
    let mut count = parse_int(&c[2], false).map_err(bad)?;
    if period > 0 {
        if cpu_hz > 0 {
            let ghz = cpu_hz as f64 / 1e9;
            cycles = f64_to_i64(cycles as f64 * period as f64 / ghz);
        }
        count = count.wrapping_mul(period);
    }
    let addrs = hex_addresses(&c[3]).map_err(bad)?;
    Ok(Some((vec![count, cycles], addrs)))
}
