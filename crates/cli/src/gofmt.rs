//! Go's text formatting where pprof's output depends on it: `%g`, `%q`,
//! `time.Duration.String`, `time.Time.String` and pprof's time layout.

/// Go's `%.{prec}g` (without width): `prec` significant digits, `%e` form when the
/// exponent is below -4 or at least the precision, trailing zeros removed.
pub fn format_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    let neg = v < 0.0;
    // Correctly rounded to `prec` significant digits.
    let e = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let x = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if x < -4 || x >= eprec {
        let p = (prec as i32).min(nd);
        out.push(digits[0] as char);
        if p > 1 {
            out.push('.');
            for &d in &digits[1..p as usize] {
                out.push(d as char);
            }
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let ax = x.unsigned_abs();
        if ax < 10 {
            out.push('0');
        }
        out.push_str(&ax.to_string());
        return out;
    }
    let mut p = prec as i32;
    if p > dp {
        p = nd;
    }
    let frac = (p - dp).max(0);
    // Integer part.
    if dp <= 0 {
        out.push('0');
    } else {
        for i in 0..dp {
            out.push(if i < nd { digits[i as usize] as char } else { '0' });
        }
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            let idx = dp + i;
            out.push(if idx >= 0 && idx < nd { digits[idx as usize] as char } else { '0' });
        }
    }
    out
}

/// Go's `%v` for a float64: the shortest representation that round-trips, in `%e`
/// form when the exponent is below -4 or at least 6 (`1e+06`, `0.005`, `123456`).
pub fn format_v(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format_g(v, 1);
    }
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut out = String::new();
    if v < 0.0 {
        out.push('-');
    }
    let x = dp - 1;
    if !(-4..6).contains(&x) {
        out.push(digits[0] as char);
        if nd > 1 {
            out.push('.');
            for &d in &digits[1..] {
                out.push(d as char);
            }
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let ax = x.unsigned_abs();
        if ax < 10 {
            out.push('0');
        }
        out.push_str(&ax.to_string());
        return out;
    }
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        for &d in &digits {
            out.push(d as char);
        }
        return out;
    }
    for i in 0..dp {
        out.push(if i < nd { digits[i as usize] as char } else { '0' });
    }
    if nd > dp {
        out.push('.');
        for &d in &digits[dp as usize..] {
            out.push(d as char);
        }
    }
    out
}

/// Go's `time.Duration.String()`: `1.5s`, `4m0.5s`, `2h0m0s`, `1.2ms`, `0s`.
pub fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        if u == 0 {
            return "0s".to_string();
        }
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = frac_part(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (int, frac) = frac_part(u, 9);
        u = int;
        let secs = u % 60;
        u /= 60;
        if u > 0 {
            let mins = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{mins}m"));
        }
        out.push_str(&format!("{secs}{frac}s"));
    }
    if neg { format!("-{out}") } else { out }
}

/// Splits `v / 10^prec` into its integer part and the fraction text (`.5`), with
/// trailing zeros (and an all-zero fraction) omitted.
fn frac_part(v: u64, prec: u32) -> (u64, String) {
    if prec == 0 {
        return (v, String::new());
    }
    let p = 10u64.pow(prec);
    let int = v / p;
    let mut frac = v % p;
    if frac == 0 {
        return (int, String::new());
    }
    let mut digits = prec as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    (int, format!(".{frac:0digits$}"))
}

/// Truncates to at most `n` characters, as Go's `%.{n}v` does for strings.
pub fn truncate_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn zoned(nanos: i64) -> Option<jiff::Zoned> {
    let ts = jiff::Timestamp::from_nanosecond(nanos as i128).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::system()))
}

fn abbreviation(z: &jiff::Zoned) -> String {
    let tz = z.time_zone();
    let abbr = tz.to_offset_info(z.timestamp()).abbreviation().to_string();
    if abbr.is_empty() { offset_text(z, false) } else { abbr }
}

fn offset_text(z: &jiff::Zoned, _colon: bool) -> String {
    let secs = z.offset().seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60)
}

