//! A small service with Go's `/debug/pprof` endpoints: a worker that burns CPU
//! hashing, a cache that grows, and two threads fighting over a lock. Profile
//! it live from another terminal:
//!
//! ```sh
//! cargo run --release -p rustprof --example server            # serves 127.0.0.1:6060
//! cargo run -q -p rustprof-cli -- -top -seconds 5 localhost:6060
//! cargo run -q -p rustprof-cli -- -top http://localhost:6060/debug/pprof/heap
//! cargo run -q -p rustprof-cli -- -top http://localhost:6060/debug/pprof/mutex
//! go tool pprof -top -seconds 5 http://localhost:6060/debug/pprof/profile
//! ```
//!
//! `server 127.0.0.1:0 SECONDS` picks a free port and exits after SECONDS.

use std::alloc::System;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

/// The CPU hot spot: a hash chain.
#[inline(never)]
fn checksum_requests(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = (x ^ i).wrapping_mul(0x100_0000_01b3).rotate_left(29);
    }
    x
}

/// Memory that stays: 64 KiB per call, kept in the cache.
#[inline(never)]
fn grow_cache(cache: &mut Vec<Vec<u8>>) {
    cache.push(vec![7; 64 * 1024]);
}

/// Holds the lock for a while, making the other thread wait.
#[inline(never)]
fn update_shared_state(m: &rustprof::sync::Mutex<u64>) {
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    *g += checksum_requests(black_box(20_000));
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:6060".to_string());
    let run_for = match args.next().map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(s)) => Some(Duration::from_secs(s)),
        Some(Err(_)) => {
            eprintln!("server: the second argument is the run time in seconds");
            return ExitCode::FAILURE;
        }
    };
    rustprof::sync::set_mutex_profile_fraction(1);
    rustprof::sync::set_block_profile_rate(1);
    let server = match rustprof::http::serve(addr.as_str()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("server: {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving {}", server.url());
    static SHARED: rustprof::sync::Mutex<u64> = rustprof::sync::Mutex::new(0);
    for _ in 0..2 {
        std::thread::spawn(|| {
            loop {
                update_shared_state(&SHARED);
            }
        });
    }
    let start = Instant::now();
    let mut cache = Vec::new();
    let mut sum = 0u64;
    while run_for.is_none_or(|d| start.elapsed() < d) {
        sum ^= checksum_requests(black_box(2_000_000));
        if cache.len() < 4096 {
            grow_cache(&mut cache);
        }
    }
    black_box(sum);
    server.stop();
    ExitCode::SUCCESS
}
