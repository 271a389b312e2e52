//! Units and value formatting, all in one place: the unit families pprof knows
//! (bytes, time, GCU), scaling between units, automatic unit selection, and the
//! exact text of values and percentages that pprof prints.

use crate::gofmt;

struct Unit {
    canonical: &'static str,
    aliases: &'static [&'static str],
    factor: f64,
}

struct UnitType {
    default: (&'static str, f64),
    units: &'static [Unit],
}

const UNIT_TYPES: &[UnitType] = &[
    UnitType {
        default: ("B", 1.0),
        units: &[
            Unit { canonical: "B", aliases: &["b", "byte"], factor: 1.0 },
            Unit { canonical: "kB", aliases: &["kb", "kbyte", "kilobyte"], factor: (1u64 << 10) as f64 },
            Unit { canonical: "MB", aliases: &["mb", "mbyte", "megabyte"], factor: (1u64 << 20) as f64 },
            Unit { canonical: "GB", aliases: &["gb", "gbyte", "gigabyte"], factor: (1u64 << 30) as f64 },
            Unit { canonical: "TB", aliases: &["tb", "tbyte", "terabyte"], factor: (1u64 << 40) as f64 },
            Unit { canonical: "PB", aliases: &["pb", "pbyte", "petabyte"], factor: (1u64 << 50) as f64 },
        ],
    },
    UnitType {
        default: ("s", 1e9),
        units: &[
            Unit { canonical: "ns", aliases: &["ns", "nanosecond"], factor: 1.0 },
            Unit { canonical: "us", aliases: &["μs", "us", "microsecond"], factor: 1e3 },
            Unit { canonical: "ms", aliases: &["ms", "millisecond"], factor: 1e6 },
            Unit { canonical: "s", aliases: &["s", "sec", "second"], factor: 1e9 },
            Unit { canonical: "hrs", aliases: &["hour", "hr"], factor: 3600e9 },
        ],
    },
    UnitType {
        default: ("GCU", 1.0),
        units: &[
            Unit { canonical: "n*GCU", aliases: &["nanogcu"], factor: 1e-9 },
            Unit { canonical: "u*GCU", aliases: &["microgcu"], factor: 1e-6 },
            Unit { canonical: "m*GCU", aliases: &["milligcu"], factor: 1e-3 },
            Unit { canonical: "GCU", aliases: &["gcu"], factor: 1.0 },
            Unit { canonical: "k*GCU", aliases: &["kilogcu"], factor: 1e3 },
            Unit { canonical: "M*GCU", aliases: &["megagcu"], factor: 1e6 },
            Unit { canonical: "G*GCU", aliases: &["gigagcu"], factor: 1e9 },
            Unit { canonical: "T*GCU", aliases: &["teragcu"], factor: 1e12 },
            Unit { canonical: "P*GCU", aliases: &["petagcu"], factor: 1e15 },
        ],
    },
];

impl UnitType {
    fn sniff(&self, unit: &str) -> Option<&Unit> {
        let mut u = unit.to_lowercase();
        if u.len() > 2
            && let Some(s) = u.strip_suffix('s')
        {
            u = s.to_string();
        }
        self.units.iter().find(|x| x.aliases.contains(&u.as_str()))
    }

    fn auto_scale(&self, value: f64) -> Option<(f64, &'static str)> {
        let mut f = 0.0;
        let mut unit = "";
        for u in self.units {
            if u.factor >= f && value / u.factor >= 1.0 {
                f = u.factor;
                unit = u.canonical;
            }
        }
        if f == 0.0 { None } else { Some((value / f, unit)) }
    }

    fn convert(&self, value: i64, from: &str, to: &str) -> Option<(f64, String)> {
        let from = self.sniff(from)?;
        let v = value as f64 * from.factor;
        if to == "minimum" || to == "auto" {
            if let Some((v, u)) = self.auto_scale(v) {
                return Some((v, u.to_string()));
            }
            return Some((v / self.default.1, self.default.0.to_string()));
        }
        match self.sniff(to) {
            Some(t) => Some((v / t.factor, t.canonical.to_string())),
            None => Some((v / self.default.1, self.default.0.to_string())),
        }
    }
}

/// True when `unit` belongs to one of the known families (bytes, time, GCU).
pub fn is_known_unit(unit: &str) -> bool {
    UNIT_TYPES.iter().any(|ut| ut.sniff(unit).is_some())
}

/// Converts `value` in `from` into `to` (`minimum`/`auto` pick the largest unit
/// in which the value is at least 1). Returns the value and the canonical unit.
pub fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    if value < 0 && value.wrapping_neg() > 0 {
        let (v, u) = scale(-value, from, to);
        return (-v, u);
    }
    for ut in UNIT_TYPES {
        if let Some(r) = ut.convert(value, from, to) {
            return r;
        }
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_string()),
    }
}

