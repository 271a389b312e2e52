//! Numbers as Go's `strconv` and conversions give them to pprof's parsers, with
//! Go's error texts.

use std::sync::OnceLock;

use regex::bytes::Regex;

/// Go's `strconv.ParseInt(s, base, 64)` for base 10 or 0 (`0x`, `0o`, `0b` and
/// a leading `0` for octal), with Go's error text.
pub(crate) fn parse_int(s: &[u8], base0: bool) -> Result<i64, String> {
    let err = |what: &str| {
        format!("strconv.ParseInt: parsing {}: {what}", crate::gofmt::quote(&String::from_utf8_lossy(s)))
    };
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_uint_body(body, base0)
        .map_err(|range| err(if range { "value out of range" } else { "invalid syntax" }))?;
    if neg {
        if mag > 1u64 << 63 {
            return Err(err("value out of range"));
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).map_err(|_| err("value out of range"))
    }
}

/// Go's `strconv.ParseUint(s, base, 64)` for base 16 or 0; `None` on any error.
pub(crate) fn parse_uint(s: &[u8], base0: bool) -> Option<u64> {
    if base0 {
        parse_uint_body(s, true).ok()
    } else {
        let t = std::str::from_utf8(s).ok()?;
        if t.is_empty() || t.starts_with('+') || t.starts_with('-') {
            return None;
        }
        u64::from_str_radix(t, 16).ok()
    }
}

/// The unsigned value of `s` in base 10, or with Go's base-0 prefixes; the
/// error is true for out of range, false for bad syntax.
fn parse_uint_body(s: &[u8], base0: bool) -> Result<u64, bool> {
    let (radix, digits, underscores) = if !base0 {
        (10, s, false)
    } else if s.len() > 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X') {
        (16, &s[2..], true)
    } else if s.len() > 2 && s[0] == b'0' && matches!(s[1], b'o' | b'O') {
        (8, &s[2..], true)
    } else if s.len() > 2 && s[0] == b'0' && matches!(s[1], b'b' | b'B') {
        (2, &s[2..], true)
    } else if s.len() > 1 && s[0] == b'0' {
        (8, &s[1..], true)
    } else {
        (10, s, false)
    };
    if digits.is_empty() {
        return Err(false);
    }
    let mut v: u64 = 0;
    let mut range = false;
    for &c in digits {
        if c == b'_' && underscores {
            continue;
        }
        let d = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 10,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return Err(false),
        };
        if d >= radix {
            return Err(false);
        }
        match v.checked_mul(radix as u64).and_then(|x| x.checked_add(d as u64)) {
            Some(x) => v = x,
            None => range = true,
        }
    }
    // Go accepts underscores only between digits after a prefix; a profile's
    // numbers never hold them, so a stray one is bad syntax.
    if underscores
        && (digits.starts_with(b"_") || digits.ends_with(b"_") || digits.windows(2).any(|w| w == b"__"))
    {
        return Err(false);
    }
    if range { Err(true) } else { Ok(v) }
}

/// Go's `int64(f)` on amd64: truncation, and the minimum for NaN or out of range.
pub(crate) fn f64_to_i64(f: f64) -> i64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    if (-TWO_63..TWO_63).contains(&f) { f as i64 } else { i64::MIN }
}

/// pprof's `parseHexAddresses`: every `0x...` in `s`, or the text of the first
/// that does not fit 64 bits.
pub(crate) fn hex_addresses(s: &[u8]) -> Result<Vec<u64>, String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new("0x[0-9a-f]+").expect("valid regexp"));
    re.find_iter(s)
        .map(|m| {
            parse_uint(m.as_bytes(), true).ok_or_else(|| {
                format!("failed to parse as hex 64-bit number: {}", String::from_utf8_lossy(m.as_bytes()))
            })
        })
        .collect()
}

/// pprof's `scaleHeapSample`: a sample of a heap profile sampled every `rate`
/// bytes on average, unsampled (divided by its probability `1 - exp(-size/rate)`).
pub(crate) fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    (f64_to_i64(count as f64 * scale), f64_to_i64(size as f64 * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"123", false), Ok(123));
        assert_eq!(parse_int(b"-9223372036854775808", false), Ok(i64::MIN));
        assert_eq!(
            parse_int(b"9223372036854775808", false).unwrap_err(),
            "strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
        );
        assert_eq!(parse_int(b"010", true), Ok(8));
        assert_eq!(parse_int(b"0x1f", true), Ok(31));
        assert!(parse_int(b"08", true).unwrap_err().ends_with("invalid syntax"));
        assert_eq!(parse_int(b"0", true), Ok(0));
        assert_eq!(parse_uint(b"0xffffffffffffffff", true), Some(u64::MAX));
        assert_eq!(parse_uint(b"0x10000000000000000", true), None);
        assert_eq!(hex_addresses(b" 0x10 0xa zz 0x1"), Ok(vec![16, 10, 1]));
        assert!(hex_addresses(b"0x10000000000000000").is_err());
        assert_eq!(scale_heap_sample(1, 1024, 524288), (512, 524800));
        assert_eq!(f64_to_i64(1e30), i64::MIN);
    }
}
