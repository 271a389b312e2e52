//! Java profiles in text (`--- heapz 1 ---`, `--- contentionz 1 ---` with
//! `format = java`) and the symbol section that follows the samples of these
//! and of Java CPU profiles (`0xADDR function (File.java:LINE)`).

use std::sync::OnceLock;

use hashbrown::HashMap;
use regex::bytes::Regex;

use super::Parsed;
use super::num::{hex_addresses, parse_int, parse_uint, scale_heap_sample};
use super::raw::{Func, Raw, Sample};
use super::scan::trim;

/// Java's heap sampling rate (512 KiB).
const HEAP_RATE: i64 = 524288;

/// The complete lines of `b` (ending in `\n`) and, for each, the rest after it.
fn lines(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = b;
    std::iter::from_fn(move || {
        let nl = rest.iter().position(|&c| c == b'\n')?;
        let line = &rest[..nl];
        let before = rest;
        rest = &rest[nl + 1..];
        Some((line, before))
    })
}

/// pprof's `parseJavaProfile`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    let Some(nl) = b.iter().position(|&c| c == b'\n') else { return Ok(None) };
    let kind = match trim(&b[..nl]) {
        b"--- heapz 1 ---" => Kind::Heap,
        b"--- contentionz 1 ---" => Kind::Contention,
        _ => return Ok(None),
    };
    let mut p = Raw::new(&[], ("", ""), 0);
    let Some(rest) = header(kind, &b[nl + 1..], &mut p)? else { return Ok(None) };
    let rest = samples(kind, rest, &mut p)?;
    locations(rest, &mut p)?;
    aggregate(p).map(Some)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Heap,
    Contention,
}

/// pprof's `parseJavaHeader`: the `name = value` attributes; the rest after them.
fn header<'a>(kind: Kind, mut b: &'a [u8], p: &mut Raw) -> Result<Option<&'a [u8]>, String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?-u)([\w ]+)=([\w ]+)").expect("valid regexp"));
    while let Some(nl) = b.iter().position(|&c| c == b'\n') {
        let line = trim(&b[..nl]);
        if !line.is_empty() {
            let Some(h) = re.captures(line) else { return Ok(Some(b)) };
            let (attr, value) = (trim(&h[1]), trim(&h[2]));
            let text = String::from_utf8_lossy(line);
            let unit = String::from_utf8_lossy(value).into_owned();
            match (kind, attr) {
                (_, b"format") => {
                    if value != b"java" {
                        return Ok(None);
                    }
                }
                (Kind::Heap, b"resolution") => {
                    p.sample_types =
                        vec![("inuse_objects".into(), "count".into()), ("inuse_space".into(), unit)];
                }
                (Kind::Contention, b"resolution") => {
                    p.sample_types = vec![("contentions".into(), "count".into()), ("delay".into(), unit)];
                }
                (Kind::Contention, b"sampling period") => {
                    p.period_type = ("contentions".into(), "count".into());
                    p.period = parse_int(value, true)
                        .map_err(|e| format!("failed to parse attribute {text}: {e}"))?;
                }
                (Kind::Contention, b"ms since reset") => {
                    let ms = parse_int(value, true)
                        .map_err(|e| format!("failed to parse attribute {text}: {e}"))?;
                    p.duration_nanos = ms.wrapping_mul(1_000_000);
                }
                _ => return Ok(None),
            }
        }
        b = &b[nl + 1..];
    }
    Ok(Some(b))
}

/// pprof's `parseJavaSamples`: `value2 value1 @ addresses` lines (no address
/// adjustment); the rest after them.
fn samples<'a>(kind: Kind, b: &'a [u8], p: &mut Raw) -> Result<&'a [u8], String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| Regex::new(r"(?-u) *([0-9]+) +([0-9]+) +@ +([ x0-9a-f]*)").expect("valid regexp"));
    for (raw, before) in lines(b) {
        let line = trim(raw);
        if line.is_empty() {
            continue;
        }
        let Some(c) = re.captures(line) else { return Ok(before) };
        let text = String::from_utf8_lossy(line);
        let addrs = hex_addresses(&c[3]).map_err(|e| format!("malformed sample: {text}: {e}"))?;
        let locs = p.stack(&addrs, |_| false);
        let mut v0 = parse_int(&c[2], true).map_err(|e| format!("parsing sample {text}: {e}"))?;
        let mut v1 = parse_int(&c[1], true).map_err(|e| format!("parsing sample {text}: {e}"))?;
        let mut bytes = None;
        match kind {
            Kind::Heap => {
                if v0 == 0 {
                    return Err(format!("parsing sample {text}: second value must be non-zero"));
                }
                bytes = Some(v1.wrapping_div(v0));
                (v0, v1) = scale_heap_sample(v0, v1, HEAP_RATE);
            }
            Kind::Contention => {
                if p.period != 0 {
                    v0 = v0.wrapping_mul(p.period);
                    v1 = v1.wrapping_mul(p.period);
                }
            }
        }
        p.samples.push(Sample { locs, values: vec![v0, v1], bytes });
    }
    Ok(&b[b.len() - trailing(b)..])
}

