//! Harness overhead: the same tiny operations timed by rustprof::bench's `b.iter`
//! and by a raw `Instant` loop of the same b.N, inside the same run (the
//! `raw-ns/op` column).
//!
//! ```sh
//! cargo bench -q -p rustprof --features bench --bench harness -- -count 3 -benchmem
//! ```
use rustprof::bench::B;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

fn raw_ns(n: u64, f: impl Fn() -> u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn add(b: &mut B) {
    b.iter(|| black_box(41u64).wrapping_add(1));
    let n = b.n();
    b.stop_timer(); // the raw loop is not the benchmark's time or allocations
    b.report_metric(raw_ns(n, || black_box(41u64).wrapping_add(1)), "raw-ns/op");
}

fn empty(b: &mut B) {
    b.iter(|| ());
}

fn boxed(b: &mut B) {
    b.iter(|| Box::new(black_box(7u64)));
    let n = b.n();
    b.stop_timer(); // the raw loop is not the benchmark's time or allocations
    b.report_metric(raw_ns(n, || *Box::new(black_box(7u64))), "raw-ns/op");
}

fn mix(b: &mut B) {
    b.iter(|| (0..black_box(64u64)).fold(black_box(1u64), |a, i| a.wrapping_mul(31).wrapping_add(i)));
    let n = b.n();
    b.stop_timer(); // the raw loop is not the benchmark's time or allocations
    b.report_metric(
        raw_ns(n, || (0..black_box(64u64)).fold(black_box(1u64), |a, i| a.wrapping_mul(31).wrapping_add(i))),
        "raw-ns/op",
    );
}

rustprof::bench_main!(add, empty, boxed, mix);
