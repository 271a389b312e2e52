//! The criterion adapter (`rustprof::bench::criterion::CpuProfiler`): criterion
//! run in profile mode (as with `--profile-time 1`) writes a profile per
//! benchmark, in the directory criterion hands to profilers, that
//! `rustprof_profile` and `go tool pprof` read, with the benchmarked function on
//! top; failures are one line on stderr and no file.
//!
//! Criterion is driven in-process through its public (doc-hidden)
//! `profile_time` and `output_directory` setters: a test binary's own
//! arguments are libtest's, not criterion's, so `configure_from_args` cannot
//! be used here.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use criterion::Criterion;
use criterion::profiler::Profiler;
use rustprof::bench::criterion::CpuProfiler;

/// Profiling is process-wide: one test at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rustprof-criterion-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[inline(never)]
fn criterion_adapter_hot_loop(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i;
    }
    x
}

/// Flat cpu per function: the innermost function of each sample's leaf
/// location, as pprof counts it.
fn flat(p: &rustprof::Profile) -> (Vec<(String, i64)>, i64) {
    let cpu = p.sample_type_index("cpu").unwrap();
    let mut m: HashMap<String, i64> = HashMap::new();
    let mut total = 0;
    for s in p.samples.iter() {
        total += s.values[cpu];
        let leaf = s.locations.first().and_then(|&l| p.location_lines(l).first());
        let name = leaf
            .map_or("<unknown>".to_string(), |ln| p.str(p.functions[ln.function as usize].name).to_string());
        *m.entry(name).or_insert(0) += s.values[cpu];
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (v, total)
}

/// Cpu of the samples with `function` anywhere on their stack.
fn cum(p: &rustprof::Profile, function: &str) -> i64 {
    let cpu = p.sample_type_index("cpu").unwrap();
    p.samples
        .iter()
        .filter(|s| {
            s.locations.iter().any(|&l| {
                p.location_lines(l).iter().any(|ln| p.str(p.functions[ln.function as usize].name) == function)
            })
        })
        .map(|s| s.values[cpu])
        .sum()
}

fn go_top(path: &Path) -> Option<String> {
    let out = match Command::new("go").args(["tool", "pprof", "-top"]).arg(path).env("TZ", "UTC").output() {
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
fn profile_mode_writes_a_readable_profile_per_benchmark() {
    let _l = lock();
    let out = tmpdir("run");
    let mut c = Criterion::default()
        .with_profiler(CpuProfiler::with_frequency(500))
        .output_directory(&out)
        .profile_time(Some(Duration::from_secs(1)));
    let mut g = c.benchmark_group("adapter");
    g.bench_function("hot loop", |b| b.iter(|| criterion_adapter_hot_loop(black_box(20_000))));
    g.finish();

    // The directory criterion hands to the profiler: <output>/<group>/<function>/profile.
    let path = out.join("adapter").join("hot loop").join("profile").join("profile.pb.gz");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "profile.pb.gz")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    assert!(rustprof_profile::is_gzip(&data));
    let p = rustprof_profile::decode(&data).unwrap();
    rustprof_profile::validate(&p).unwrap();
    let types = p.sample_type_names();
    assert!(types.contains(&("cpu".to_string(), "nanoseconds".to_string())), "{types:?}");
    // One second of wall time at 500 Hz. How much of it was CPU depends on the
    // machine's load (464 ms was seen with 40 runnable threads on 2 cores), so
    // only require enough samples for the shares below to mean something.
    assert!(!p.samples.is_empty());
    let (top, total) = flat(&p);
    let cpu_ms = total / 1_000_000;
    assert!(cpu_ms >= 50, "only {cpu_ms} ms of cpu: {top:?}");
    let (hot, hot_cpu) = &top[0];
    assert!(hot.ends_with("criterion_adapter_hot_loop"), "top by flat cpu is {hot}: {top:?}");
    assert!(*hot_cpu > 0);
    // Nearly all the CPU time is in (or under) it: the profile is the benchmark's.
    let cum = cum(&p, hot);
    assert!(cum * 10 > total * 9, "{hot} has {cum} of {total} ns: {top:?}");

    if let Some(report) = go_top(&path) {
        assert!(report.contains("Type: cpu"), "{report}");
        // The first row after the column headers is the top function by flat.
        let first = report
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("flat"))
            .nth(1)
            .unwrap_or_else(|| panic!("no rows: {report}"));
        assert!(first.ends_with("criterion_adapter_hot_loop"), "{report}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

const CHILD_VAR: &str = "RUSTPROF_CRITERION_CHILD_DIR";

/// In a child process (its stderr is checked): the adapter's two failures.
#[test]
#[ignore = "the child process of failures_are_one_line_on_stderr"]
fn child() {
    let Some(dir) = std::env::var_os(CHILD_VAR) else { return };
    let dir = PathBuf::from(dir);
    let mut profiler = CpuProfiler::new();

    // Another CPU profile runs: the benchmark is not profiled.
    let running = rustprof::cpu::start(rustprof::cpu::CpuOptions::default()).unwrap();
    let busy = dir.join("busy");
    profiler.start_profiling("group/busy", &busy);
    criterion_adapter_hot_loop(black_box(1000));
    profiler.stop_profiling("group/busy", &busy);
    drop(running);
    assert!(!busy.exists());

    // The directory cannot be created (a file is in the way).
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    let blocked = file.join("profile");
    profiler.start_profiling("group/blocked", &blocked);
    criterion_adapter_hot_loop(black_box(1000));
    profiler.stop_profiling("group/blocked", &blocked);

    // And then a benchmark is profiled again.
    let fine = dir.join("fine");
    profiler.start_profiling("group/fine", &fine);
    criterion_adapter_hot_loop(black_box(1000));
    profiler.stop_profiling("group/fine", &fine);
    assert!(fine.join("profile.pb.gz").is_file());
}

#[test]
fn failures_are_one_line_on_stderr() {
    let dir = tmpdir("failures");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_VAR, &dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{}{stderr}", String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0], "rustprof: cannot profile benchmark group/busy: cpu profiling already in use");
    assert!(lines[1].starts_with("rustprof: benchmark group/blocked: cannot create "), "{stderr}");
    assert!(lines[1].contains(&*dir.join("file").join("profile").to_string_lossy()), "{stderr}");
    assert!(!dir.join("busy").exists());
    let data = std::fs::read(dir.join("fine").join("profile.pb.gz")).unwrap();
    rustprof_profile::decode(&data).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
