//! Heap profiler benchmark: the peer-bench allocation workload (2 threads; each
//! round builds and drops a `Vec<String>` of 32–95 strings of 1–48 bytes, and
//! does 16 random inserts and 16 random removes in a per-thread
//! `BTreeMap<u64, Vec<u8>>` of about 2k entries with 8–63 byte values) under
//! the global allocator chosen at build time: `System` (no feature),
//! `rustprof::heap::Sampled<System>` (feature `sampled`), or `dhat::Alloc`
//! with a heap profiler running (feature `dhat`).
//!
//! `heapbench work ROUNDS [RATE]` and `heapbench micro ITERS [RATE]` print one
//! line of `key=value`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

#[cfg(feature = "sampled")]
#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

#[cfg(feature = "dhat")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A wrapper that only forwards: what any `GlobalAlloc` wrapper costs, so that
/// the sampler's own cost can be told apart.
#[cfg(feature = "passthrough")]
struct Passthrough(std::alloc::System);
#[cfg(feature = "passthrough")]
unsafe impl std::alloc::GlobalAlloc for Passthrough {
    #[inline]
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        unsafe { self.0.alloc(l) }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        unsafe { self.0.dealloc(p, l) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        unsafe { self.0.alloc_zeroed(l) }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        unsafe { self.0.realloc(p, l, n) }
    }
}
#[cfg(feature = "passthrough")]
#[global_allocator]
static ALLOC: Passthrough = Passthrough(std::alloc::System);

const KIND: &str = if cfg!(feature = "sampled") {
    "sampled"
} else if cfg!(feature = "passthrough") {
    "passthrough"
} else if cfg!(feature = "dhat") {
    "dhat"
} else {
    "system"
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn worker(rounds: u64, seed: u64) -> u64 {
    let mut rng = Rng(seed | 1);
    let mut map: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for _ in 0..2048 {
        let k = rng.below(4096);
        let n = 8 + rng.below(56) as usize;
        map.insert(k, vec![1u8; n]);
    }
    let mut acc = 0u64;
    for _ in 0..rounds {
        let n = 32 + rng.below(64) as usize;
        let mut v: Vec<String> = Vec::new();
        for i in 0..n {
            let len = 1 + rng.below(48) as usize;
            let mut s = String::with_capacity(len);
            for j in 0..len {
                s.push((b'a' + ((i + j) % 26) as u8) as char);
            }
            v.push(s);
        }
        acc = acc.wrapping_add(black_box(&v).len() as u64);
        drop(v);
        for _ in 0..16 {
            let k = rng.below(4096);
            let n = 8 + rng.below(56) as usize;
            map.insert(k, vec![2u8; n]);
        }
        for _ in 0..16 {
            let k = rng.below(4096);
            map.remove(&k);
        }
    }
    acc ^ map.len() as u64
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").to_string())))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_s() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[inline(never)]
fn micro(iters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        let b = Box::new([0u8; 32]);
        black_box(&b);
        drop(b);
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("work");
    let n: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let rate: Option<usize> = args.get(3).and_then(|a| a.parse().ok());
    #[cfg(feature = "sampled")]
    if let Some(r) = rate {
        rustprof::heap::set_sample_rate(r);
    }
    #[cfg(not(feature = "sampled"))]
    let _ = rate;
    #[cfg(feature = "dhat")]
    let profiler = dhat::Profiler::builder().file_name("/dev/null").build();
    let rss0 = rss_kb();
    match mode {
        "micro" => {
            micro(n / 10);
            // Median of 7.
            let mut v: Vec<f64> = (0..7).map(|_| micro(n)).collect();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("kind={KIND} mode=micro ns_per_alloc_free={:.3}", v[3]);
        }
        _ => {
            let c0 = cpu_s();
            let t = Instant::now();
            let hs: Vec<_> = (0..2u64).map(|i| std::thread::spawn(move || worker(n, 0x1234 + i))).collect();
            let acc: u64 = hs.into_iter().map(|h| h.join().unwrap()).fold(0, |a, b| a ^ b);
            let wall = t.elapsed().as_secs_f64();
            let cpu = cpu_s() - c0;
            let (rss, growth) = (rss_kb(), rss_kb().saturating_sub(rss0));
            #[allow(unused_mut, unused_assignments)]
            let mut extra = String::new();
            #[cfg(feature = "sampled")]
            {
                let s = rustprof::heap::stats();
                let p = rustprof::heap::profile();
                let t = Instant::now();
                let mut buf = Vec::new();
                rustprof::write_gzip(&rustprof::heap::profile(), &mut buf).unwrap();
                extra = format!(
                    " allocs={} samples={} write_s={:.4} profiler_kb={}",
                    s.allocs,
                    p.samples.len(),
                    t.elapsed().as_secs_f64(),
                    rustprof::heap::profiler_memory() / 1024
                );
            }
            println!(
                "kind={KIND} mode=work rounds={n} wall={wall:.3} cpu={cpu:.3} ns_per_round={:.1} rss_kb={} rss_growth_kb={} acc={acc}{extra}",
                wall * 1e9 / n as f64,
                rss,
                growth
            );
        }
    }
    #[cfg(feature = "dhat")]
    drop(profiler);
}
