//! Go's benchmark harness for cargo: `go test -bench . -benchmem -cpuprofile
//! prof.cpu`, as `cargo bench -- -benchmem -cpuprofile prof.cpu`.
//!
//! A bench target with `harness = false` registers functions that take a
//! [`&mut B`](B) with [`bench_main!`](crate::bench_main):
//!
//! ```toml
//! # Cargo.toml
//! [dependencies]
//! rustprof = { version = "0.1", features = ["bench"] }
//! [[bench]]
//! name = "hash"
//! harness = false
//! ```
//!
//! ```no_run
//! // benches/hash.rs
//! use rustprof::bench::B;
//!
//! // B/op and allocs/op (-benchmem) and -memprofile need the sampling allocator.
//! #[global_allocator]
//! static ALLOC: rustprof::heap::Sampled<std::alloc::System> =
//!     rustprof::heap::Sampled::new(std::alloc::System);
//!
//! fn hash_password(b: &mut B) {
//!     b.report_allocs();
//!     b.iter(|| format!("{:x}", 0xdead_beef_u32));
//! }
//!
//! rustprof::bench_main!(hash_password); // BenchmarkHashPassword
//! ```
//!
//! ```text
//! $ cargo bench -- -benchmem -cpuprofile prof.cpu     (tabs shown as spaces)
//! goos: linux
//! goarch: amd64
//! pkg: hash
//! cpu: AMD EPYC 7B13
//! BenchmarkHashPassword-2        12872011            92.91 ns/op           8 B/op           1 allocs/op
//! PASS
//! ok      hash    2.121s
//! ```
//!
//! The flags are `go test`'s (one or two dashes, `-test.` prefix optional):
//! `-bench REGEXP` (or a plain filter argument), `-benchtime 2s|100x`, `-count
//! N`, `-cpu 1,2,4`, `-benchmem`, `-cpuprofile F`, `-trace F` (an execution
//! trace, [`crate::trace`]), `-memprofile F`,
//! `-memprofilerate N`, `-blockprofile F`, `-blockprofilerate N`,
//! `-mutexprofile F`, `-mutexprofilefraction N`, `-outputdir DIR`; `-h` lists
//! them. Without `-bench`, every benchmark runs. cargo runs a bench binary in
//! its package's directory: that is where relative profile paths land (the
//! harness prints where it wrote each profile). Run by `cargo test --benches`
//! (no flags), each benchmark runs once, as a smoke test.
//!
//! The driver is Go's: every benchmark first runs with `b.N = 1`; then b.N
//! grows (by the time per iteration measured so far, +20%, at most ×100, at
//! least +1, at most 10⁹) until a run takes `-benchtime`; `-benchtime 100x`
//! runs exactly 100 iterations. A benchmark that calls [`B::run`] is not
//! measured itself: its sub-benchmarks are (`BenchmarkX/name`), selected by
//! the levels of the `-bench` pattern (`X/name`).
//!
//! The output is Go's, byte for byte in layout (names padded, `-N` suffix when
//! the processor count is not 1, Go's number formats, the `goos`/`goarch`/
//! `pkg`/`cpu` lines, `PASS` and `ok`), so `benchstat` reads it. `B/op` and
//! `allocs/op` are exact: [`crate::heap::stats`] counts every allocation of the
//! process while the timer runs, as Go's `runtime.ReadMemStats` does.

#[cfg(feature = "criterion")]
pub mod criterion;
mod flags;
mod format;
mod matcher;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::heap::{self, AllocStats};
use flags::{BenchTime, Config, Parsed};
use format::Outcome;
use matcher::{Matcher, Names};

/// A benchmark: its name (`BenchmarkX`) and its function.
#[derive(Clone, Copy, Debug)]
pub struct Benchmark {
    name: &'static str,
    /// Whether `name` is a Rust function name to turn into Go's form.
    from_fn: bool,
    func: fn(&mut B),
}

impl Benchmark {
    /// A benchmark with a name as Go prints it, e.g. `BenchmarkHashPassword`.
    pub const fn new(name: &'static str, func: fn(&mut B)) -> Benchmark {
        Benchmark { name, from_fn: false, func }
    }