/// pprof's `Time:` header as Go 1.27's pprof prints it (layout
/// `2006-01-02 15:04:05 MST`): `2026-11-24 14:37:15 UTC`, in the local time zone
/// (`$TZ`, else the system's).
///
/// With `RUSTPROF_COMPAT=go1.19` in the environment it is Go 1.19.8's pprof's
/// `Nov 24, 2026 at 2:37pm (UTC)` instead.
pub fn pprof_time(nanos: i64) -> String {
    let Some(z) = zoned(nanos) else { return String::new() };
    if compat_go119() {
        return go119_time(&z);
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}",
        z.year(),
        z.month(),
        z.day(),
        z.hour(),
        z.minute(),
        z.second(),
        abbreviation(&z)
    )
}

/// Whether `RUSTPROF_COMPAT=go1.19` asks for Go 1.19.8's pprof's output where
/// Go 1.27's differs (the `Time:` line, `-tags`).
pub fn compat_go119() -> bool {
    std::env::var_os("RUSTPROF_COMPAT").is_some_and(|v| v == "go1.19")
}

/// Go 1.19.8's pprof's `Time:` header: `Nov 24, 2026 at 2:03pm (UTC)`.
fn go119_time(z: &jiff::Zoned) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let hour = z.hour();
    let h12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let ampm = if hour < 12 { "am" } else { "pm" };
    format!(
        "{} {}, {} at {}:{:02}{} ({})",
        MONTHS[(z.month() - 1) as usize],
        z.day(),
        z.year(),
        h12,
        z.minute(),
        ampm,
        abbreviation(z)
    )
}

/// Go's `time.Unix(0, nanos).String()`: `2026-11-24 14:37:15.181097395 +0000 UTC`.
pub fn go_time_string(nanos: i64) -> String {
    let Some(z) = zoned(nanos) else { return String::new() };
    let sub = z.subsec_nanosecond();
    let frac = if sub == 0 {
        String::new()
    } else {
        let mut s = format!(".{sub:09}");
        while s.ends_with('0') {
            s.pop();
        }
        s
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} {} {}",
        z.year(),
        z.month(),
        z.day(),
        z.hour(),
        z.minute(),
        z.second(),
        frac,
        offset_text(&z, false),
        abbreviation(&z)
    )
}

/// Go's `%q` for a string: double-quoted with Go escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                let v = c as u32;
                if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"))
                } else {
                    out.push_str(&format!("\\U{v:08x}"))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_go() {
        for (v, want) in [
            (0.125, "0.12"),
            (0.375, "0.38"),
            (2.675, "2.7"),
            (1.005, "1"),
            (0.5, "0.5"),
            (0.045, "0.045"),
            (1234.565, "1.2e+03"),
            (0.0001234, "0.00012"),
            (5e-05, "5e-05"),
            (0.00049999, "0.0005"),
            (12.0, "12"),
            (99.99, "1e+02"),
            (0.2, "0.2"),
            (0.0, "0"),
        ] {
            assert_eq!(format_g(v, 2), want, "{v}");
        }
    }

    #[test]
    fn v_format_matches_go() {
        assert_eq!(format_v(0.005), "0.005");
        assert_eq!(format_v(1.0), "1");
        assert_eq!(format_v(0.001), "0.001");
        assert_eq!(format_v(123456.0), "123456");
        assert_eq!(format_v(1234567.0), "1.234567e+06");
        assert_eq!(format_v(0.00001), "1e-05");
        assert_eq!(format_v(-2.5), "-2.5");
    }

    #[test]
    fn durations_match_go() {
        assert_eq!(duration_string(9_031_253_662), "9.031253662s");
        assert_eq!(duration_string(30_000_000_000), "30s");
        assert_eq!(duration_string(240_500_000_000), "4m0.5s");
        assert_eq!(duration_string(7_200_000_000_000), "2h0m0s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(duration_string(1_500), "1.5µs");
        assert_eq!(duration_string(15), "15ns");
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(-1_000_000_000), "-1s");
        assert_eq!(truncate_chars(&duration_string(9_031_253_662), 4), "9.03");
        assert_eq!(truncate_chars(&duration_string(1_500), 4), "1.5µ");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote(""), "\"\"");
    }
}
