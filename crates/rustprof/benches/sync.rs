//! rustprof::sync::Mutex against std::sync::Mutex (and parking_lot::Mutex, for
//! reference), measured in the same run:
//!
//! - uncontended lock+unlock (ns/op; target: at most 1.1× std's time), with
//!   the profiles off and on (rate 1, fraction 1: they only cost on contention);
//! - contended throughput, 2 threads incrementing one counter (Mops/s), with
//!   the profiles off (the default), at Go's `go test` settings (block rate 1,
//!   mutex fraction 1: every event recorded), and at a sampled setting (block
//!   rate 10 µs, fraction 10); target: at least 0.9× std's throughput.
//!
//! ```sh
//! cargo bench -p rustprof --bench sync
//! ```
//!
//! Each configuration runs several times, interleaved with the others so that
//! drifts of the machine hit all of them alike; the median is reported. Two
//! threads hammering one lock on two cores switch between regimes (one thread
//! runs while the other sleeps; both bounce the lock between cores) from run to
//! run, which is why the contended figures need many runs (their quartiles
//! are printed in brackets).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const ROUNDS: usize = 15;
const CONTENDED_ROUNDS: usize = 241;
const UNCONTENDED_OPS: u64 = 20_000_000;
const CONTENDED_TIME: Duration = Duration::from_millis(50);

trait Lock: Sync {
    fn new() -> Self;
    fn incr(&self);
    fn get(&self) -> u64;
}