/// Length of the last line of `b` when it has no `\n`.
fn trailing(b: &[u8]) -> usize {
    b.iter().rev().position(|&c| c == b'\n').unwrap_or(b.len())
}

/// Go's `filepath.Base`.
fn base(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let p = {
        let end = path.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
        &path[..end]
    };
    if p.is_empty() {
        return b"/".to_vec();
    }
    let start = p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    p[start..].to_vec()
}

/// pprof's `parseJavaLocations`: each address's function, file and line; then
/// locations, functions and mappings are numbered.
pub(crate) fn locations(b: &[u8], p: &mut Raw) -> Result<(), String> {
    static RE: OnceLock<[Regex; 3]> = OnceLock::new();
    let [loc_re, file_line, path_re] = RE.get_or_init(|| {
        let re = |s: &str| Regex::new(&format!("(?-u){s}")).expect("valid regexp");
        [
            re(r"^[\t\n\f\r ]*0x([[:xdigit:]]+)[\t\n\f\r ]+(.*)[\t\n\f\r ]*$"),
            re(r"^(.*)[\t\n\f\r ]+\((.+):(-?[0-9]+)\)$"),
            re(r"^(.*)[\t\n\f\r ]+\((.*)\)$"),
        ]
    });
    let mut fns: HashMap<Vec<u8>, usize> = HashMap::new();
    for raw in b.split(|&c| c == b'\n') {
        let line = trim(raw);
        if line.is_empty() {
            continue;
        }
        let Some(j) = loc_re.captures(line) else { continue };
        let addr = parse_uint(&j[1], false).ok_or_else(|| {
            format!(
                "parsing sample {}: strconv.ParseUint: parsing {}: value out of range",
                String::from_utf8_lossy(line),
                crate::gofmt::quote(&String::from_utf8_lossy(&j[1]))
            )
        })?;
        let Some(loc) = p.location_of(addr) else { continue };
        let what = &j[2];
        let (func, file, line_no) = if let Some(fl) = file_line.captures(what) {
            let n = parse_int(&fl[3], false).ok().filter(|&n| n > 0).unwrap_or(0);
            (fl[1].to_vec(), fl[2].to_vec(), n)
        } else if let Some(fp) = path_re.captures(what) {
            (fp[1].to_vec(), base(&fp[2]), 0)
        } else if super::scan::contains(what, b"generated stub/JIT") {
            (b"STUB".to_vec(), Vec::new(), 0)
        } else {
            (what.to_vec(), Vec::new(), 0)
        };
        let next = p.functions.len();
        let f = *fns.entry(func.clone()).or_insert(next);
        if f == next {
            p.functions.push(Func { name: func, filename: file });
        }
        p.locations[loc].line = Some((f, line_no));
        p.locations[loc].address = 0;
    }
    p.add_mappings(Vec::new());
    Ok(())
}

/// pprof's `Aggregate` keeping all but addresses (for merging), then its
/// validity check, whose error here is a parse error.
pub(crate) fn aggregate(mut p: Raw) -> Result<Raw, String> {
    for l in &mut p.locations {
        l.address = 0;
    }
    if p.sample_types.is_empty() && !p.samples.is_empty() {
        return Err("missing sample type information".into());
    }
    let n = p.sample_types.len();
    if let Some(s) = p.samples.iter().find(|s| s.values.len() != n) {
        return Err(format!("mismatch: sample has {} values vs. {} types", s.values.len(), n));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        assert_eq!(base(b""), b".");
        assert_eq!(base(b"///"), b"/");
        assert_eq!(base(b"/usr/lib/libjvm.so"), b"libjvm.so");
        assert_eq!(base(b"a/b/"), b"b");
    }
}