/// How values in unit `from` are shown in unit `to`, for formatting done outside
/// Rust (the flame graph's script): the unit family with factors relative to
/// `from` (empty for units pprof does not know), the unit a fixed `to` resolves
/// to, the family's default (the fallback of automatic scaling), and the suffix
/// printed after values of unknown units.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitPlan {
    /// Units of `from`'s family, smallest first, as (name, size in `from` units).
    pub units: Vec<(&'static str, f64)>,
    /// The unit of a fixed `to` (`None`: scale each value automatically).
    pub fixed: Option<(&'static str, f64)>,
    /// The family's default unit.
    pub default: Option<(&'static str, f64)>,
    /// Text after values when `from` is not a known unit.
    pub suffix: String,
}

/// The [`UnitPlan`] of values in `from` printed in `to` (as [`scaled_label`] does).
pub fn unit_plan(from: &str, to: &str) -> UnitPlan {
    for ut in UNIT_TYPES {
        let Some(f) = ut.sniff(from) else { continue };
        let units: Vec<(&'static str, f64)> =
            ut.units.iter().map(|u| (u.canonical, u.factor / f.factor)).collect();
        let default = Some((ut.default.0, ut.default.1 / f.factor));
        let fixed = if to == "minimum" || to == "auto" {
            None
        } else {
            Some(match ut.sniff(to) {
                Some(t) => (t.canonical, t.factor / f.factor),
                None => (ut.default.0, ut.default.1 / f.factor),
            })
        };
        return UnitPlan { units, fixed, default, suffix: String::new() };
    }
    let suffix = match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => String::new(),
        _ => to.to_string(),
    };
    UnitPlan { units: Vec::new(), fixed: None, default: None, suffix }
}

/// `value` in `unit`, auto-scaled: `Label(1500000, "nanoseconds") == "1.50ms"`.
pub fn label(value: i64, unit: &str) -> String {
    scaled_label(value, unit, "auto")
}

/// `value` converted from `from` to `to`, with two decimals and `.00` trimmed.
pub fn scaled_label(value: i64, from: &str, to: &str) -> String {
    let (v, u) = scale(value, from, to);
    let s = format!("{v:.2}");
    let s = s.strip_suffix(".00").unwrap_or(&s);
    if s == "0" || s == "-0" {
        return "0".to_string();
    }
    format!("{s}{u}")
}

/// `value` as a percentage of `total`, 6 characters wide as pprof prints it.
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 { (value as f64 / total as f64).abs() * 100.0 } else { 0.0 };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".to_string()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", gofmt::format_g(ratio, 2))
    }
}

/// The common value type of several profiles' value types for merging: `None` for
/// fewer than two, the finest unit when compatible, an error text otherwise.
pub fn common_value_type(ts: &[(String, String)]) -> Result<Option<(String, String)>, String> {
    if ts.len() <= 1 {
        return Ok(None);
    }
    let mut min = ts[0].clone();
    for t in &ts[1..] {
        if !compatible_value_types(&min, t) {
            return Err(format!("incompatible types: {{{} {} 0 0}} {{{} {} 0 0}}", min.0, min.1, t.0, t.1));
        }
        let (ratio, _) = scale(1, &t.1, &min.1);
        if ratio < 1.0 {
            min = t.clone();
        }
    }
    Ok(Some(min))
}

fn compatible_value_types(a: &(String, String), b: &(String, String)) -> bool {
    if a.0.strip_suffix('s').unwrap_or(&a.0) != b.0.strip_suffix('s').unwrap_or(&b.0) {
        return false;
    }
    if a.1 == b.1 {
        return true;
    }
    UNIT_TYPES.iter().any(|ut| ut.sniff(&a.1).is_some() && ut.sniff(&b.1).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling() {
        assert_eq!(scaled_label(10_000_000, "nanoseconds", "minimum"), "10ms");
        assert_eq!(scaled_label(2_910_000_000, "nanoseconds", "minimum"), "2.91s");
        assert_eq!(scaled_label(729_384, "bytes", "minimum"), "712.29kB");
        assert_eq!(scaled_label(0, "bytes", "minimum"), "0");
        assert_eq!(scaled_label(10_720_000_000, "nanoseconds", "ms"), "10720ms");
        assert_eq!(scaled_label(5, "widgets", "minimum"), "5");
        assert_eq!(scaled_label(5, "widgets", "auto"), "5");
        assert_eq!(scaled_label(5, "count", "widgets"), "5widgets");
        assert_eq!(scaled_label(-1_500_000, "nanoseconds", "auto"), "-1.50ms");
        assert_eq!(scale(1, "kilobyte", "bytes"), (1024.0, "B".to_string()));
        assert_eq!(scale(3, "hours", "minimum").1, "hrs");
    }

    #[test]
    fn unit_plans() {
        let p = unit_plan("nanoseconds", "minimum");
        assert_eq!(p.units[2], ("ms", 1e6));
        assert_eq!((p.fixed, p.default), (None, Some(("s", 1e9))));
        let p = unit_plan("kilobytes", "MB");
        assert_eq!(p.fixed, Some(("MB", 1024.0)));
        assert_eq!(p.units[0], ("B", 1.0 / 1024.0));
        let p = unit_plan("count", "widgets");
        assert!(p.units.is_empty() && p.fixed.is_none());
        assert_eq!(p.suffix, "widgets");
        assert_eq!(unit_plan("count", "auto").suffix, "");
    }

    #[test]
    fn percentages() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(1586, 10000), "15.86%");
        assert_eq!(percentage(2, 1000), "  0.2%");
        assert_eq!(percentage(0, 1000), "    0%");
        assert_eq!(percentage(1, 100000), "0.001%");
        assert_eq!(percentage(1, 10000000), "1e-05%");
        assert_eq!(percentage(5, 0), "    0%");
    }
}