impl Lock for std::sync::Mutex<u64> {
    fn new() -> Self {
        std::sync::Mutex::new(0)
    }
    #[inline]
    fn incr(&self) {
        *self.lock().unwrap() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Lock for rustprof::sync::Mutex<u64> {
    fn new() -> Self {
        rustprof::sync::Mutex::new(0)
    }
    #[inline]
    fn incr(&self) {
        *self.lock().unwrap() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Lock for parking_lot::Mutex<u64> {
    fn new() -> Self {
        parking_lot::Mutex::new(0)
    }
    #[inline]
    fn incr(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

impl Lock for lock_api::Mutex<rustprof::sync::RawMutex, u64> {
    fn new() -> Self {
        lock_api::Mutex::new(0)
    }
    #[inline]
    fn incr(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

/// ns per uncontended lock+unlock.
#[inline(never)]
fn uncontended<L: Lock>() -> f64 {
    let m = L::new();
    let start = Instant::now();
    for _ in 0..UNCONTENDED_OPS {
        black_box(&m).incr();
    }
    let t = start.elapsed();
    assert_eq!(m.get(), UNCONTENDED_OPS);
    t.as_nanos() as f64 / UNCONTENDED_OPS as f64
}

/// Keeps a value on cache lines of its own, so that every lock under test
/// shares its line with nothing else (the stop flag, the barrier): the ratios
/// then compare the locks, not where each happened to land on the stack.
#[repr(align(128))]
struct Line<T>(T);

/// Millions of lock+increment+unlock per second, 2 threads on one lock for
/// `CONTENDED_TIME` (both run the whole time: with a fixed number of operations
/// each, the one that gets ahead would finish alone, uncontended).
#[inline(never)]
fn contended<L: Lock>() -> f64 {
    let m = Line(L::new());
    let m = &m.0;
    let stop = Line(AtomicBool::new(false));
    let stop = &stop.0;
    let start = Barrier::new(3);
    let (ops, t) = thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            black_box(&m).incr();
                        }
                        n += 64;
                    }
                    n
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        thread::sleep(CONTENDED_TIME);
        stop.store(true, Ordering::Relaxed);
        let ops: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        (ops, t.elapsed())
    });
    assert_eq!(m.get(), ops);
    ops as f64 / t.as_secs_f64() / 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The interquartile range of sorted values, as text.
fn quartiles(v: &[f64]) -> String {
    format!("[{:.0}–{:.0}]", v[v.len() / 4], v[v.len() * 3 / 4])
}

fn profiling(rate: u64, fraction: u64) {
    rustprof::sync::set_block_profile_rate(rate);
    rustprof::sync::set_mutex_profile_fraction(fraction);
}

type Std = std::sync::Mutex<u64>;
type Ours = rustprof::sync::Mutex<u64>;
type LockApi = lock_api::Mutex<rustprof::sync::RawMutex, u64>;
type ParkingLot = parking_lot::Mutex<u64>;

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore flags.
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    println!("rustprof::sync vs std::sync::Mutex ({cpus} CPUs, medians of interleaved runs)");

    // Uncontended: the profiles off, then on at Go's go-test settings (they
    // only matter on contention, so both should cost the same).
    let (mut s, mut off, mut on, mut la, mut pl) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        profiling(0, 0);
        s.push(uncontended::<Std>());
        off.push(uncontended::<Ours>());
        pl.push(uncontended::<ParkingLot>());
        profiling(1, 1);
        on.push(uncontended::<Ours>());
        la.push(uncontended::<LockApi>());
    }
    profiling(0, 0);
    let s = median(&mut s);
    println!("uncontended lock+unlock ({ROUNDS} runs of {UNCONTENDED_OPS}):");
    println!("  std::sync::Mutex                          {s:6.2} ns/op");
    for (name, v, target) in [
        ("rustprof::sync::Mutex, profiles off", &mut off, " (target <= 1.1)"),
        ("rustprof::sync::Mutex, rate 1, fraction 1", &mut on, " (target <= 1.1)"),
        ("lock_api::Mutex<RawMutex>, rate 1, fr. 1", &mut la, ""),
        ("parking_lot::Mutex", &mut pl, ""),
    ] {
        let t = median(v);
        println!("  {name:<42}{t:6.2} ns/op   {:.3}x std's time{target}", t / s);
    }

    // Contended: 2 threads.
    let configs: [(&str, u64, u64); 3] = [
        ("profiles off (default)", 0, 0),
        ("rate 1, fraction 1", 1, 1),
        ("rate 10us, fraction 10", 10_000, 10),
    ];
    let (mut std_t, mut pl_t) = (vec![], vec![]);
    let mut ours: Vec<Vec<f64>> = vec![vec![]; configs.len()];
    // The variants run in a rotating order (round r starts with variant r mod
    // n), so none always follows the same one: on two vCPUs where the previous
    // run's threads were placed changes the next run's hand-overs.
    let n = 2 + configs.len();
    for round in 0..CONTENDED_ROUNDS {
        for k in 0..n {
            match (round + k) % n {
                0 => {
                    profiling(0, 0);
                    std_t.push(contended::<Std>());
                }
                1 => {
                    profiling(0, 0);
                    pl_t.push(contended::<ParkingLot>());
                }
                v => {
                    let (_, rate, fraction) = configs[v - 2];
                    profiling(rate, fraction);
                    ours[v - 2].push(contended::<Ours>());
                }
            }
        }
    }
    profiling(0, 0);
    let st = median(&mut std_t);
    let st_q = quartiles(&std_t);
    println!("contended, 2 threads, lock+increment+unlock ({CONTENDED_ROUNDS} runs of {CONTENDED_TIME:?}):");
    println!("  std::sync::Mutex                 {st:6.2} Mops/s {st_q:>10}");
    let pt = median(&mut pl_t);
    println!(
        "  parking_lot::Mutex               {pt:6.2} Mops/s {:>10}   {:.3}x std's throughput",
        quartiles(&pl_t),
        pt / st
    );
    for (i, (name, _, _)) in configs.iter().enumerate() {
        let t = median(&mut ours[i]);
        let q = quartiles(&ours[i]);
        println!(
            "  rustprof, {name:<23}{t:6.2} Mops/s {q:>10}   {:.3}x std's throughput (target >= 0.9)",
            t / st
        );
    }
    let (b, m) = (rustprof::sync::block_profile(), rustprof::sync::mutex_profile());
    let total = |p: &rustprof::Profile| p.samples.iter().map(|s| s.values[0]).sum::<i64>();
    println!(
        "recorded: {} block events, {} mutex contention events ({} and {} distinct stacks)",
        total(&b),
        total(&m),
        rustprof::sync::block_record_count(),
        rustprof::sync::mutex_record_count()
    );
}