    /// A benchmark named after its function: `hash_password` (or
    /// `bench_hash_password`, or a path ending with it) is
    /// `BenchmarkHashPassword`. [`bench_main!`](crate::bench_main) names them so.
    pub const fn from_fn_name(fn_name: &'static str, func: fn(&mut B)) -> Benchmark {
        Benchmark { name: fn_name, from_fn: true, func }
    }

    /// The name printed in results.
    pub fn name(&self) -> String {
        if self.from_fn { go_name(self.name) } else { self.name.to_owned() }
    }
}

/// `bench_hash_password` or `path::to::hash_password` → `BenchmarkHashPassword`;
/// a name already starting with `Benchmark` is kept. Words are capitalized and
/// joined; an `_` stays before a word that starts with a digit (`sha_1k` →
/// `Sha_1k`).
fn go_name(fn_name: &str) -> String {
    let last = fn_name.rsplit("::").next().unwrap_or(fn_name).trim();
    if last.starts_with("Benchmark") {
        return last.to_owned();
    }
    let base = last.strip_prefix("bench_").filter(|s| !s.is_empty()).unwrap_or(last);
    let mut out = String::from("Benchmark");
    for (i, word) in base.split('_').filter(|w| !w.is_empty()).enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i > 0 && first.is_ascii_digit() {
                out.push('_');
            }
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The `main` of a `harness = false` bench target: runs the benchmark
/// functions listed, named after them (`hash_password` is
/// `BenchmarkHashPassword`), with `go test`'s flags; see the [`bench`](crate::bench)
/// module.
///
/// ```no_run
/// fn parse(b: &mut rustprof::bench::B) {
///     b.iter(|| "42".parse::<u32>());
/// }
/// rustprof::bench_main!(parse);
/// ```
#[macro_export]
macro_rules! bench_main {
    ($($func:path),+ $(,)?) => {
        fn main() {
            $crate::bench::main(
                env!("CARGO_PKG_NAME"),
                &[$($crate::bench::Benchmark::from_fn_name(stringify!($func), $func)),+],
            )
        }
    };
}

/// Runs `benchmarks` with the command line's flags and exits (status 0, 1 if a
/// benchmark failed, 2 for bad flags or profiles that could not be written).
/// `pkg` is printed in the `pkg:` and `ok` lines.
pub fn main(pkg: &str, benchmarks: &[Benchmark]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run(pkg, benchmarks, &args);
    std::process::exit(code)
}

/// Runs `benchmarks` with the flags `args` (without the program name),
/// printing Go's benchmark output on stdout; returns the exit status
/// [`main`] exits with.
pub fn run(pkg: &str, benchmarks: &[Benchmark], args: &[String]) -> i32 {
    let cfg = match flags::parse(args) {
        Ok(Parsed::Run(cfg)) => *cfg,
        Ok(Parsed::Help) => {
            print!("{}", flags::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("{e}");
            eprint!("{}", flags::USAGE);
            return 2;
        }
    };
    match Harness::new(pkg, cfg) {
        Ok(h) => h.run_all(benchmarks),
        Err((msg, code)) => {
            eprintln!("{msg}");
            code
        }
    }
}

/// A benchmark function.
type BenchFn = fn(&mut B);

/// The run's state, shared by every [`B`].
struct Ctx {
    cfg: Config,
    pkg: String,
    matcher: Matcher,
    names: Names,
    /// Width of the name column (Go's `maxLen`).
    max_len: usize,
    /// Length of the `-N` suffix of the largest processor count.
    ext_len: usize,
    /// The `-cpu` list.
    cpus: Vec<usize>,
    /// The processor count set last (what Go's GOMAXPROCS would be now).
    procs: usize,
    header_done: bool,
    /// Whether the Sampled allocator counts allocations.
    heap_counts: bool,
    alloc_note_done: bool,
}

impl Ctx {
    fn print(&self, s: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not the benchmark's failure.
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    fn header(&mut self) {
        if !self.header_done {
            self.header_done = true;
            let h = format::header(&self.pkg);
            self.print(&h);
        }
    }
}

/// The profiles being taken and where they go.
struct Profiles {
    cpu: Option<(crate::cpu::CpuProfiler, PathBuf)>,
    trace: Option<PathBuf>,
    mem: Option<PathBuf>,
    block: Option<PathBuf>,
    mutex: Option<PathBuf>,
}

struct Harness {
    ctx: Rc<RefCell<Ctx>>,
    profiles: Profiles,
}

/// Go's `toOutputDir`: a relative path goes under `-outputdir` when given.
fn to_output_dir(cfg: &Config, path: &str) -> PathBuf {
    match &cfg.outputdir {
        Some(dir) if !Path::new(path).is_absolute() => Path::new(dir).join(path),
        _ => PathBuf::from(path),
    }
}

impl Harness {
    /// Checks the patterns, sets the profile rates and starts the CPU profile
    /// (Go's `M.before`). The error is a message and an exit status.
    fn new(pkg: &str, cfg: Config) -> Result<Harness, (String, i32)> {
        let pattern = cfg.bench.clone().unwrap_or_else(|| ".".to_owned());
        let matcher = Matcher::new(&pattern, "-test.bench")
            .map_err(|e| (format!("testing: invalid regexp for {e}"), 1))?;
        if let Some(run) = &cfg.run {
            Matcher::new(run, "-test.run").map_err(|e| (format!("testing: invalid regexp for {e}"), 1))?;
        }
        let default_procs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpus = if cfg.cpu.is_empty() { vec![default_procs] } else { cfg.cpu.clone() };
        let max_procs = cpus.iter().copied().max().unwrap_or(1);
        let ext_len = format::with_procs("", max_procs).len();
        let heap_counts = heap::is_installed();
        if cfg.memprofile.is_some() && !heap_counts {
            return Err((
                "testing: -memprofile needs rustprof::heap::Sampled as the #[global_allocator] of the \
                 bench target (see the rustprof::bench docs)"
                    .to_owned(),
                2,
            ));
        }
        if cfg.memprofilerate > 0 {
            heap::set_sample_rate(cfg.memprofilerate as usize);
        }
        if cfg.blockprofile.is_some() && cfg.blockprofilerate >= 0 {
            crate::sync::set_block_profile_rate(cfg.blockprofilerate as u64);
        }
        if cfg.mutexprofile.is_some() && cfg.mutexprofilefraction >= 0 {
            crate::sync::set_mutex_profile_fraction(cfg.mutexprofilefraction as u64);
        }
        let mut cpu = None;
        if let Some(f) = &cfg.cpuprofile {
            let path = to_output_dir(&cfg, f);
            // Created now, as go test does, so that a bad path shows at once.
            match std::fs::File::create(&path) {
                Err(e) => eprintln!("testing: open {}: {e}", path.display()),
                Ok(_) => match crate::cpu::start(crate::cpu::CpuOptions::default()) {
                    Ok(p) => cpu = Some((p, path)),
                    Err(e) => eprintln!("testing: can't start cpu profile: {e}"),
                },
            }
        }
        let mut trace = None;
        if let Some(f) = &cfg.trace {
            let path = to_output_dir(&cfg, f);
            match std::fs::File::create(&path) {
                Err(e) => eprintln!("testing: open {}: {e}", path.display()),
                Ok(file) => match crate::trace::start(std::io::BufWriter::new(file)) {
                    Ok(()) => trace = Some(path),
                    Err(e) => eprintln!("testing: can't start tracing: {e}"),
                },
            }
        }
        let profiles = Profiles {
            cpu,
            trace,
            mem: cfg.memprofile.as_deref().map(|f| to_output_dir(&cfg, f)),
            block: cfg.blockprofile.as_deref().map(|f| to_output_dir(&cfg, f)),
            mutex: cfg.mutexprofile.as_deref().map(|f| to_output_dir(&cfg, f)),
        };
        let ctx = Ctx {
            cfg,
            pkg: pkg.to_owned(),
            matcher,
            names: Names::default(),
            max_len: 0,
            ext_len,
            procs: default_procs,
            cpus,
            header_done: false,
            heap_counts,
            alloc_note_done: false,
        };
        Ok(Harness { ctx: Rc::new(RefCell::new(ctx)), profiles })
    }

    /// Go's `runBenchmarks` and `M.after`: runs the selected benchmarks, prints
    /// PASS or FAIL, writes the profiles.
    fn run_all(self, benchmarks: &[Benchmark]) -> i32 {
        let start = Instant::now();
        let selected: Vec<(String, BenchFn)> = {
            let mut ctx = self.ctx.borrow_mut();
            let mut selected = Vec::new();
            for bm in benchmarks {
                let name = bm.name();
                if ctx.matcher.matches(&name).0 {
                    let max_procs = ctx.cpus.iter().copied().max().unwrap_or(1);
                    let l = format::with_procs(&name, max_procs).len() + ctx.ext_len + 1;
                    ctx.max_len = ctx.max_len.max(l);
                    selected.push((name, bm.func));
                }
            }
            selected
        };
        // Go's "Main" benchmark, whose sub-benchmarks the top-level ones are.
        let mut main = B::new(self.ctx.clone(), "Main".to_owned(), 0, BenchTime::Count(1));
        let mut failed = false;
        for (name, func) in selected {
            let mut f = func;
            failed |= !main.run_sub(name, &mut f);
        }
        let ctx = self.ctx.borrow();
        let pkg = ctx.pkg.clone();
        drop(ctx);
        if failed {
            self.ctx.borrow().print("FAIL\n");
        } else {
            self.ctx.borrow().print("PASS\n");
        }
        let code = write_profiles(self.profiles);
        let elapsed = start.elapsed().as_secs_f64();
        if failed {
            self.ctx.borrow().print(&format!("FAIL\t{pkg}\t{elapsed:.3}s\n"));
            1
        } else if code != 0 {
            self.ctx.borrow().print(&format!("FAIL\t{pkg}\t{elapsed:.3}s\n"));
            code
        } else {
            self.ctx.borrow().print(&format!("ok  \t{pkg}\t{elapsed:.3}s\n"));
            0
        }
    }
}

/// Go's `M.writeProfiles`: cpu, trace, mem (the allocs profile), block, mutex. Says
/// on stderr where each went. Returns 2 if one could not be written.
fn write_profiles(p: Profiles) -> i32 {
    let mut code = 0;
    let save = |what: &str, profile: &crate::Profile, path: &Path| -> i32 {
        let result = std::fs::File::create(path)
            .map_err(|e| format!("testing: open {}: {e}", path.display()))
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                crate::write_gzip(profile, &mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| format!("testing: can't write {}: {e}", path.display()))
            });
        match result {
            Ok(()) => {
                let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                eprintln!("rustprof: saved {what} profile in {}", shown.display());
                0
            }
            Err(e) => {
                eprintln!("{e}");
                2
            }
        }
    };
    if let Some((profiler, path)) = p.cpu {
        match profiler.stop() {
            Ok(profile) => code = code.max(save("cpu", &profile, &path)),
            Err(e) => {
                eprintln!("testing: can't stop cpu profile: {e}");
                code = 2;
            }
        }
    }
    if let Some(path) = p.trace {
        match crate::trace::stop() {
            Ok(()) => {
                let shown = std::fs::canonicalize(&path).unwrap_or(path);
                eprintln!("rustprof: saved trace in {}", shown.display());
            }
            Err(e) => {
                eprintln!("testing: can't write {}: {e}", path.display());
                code = 2;
            }
        }
    }
    if let Some(path) = p.mem {
        code = code.max(save("allocs", &heap::allocs_profile(), &path));
    }
    if let Some(path) = p.block {
        code = code.max(save("block", &crate::sync::block_profile(), &path));
    }
    if let Some(path) = p.mutex {
        code = code.max(save("mutex", &crate::sync::mutex_profile(), &path));
    }
    code
}

/// The next b.N (Go's `launch` loop body, 1.19): the iterations that would
/// take `goal` at the pace measured (`prev_iters` in `prev`), plus 20%, at most
/// 100× and at least one more than `last`, at most 10⁹.
fn predict_n(goal: Duration, prev_iters: u64, prev: Duration, last: u64) -> u64 {
    let prev_ns = prev.as_nanos().max(1);
    // Multiply first: for fast benchmarks dividing first loses the magnitude.
    let mut n = goal.as_nanos().saturating_mul(u128::from(prev_iters)) / prev_ns;
    n += n / 5;
    n = n.min(100 * u128::from(last));
    n = n.max(u128::from(last) + 1);
    n.min(MAX_N as u128) as u64
}

const MAX_N: u64 = 1_000_000_000;

/// Marks an unwind that [`B::fail_now`] started.
struct FailNow;

/// The handle a benchmark function gets (Go's `*testing.B`): the iteration
/// count, the timer, the metrics, sub-benchmarks.
pub struct B {
    ctx: Rc<RefCell<Ctx>>,
    name: String,
    level: usize,
    benchtime: BenchTime,
    n: u64,
    previous_n: u64,
    previous_duration: Duration,
    timer_on: bool,
    start: Instant,
    start_stats: AllocStats,
    duration: Duration,
    net_allocs: u64,
    net_bytes: u64,
    bytes: u64,
    show_allocs: bool,
    extra: BTreeMap<String, f64>,
    has_sub: bool,
    failed: bool,
    skipped: bool,
    finished: bool,
    output: String,
    parallelism: usize,
    procs: usize,
    result: Outcome,
}

impl B {
    fn new(ctx: Rc<RefCell<Ctx>>, name: String, level: usize, benchtime: BenchTime) -> B {
        let procs = ctx.borrow().procs;
        B {
            ctx,
            name,
            level,
            benchtime,
            n: 0,
            previous_n: 0,
            previous_duration: Duration::ZERO,
            timer_on: false,
            start: Instant::now(),
            start_stats: AllocStats::default(),
            duration: Duration::ZERO,
            net_allocs: 0,
            net_bytes: 0,
            bytes: 0,
            show_allocs: false,
            extra: BTreeMap::new(),
            has_sub: false,
            failed: false,
            skipped: false,
            finished: false,
            output: String::new(),
            parallelism: 1,
            procs,
            result: Outcome::default(),
        }
    }

    /// b.N: how many iterations this run of the function must do.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Runs `f` b.N times, passing each result through
    /// [`std::hint::black_box`] so that the work is not optimized away.
    #[inline]
    pub fn iter<R>(&mut self, mut f: impl FnMut() -> R) {
        // A local count: black_box's opaque use could otherwise make every
        // iteration reload b.N from memory.
        let n = self.n;
        for _ in 0..n {
            std::hint::black_box(f());
        }
    }

    /// The benchmark's full name, e.g. `BenchmarkX/size=10` (without the `-N`
    /// suffix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The processor count of this run (the `-cpu` value; the `-N` of the name).
    pub fn procs(&self) -> usize {
        self.procs
    }

    /// Starts timing (and counting allocations), if stopped. The timer runs
    /// when the function is called.
    pub fn start_timer(&mut self) {
        if !self.timer_on {
            self.start_stats = heap::stats();
            self.start = Instant::now();
            self.timer_on = true;
        }
    }

    /// Stops timing and counting allocations, e.g. around setup that must not
    /// be measured.
    pub fn stop_timer(&mut self) {
        if self.timer_on {
            self.duration += self.start.elapsed();
            let now = heap::stats();
            self.net_allocs += now.allocs.wrapping_sub(self.start_stats.allocs);
            self.net_bytes += now.alloc_bytes.wrapping_sub(self.start_stats.alloc_bytes);
            self.timer_on = false;
        }
    }

    /// Zeroes the time and allocations measured so far, and the metrics
    /// reported; does not start or stop the timer.
    pub fn reset_timer(&mut self) {
        self.extra.clear();
        if self.timer_on {
            self.start_stats = heap::stats();
            self.start = Instant::now();
        }
        self.duration = Duration::ZERO;
        self.net_allocs = 0;
        self.net_bytes = 0;
    }

    /// The time measured so far in this run (Go's `b.Elapsed`).
    pub fn elapsed(&self) -> Duration {
        if self.timer_on { self.duration + self.start.elapsed() } else { self.duration }
    }

    /// Prints B/op and allocs/op for this benchmark, as `-benchmem` does for
    /// all of them.
    pub fn report_allocs(&mut self) {
        self.show_allocs = true;
    }

    /// Bytes processed in one iteration: the result shows MB/s.
    pub fn set_bytes(&mut self, n: u64) {
        self.bytes = n;
    }

    /// Adds a metric to the result, e.g. `b.report_metric(hits as f64 /
    /// b.n() as f64, "hits/op")`. A unit of `ns/op`, `MB/s`, `B/op` or
    /// `allocs/op` replaces that column (`ns/op` 0 hides it). Panics if the
    /// unit is empty or has white space, as Go does.
    pub fn report_metric(&mut self, value: f64, unit: &str) {
        assert!(!unit.is_empty(), "metric unit must not be empty");
        assert!(!unit.chars().any(char::is_whitespace), "metric unit must not contain whitespace");
        // The map's own allocations are not the benchmark's.
        let before = heap::thread_stats();
        self.extra.insert(unit.to_owned(), value);
        if self.timer_on {
            let d = heap::thread_stats().since(&before);
            self.start_stats.allocs = self.start_stats.allocs.wrapping_add(d.allocs);
            self.start_stats.alloc_bytes = self.start_stats.alloc_bytes.wrapping_add(d.alloc_bytes);
        }
    }

    /// Appends a line to the benchmark's log, printed after its result
    /// (`--- BENCH: name`), as Go's `b.Log`.
    pub fn log(&mut self, msg: impl Display) {
        let text = msg.to_string();
        for line in text.lines() {
            self.output.push_str("    ");
            self.output.push_str(line);
            self.output.push('\n');
        }
        if text.is_empty() {
            self.output.push_str("    \n");
        }
    }

    /// Marks the benchmark failed and goes on.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// Whether the benchmark has failed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Marks the benchmark failed and stops it (Go's `FailNow`).
    pub fn fail_now(&mut self) -> ! {
        self.failed = true;
        self.finished = true;
        resume_unwind(Box::new(FailNow))
    }

    /// Logs `msg` and stops the benchmark as failed (Go's `b.Fatal`).
    pub fn fatal(&mut self, msg: impl Display) -> ! {
        self.log(msg);
        self.fail_now()
    }

    /// Logs `msg` and stops the benchmark without failing it (Go's `b.Skip`).
    pub fn skip(&mut self, msg: impl Display) -> ! {
        self.log(msg);
        self.skipped = true;
        self.finished = true;
        resume_unwind(Box::new(FailNow))
    }

    /// Runs `f` as the sub-benchmark `name` (`BenchmarkX/name`), if `-bench`
    /// selects it; returns false if it failed. A benchmark that has
    /// sub-benchmarks is not measured itself.
    pub fn run(&mut self, name: &str, mut f: impl FnMut(&mut B)) -> bool {
        self.run_sub(name.to_owned(), &mut f)
    }

    fn run_sub(&mut self, name: String, f: &mut dyn FnMut(&mut B)) -> bool {
        self.has_sub = true;
        let (full, ok, partial) = {
            let mut ctx = self.ctx.borrow_mut();
            // The top-level benchmarks are Main's sub-benchmarks, named as given.
            let full = if self.level == 0 {
                name
            } else {
                let sub = matcher::rewrite(&name);
                ctx.names.unique(&self.name, &sub)
            };
            let (ok, partial) = ctx.matcher.matches(&full);
            (full, ok, partial)
        };
        if !ok {
            return true;
        }
        let benchtime = self.ctx.borrow().cfg.benchtime;
        let mut sub = B::new(self.ctx.clone(), full, self.level + 1, benchtime);
        if partial {
            // -bench X/Y matched X: only its sub-benchmarks run.
            sub.has_sub = true;
        }
        if sub.run1(f) {
            sub.process(f);
        }
        if sub.failed {
            self.failed = true;
        }
        !sub.failed
    }

    /// Go's `run1`: one run with b.N = 1, which tells whether the benchmark
    /// has sub-benchmarks. True if it is to be measured.
    fn run1(&mut self, f: &mut dyn FnMut(&mut B)) -> bool {
        {
            let mut ctx = self.ctx.borrow_mut();
            let n = self.name.len() + ctx.ext_len + 1;
            if n > ctx.max_len {
                // Some slack, to avoid too many jumps in width.
                ctx.max_len = n + 8;
            }
        }
        self.run_n(f, 1);
        if self.failed {
            let msg = format!("--- FAIL: {}\n{}", self.name, self.output);
            self.ctx.borrow().print(&msg);
            return false;
        }
        !(self.has_sub || self.finished)
    }

    /// Go's `runN`: one run of the function with b.N = n, timed.
    fn run_n(&mut self, f: &mut dyn FnMut(&mut B), n: u64) {
        self.n = n;
        self.parallelism = 1;
        self.reset_timer();
        self.start_timer();
        let outcome = catch_unwind(AssertUnwindSafe(|| f(self)));
        self.stop_timer();
        self.previous_n = n;
        self.previous_duration = self.duration;
        if let Err(payload) = outcome
            && payload.downcast_ref::<FailNow>().is_none()
        {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            self.log(format_args!("panic: {msg}"));
            self.failed = true;
            self.finished = true;
        }
    }

    /// Go's `processBench`: the measured runs, one result line per -cpu value
    /// and -count repetition.
    fn process(&mut self, f: &mut dyn FnMut(&mut B)) {
        self.ctx.borrow_mut().header();
        let (cpus, count, benchmem) = {
            let ctx = self.ctx.borrow();
            (ctx.cpus.clone(), ctx.cfg.count, ctx.cfg.benchmem)
        };
        let mut failed = false;
        for (i, &procs) in cpus.iter().enumerate() {
            for j in 0..count {
                self.ctx.borrow_mut().procs = procs;
                let bench_name = format::with_procs(&self.name, procs);
                {
                    let ctx = self.ctx.borrow();
                    let width = ctx.max_len;
                    ctx.print(&format!("{bench_name:<width$}\t"));
                }
                let mut fresh;
                let b: &mut B = if i > 0 || j > 0 {
                    // Each repetition measures anew, from a run of b.N = 1.
                    fresh = B::new(self.ctx.clone(), self.name.clone(), self.level, self.benchtime);
                    fresh.run1(f);
                    &mut fresh
                } else {
                    &mut *self
                };
                b.procs = procs;
                if !b.failed {
                    b.launch(f);
                }
                if b.failed {
                    let msg = format!("--- FAIL: {bench_name}\n{}", b.output);
                    b.ctx.borrow().print(&msg);
                    failed = true;
                    continue;
                }
                let mut line = b.result.columns();
                if benchmem || b.show_allocs {
                    let mut ctx = b.ctx.borrow_mut();
                    if ctx.heap_counts {
                        line.push('\t');
                        line.push_str(&b.result.mem_columns());
                    } else if !ctx.alloc_note_done {
                        ctx.alloc_note_done = true;
                        eprintln!(
                            "rustprof::bench: no B/op and allocs/op: make rustprof::heap::Sampled the \
                             #[global_allocator] of this bench target"
                        );
                    }
                }
                line.push('\n');
                b.ctx.borrow().print(&line);
                if !b.output.is_empty() {
                    let msg = format!("--- BENCH: {bench_name}\n{}", b.output);
                    b.ctx.borrow().print(&msg);
                }
            }
        }
        if failed {
            self.failed = true;
        }
    }

    /// Go's `launch`: grows b.N until a run takes -benchtime (or runs the
    /// -benchtime Nx count), then keeps the last run's result.
    fn launch(&mut self, f: &mut dyn FnMut(&mut B)) {
        match self.benchtime {
            BenchTime::Count(n) => {
                // The run of b.N = 1 is the result of -benchtime 1x.
                if n > 1 {
                    self.run_n(f, n);
                }
            }
            BenchTime::Duration(d) => {
                let mut n = 1;
                while !self.failed && self.duration < d && n < MAX_N {
                    let last = n;
                    n = predict_n(d, self.n, self.duration, last);
                    self.run_n(f, n);
                }
            }
        }
        self.result = Outcome {
            n: self.n,
            t: self.duration,
            bytes: self.bytes,
            mem_allocs: self.net_allocs,
            mem_bytes: self.net_bytes,
            extra: self.extra.clone(),
        };
    }

    /// Sets the threads of [`run_parallel`](Self::run_parallel) to `p` ×
    /// [`procs`](Self::procs) (Go's `SetParallelism`; values below 1 are
    /// ignored).
    pub fn set_parallelism(&mut self, p: usize) {
        if p >= 1 {
            self.parallelism = p;
        }
    }

    /// Runs `body` on parallelism × procs threads (default: one per -cpu
    /// processor), which share the b.N iterations: each loops `while
    /// pb.next() { ... }` (Go's `RunParallel`). The timer covers the whole.
    pub fn run_parallel(&mut self, body: impl Fn(&mut PB) + Sync) {
        if self.n == 0 {
            return;
        }
        // Iterations each thread takes at a time: ~100 µs worth.
        let mut grain = 0u64;
        if self.previous_n > 0 && !self.previous_duration.is_zero() {
            grain = (100_000u128 * u128::from(self.previous_n) / self.previous_duration.as_nanos().max(1))
                .min(u128::from(u64::MAX)) as u64;
        }
        let grain = grain.clamp(1, 10_000);
        let taken = AtomicU64::new(0);
        let threads = self.parallelism * self.procs.max(1);
        let n = self.n;
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut pb = PB { taken: &taken, grain, cache: 0, n };
                    body(&mut pb);
                });
            }
        });
        if taken.load(Ordering::Relaxed) <= n && !self.failed {
            self.fatal("RunParallel: body exited without pb.next() == false");
        }
    }
}

