//! The profiler's signal handling in fresh processes (this test binary re-runs
//! itself with a scenario in `RUSTPROF_SIGNAL_SCENARIO`): SIGTRAP stays
//! transparent to the program after a profile that used perf SIGTRAPs, a late
//! perf SIGTRAP never kills the process, a handler installed before profiling is
//! chained, and the SIGPROF fallback (`RUSTPROF_NO_SIGTRAP`) takes as many
//! samples as the threads' CPU time asks for.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustprof::cpu::{self, CpuOptions};

mod common;

const VAR: &str = "RUSTPROF_SIGNAL_SCENARIO";

#[inline(never)]
fn burn(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 1u64;
    while t.elapsed() < d {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(13) ^ i;
        }
    }
    black_box(x)
}

fn comment(p: &rustprof::Profile) -> String {
    p.comments.iter().map(|&c| p.str(c).to_string()).collect::<Vec<_>>().join("\n")
}

static USER_TRAPS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn user_trap(_: libc::c_int) {
    USER_TRAPS.fetch_add(1, Ordering::SeqCst);
}

fn raise_trap() {
    // SAFETY: sending SIGTRAP to this thread.
    unsafe {
        libc::raise(libc::SIGTRAP);
    }
}

/// Profiles two busy threads at 1 kHz for a short while; returns the
/// profile's comment and a line `measured: SAMPLES PERIOD CPU_NS USER_NS` with
/// the samples of the threads' work and the CPU time the threads measured.
fn profile_busy() -> String {
    let ready = std::sync::Arc::new(std::sync::Barrier::new(2));
    let r2 = ready.clone();
    let work = || {
        rustprof::labels::with_labels(&[("work", "busy")], || {
            common::measure(|| burn(Duration::from_millis(300))).1
        })
    };
    let t = std::thread::spawn(move || {
        r2.wait();
        work()
    });
    let p = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    ready.wait();
    let mut cpu = work();
    cpu += t.join().unwrap();
    let p = p.stop().unwrap();
    let samples: i64 = p
        .samples
        .iter()
        .filter(|s| s.labels.iter().any(|l| p.str(l.key) == "work"))
        .map(|s| s.values[0])
        .sum();
    format!("{}\nmeasured: {samples} {} {} {}", comment(&p), p.period, cpu.total_ns, cpu.user_ns)
}

/// Runs in the child: returns the exit code.
fn scenario(name: &str) -> i32 {
    match name {
        // A SIGTRAP handler of the program's, installed first, still gets the
        // program's own SIGTRAPs during and after profiling.
        "chain" => {
            // SAFETY: installing a plain handler.
            unsafe { libc::signal(libc::SIGTRAP, user_trap as *const () as libc::sighandler_t) };
            let c = profile_busy();
            raise_trap();
            let p = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
            raise_trap();
            burn(Duration::from_millis(50));
            drop(p);
            println!("{c}");
            if USER_TRAPS.load(Ordering::SeqCst) == 2 { 0 } else { 10 }
        }
        // With the default disposition, the program's own SIGTRAP after a
        // profile still terminates it with SIGTRAP.
        "default" => {
            let c = profile_busy();
            println!("{c}");
            raise_trap();
            11
        }
        // Stop and restart many times under load: a SIGTRAP still pending when
        // its event was closed must not kill the process.
        "late" => {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s2 = stop.clone();
            let t = std::thread::spawn(move || {
                while !s2.load(Ordering::Relaxed) {
                    burn(Duration::from_millis(5));
                }
            });
            for _ in 0..40 {
                let p = cpu::start(CpuOptions::with_frequency(5000)).unwrap();
                burn(Duration::from_millis(10));
                drop(p);
            }
            burn(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            t.join().unwrap();
            0
        }
        _ => 12,
    }
}

fn run_child(name: &str, env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"]).env(VAR, name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The entry point of the child processes (does nothing in the parent).
#[test]
fn child() {
    if let Ok(name) = std::env::var(VAR) {
        let code = scenario(&name);
        std::process::exit(code);
    }
}

fn perf_sigtrap_used(stdout: &str) -> bool {
    stdout.contains("(SIGTRAP)")
}

#[test]
fn program_sigtrap_handler_is_chained() {
    let (status, out) = run_child("chain", &[]);
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    if !perf_sigtrap_used(&out) {
        eprintln!("note: perf SIGTRAP events unavailable here; checked the fallback: {out}");
    }
}

#[test]
fn program_sigtrap_default_action_survives_profiling() {
    let (status, out) = run_child("default", &[]);
    assert_eq!(status.signal(), Some(libc::SIGTRAP), "{status:?}\n{out}");
}

#[test]
fn late_perf_signals_do_not_kill() {
    let (status, out) = run_child("late", &[]);
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
}

/// `RUSTPROF_NO_SIGTRAP` selects the SIGPROF signalling of perf events, which
/// takes the samples the threads' CPU time asks for too.
#[test]
fn sigprof_perf_fallback_keeps_the_rate() {
    let (status, out) = run_child("chain", &[("RUSTPROF_NO_SIGTRAP", "1")]);
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    assert!(!perf_sigtrap_used(&out), "{out}");
    if !out.contains("perf_event") {
        eprintln!("note: perf events unavailable here: {out}");
        return;
    }
    // The samples of the two threads' work match the CPU time they measured.
    let m: Vec<i64> = out
        .lines()
        .find_map(|l| l.strip_prefix("measured: "))
        .unwrap_or_else(|| panic!("no measurement in {out}"))
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let cpu = common::Cpu { total_ns: m[2] as u64, user_ns: m[3] as u64 };
    common::assert_samples_match(&format!("SIGPROF perf events: {out}"), m[0], m[1], cpu, 2);
}
