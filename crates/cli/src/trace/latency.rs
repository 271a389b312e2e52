//! Latency tables of user tasks and regions, by name (Go's "User-defined
//! tasks" and "User-defined regions" pages): count, total and the
//! distribution (min, p50, p90, p99, max; nearest-rank percentiles).

use super::model::{Class, Model};

/// One name's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The task's or region's name.
    pub name: String,
    /// How many.
    pub count: usize,
    /// Sum of their lengths, ns.
    pub total: u64,
    /// Shortest.
    pub min: u64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Longest.
    pub max: u64,
}

/// The rows for slices of `class` ([`Class::Task`] or [`Class::Region`]),
/// by total descending, then name.
pub fn table(m: &Model, class: Class) -> Vec<Row> {
    let mut by_name: hashbrown::HashMap<u32, Vec<u64>> = hashbrown::HashMap::new();
    for lane in &m.lanes {
        for s in lane.slices().filter(|s| s.class == class) {
            by_name.entry(s.name).or_default().push(s.dur());
        }
    }
    let mut rows: Vec<Row> = by_name
        .into_iter()
        .map(|(name, mut d)| {
            d.sort_unstable();
            let rank = |p: f64| d[((p * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1];
            Row {
                name: m.str(name).to_string(),
                count: d.len(),
                total: d.iter().sum(),
                min: d[0],
                p50: rank(0.5),
                p90: rank(0.9),
                p99: rank(0.99),
                max: d[d.len() - 1],
            }
        })
        .collect();
    rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
    rows
}

/// A duration for people: `950ns`, `12.50µs`, `3.25ms`, `1.500s`.
pub fn human(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.2}µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", f / 1e6)
    } else {
        format!("{:.3}s", f / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humans() {
        assert_eq!(human(950), "950ns");
        assert_eq!(human(12_500), "12.50µs");
        assert_eq!(human(3_250_000), "3.25ms");
        assert_eq!(human(1_500_000_000), "1.500s");
    }
}
