//! Real lock contention, recorded in a block and a mutex profile:
//!
//! ```sh
//! cargo run --release -p rustprof --example contention -- block.pb.gz mutex.pb.gz
//! cargo run -q -p rustprof-cli -- -top block.pb.gz     # where threads waited
//! cargo run -q -p rustprof-cli -- -top mutex.pb.gz     # who made them wait
//! ```
//!
//! The program: workers `transfer` money between accounts under one `Mutex`
//! (short critical sections), while an `audit` sums the ledger holding that lock
//! for milliseconds; readers `lookup` a `RwLock`ed price table that
//! `refresh_prices` rewrites slowly; a consumer waits on a `Condvar` in
//! `next_job` for a producer. The block profile shows the waiting sides
//! (`transfer`, `lookup`, `next_job`); the mutex profile names the critical
//! sections that caused it (`audit`, `refresh_prices`).

use std::collections::VecDeque;
use std::hint::black_box;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use rustprof::sync::{Condvar, Mutex, RwLock};

static LEDGER: Mutex<Vec<i64>> = Mutex::new(Vec::new());
static PRICES: RwLock<Vec<u64>> = RwLock::new(Vec::new());
static JOBS: (Mutex<VecDeque<u64>>, Condvar) = (Mutex::new(VecDeque::new()), Condvar::new());

/// Moves 1 from one account to another: a short critical section.
#[inline(never)]
fn transfer(from: usize, to: usize) {
    let mut ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    ledger[from] -= 1;
    ledger[to] += 1;
}

/// Sums the ledger slowly while holding its lock: the culprit.
#[inline(never)]
fn audit() -> i64 {
    let ledger = LEDGER.lock().unwrap_or_else(|e| e.into_inner());
    let total = ledger.iter().sum();
    thread::sleep(Duration::from_millis(3)); // "checking signatures"
    total
}

/// Reads a price.
#[inline(never)]
fn lookup(i: usize) -> u64 {
    let prices = PRICES.read().unwrap_or_else(|e| e.into_inner());
    prices[i % prices.len()]
}

/// Rewrites the price table, slowly, under the write lock.
#[inline(never)]
fn refresh_prices(round: u64) {
    let mut prices = PRICES.write().unwrap_or_else(|e| e.into_inner());
    for (i, p) in prices.iter_mut().enumerate() {
        *p = round * 100 + i as u64;
    }
    thread::sleep(Duration::from_millis(2)); // "fetching quotes"
}

/// Takes the next job, waiting for the producer when there is none.
#[inline(never)]
fn next_job() -> Option<u64> {
    let (queue, ready) = &JOBS;
    let mut q = ready
        .wait_timeout_while(
            queue.lock().unwrap_or_else(|e| e.into_inner()),
            Duration::from_millis(100),
            |q| q.is_empty(),
        )
        .unwrap_or_else(|e| e.into_inner())
        .0;
    q.pop_front()
}

fn run(d: Duration) {
    *LEDGER.lock().unwrap_or_else(|e| e.into_inner()) = vec![1000; 16];
    *PRICES.write().unwrap_or_else(|e| e.into_inner()) = (0..64).collect();
    let end = Instant::now() + d;
    thread::scope(|s| {
        for w in 0..3 {
            s.spawn(move || {
                let mut i = w;
                while Instant::now() < end {
                    transfer(i % 16, (i * 7 + 3) % 16);
                    black_box(lookup(i));
                    i += 1;
                }
            });
        }
        s.spawn(move || {
            while Instant::now() < end {
                black_box(audit());
                thread::sleep(Duration::from_millis(5));
            }
        });
        s.spawn(move || {
            let mut round = 0;
            while Instant::now() < end {
                refresh_prices(round);
                round += 1;
                thread::sleep(Duration::from_millis(10));
            }
        });
        s.spawn(move || {
            let mut n = 0;
            while Instant::now() < end {
                thread::sleep(Duration::from_millis(20));
                JOBS.0.lock().unwrap_or_else(|e| e.into_inner()).push_back(n);
                JOBS.1.notify_one();
                n += 1;
            }
        });
        s.spawn(move || {
            while Instant::now() < end {
                black_box(next_job());
            }
        });
    });
}

/// The leaf functions with the largest delays.
fn top(p: &rustprof::Profile, n: usize) -> Vec<(String, i64, i64)> {
    let mut by: Vec<(String, i64, i64)> = Vec::new();
    for s in p.samples.iter() {
        let Some(&loc) = s.locations.first() else { continue };
        let Some(line) = p.location_lines(loc).first() else { continue };
        let name = p.str(p.functions[line.function as usize].name).to_string();
        match by.iter_mut().find(|e| e.0 == name) {
            Some(e) => {
                e.1 += s.values[0];
                e.2 += s.values[1];
            }
            None => by.push((name, s.values[0], s.values[1])),
        }
    }
    by.sort_by_key(|e| std::cmp::Reverse(e.2));
    by.truncate(n);
    by
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let block_path = args.first().map_or("block.pb.gz", String::as_str);
    let mutex_path = args.get(1).map_or("mutex.pb.gz", String::as_str);

    // Go's `go test -blockprofile -mutexprofile` settings: every event.
    rustprof::sync::set_block_profile_rate(1);
    rustprof::sync::set_mutex_profile_fraction(1);
    run(Duration::from_secs(1));

    for (path, profile, what) in [
        (block_path, rustprof::sync::block_profile(), "where threads waited"),
        (mutex_path, rustprof::sync::mutex_profile(), "critical sections that made others wait"),
    ] {
        let written = std::fs::File::create(path).and_then(|f| rustprof::write_gzip(&profile, f));
        if let Err(e) = written {
            eprintln!("contention: {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!("{path}: {what}");
        for (name, count, delay) in top(&profile, 4) {
            println!("  {:>10.2} ms {count:>7} contentions  {name}", delay as f64 / 1e6);
        }
    }
    println!();
    println!("Read them with:");
    println!("  rustprof -top {block_path}              (or: go tool pprof -top {block_path})");
    println!("  rustprof -top {mutex_path}");
    println!("  rustprof -peek 'audit' {mutex_path}     callers of the culprit");
    println!("  rustprof -list 'transfer' -source_path=. {block_path}   delay per source line");
    ExitCode::SUCCESS
}
