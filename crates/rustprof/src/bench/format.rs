//! Go's benchmark output: the header lines and the result lines that
//! `benchstat` and other tools of Go's benchmark format read.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one benchmark measured (Go's `BenchmarkResult`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    /// Iterations.
    pub(crate) n: u64,
    /// Time measured.
    pub(crate) t: Duration,
    /// Bytes processed per iteration (`set_bytes`).
    pub(crate) bytes: u64,
    /// Allocations while the timer ran.
    pub(crate) mem_allocs: u64,
    /// Bytes allocated while the timer ran.
    pub(crate) mem_bytes: u64,
    /// `report_metric` values by unit.
    pub(crate) extra: BTreeMap<String, f64>,
}

impl Outcome {
    fn mb_per_sec(&self) -> f64 {
        if let Some(&v) = self.extra.get("MB/s") {
            return v;
        }
        if self.bytes == 0 || self.t.is_zero() || self.n == 0 {
            return 0.0;
        }
        (self.bytes as f64 * self.n as f64 / 1e6) / self.t.as_secs_f64()
    }

    fn per_op(&self, unit: &str, total: u64) -> i64 {
        if let Some(&v) = self.extra.get(unit) {
            return v as i64;
        }
        if self.n == 0 {
            return 0;
        }
        (total / self.n) as i64
    }

    /// The columns after the name: iterations, ns/op, MB/s, the reported
    /// metrics by unit (Go's `BenchmarkResult.String`).
    pub(crate) fn columns(&self) -> String {
        let mut s = format!("{:8}", self.n);
        let ns = match self.extra.get("ns/op") {
            Some(&v) => v,
            None => self.t.as_nanos() as f64 / self.n as f64,
        };
        if ns != 0.0 {
            s.push('\t');
            s.push_str(&pretty(ns, "ns/op"));
        }
        let mbs = self.mb_per_sec();
        if mbs != 0.0 {
            s.push_str(&format!("\t{} MB/s", go_float(mbs, 7, 2)));
        }
        for (unit, &v) in &self.extra {
            if !matches!(unit.as_str(), "ns/op" | "MB/s" | "B/op" | "allocs/op") {
                s.push('\t');
                s.push_str(&pretty(v, unit));
            }
        }
        s
    }

    /// The memory columns (Go's `MemString`).
    pub(crate) fn mem_columns(&self) -> String {
        format!(
            "{:8} B/op\t{:8} allocs/op",
            self.per_op("B/op", self.mem_bytes),
            self.per_op("allocs/op", self.mem_allocs)
        )
    }
}

/// A value and its unit, with Go's field widths: integers in 10 columns, small
/// numbers with four significant digits, decimal points aligned.
pub(crate) fn pretty(x: f64, unit: &str) -> String {
    let y = x.abs();
    let (width, precision) = if y == 0.0 || y >= 999.95 {
        (10, 0)
    } else if y >= 99.995 {
        (12, 1)
    } else if y >= 9.9995 {
        (13, 2)
    } else if y >= 0.99995 {
        (14, 3)
    } else if y >= 0.099995 {
        (15, 4)
    } else if y >= 0.0099995 {
        (16, 5)
    } else if y >= 0.00099995 {
        (17, 6)
    } else {
        (18, 7)
    };
    format!("{} {unit}", go_float(x, width, precision))
}

/// `%W.Pf` as Go prints it (infinities as `+Inf`/`-Inf`).
fn go_float(x: f64, width: usize, precision: usize) -> String {
    if x.is_infinite() {
        let s = if x > 0.0 { "+Inf" } else { "-Inf" };
        return format!("{s:>width$}");
    }
    format!("{x:width$.precision$}")
}

/// `name`, with `-procs` when procs is not 1.
pub(crate) fn with_procs(name: &str, procs: usize) -> String {
    if procs != 1 { format!("{name}-{procs}") } else { name.to_owned() }
}

/// Go's name for the operating system.
pub(crate) fn goos() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    }
}

/// Go's name for the architecture.
pub(crate) fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        arch => arch,
    }
}

/// The processor's name: the first `model name` of /proc/cpuinfo.
pub(crate) fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned()).filter(|v| !v.is_empty())
    })
}

/// The lines printed before the first result.
pub(crate) fn header(pkg: &str) -> String {
    let mut s = format!("goos: {}\ngoarch: {}\n", goos(), goarch());
    if !pkg.is_empty() {
        s.push_str(&format!("pkg: {pkg}\n"));
    }
    if let Some(cpu) = cpu_name() {
        s.push_str(&format!("cpu: {cpu}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_print_widths() {
        // The table of Go's prettyPrint: the width grows with the precision so
        // that decimal points line up.
        assert_eq!(pretty(0.0, "ns/op"), "         0 ns/op");
        assert_eq!(pretty(1221.4, "ns/op"), "      1221 ns/op");
        assert_eq!(pretty(999.95, "ns/op"), "      1000 ns/op");
        assert_eq!(pretty(999.94, "ns/op"), "       999.9 ns/op");
        assert_eq!(pretty(432.71, "ns/op"), "       432.7 ns/op");
        assert_eq!(pretty(12.345, "x"), "        12.35 x");
        assert_eq!(pretty(3.5, "widgets/op"), "         3.500 widgets/op");
        assert_eq!(pretty(0.3327, "ns/op"), "         0.3327 ns/op");
        assert_eq!(pretty(0.01234, "x"), "         0.01234 x");
        assert_eq!(pretty(0.001234, "x"), "         0.001234 x");
        assert_eq!(pretty(0.0001234, "x"), "         0.0001234 x");
        assert_eq!(pretty(-5.0, "x"), "        -5.000 x");
        assert_eq!(pretty(f64::INFINITY, "x"), "      +Inf x");
    }

    #[test]
    fn result_columns() {
        let r = Outcome {
            n: 177598,
            t: Duration::from_nanos(216_847_158),
            bytes: 64,
            mem_allocs: 177598,
            mem_bytes: 177598 * 64,
            extra: BTreeMap::new(),
        };
        assert_eq!(r.columns(), "  177598\t      1221 ns/op\t  52.42 MB/s");
        assert_eq!(r.mem_columns(), "      64 B/op\t       1 allocs/op");
        let mut extra = BTreeMap::new();
        extra.insert("widgets/op".to_owned(), 3.5);
        extra.insert("allocs/op".to_owned(), 7.9);
        extra.insert("a/op".to_owned(), 1e6);
        let r = Outcome { n: 738496485, t: Duration::from_nanos(248_356_369), extra, ..Default::default() };
        assert_eq!(
            r.columns(),
            "738496485\t         0.3363 ns/op\t   1000000 a/op\t         3.500 widgets/op"
        );
        assert_eq!(r.mem_columns(), "       0 B/op\t       7 allocs/op");
        // ns/op reported as 0 hides the column.
        let mut extra = BTreeMap::new();
        extra.insert("ns/op".to_owned(), 0.0);
        let r = Outcome { n: 5, t: Duration::from_nanos(50), extra, ..Default::default() };
        assert_eq!(r.columns(), "       5");
    }

    #[test]
    fn names_and_platform() {
        assert_eq!(with_procs("BenchmarkX", 1), "BenchmarkX");
        assert_eq!(with_procs("BenchmarkX/a=1", 8), "BenchmarkX/a=1-8");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(goarch(), "amd64");
        }
        if cfg!(target_os = "linux") {
            assert_eq!(goos(), "linux");
        }
        let h = header("hash-password");
        assert!(
            h.starts_with(&format!("goos: {}\ngoarch: {}\npkg: hash-password\n", goos(), goarch())),
            "{h}"
        );
    }
}
