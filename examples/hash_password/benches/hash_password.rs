//! `cargo bench -p hash-password -- -benchmem -cpuprofile prof.cpu`: Go's
//! `go test -bench . -benchmem -cpuprofile prof.cpu`, with rustprof's harness.
//! The profile lands in examples/hash_password/ (cargo runs benches in their
//! package's directory); `rustprof -list 'hash_password$'
//! examples/hash_password/prof.cpu` shows which line costs the time.

use std::hint::black_box;

use rustprof::bench::B;

// Exact B/op and allocs/op (-benchmem), and -memprofile.
#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

const PASSWORD: &str = "correct horse battery staple";

/// BenchmarkHashPassword
fn bench_hash_password(b: &mut B) {
    b.iter(|| hash_password::hash_password(black_box(PASSWORD)));
}

/// BenchmarkHashPasswordFast
fn bench_hash_password_fast(b: &mut B) {
    b.iter(|| hash_password::hash_password_fast(black_box(PASSWORD)));
}

rustprof::bench_main!(bench_hash_password, bench_hash_password_fast);
