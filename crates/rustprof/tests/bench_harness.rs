//! The benchmark harness run as a bench binary runs: each test starts this
//! test binary again as a child whose only test hands the arguments to
//! `rustprof::bench::run` (so that nothing else allocates or profiles in that
//! process), and reads its stdout with a parser of Go's benchmark format
//! written from the format's definition (golang.org/x/perf's benchfmt:
//! `key: value` configuration lines; result lines `Benchmark<Name> <iterations>
//! (<value> <unit>)*`, fields separated by white space), then checks the values.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustprof::bench::{B, Benchmark};

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

// ---------------------------------------------------------------------------
// The benchmarks the child runs.

/// Exactly three allocations per iteration, of 8 + 100 + 20 = 128 bytes.
fn three_allocs(b: &mut B) {
    b.iter(|| {
        let a = Box::new(black_box(7u64));
        let v: Vec<u8> = Vec::with_capacity(black_box(100));
        let s = String::with_capacity(black_box(20));
        (a, v, s)
    });
}

/// Allocations while the timer is stopped do not count.
fn stopped_timer(b: &mut B) {
    for _ in 0..b.n() {
        b.stop_timer();
        let setup = black_box(vec![1u8; 4096]);
        b.start_timer();
        black_box(setup.len());
        b.stop_timer();
        drop(setup);
        b.start_timer();
    }
}

#[inline(never)]
fn spin_work(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(13) ^ i;
    }
    x
}

fn spin(b: &mut B) {
    b.iter(|| spin_work(black_box(300)));
}

