//! `rustprof`: Go-grade profiling for Rust programs, in pprof format.
//!
//! What an application links to profile itself:
//!
//! - [`cpu`]: CPU profiles at the rate asked for, with per-thread timers
//!   (`perf_event` task-clock, else POSIX thread CPU timers, else `setitimer`),
//!   an async-signal-safe handler, and `.eh_frame`/frame-pointer unwinding;
//! - [`sync`]: `Mutex`, `RwLock` and `Condvar` drop-ins (and `lock_api` raw
//!   locks) recording Go's block and mutex profiles: where threads wait for
//!   locks, and which critical sections make them wait;
//! - [`heap`]: heap and allocs profiles from a sampling wrapper around any
//!   global allocator, and exact allocation counters;
//! - [`http`] (feature `http`, on by default): Go's `/debug/pprof` endpoints
//!   from a small std-only server, or an axum router (feature `axum`);
//! - [`labels`]: key/value labels for the samples of a thread or an async task;
//! - [`threads`]: the stacks of every thread right now (Go's goroutine profile);
//! - `bench` (feature `bench`): Go's benchmark harness for `harness = false`
//!   bench targets, `cargo bench -- -benchmem -cpuprofile prof.cpu`.
//!
//! Profiles are [`rustprof_profile::Profile`]s, symbolized in-process (functions,
//! files, lines, inlined frames, demangled Rust names) with mappings and build IDs,
//! written gzipped with [`write_gzip`]; `go tool pprof` and the `rustprof`
//! analyzer read them.
//!
//! Unsafe code lives in `cpu/` (signal handler, unwinding, sample buffer),
//! `threads`, `sync` (futex calls, the locks' access to their data) and the FFI
//! edges (`sys`, `signal`); each block says why it is sound.
//!
//! For the best stacks, build with frame pointers (`.eh_frame` unwinding works
//! without them, frame pointers are the fallback):
//!
//! ```toml
//! # .cargo/config.toml
//! [build]
//! rustflags = ["-C", "force-frame-pointers=yes"]
//! [profile.release]
//! debug = "line-tables-only"   # file and line numbers in profiles
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod cpu;
#[cfg(doctest)]
mod doc_tests;
pub mod heap;
#[cfg(feature = "http")]
pub mod http;
pub mod labels;
mod maphistory;
mod pbuild;
pub mod signal;
pub(crate) mod stack;
pub mod symbols;
pub mod sync;
mod sys;
#[cfg(feature = "tokio")]
pub mod tasks;
pub mod threads;
pub mod trace;

pub use rustprof_profile::Profile;

/// Serializes unit tests that take over process-wide signal state.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes a profile gzip-compressed (the format `go tool pprof` reads).
pub fn write_gzip<W: std::io::Write>(p: &Profile, w: W) -> std::io::Result<()> {
    rustprof_profile::write_gzip_level(p, w, 1)
}
