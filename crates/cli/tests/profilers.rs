//! The profilers' files read by both analyzers: `go tool pprof` (Go installed by
//! .ci/run) and `rustprof` name the hot function; labels show with `-tags`.

#![allow(clippy::unwrap_used)]

mod common;
use common::run_tool as run;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[inline(never)]
fn interop_hot_function(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i;
    }
    x
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rustprof-interop-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn cpu_profile_file() -> PathBuf {
    let g = rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(500)).unwrap();
    let _l = rustprof::labels::scope(&[("endpoint", "login")]);
    let start = Instant::now();
    let mut r = 0;
    while start.elapsed() < Duration::from_millis(700) {
        r ^= interop_hot_function(black_box(200_000));
    }
    drop(_l);
    black_box(r);
    let p = g.stop().unwrap();
    let path = tmp("cpu.pb.gz");
    rustprof::write_gzip(&p, std::fs::File::create(&path).unwrap()).unwrap();
    path
}

#[test]
fn cpu_profile_reads_in_go_tool_pprof_and_rustprof() {
    let f = cpu_profile_file();
    let f = f.to_str().unwrap();
    let ours = run(env!("CARGO_BIN_EXE_rustprof"), &[], &["-top", f]).unwrap();
    assert!(ours.contains("profilers::interop_hot_function"), "{ours}");
    assert!(ours.contains("Type: cpu"), "{ours}");
    let tags = run(env!("CARGO_BIN_EXE_rustprof"), &[], &["-tags", f]).unwrap();
    assert!(tags.contains("endpoint:") && tags.contains("login"), "{tags}");
    if let Some(go) = run("go", &["tool", "pprof"], &["-top", f]) {
        assert!(go.contains("profilers::interop_hot_function"), "{go}");
        // Both analyzers agree on the whole report.
        assert_eq!(go, ours);
        let go_tags = run("go", &["tool", "pprof"], &["-tags", f]).unwrap();
        assert_eq!(go_tags, tags);
    }
}

#[inline(never)]
fn interop_lock_waiter(m: &rustprof::sync::Mutex<u64>) -> rustprof::sync::MutexGuard<'_, u64> {
    black_box(m.lock().unwrap())
}

#[inline(never)]
fn interop_lock_holder(mut g: rustprof::sync::MutexGuard<'_, u64>) {
    *g += 1;
    std::thread::sleep(Duration::from_millis(2));
    drop(black_box(g));
}

/// Block and mutex profiles from real contention: both analyzers read them,
/// agree, and name the waiting and the holding function.
#[test]
fn block_and_mutex_profiles_read_in_go_tool_pprof_and_rustprof() {
    rustprof::sync::set_block_profile_rate(1);
    rustprof::sync::set_mutex_profile_fraction(1);
    let m = rustprof::sync::Mutex::new(0u64);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..15 {
                    interop_lock_holder(interop_lock_waiter(&m));
                }
            });
        }
    });
    rustprof::sync::set_block_profile_rate(0);
    rustprof::sync::set_mutex_profile_fraction(0);
    assert_eq!(*m.lock().unwrap(), 45);
    for (name, profile, function) in [
        ("block.pb.gz", rustprof::sync::block_profile(), "profilers::interop_lock_waiter"),
        ("mutex.pb.gz", rustprof::sync::mutex_profile(), "profilers::interop_lock_holder"),
    ] {
        let path = tmp(name);
        rustprof::write_gzip(&profile, std::fs::File::create(&path).unwrap()).unwrap();
        let f = path.to_str().unwrap();
        let ours = run(env!("CARGO_BIN_EXE_rustprof"), &[], &["-top", f]).unwrap();
        assert!(ours.contains("Type: delay"), "{ours}");
        // The function is the top entry (the first row after the header).
        let first = ours.lines().skip_while(|l| !l.trim_start().starts_with("flat")).nth(1).unwrap_or("");
        assert!(first.ends_with(function), "{name}: {ours}");
        let counts =
            run(env!("CARGO_BIN_EXE_rustprof"), &[], &["-top", "-sample_index=contentions", f]).unwrap();
        assert!(counts.contains("Type: contentions") && counts.contains(function), "{counts}");
        if let Some(go) = run("go", &["tool", "pprof"], &["-top", f]) {
            assert_eq!(go, ours);
            let go_counts = run("go", &["tool", "pprof"], &["-top", "-sample_index=contentions", f]).unwrap();
            assert_eq!(go_counts, counts);
        }
    }
}