/// One thread's share of [`B::run_parallel`]'s iterations.
pub struct PB<'a> {
    taken: &'a AtomicU64,
    grain: u64,
    cache: u64,
    n: u64,
}

impl PB<'_> {
    /// Whether there is another iteration to run (Go's `pb.Next()`).
    #[inline]
    #[allow(clippy::should_implement_trait)] // `while pb.next() {}`, as in Go; not an iterator.
    pub fn next(&mut self) -> bool {
        if self.cache == 0 {
            let n = self.taken.fetch_add(self.grain, Ordering::Relaxed) + self.grain;
            if n <= self.n {
                self.cache = self.grain;
            } else if n < self.n + self.grain {
                self.cache = self.n + self.grain - n;
            } else {
                return false;
            }
        }
        self.cache -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names_from_functions() {
        assert_eq!(go_name("hash_password"), "BenchmarkHashPassword");
        assert_eq!(go_name("bench_hash_password"), "BenchmarkHashPassword");
        assert_eq!(go_name("benches :: hash_password_fast"), "BenchmarkHashPasswordFast");
        assert_eq!(go_name("sha_1k"), "BenchmarkSha_1k");
        assert_eq!(go_name("BenchmarkAlloc"), "BenchmarkAlloc");
        assert_eq!(go_name("bench_"), "BenchmarkBench");
        assert_eq!(Benchmark::new("BenchmarkX", |_| {}).name(), "BenchmarkX");
    }

    #[test]
    fn n_grows_as_go_predicts() {
        let s = Duration::from_secs(1);
        // 1 iteration took 1 µs: 1e6 × 1.2 would do, capped at 100 × last.
        assert_eq!(predict_n(s, 1, Duration::from_micros(1), 1), 100);
        // 100 took 100 µs: 1.2e6, capped at 100 × 100.
        assert_eq!(predict_n(s, 100, Duration::from_micros(100), 100), 10_000);
        // 10000 took 10 ms: 1.2e6, capped at 100 × 10000.
        assert_eq!(predict_n(s, 10_000, Duration::from_millis(10), 10_000), 1_000_000);
        // 100000 took 100 ms: 1e6 + 20%.
        assert_eq!(predict_n(s, 100_000, Duration::from_millis(100), 100_000), 1_200_000);
        // Slow: 1 iteration took 2 s is past the goal, but at least last + 1.
        assert_eq!(predict_n(s, 1, Duration::from_secs(2), 1), 2);
        // A zero duration counts as 1 ns; never above 1e9.
        assert_eq!(predict_n(s, 1_000_000, Duration::ZERO, 100_000_000), MAX_N);
    }

    #[test]
    fn parallel_iterations_are_shared_exactly() {
        let taken = AtomicU64::new(0);
        let mut total = 0;
        let mut pbs: Vec<PB<'_>> = (0..3).map(|_| PB { taken: &taken, grain: 7, cache: 0, n: 100 }).collect();
        let mut live = true;
        while live {
            live = false;
            for pb in &mut pbs {
                if pb.next() {
                    total += 1;
                    live = true;
                }
            }
        }
        assert_eq!(total, 100);
    }

    #[test]
    fn output_dir_applies_to_relative_paths() {
        let cfg = Config { outputdir: Some("/tmp/out".to_owned()), ..Config::default() };
        assert_eq!(to_output_dir(&cfg, "prof.cpu"), PathBuf::from("/tmp/out/prof.cpu"));
        assert_eq!(to_output_dir(&cfg, "/abs/prof.cpu"), PathBuf::from("/abs/prof.cpu"));
        assert_eq!(to_output_dir(&Config::default(), "prof.cpu"), PathBuf::from("prof.cpu"));
    }
}
