//! The command line of a benchmark binary: Go's `testing` flags.
//!
//! Go's flag syntax: one or two dashes, `-flag=value` or `-flag value`
//! (booleans only as `-flag` or `-flag=bool`), each name also accepted as
//! `-test.name`. Arguments that are not flags are filters (as `cargo bench
//! NAME` passes them), and cargo's own `--bench`, which it appends to the
//! command line of every bench binary, is recognized and set aside.

use std::time::Duration;

/// How long to run each benchmark: `-benchtime 2s` or `-benchtime 100x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BenchTime {
    /// Grow b.N until a run takes at least this long.
    Duration(Duration),
    /// Run exactly this many iterations.
    Count(u64),
}

/// The parsed flags.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `-bench`: the benchmarks to run (`None`: all of them).
    pub(crate) bench: Option<String>,
    pub(crate) benchtime: BenchTime,
    pub(crate) count: u64,
    pub(crate) benchmem: bool,
    pub(crate) cpuprofile: Option<String>,
    /// `-trace`: an execution trace of the whole run ([`crate::trace`]).
    pub(crate) trace: Option<String>,
    pub(crate) memprofile: Option<String>,
    pub(crate) memprofilerate: i64,
    pub(crate) blockprofile: Option<String>,
    pub(crate) blockprofilerate: i64,
    pub(crate) mutexprofile: Option<String>,
    pub(crate) mutexprofilefraction: i64,
    pub(crate) outputdir: Option<String>,
    /// `-cpu`: the processor counts to run each benchmark with (empty: the
    /// default, the available parallelism).
    pub(crate) cpu: Vec<usize>,
    /// `-run`: accepted for `go test` habits (`-run '^$'`); a bench binary has
    /// no tests for it to select.
    pub(crate) run: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bench: None,
            benchtime: BenchTime::Duration(Duration::from_secs(1)),
            count: 1,
            benchmem: false,
            cpuprofile: None,
            trace: None,
            memprofile: None,
            memprofilerate: 0,
            blockprofile: None,
            blockprofilerate: 1,
            mutexprofile: None,
            mutexprofilefraction: 1,
            outputdir: None,
            cpu: Vec::new(),
            run: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Run the benchmarks.
    Run(Box<Config>),
    /// `-h`, `-help`: print the usage.
    Help,
}

/// The usage text of `-help`.
pub(crate) const USAGE: &str = "\
Usage: <bench binary> [flags] [filter]    (cargo bench [--bench NAME] -- [flags] [filter])
Flags take one or two dashes, -flag=value or -flag value, as go test's do:
  -bench regexp               run only the benchmarks matching regexp (default: all);
                              a filter argument is taken as this regexp too
  -benchtime d                run each benchmark for duration d (1s, 500ms) or Nx times (default 1s)
  -count n                    run each benchmark n times (default 1)
  -benchmem                   print B/op and allocs/op (needs rustprof::heap::Sampled
                              as the global allocator)
  -cpuprofile file            write a CPU profile of the whole run to file
  -trace file                 write an execution trace of the whole run to file (Perfetto's
                              format: ui.perfetto.dev)
  -memprofile file            write an allocs profile to file after the run
  -memprofilerate n           sample one allocation per n bytes (default 512 KiB; 1: all)
  -blockprofile file          write a block profile (rustprof::sync) to file after the run
  -blockprofilerate n         record blocking events of at least n ns (default 1: all)
  -mutexprofile file          write a mutex profile (rustprof::sync) to file after the run
  -mutexprofilefraction n     record 1 in n contention events (default 1: all)
  -outputdir dir              write the profiles under dir (relative paths are otherwise
                              relative to the package directory, where cargo runs benches)
  -cpu list                   run each benchmark with each of these processor counts (the
                              -N suffix of the names, B::procs, the threads of run_parallel)
  -run regexp                 accepted for go test habits (-run '^$'); there are no tests
Run by `cargo test --benches` (no --bench, no flags), each benchmark runs once (-benchtime 1x).
";