/// 1 KiB per iteration: MB/s; the setup is not timed.
fn bytes(b: &mut B) {
    let data = vec![3u8; 1024];
    b.set_bytes(1024);
    b.reset_timer();
    b.iter(|| data.iter().map(|&x| u64::from(x)).sum::<u64>());
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Reports the iterations of all its runs so far.
fn count_calls(b: &mut B) {
    let total = CALLS.fetch_add(b.n(), Ordering::Relaxed) + b.n();
    b.report_metric(total as f64, "calls");
}

/// Sub-benchmarks with a custom metric.
fn sub(b: &mut B) {
    for n in [1u32, 2] {
        b.run(&format!("n={n}"), |b| {
            b.iter(|| spin_work(black_box(u64::from(n))));
            b.report_metric(f64::from(n) * 1.75, "widgets/op");
        });
    }
}

fn fails(b: &mut B) {
    b.fatal("broken on purpose");
}

#[inline(never)]
fn contended_section(m: &rustprof::sync::Mutex<u64>) {
    let mut g = m.lock().unwrap();
    *g += 1;
    // Long enough that the other threads have to sleep on the lock.
    std::thread::sleep(Duration::from_micros(20));
}

fn contended(b: &mut B) {
    let m = rustprof::sync::Mutex::new(0u64);
    b.set_parallelism(2);
    b.run_parallel(|pb| {
        while pb.next() {
            contended_section(&m);
        }
    });
}

const BENCHES: &[Benchmark] = &[
    Benchmark::from_fn_name("three_allocs", three_allocs),
    Benchmark::from_fn_name("stopped_timer", stopped_timer),
    Benchmark::from_fn_name("spin", spin),
    Benchmark::from_fn_name("bytes", bytes),
    Benchmark::from_fn_name("count_calls", count_calls),
    Benchmark::from_fn_name("sub", sub),
    Benchmark::from_fn_name("fails", fails),
    Benchmark::new("BenchmarkContended", contended),
];

const ARGS_VAR: &str = "RUSTPROF_BENCH_HARNESS_ARGS";

#[test]
#[ignore = "the child process of the other tests"]
fn child() {
    let Ok(args) = std::env::var(ARGS_VAR) else { return };
    let args: Vec<String> = args.split('\u{1f}').filter(|a| !a.is_empty()).map(String::from).collect();
    std::process::exit(rustprof::bench::run("bench-harness", BENCHES, &args));
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(ARGS_VAR, args.join("\u{1f}"))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

// ---------------------------------------------------------------------------
// Go's benchmark format.

#[derive(Debug)]
struct GoResult {
    /// The name without the `-procs` suffix.
    name: String,
    procs: usize,
    iters: u64,
    metrics: Vec<(f64, String)>,
    line: String,
}

impl GoResult {
    fn metric(&self, unit: &str) -> Option<f64> {
        self.metrics.iter().find(|(_, u)| u == unit).map(|(v, _)| *v)
    }
}

#[derive(Debug, Default)]
struct GoOutput {
    config: Vec<(String, String)>,
    results: Vec<GoResult>,
}

impl GoOutput {
    fn named(&self, name: &str) -> Vec<&GoResult> {
        self.results.iter().filter(|r| r.name == name).collect()
    }

    fn one(&self, name: &str) -> &GoResult {
        let v = self.named(name);
        assert_eq!(v.len(), 1, "{name}: {:?}", self.results);
        v[0]
    }
}

/// A configuration key: starts with a lower-case letter, no spaces, no
/// upper-case letters.
fn config_line(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once(':')?;
    let first = key.chars().next()?;
    if !first.is_lowercase() || key.chars().any(|c| c.is_whitespace() || c.is_uppercase()) {
        return None;
    }
    Some((key.to_owned(), value.trim().to_owned()))
}

/// A result line: a name starting with `Benchmark` (then an upper-case
/// letter, or nothing), an integer count, then value/unit pairs; other lines
/// are not results.
fn result_line(line: &str) -> Option<GoResult> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let full = *fields.first()?;
    let rest = full.strip_prefix("Benchmark")?;
    if rest.chars().next().is_some_and(|c| !c.is_uppercase()) {
        return None;
    }
    let iters: u64 = fields.get(1)?.parse().ok()?;
    if !fields.len().is_multiple_of(2) {
        return None;
    }
    let mut metrics = Vec::new();
    for pair in fields[2..].chunks(2) {
        metrics.push((pair[0].parse::<f64>().ok()?, pair[1].to_owned()));
    }
    // The GOMAXPROCS suffix: `-N` at the end of the name.
    let (name, procs) = match full.rsplit_once('-') {
        Some((n, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (n, p.parse().ok()?),
        _ => (full, 1),
    };
    Some(GoResult { name: name.to_owned(), procs, iters, metrics, line: line.to_owned() })
}

fn parse_go(text: &str) -> GoOutput {
    let mut out = GoOutput::default();
    for line in text.lines() {
        if let Some(r) = result_line(line) {
            out.results.push(r);
        } else if let Some(kv) = config_line(line) {
            out.config.push(kv);
        }
    }
    out
}

/// Go's column layout, from `BenchmarkResult.String` and `prettyPrint`: the
/// name padded then a tab, the count in at least 8 columns, each metric after
/// a tab in a field whose width follows its magnitude, B/op and allocs/op as
/// `%8d`, MB/s as `%7.2f`.
fn check_layout(r: &GoResult) {
    let cols: Vec<&str> = r.line.split('\t').collect();
    assert!(cols.len() >= 3, "{:?}", r.line);
    assert!(cols[0].starts_with("Benchmark") && !cols[0].starts_with(' '), "{:?}", r.line);
    assert!(cols[1].len() >= 8 && cols[1].trim_start() == r.iters.to_string(), "{:?}", r.line);
    for col in &cols[2..] {
        let (num, unit) = col.trim_start().split_once(' ').unwrap();
        let value: f64 = num.parse().unwrap();
        let width = col.len() - unit.len() - 1;
        let (want_width, want_decimals) = match unit {
            "MB/s" => (7, 2),
            "B/op" | "allocs/op" => (8, 0),
            _ => {
                let y = value.abs();
                if y == 0.0 || y >= 999.95 {
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
                }
            }
        };
        assert!(
            width == want_width || (width > want_width && !col.starts_with(' ')),
            "{col:?} in {:?}",
            r.line
        );
        let decimals = num.split_once('.').map_or(0, |(_, d)| d.len());
        assert_eq!(decimals, want_decimals, "{col:?} in {:?}", r.line);
    }
}

fn procs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ok_run(args: &[&str]) -> (Run, GoOutput) {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let g = parse_go(&r.stdout);
    for res in &g.results {
        check_layout(res);
    }
    (r, g)
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn output_has_go_structure_and_exact_allocations() {
    let (r, g) = ok_run(&["-bench", "ThreeAllocs|Bytes|Sub", "-benchtime", "1000x", "-benchmem"]);
    // The header, in Go's order, before the first result.
    let keys: Vec<&str> = g.config.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.starts_with(&["goos", "goarch", "pkg"]), "{keys:?}");
    assert_eq!(g.config[2].1, "bench-harness");
    assert_eq!(g.config[0].1, if cfg!(target_os = "linux") { "linux" } else { std::env::consts::OS });
    let lines: Vec<&str> = r.stdout.lines().collect();
    let first_result = lines.iter().position(|l| l.starts_with("Benchmark")).unwrap();
    let goos = lines.iter().position(|l| l.starts_with("goos: ")).unwrap();
    assert!(goos < first_result);
    // PASS, then ok with the package and a time, last.
    let n = lines.len();
    assert_eq!(lines[n - 2], "PASS", "{}", r.stdout);
    let ok: Vec<&str> = lines[n - 1].split('\t').collect();
    assert_eq!(&ok[..2], &["ok  ", "bench-harness"], "{}", lines[n - 1]);
    assert!(ok[2].strip_suffix('s').unwrap().parse::<f64>().unwrap() >= 0.0);

    let names: Vec<&str> = g.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["BenchmarkThreeAllocs", "BenchmarkBytes", "BenchmarkSub/n=1", "BenchmarkSub/n=2"]);
    for res in &g.results {
        assert_eq!(res.procs, procs(), "{}", res.line);
        assert_eq!(res.iters, 1000, "{}", res.line);
        let ns = res.metric("ns/op").unwrap();
        assert!(ns > 0.0 && ns < 1e7, "{}", res.line);
    }
    let three = g.one("BenchmarkThreeAllocs");
    assert_eq!(three.metric("allocs/op"), Some(3.0), "{}", three.line);
    assert_eq!(three.metric("B/op"), Some(128.0), "{}", three.line);
    // MB/s is bytes × N / time.
    let bytes = g.one("BenchmarkBytes");
    let (ns, mbs) = (bytes.metric("ns/op").unwrap(), bytes.metric("MB/s").unwrap());
    let want = 1024.0 * 1e3 / ns;
    assert!((mbs - want).abs() <= want * 0.002 + 0.01, "{mbs} vs {want}: {}", bytes.line);
    assert_eq!(bytes.metric("allocs/op"), Some(0.0), "the setup is before reset_timer: {}", bytes.line);
    // The parent of sub-benchmarks is not measured; their metrics are printed.
    assert!(g.named("BenchmarkSub").is_empty());
    assert_eq!(g.one("BenchmarkSub/n=1").metric("widgets/op"), Some(1.75));
    assert_eq!(g.one("BenchmarkSub/n=2").metric("widgets/op"), Some(3.5));
    // Name columns line up: all padded to one width.
    let widths: Vec<usize> = g.results.iter().map(|r| r.line.find('\t').unwrap()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{}", r.stdout);
}

#[test]
fn allocations_are_exact_for_one_iteration_and_stopped_timer_excludes() {
    let (_, g) = ok_run(&["-bench", "ThreeAllocs|StoppedTimer", "-benchtime", "1x", "-benchmem"]);
    let three = g.one("BenchmarkThreeAllocs");
    assert_eq!(three.iters, 1);
    assert_eq!((three.metric("B/op"), three.metric("allocs/op")), (Some(128.0), Some(3.0)), "{}", three.line);
    let (_, g) = ok_run(&["-bench", "StoppedTimer", "-benchtime", "50x", "-benchmem"]);
    let stopped = g.one("BenchmarkStoppedTimer");
    assert_eq!(
        (stopped.metric("B/op"), stopped.metric("allocs/op")),
        (Some(0.0), Some(0.0)),
        "{}",
        stopped.line
    );
    // Without -benchmem or report_allocs there are no memory columns.
    let (_, g) = ok_run(&["-bench", "ThreeAllocs", "-benchtime", "5x"]);
    assert_eq!(g.one("BenchmarkThreeAllocs").metric("allocs/op"), None);
}

#[test]
fn benchtime_count_runs_exactly_n_iterations_after_one() {
    let (_, g) = ok_run(&["-bench=CountCalls", "-benchtime=37x"]);
    let r = g.one("BenchmarkCountCalls");
    assert_eq!(r.iters, 37);
    // The probe run of b.N = 1, then the 37.
    assert_eq!(r.metric("calls"), Some(38.0), "{}", r.line);
}

#[test]
fn n_grows_until_the_run_takes_benchtime() {
    let (_, g) = ok_run(&["-bench", "^BenchmarkSpin$", "-benchtime", "300ms"]);
    let r = g.one("BenchmarkSpin");
    assert!(r.iters > 1, "{}", r.line);
    // ns/op is printed with 4 significant digits.
    let total_ns = r.iters as f64 * r.metric("ns/op").unwrap();
    assert!(total_ns >= 300e6 * 0.999, "{total_ns} ns: {}", r.line);
}

#[test]
fn count_cpu_and_filters() {
    let (_, g) = ok_run(&["-bench", "ThreeAllocs$", "-count", "3", "-benchtime", "10x"]);
    assert_eq!(g.results.len(), 3, "{:?}", g.results);
    assert!(g.results.iter().all(|r| r.name == "BenchmarkThreeAllocs" && r.iters == 10));
    // A second level selects one sub-benchmark.
    let (_, g) = ok_run(&["-bench", "Sub/n=2", "-benchtime", "10x"]);
    let names: Vec<&str> = g.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["BenchmarkSub/n=2"]);
    // cargo's form: a filter argument and the trailing --bench; -run '^$'.
    let (_, g) = ok_run(&["-run", "^$", "-benchtime", "2x", "Bytes", "--bench"]);
    assert_eq!(g.one("BenchmarkBytes").iters, 2);
    assert_eq!(g.results.len(), 1);
    // -cpu: one result per count, suffixed unless 1.
    let (r, g) = ok_run(&["-bench", "Spin", "-cpu", "1,3", "-benchtime", "2x"]);
    let got: Vec<(&str, usize)> = g.results.iter().map(|r| (r.name.as_str(), r.procs)).collect();
    assert_eq!(got, [("BenchmarkSpin", 1), ("BenchmarkSpin", 3)]);
    assert!(r.stdout.contains("\nBenchmarkSpin-3 "), "{}", r.stdout);
    // Nothing selected: no header, PASS.
    let (r, g) = ok_run(&["-bench", "NoSuchBenchmark"]);
    assert!(g.results.is_empty() && g.config.is_empty(), "{}", r.stdout);
    assert!(r.stdout.contains("PASS\nok  \tbench-harness\t"), "{}", r.stdout);
}

#[test]
fn failures_and_bad_flags() {
    let r = run(&["-bench", "Fails|ThreeAllocs$", "-benchtime", "3x"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("--- FAIL: BenchmarkFails\n    broken on purpose\n"), "{}", r.stdout);
    assert!(r.stdout.contains("\nFAIL\nFAIL\tbench-harness\t"), "{}", r.stdout);
    // The other benchmark still ran.
    assert_eq!(parse_go(&r.stdout).one("BenchmarkThreeAllocs").iters, 3);

    let r = run(&["-benchtime", "3"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("invalid value \"3\" for flag -benchtime: invalid duration\n"),
        "{}",
        r.stderr
    );
    let r = run(&["-bench", "A/[", "--bench"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("testing: invalid regexp for element 1 of -test.bench (\"[\"): "),
        "{}",
        r.stderr
    );
    let r = run(&["-nosuchflag"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("flag provided but not defined: -nosuchflag\n"), "{}", r.stderr);
    let r = run(&["-h"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("-benchtime d"), "{}", r.stdout);
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rustprof-bench-harness-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn decode(path: &Path) -> rustprof::Profile {
    rustprof_profile::decode(&std::fs::read(path).unwrap()).unwrap()
}

fn functions(p: &rustprof::Profile) -> Vec<String> {
    p.functions.iter().map(|f| p.str(f.name).to_string()).collect()
}

fn go_top(path: &Path) -> Option<String> {
    let out = match Command::new("go").args(["tool", "pprof", "-top"]).arg(path).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "go is required in CI: {e}");
            eprintln!("skipping go tool pprof: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn profiles_go_to_outputdir_and_read_in_go_tool_pprof() {
    let dir = tmpdir("profiles");
    let (r, g) = ok_run(&[
        "-bench",
        "Contended|ThreeAllocs",
        "-benchtime",
        "400x",
        "-benchmem",
        "-outputdir",
        dir.to_str().unwrap(),
        "-cpuprofile",
        "cpu.out",
        "-memprofile",
        "mem.out",
        "-memprofilerate",
        "1",
        "-blockprofile",
        "block.out",
        "-mutexprofile",
        "mutex.out",
    ]);
    assert_eq!(g.results.len(), 2, "{}", r.stdout);
    for (what, file) in
        [("cpu", "cpu.out"), ("allocs", "mem.out"), ("block", "block.out"), ("mutex", "mutex.out")]
    {
        let path = dir.join(file);
        assert!(path.is_file(), "{file}: {}", r.stderr);
        let shown = std::fs::canonicalize(&path).unwrap();
        assert!(
            r.stderr.contains(&format!("rustprof: saved {what} profile in {}\n", shown.display())),
            "{}",
            r.stderr
        );
    }
    let cpu = decode(&dir.join("cpu.out"));
    assert_eq!(cpu.sample_type_names()[1], ("cpu".to_owned(), "nanoseconds".to_owned()));
    // Every allocation sampled (-memprofilerate 1): three_allocs' 3 × 401 at least.
    let mem = decode(&dir.join("mem.out"));
    assert_eq!(mem.sample_type_names()[0], ("alloc_objects".to_owned(), "count".to_owned()));
    assert!(
        functions(&mem).iter().any(|f| f.ends_with("bench_harness::three_allocs::{{closure}}")
            || f.ends_with("bench_harness::three_allocs")),
        "{:?}",
        functions(&mem)
    );
    for file in ["block.out", "mutex.out"] {
        let p = decode(&dir.join(file));
        let types = p.sample_type_names();
        assert_eq!(
            types,
            [("contentions".to_owned(), "count".to_owned()), ("delay".to_owned(), "nanoseconds".to_owned())]
        );
        assert!(p.totals()[0] > 0, "{file}: no contention recorded");
        assert!(
            functions(&p).iter().any(|f| f.ends_with("bench_harness::contended_section")),
            "{file}: {:?}",
            functions(&p)
        );
    }
    for file in ["cpu.out", "mem.out", "block.out", "mutex.out"] {
        if let Some(top) = go_top(&dir.join(file)) {
            assert!(top.contains("Showing nodes"), "{file}: {top}");
            if file != "cpu.out" {
                let want = if file == "mem.out" { "three_allocs" } else { "contended_section" };
                assert!(top.contains(want), "{file}: {top}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[path = "../../trace/tests/common/mod.rs"]
mod perfetto;

#[test]
fn trace_flag_writes_a_perfetto_trace_of_the_run() {
    let dir = tmpdir("trace");
    let (r, g) = ok_run(&[
        "-bench",
        "Contended",
        "-benchtime",
        "200x",
        "-cpuprofile",
        "cpu.out",
        "-trace",
        "trace.out",
        "-outputdir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(g.results.len(), 1, "{}", r.stdout);
    let path = dir.join("trace.out");
    let shown = std::fs::canonicalize(&path).unwrap();
    assert!(r.stderr.contains(&format!("rustprof: saved trace in {}\n", shown.display())), "{}", r.stderr);
    let bytes = std::fs::read(&path).unwrap();
    let t = rustprof_trace::decode(&bytes).unwrap();
    assert_eq!(t.truncated_at, None);
    // The benchmark's two goroutine-like threads waited for its lock.
    let waits = t.events.iter().filter(|e| e.name == rustprof_trace::vocab::LOCK_WAIT).count();
    assert!(waits > 0, "no lock waits in {} events", t.events.len());
    if let Some(py) = perfetto::perfetto_python() {
        let d = perfetto::perfetto_dump(&py, &path);
        assert_eq!(d["events"].as_array().unwrap().len(), t.events.len());
    }
    // A path that cannot be created: go test's message, the run goes on.
    let r = run(&["-bench", "Spin", "-benchtime", "1x", "-trace", "/nonexistent/dir/t.out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.starts_with("testing: open /nonexistent/dir/t.out: "), "{}", r.stderr);
}
