//! The CPU profiler at 1 kHz, restarted every 5 s, each profile encoded,
//! decoded and validated; threads that burn CPU in deep stacks for it to
//! sample. One CPU profile runs at a time in a process, so the HTTP clients'
//! `profile?seconds=1` takes turns with the loop ([`Turn`]) instead of getting
//! Go's "cpu profiling already in use".

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rustprof::cpu::{self, CpuOptions};

use super::Shared;

const HZ: u32 = 1000;
const CYCLE: Duration = Duration::from_secs(5);

/// Who holds the process's one CPU profile.
#[derive(Default)]
pub(crate) struct Turn {
    state: Mutex<TurnState>,
    changed: Condvar,
}

#[derive(Default)]
struct TurnState {
    held: bool,
    /// An HTTP client waits for its turn: the loop lets it go first.
    http_waiting: usize,
}

impl Turn {
    fn lock(&self) -> std::sync::MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the profiler for an HTTP request; `None` when the workload stops
    /// first (so that no client waits forever).
    pub(crate) fn take_for_http(&self, s: &Shared) -> Option<TurnGuard<'_>> {
        let mut g = self.lock();
        g.http_waiting += 1;
        while g.held && !s.stopping() {
            g = self
                .changed
                .wait_timeout(g, Duration::from_millis(200))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        g.http_waiting -= 1;
        if g.held {
            return None;
        }
        g.held = true;
        Some(TurnGuard(self))
    }

    /// Takes the profiler for the loop, after any waiting HTTP client.
    fn take_for_loop(&self, s: &Shared) -> Option<TurnGuard<'_>> {
        let mut g = self.lock();
        while (g.held || g.http_waiting > 0) && !s.stopping() {
            g = self
                .changed
                .wait_timeout(g, Duration::from_millis(200))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        if g.held || s.stopping() {
            return None;
        }
        g.held = true;
        Some(TurnGuard(self))
    }
}

/// Releases the turn when dropped.
pub(crate) struct TurnGuard<'a>(&'a Turn);

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().held = false;
        self.0.changed.notify_all();
    }
}

/// This process's CPU time so far.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Profiles in cycles of [`CYCLE`] until the workload stops.
pub(crate) fn profile_loop(s: &Shared) {
    while !s.stopping() {
        let Some(turn) = s.cpu_turn.take_for_loop(s) else { break };
        match one_profile(s) {
            // The last profile, cut short while the workload winds down, is
            // checked but not counted in the rate.
            Ok(_) if s.stopping() => {}
            Ok(sps) => {
                let milli = (sps * 1000.0) as u64;
                s.sps_last_milli.store(milli, Ordering::Relaxed);
                s.sps_min_milli.fetch_min(milli, Ordering::Relaxed);
                s.profiles.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("rustprof-stress child: CPU profile: {e}");
                s.profile_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(turn);
        s.cpu.fetch_add(1, Ordering::Relaxed);
    }
}

/// One profile of [`CYCLE`] (shorter when the workload stops): built,
/// encoded, decoded, validated. Returns its samples per CPU-second of the
/// process.
fn one_profile(s: &Shared) -> Result<f64, String> {
    let g = cpu::start(CpuOptions::with_frequency(HZ)).map_err(|e| format!("start: {e}"))?;
    let cpu0 = process_cpu();
    let end = Instant::now() + CYCLE;
    while Instant::now() < end && !s.stopping() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu1 = process_cpu();
    let p = g.stop().map_err(|e| format!("stop: {e}"))?;
    rustprof_profile::validate(&p).map_err(|e| format!("invalid profile: {e}"))?;
    let bytes = rustprof_profile::encode(&p);
    let back = rustprof_profile::decode(&bytes).map_err(|e| format!("decoding the encoded profile: {e}"))?;
    if back.samples.len() != p.samples.len() {
        return Err(format!("{} samples encoded, {} decoded", p.samples.len(), back.samples.len()));
    }
    let samples: i64 = p.samples.iter().map(|x| x.values[0]).sum();
    let secs = cpu1.saturating_sub(cpu0).as_secs_f64();
    Ok(if secs > 0.0 { samples as f64 / secs } else { 0.0 })
}

/// Burns CPU in a recursion of varying depth, so that samples have stacks.
pub(crate) fn spin(s: &Shared, i: usize) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
    while !s.stopping() {
        x = black_box(deep(8 + (x % 24) as u32, x));
        // Leave some CPU to the others on a small machine.
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[inline(never)]
fn deep(depth: u32, x: u64) -> u64 {
    if depth == 0 {
        let mut h = x;
        for k in 0..20_000u64 {
            h = (h ^ k).wrapping_mul(0x100_0000_01b3).rotate_left(7);
        }
        h
    } else {
        black_box(deep(depth - 1, x.wrapping_add(depth as u64)))
    }
}
