//! Heap profiling of a small program: a cache that keeps what it builds (in
//! use at the end) and a parser that allocates and throws away (allocated, not
//! in use). Writes `heap.pb.gz` and `allocs.pb.gz`:
//!
//! ```sh
//! cargo run --release -p rustprof --example heap
//! cargo run -q -p rustprof-cli -- -top heap.pb.gz                       # in use now
//! cargo run -q -p rustprof-cli -- -top -sample_index=alloc_space allocs.pb.gz
//! ```

use std::alloc::System;
use std::collections::HashMap;
use std::hint::black_box;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

/// Keeps 4 KiB per key: ends up holding about 40 MB.
#[inline(never)]
fn fill_cache(cache: &mut HashMap<u64, Vec<u8>>, n: u64) {
    for k in 0..n {
        cache.insert(k, vec![(k % 251) as u8; 4096]);
    }
}

/// Splits lines into owned words and drops them: lots of short-lived strings.
#[inline(never)]
fn parse_requests(n: usize) -> usize {
    let mut words = 0;
    for i in 0..n {
        let line = format!("GET /items/{i}?page={} HTTP/1.1 host=example.org", i % 7);
        let parts: Vec<String> = line.split([' ', '?', '=']).map(str::to_owned).collect();
        words += black_box(parts).len();
    }
    words
}

fn main() -> ExitCode {
    let mut cache = HashMap::new();
    fill_cache(&mut cache, 10_000);
    let words = parse_requests(400_000);
    // Exact counters (taken before writing the profiles, which allocate too).
    let s = rustprof::heap::stats();
    let write = |name: &str, p: rustprof::Profile| -> std::io::Result<()> {
        rustprof::write_gzip(&p, std::fs::File::create(name)?)
    };
    if let Err(e) = write("heap.pb.gz", rustprof::heap::profile())
        .and_then(|_| write("allocs.pb.gz", rustprof::heap::allocs_profile()))
    {
        eprintln!("heap: writing profiles: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "cache {} entries, {words} words parsed; {} allocations ({} MB), {} live ({} MB); wrote heap.pb.gz and allocs.pb.gz",
        cache.len(),
        s.allocs,
        s.alloc_bytes >> 20,
        s.live_objects(),
        s.live_bytes() >> 20
    );
    ExitCode::SUCCESS
}
