//! The program the name tests profile: `fixture OUT_DIR` writes `cpu.pb.gz`,
//! `heap.pb.gz`, `block.pb.gz` and `mutex.pb.gz` there.
//!
//! Each profile's work is in functions of this crate with known names:
//! `fixture::handle` (out of line) with `fixture::count_primes` and a closure
//! inlined into it for the CPU profile; one function per standard-library
//! allocation path for the heap profile; `fixture::waiter` and
//! `fixture::holder` for the block and mutex profiles. The tests build it with
//! `debug = "line-tables-only"`, where the DWARF names these functions only by
//! their last segment.

use std::alloc::System;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustprof::sync::Mutex;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

mod work;

/// Allocations per allocation path.
const N: usize = 2000;

/// Counts primes below `limit`; inlined into [`handle`].
#[inline(always)]
fn count_primes(limit: u64) -> u64 {
    (2..limit).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)).count() as u64
}

/// The CPU profile's hot function.
#[inline(never)]
fn handle(limit: u64) -> u64 {
    count_primes(black_box(limit)) + work::checksum(black_box(limit))
}

/// Keeps `v` observable, so that the function returning it does not end in a
/// tail call (its frame would be gone from the allocation's stack).
#[inline(always)]
fn kept<T>(v: T) -> T {
    black_box(&v);
    v
}

#[inline(never)]
#[allow(clippy::vec_init_then_push)] // the `push` path is the point
fn alloc_vec_push() -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for i in 0..N {
        let mut v = Vec::new();
        v.push(i as u64);
        out.push(v);
    }
    kept(out)
}

#[inline(never)]
fn alloc_vec_macro() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..N {
        out.push(vec![i as u8; 100]);
    }
    kept(out)
}

#[inline(never)]
fn alloc_string_push() -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..N {
        let mut s = String::new();
        s.push_str("hello, world");
        out.push(s);
    }
    kept(out)
}

#[inline(never)]
fn alloc_format() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..N {
        out.push(format!("key-{i}"));
    }
    kept(out)
}

/// `format!` keys built in a loop (issue 14.6's case).
#[inline(never)]
fn alloc_format_loop() -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for i in 0..N {
        m.insert(format!("k{i}"), i);
    }
    kept(m)
}

#[inline(never)]
#[allow(clippy::vec_box)] // the `Box::new` path is the point
fn alloc_box() -> Vec<Box<[u64; 4]>> {
    let mut out = Vec::new();
    for i in 0..N {
        out.push(Box::new([i as u64; 4]));
    }
    kept(out)
}

#[inline(never)]
fn alloc_hashmap() -> Vec<HashMap<u64, u64>> {
    let mut out = Vec::new();
    for i in 0..N {
        let mut m = HashMap::new();
        m.insert(i as u64, 1);
        out.push(m);
    }
    kept(out)
}

#[inline(never)]
fn alloc_collect() -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for i in 0..N {
        out.push((0..(i % 7 + 1) as u32).collect());
    }
    kept(out)
}

#[inline(never)]
fn alloc_to_string() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..N {
        out.push(i.to_string());
    }
    kept(out)
}

#[inline(never)]
fn alloc_to_owned() -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..N {
        out.push("a borrowed str".to_owned());
    }
    kept(out)
}

#[inline(never)]
fn alloc_clone(src: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for v in src {
        out.push(v.clone());
    }
    kept(out)
}

/// Every allocation path, its results kept alive until the heap profile.
fn heap_work() -> Vec<Box<dyn std::any::Any>> {
    let src: Vec<Vec<u8>> = vec![vec![7u8; 24]; N];
    vec![
        Box::new(black_box(alloc_vec_push())),
        Box::new(black_box(alloc_vec_macro())),
        Box::new(black_box(alloc_string_push())),
        Box::new(black_box(alloc_format())),
        Box::new(black_box(alloc_format_loop())),
        Box::new(black_box(alloc_box())),
        Box::new(black_box(alloc_hashmap())),
        Box::new(black_box(alloc_collect())),
        Box::new(black_box(alloc_to_string())),
        Box::new(black_box(alloc_to_owned())),
        Box::new(black_box(alloc_clone(&src))),
        Box::new(src),
    ]
}

/// Holds the lock for a while, making `waiter` wait: the mutex profile's
/// culprit. The handshake uses std's channel, which no profile records.
#[inline(never)]
fn holder(lock: &Mutex<u64>, locked: mpsc::Sender<()>) {
    let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
    let _ = locked.send(());
    std::thread::sleep(Duration::from_millis(30));
    *g += 1;
}

/// Waits for the lock `holder` holds: the block profile's waiter.
#[inline(never)]
fn waiter(lock: &Mutex<u64>, locked: mpsc::Receiver<()>) {
    let _ = locked.recv();
    let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
    *g += 1;
}

fn lock_work() {
    for _ in 0..3 {
        let lock = Mutex::new(0u64);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| holder(&lock, tx));
            s.spawn(|| waiter(&lock, rx));
        });
    }
}

fn write(profile: &rustprof::Profile, dir: &Path, name: &str) -> std::io::Result<()> {
    rustprof::write_gzip(profile, std::fs::File::create(dir.join(name))?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).ok_or("usage: fixture OUT_DIR")?;
    let dir = Path::new(&dir);

    let cpu = rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(1000))?;
    let start = Instant::now();
    let mut sum = 0;
    while start.elapsed() < Duration::from_millis(400) {
        sum = u64::wrapping_add(sum, handle(20_000));
    }
    black_box(sum);
    write(&cpu.stop()?, dir, "cpu.pb.gz")?;

    rustprof::heap::set_sample_rate(1);
    let kept = heap_work();
    write(&rustprof::heap::profile(), dir, "heap.pb.gz")?;
    drop(black_box(kept));
    rustprof::heap::set_sample_rate(0);

    rustprof::sync::set_block_profile_rate(1);
    rustprof::sync::set_mutex_profile_fraction(1);
    lock_work();
    write(&rustprof::sync::block_profile(), dir, "block.pb.gz")?;
    write(&rustprof::sync::mutex_profile(), dir, "mutex.pb.gz")?;
    Ok(())
}