/// Parses the arguments (without the program name). The error is the one-line
/// message to print (exit status 2).
pub(crate) fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut cfg = Config::default();
    let mut filters: Vec<&str> = Vec::new();
    let mut cargo_bench = false;
    let mut any_flag = false;
    let mut i = 0;
    let mut only_filters = false;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if only_filters || arg == "-" || !arg.starts_with('-') {
            filters.push(arg);
            continue;
        }
        if arg == "--" {
            only_filters = true;
            continue;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(format!("bad flag syntax: {arg}"));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let key = name.strip_prefix("test.").unwrap_or(name);
        if key == "bench" && inline.is_none() {
            // `-bench REGEX`, or cargo's bare `--bench` (which it appends last).
            match args.get(i) {
                Some(next) if !next.starts_with('-') => {
                    cfg.bench = Some(next.clone());
                    i += 1;
                    any_flag = true;
                }
                _ => cargo_bench = true,
            }
            continue;
        }
        any_flag = true;
        if matches!(key, "h" | "help") {
            return Ok(Parsed::Help);
        }
        if key == "benchmem" {
            cfg.benchmem = match inline {
                None => true,
                Some(v) => parse_bool(v)
                    .ok_or_else(|| format!("invalid boolean value {v:?} for -{name}: parse error"))?,
            };
            continue;
        }
        if !KNOWN.contains(&key) {
            return Err(format!("flag provided but not defined: -{name}"));
        }
        let value = match inline {
            Some(v) => v,
            // The next argument, unless it is cargo's trailing `--bench`.
            None if i < args.len() && !(i + 1 == args.len() && args[i] == "--bench") => {
                i += 1;
                args[i - 1].as_str()
            }
            None => return Err(format!("flag needs an argument: -{name}")),
        };
        let invalid = |why: &str| format!("invalid value {value:?} for flag -{name}: {why}");
        let int = || parse_int(value).ok_or_else(|| invalid("parse error"));
        match key {
            "bench" => cfg.bench = Some(value.to_owned()),
            "benchtime" => cfg.benchtime = parse_benchtime(value).map_err(invalid)?,
            "count" => cfg.count = u64::try_from(int()?).map_err(|_| invalid("parse error"))?,
            "cpuprofile" => cfg.cpuprofile = non_empty(value),
            "trace" => cfg.trace = non_empty(value),
            "memprofile" => cfg.memprofile = non_empty(value),
            "memprofilerate" => cfg.memprofilerate = int()?,
            "blockprofile" => cfg.blockprofile = non_empty(value),
            "blockprofilerate" => cfg.blockprofilerate = int()?,
            "mutexprofile" => cfg.mutexprofile = non_empty(value),
            "mutexprofilefraction" => cfg.mutexprofilefraction = int()?,
            "outputdir" => cfg.outputdir = non_empty(value),
            "cpu" => {
                cfg.cpu = parse_cpu_list(value).map_err(|v| format!("invalid value {v:?} for -test.cpu"))?
            }
            "run" => cfg.run = Some(value.to_owned()),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    if !filters.is_empty() {
        if let Some(re) = &cfg.bench {
            return Err(format!("both -bench {re:?} and the filter {:?} given: use one", filters.join(" ")));
        }
        cfg.bench = Some(filters.join("|"));
    }
    if !cargo_bench && !any_flag {
        // Run by `cargo test --benches` (or with nothing but a filter): a smoke
        // test, each benchmark once, like libtest runs #[bench] functions.
        cfg.benchtime = BenchTime::Count(1);
    }
    Ok(Parsed::Run(Box::new(cfg)))
}

/// The flags that take a value.
const KNOWN: &[&str] = &[
    "bench",
    "benchtime",
    "count",
    "cpuprofile",
    "trace",
    "memprofile",
    "memprofilerate",
    "blockprofile",
    "blockprofilerate",
    "mutexprofile",
    "mutexprofilefraction",
    "outputdir",
    "cpu",
    "run",
];

/// `-cpu 1,2,4`: positive counts separated by commas (blanks ignored, as Go
/// does); the error is the element that is not one.
fn parse_cpu_list(v: &str) -> Result<Vec<usize>, String> {
    let mut list = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.parse::<usize>() {
            Ok(n) if n > 0 => list.push(n),
            _ => return Err(item.to_owned()),
        }
    }
    Ok(list)
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An integer as Go's flag package reads it: optional sign, decimal or with a
/// `0x`, `0o`, `0b` prefix (or a leading `0` for octal).
fn parse_int(v: &str) -> Option<i64> {
    let (neg, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.replace('_', ""))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].replace('_', ""))
    } else {
        (10, lower.clone())
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(&body, radix).ok()?;
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// `-benchtime`: a positive duration, or a positive count with an `x` suffix.
fn parse_benchtime(v: &str) -> Result<BenchTime, &'static str> {
    if let Some(n) = v.strip_suffix('x') {
        return match n.parse::<i64>() {
            Ok(n) if n > 0 => Ok(BenchTime::Count(n as u64)),
            _ => Err("invalid count"),
        };
    }
    match parse_go_duration(v) {
        Some(d) if !d.is_zero() => Ok(BenchTime::Duration(d)),
        _ => Err("invalid duration"),
    }
}

