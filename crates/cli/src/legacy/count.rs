//! Go's count profiles in text (`debug=1`): `goroutine profile: total N` and
//! `threadcreate profile: total N`, one `count @ addresses` line per stack.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::num::{parse_int, parse_uint};
use super::raw::{Raw, Sample};
use super::scan::{Scanner, is_space_or_comment};
use super::{Parsed, additional_sections};

const MALFORMED: &str = "malformed profile format";

/// pprof's `parseGoCount`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (start, count) = RE.get_or_init(|| {
        (
            Regex::new(r"(?-u)\A([^\t\n\f\r ]+) profile: total [0-9]+\z").expect("valid regexp"),
            Regex::new(r"(?-u)\A([0-9]+) @(( 0x[0-9a-f]+)+)\z").expect("valid regexp"),
        )
    });
    let mut s = Scanner::new(b);
    while s.scan() && is_space_or_comment(s.text()) {}
    s.err()?;
    let Some(m) = start.captures(s.text()) else { return Ok(None) };
    let ty = String::from_utf8_lossy(&m[1]).into_owned();
    let mut p = Raw::new(&[(&ty, "count")], (&ty, "count"), 1);
    while s.scan() {
        let line = s.text();
        if is_space_or_comment(line) {
            continue;
        }
        if line.starts_with(b"---") {
            break;
        }
        let m = count.captures(line).ok_or(MALFORMED)?;
        let n = parse_int(&m[1], true).map_err(|_| MALFORMED)?;
        let addrs = m[2]
            .split(|&c| c == b' ')
            .filter(|f| !f.is_empty())
            .map(|f| parse_uint(f, true).ok_or(MALFORMED))
            .collect::<Result<Vec<u64>, _>>()?;
        let locs = p.stack(&addrs, |_| true);
        p.samples.push(Sample { locs, values: vec![n], bytes: None });
    }
    s.err()?;
    additional_sections(&mut s, &mut p)?;
    Ok(Some(p))
}
