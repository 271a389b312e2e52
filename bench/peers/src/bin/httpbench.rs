//! What serving `/debug/pprof` costs a service while concurrent clients fetch
//! every endpoint (issue 13 point 2): a service with a 10–20 MB live heap, heap
//! sampling at 4 KiB (many records), block and mutex profiles at rate 1; CLIENTS
//! threads fetch every text and proto endpoint in a loop for SECONDS. Prints the
//! RSS before the clients, its peak and its end, and what the clients got.
//!
//! usage: httpbench CLIENTS SECONDS [RATE]
//!
//! Uses only the API that predates the streaming server, so that the same
//! program measures both.

use std::alloc::System;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

/// What rustprof itself holds on the heap (its own counters; the API came
/// with them: 0 without feature `own_stats`).
fn own_live() -> u64 {
    #[cfg(feature = "own_stats")]
    return rustprof::heap::own_stats().live_bytes().max(0) as u64;
    #[cfg(not(feature = "own_stats"))]
    0
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// Allocation sites that differ by stack (the depth) and size.
#[inline(never)]
fn alloc_at(depth: u32, size: usize) -> Vec<u8> {
    if depth == 0 { black_box(vec![depth as u8; size]) } else { black_box(alloc_at(depth - 1, size)) }
}

/// The service: two threads keeping a ring of 2,000 buffers of 1 B–16 KiB
/// (about 16 MB live), replaced continuously from 32 call depths.
fn service(stop: Arc<AtomicBool>) {
    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    for t in 0..2u64 {
        let (stop, lock) = (stop.clone(), lock.clone());
        std::thread::spawn(move || {
            let mut ring: Vec<Vec<u8>> = Vec::new();
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = alloc_at((x % 32) as u32, 1 + (x >> 40) as usize % 16384);
                if ring.len() < 2000 {
                    ring.push(v);
                } else {
                    ring[i % 2000] = v;
                }
                i += 1;
                if i.is_multiple_of(64) {
                    *lock.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
    }
}

const PATHS: [&str; 10] = [
    "/debug/pprof/heap?debug=1",
    "/debug/pprof/allocs?debug=1",
    "/debug/pprof/heap?debug=2",
    "/debug/pprof/heap",
    "/debug/pprof/allocs",
    "/debug/pprof/block?debug=1",
    "/debug/pprof/mutex",
    "/debug/pprof/goroutine?debug=2",
    "/debug/pprof/threads",
    "/debug/pprof/profile?seconds=1",
];

#[derive(Default)]
struct Seen {
    ok: AtomicU64,
    busy: AtomicU64,
    /// 500s: a CPU profile while another runs (Go's answer too).
    cpu_in_use: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    largest: AtomicU64,
}

fn fetch(a: SocketAddr, path: &str, seen: &Seen) {
    let verbose = std::env::var_os("HTTPBENCH_VERBOSE").is_some();
    let Ok(mut s) = TcpStream::connect(a) else {
        seen.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(600)));
    if s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).is_err() {
        seen.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut head = [0u8; 12];
    if s.read_exact(&mut head).is_err() {
        if verbose {
            eprintln!("{path}: no status line");
        }
        seen.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buf = [0u8; 65536];
    let mut n = 12u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            // The CPU profiler's signals (this process is the service).
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                if verbose {
                    eprintln!("{path}: {e} after {n} bytes");
                }
                seen.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    match &head[9..12] {
        b"200" => seen.ok.fetch_add(1, Ordering::Relaxed),
        b"503" => seen.busy.fetch_add(1, Ordering::Relaxed),
        b"500" if path.contains("profile?") => seen.cpu_in_use.fetch_add(1, Ordering::Relaxed),
        other => {
            if std::env::var_os("HTTPBENCH_VERBOSE").is_some() {
                eprintln!("{path}: {}", String::from_utf8_lossy(other));
            }
            seen.failed.fetch_add(1, Ordering::Relaxed)
        }
    };
    seen.bytes.fetch_add(n, Ordering::Relaxed);
    seen.largest.fetch_max(n, Ordering::Relaxed);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let rate: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4096);
    rustprof::heap::set_sample_rate(rate);
    rustprof::sync::set_block_profile_rate(1);
    rustprof::sync::set_mutex_profile_fraction(1);
    let stop = Arc::new(AtomicBool::new(false));
    service(stop.clone());
    // Warm: the ring full, the records there.
    std::thread::sleep(Duration::from_secs(5));
    let server = rustprof::http::serve("127.0.0.1:0").expect("serve");
    let a = server.local_addr();
    // One request of each kind alone, then the baseline.
    let seen0 = Seen::default();
    for p in PATHS.iter().filter(|p| !p.contains("profile")) {
        fetch(a, p, &seen0);
    }
    let base = rss_bytes();
    let live = rustprof::heap::stats().live_bytes();
    let seen = Arc::new(Seen::default());
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Mutex::new(base));
    let own_base = own_live();
    let own_peak = Arc::new(AtomicU64::new(own_base));
    let sampler = {
        let (done, peak, own_peak) = (done.clone(), peak.clone(), own_peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                own_peak.fetch_max(own_live(), Ordering::Relaxed);
                let r = rss_bytes();
                let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                *p = (*p).max(r);
                drop(p);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut i = c;
                while Instant::now() < end {
                    fetch(a, PATHS[i % PATHS.len()], &seen);
                    i += 1;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let wall = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let end_rss = rss_bytes();
    let peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "clients={clients} seconds={wall:.0} rate={rate} live_heap_mb={:.1} rss_base_mb={:.1} rss_peak_mb={:.1} \
         rss_end_mb={:.1} peak_over_base_mb={:.1} own_base_mb={:.1} own_peak_mb={:.1} ok={} busy503={} \
         cpu_in_use500={} failed={} largest_response_mb={:.1} served_mb={:.0}",
        live as f64 / (1 << 20) as f64,
        mb(base),
        mb(peak),
        mb(end_rss),
        mb(peak.saturating_sub(base)),
        mb(own_base),
        mb(own_peak.load(Ordering::Relaxed)),
        seen.ok.load(Ordering::Relaxed),
        seen.busy.load(Ordering::Relaxed),
        seen.cpu_in_use.load(Ordering::Relaxed),
        seen.failed.load(Ordering::Relaxed),
        mb(seen.largest.load(Ordering::Relaxed)),
        mb(seen.bytes.load(Ordering::Relaxed)),
    );
    #[cfg(feature = "own_stats")]
    {
        let c = rustprof::symbols::cache_stats();
        println!(
            "  symbol cache: {} binaries, {:.1} MB, {} opens for {} lookups; heap profiler tables {:.1} MB, {} records",
            c.binaries.len(),
            mb(c.bytes as u64),
            c.opens,
            c.lookups,
            mb(rustprof::heap::profiler_memory() as u64),
            rustprof::heap::record_count()
        );
    }
    stop.store(true, Ordering::Relaxed);
    drop(server);
}