/// Go's `time.ParseDuration` for non-negative durations: a sequence of decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`,
/// `s`, `m`, `h`), e.g. `1.5s`, `2m30s`; `0` alone is zero.
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        total_ns = total_ns.checked_add(whole.checked_mul(scale)?)?;
        if !frac_part.is_empty() {
            let frac: f64 = format!("0.{frac_part}").parse().ok()?;
            total += frac * scale as f64;
        }
        rest = after;
    }
    let ns = total_ns.checked_add(total as u128)?;
    if ns > i64::MAX as u128 {
        return None;
    }
    Some(Duration::from_nanos(ns as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn cfg(s: &[&str]) -> Config {
        match parse(&args(s)) {
            Ok(Parsed::Run(c)) => *c,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    fn err(s: &[&str]) -> String {
        match parse(&args(s)) {
            Err(e) => e,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn cargo_bench_flag_is_not_the_regexp() {
        let c = cfg(&["-benchmem", "--bench"]);
        assert_eq!(c.bench, None);
        assert!(c.benchmem);
        assert_eq!(c.benchtime, BenchTime::Duration(Duration::from_secs(1)));
        assert_eq!(cfg(&["-bench", "Hash", "--bench"]).bench.as_deref(), Some("Hash"));
        assert_eq!(cfg(&["--bench", "Hash$", "--bench"]).bench.as_deref(), Some("Hash$"));
        assert_eq!(cfg(&["-test.bench=.", "--bench"]).bench.as_deref(), Some("."));
        // A bare -bench followed by another flag is cargo's too.
        let c = cfg(&["-bench", "-count", "2", "--bench"]);
        assert_eq!((c.bench, c.count), (None, 2));
        // cargo bench NAME: a filter, taken as the regexp.
        assert_eq!(cfg(&["Hash", "--bench"]).bench.as_deref(), Some("Hash"));
        assert_eq!(cfg(&["A", "B", "--bench"]).bench.as_deref(), Some("A|B"));
        assert!(err(&["-bench", "A", "B"]).contains("both -bench"));
    }

    #[test]
    fn go_flag_forms() {
        let c = cfg(&[
            "--benchtime=100x",
            "-count",
            "3",
            "-cpuprofile",
            "cpu.out",
            "--memprofile=mem.out",
            "-memprofilerate=1",
            "-blockprofile",
            "block.out",
            "-blockprofilerate",
            "0x10",
            "-test.mutexprofile=mutex.out",
            "-mutexprofilefraction",
            "5",
            "-outputdir",
            "/tmp/x",
            "-benchmem=false",
        ]);
        assert_eq!(c.benchtime, BenchTime::Count(100));
        assert_eq!(c.count, 3);
        assert_eq!(c.cpuprofile.as_deref(), Some("cpu.out"));
        assert_eq!(c.memprofile.as_deref(), Some("mem.out"));
        assert_eq!(c.memprofilerate, 1);
        assert_eq!(c.blockprofile.as_deref(), Some("block.out"));
        assert_eq!(c.blockprofilerate, 16);
        assert_eq!(c.mutexprofile.as_deref(), Some("mutex.out"));
        assert_eq!(c.mutexprofilefraction, 5);
        assert_eq!(c.outputdir.as_deref(), Some("/tmp/x"));
        assert!(!c.benchmem);
        let c = cfg(&["-cpu", "1, 2,,4", "-run=^$"]);
        assert_eq!(c.cpu, vec![1, 2, 4]);
        assert_eq!(c.run.as_deref(), Some("^$"));
        assert_eq!(err(&["-cpu=1,0"]), "invalid value \"0\" for -test.cpu");
        assert_eq!(cfg(&["-benchtime", "2s"]).benchtime, BenchTime::Duration(Duration::from_secs(2)));
        assert_eq!(
            cfg(&["-benchtime", "1m1.5s"]).benchtime,
            BenchTime::Duration(Duration::from_millis(61_500))
        );
        assert_eq!(cfg(&["-benchtime", "250µs"]).benchtime, BenchTime::Duration(Duration::from_micros(250)));
    }

    #[test]
    fn test_mode_without_cargo_bench_or_flags() {
        assert_eq!(cfg(&[]).benchtime, BenchTime::Count(1));
        assert_eq!(cfg(&["Hash"]).benchtime, BenchTime::Count(1));
        assert_eq!(cfg(&["--bench"]).benchtime, BenchTime::Duration(Duration::from_secs(1)));
        assert_eq!(cfg(&["-count=2"]).benchtime, BenchTime::Duration(Duration::from_secs(1)));
    }

    #[test]
    fn errors_are_go_flag_messages() {
        assert_eq!(err(&["-nope"]), "flag provided but not defined: -nope");
        assert_eq!(err(&["--test.nope=1"]), "flag provided but not defined: -test.nope");
        assert_eq!(err(&["-count"]), "flag needs an argument: -count");
        assert_eq!(err(&["-cpuprofile", "--bench"]), "flag needs an argument: -cpuprofile");
        assert_eq!(err(&["-count", "x"]), "invalid value \"x\" for flag -count: parse error");
        assert_eq!(err(&["-count=-1"]), "invalid value \"-1\" for flag -count: parse error");
        assert_eq!(err(&["-benchtime", "3"]), "invalid value \"3\" for flag -benchtime: invalid duration");
        assert_eq!(err(&["-benchtime=0s"]), "invalid value \"0s\" for flag -benchtime: invalid duration");
        assert_eq!(err(&["-benchtime=-1s"]), "invalid value \"-1s\" for flag -benchtime: invalid duration");
        assert_eq!(err(&["-benchtime=0x"]), "invalid value \"0x\" for flag -benchtime: invalid count");
        assert_eq!(err(&["-benchtime=ax"]), "invalid value \"ax\" for flag -benchtime: invalid count");
        assert_eq!(err(&["-benchmem=yes"]), "invalid boolean value \"yes\" for -benchmem: parse error");
        assert_eq!(err(&["---x"]), "bad flag syntax: ---x");
        assert!(matches!(parse(&args(&["-h"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["--help"])), Ok(Parsed::Help)));
    }

    #[test]
    fn go_durations() {
        let d = |s: &str| parse_go_duration(s);
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("1s"), Some(Duration::from_secs(1)));
        assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(d(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(d("1h2m3s4ms5us6ns"), Some(Duration::new(3723, 4_005_006)));
        assert_eq!(d("100"), None);
        assert_eq!(d("1x"), None);
        assert_eq!(d("s"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("."), None);
    }
}
