//! Text heap profiles: Go's `debug=1` heap and allocs profiles (`heap profile:
//! ... @ heap/1048576`), gperftools' (`@ heapprofile`, `@ heap_v2/524288`) and
//! the growth and fragmentation profiles. Sampled values are unsampled with the
//! header's rate; each sample gets a `bytes` label, its average object size.

use std::sync::OnceLock;

use regex::bytes::{Captures, Regex};

use super::num::{hex_addresses, parse_int, scale_heap_sample};
use super::raw::{Raw, Sample};
use super::scan::{Scanner, is_space_or_comment, trim};
use super::{Parsed, additional_sections};

struct Res {
    header: Regex,
    sample: Regex,
    growth: Regex,
    fragmentation: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| {
        let re = |s: &str| Regex::new(&format!("(?-u){s}")).expect("valid regexp");
        let counts = r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\]";
        Res {
            header: re(&format!("{counts} *@ *(heap[_a-z0-9]*)/?([0-9]*)")),
            sample: re(r"(-?[0-9]+): *(-?[0-9]+) *\[ *([0-9]+): *([0-9]+) *] @([ x0-9a-f]*)"),
            growth: re(&format!("{counts} @ growthz?")),
            fragmentation: re(&format!("{counts} @ fragmentationz?")),
        }
    })
}

/// How the header says the values were sampled.
struct Header {
    /// Poisson sampling every `period` bytes on average (`heap_v2`, Go's `heap`).
    v2: bool,
    period: i64,
    has_alloc: bool,
}

fn header(c: &Captures<'_>) -> Option<Header> {
    let g = |i: usize| c.get(i).map_or(&b""[..], |m| m.as_bytes());
    let mut period = 0;
    if !g(6).is_empty() {
        period = parse_int(g(6), false).ok()?;
    }
    let has_alloc = (g(3) != g(1) && g(3) != b"0") || (g(4) != g(2) && g(4) != b"0");
    let (v2, period) = match g(5) {
        b"heapz_v2" | b"heap_v2" => (true, period),
        b"heapprofile" => (false, 1),
        b"heap" => (true, period / 2),
        _ => return None,
    };
    Some(Header { v2, period, has_alloc })
}

/// pprof's `parseHeap`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    let mut s = Scanner::new(b);
    if !s.scan() {
        s.err()?;
        return Ok(None);
    }
    let line = s.text();
    let r = res();
    let h = if let Some(c) = r.header.captures(line) {
        match header(&c) {
            Some(h) => h,
            None => return Ok(None),
        }
    } else if r.growth.is_match(line) || r.fragmentation.is_match(line) {
        Header { v2: false, period: 1, has_alloc: false }
    } else {
        return Ok(None);
    };
    let types: &[(&str, &str)] = if h.has_alloc {
        // alloc before inuse, so that the default (last) is inuse_space.
        &[
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]
    } else {
        &[("objects", "count"), ("space", "bytes")]
    };
    let mut p = Raw::new(types, ("space", "bytes"), h.period);
    while s.scan() {
        let line = trim(s.text());
        if is_space_or_comment(line) {
            continue;
        }
        if super::maps::is_sentinel(line) {
            break;
        }
        let (values, bytes, addrs) = sample(line, &h)?;
        let locs = p.stack(&addrs, |_| true);
        p.samples.push(Sample { locs, values, bytes: Some(bytes) });
    }
    s.err()?;
    additional_sections(&mut s, &mut p)?;
    Ok(Some(p))
}

/// pprof's `parseHeapSample`: values (alloc then inuse, or inuse), average
/// block size, addresses.
fn sample(line: &[u8], h: &Header) -> Result<(Vec<i64>, i64, Vec<u64>), String> {
    let text = || String::from_utf8_lossy(line).into_owned();
    let Some(c) = res().sample.captures(line) else {
        return Err("unexpected number of sample values: got 0, want 6".into());
    };
    let g = |i: usize| c.get(i).map_or(&b""[..], |m| m.as_bytes());
    let mut values = Vec::with_capacity(4);
    let mut block = 0i64;
    let mut add = |count: &[u8], size: &[u8], label: &str| -> Result<(), String> {
        let mut count = parse_int(count, false).map_err(|e| format!("malformed sample: {}: {e}", text()))?;
        let mut size = parse_int(size, false).map_err(|e| format!("malformed sample: {}: {e}", text()))?;
        if count == 0 && size != 0 {
            return Err(format!("{label} count was 0 but {label} bytes was {size}"));
        }
        if count != 0 {
            block = size.wrapping_div(count);
            if h.v2 {
                (count, size) = scale_heap_sample(count, size, h.period);
            }
        }
        values.push(count);
        values.push(size);
        Ok(())
    };
    if h.has_alloc {
        add(g(3), g(4), "allocation")?;
    }
    add(g(1), g(2), "inuse")?;
    let addrs = hex_addresses(g(5)).map_err(|e| format!("malformed sample: {}: {e}", text()))?;
    Ok((values, block, addrs))
}
