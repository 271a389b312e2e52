//! Phase timings on stderr when `RUSTPROF_TIMING` is set (for benchmarking).

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> &'static Option<Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    START.get_or_init(|| std::env::var_os("RUSTPROF_TIMING").map(|_| Instant::now()))
}

/// Prints the time since the start of the process when timing is on.
pub fn mark(what: &str) {
    if let Some(t) = start() {
        eprintln!("[timing] {:>8.3}s {what}", t.elapsed().as_secs_f64());
    }
}
