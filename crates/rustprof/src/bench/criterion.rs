//! A [criterion](https://docs.rs/criterion) profiler (feature `criterion`): a
//! CPU profile of each benchmark run with `--profile-time`.
//!
//! Hook [`CpuProfiler`] into the benchmarks' [`Criterion`](::criterion::Criterion)
//! configuration:
//!
//! ```toml
//! # Cargo.toml
//! [dev-dependencies]
//! criterion = "0.8"
//! rustprof = { version = "0.1", features = ["criterion"] }
//! [[bench]]
//! name = "hash"
//! harness = false
//! ```
//!
//! ```no_run
//! // benches/hash.rs
//! use criterion::{Criterion, criterion_group, criterion_main};
//! use rustprof::bench::criterion::CpuProfiler;
//!
//! fn hash_password(c: &mut Criterion) {
//!     c.bench_function("hash_password", |b| b.iter(|| format!("{:x}", 0xdead_beef_u32)));
//! }
//!
//! criterion_group! {
//!     name = benches;
//!     config = Criterion::default().with_profiler(CpuProfiler::new());
//!     targets = hash_password
//! }
//! criterion_main!(benches);
//! ```
//!
//! ```text
//! $ cargo bench --bench hash -- --profile-time 5
//! $ rustprof -top target/criterion/hash_password/profile/profile.pb.gz
//! ```
//!
//! Criterion calls the profiler only in profile mode (`--profile-time SECONDS`):
//! it then runs each selected benchmark for that long, without measuring it,
//! and [`CpuProfiler`] writes the CPU profile of that run to
//! `<criterion home>/<benchmark>/profile/profile.pb.gz`, the directory
//! criterion hands to the profiler. `<criterion home>` is `$CRITERION_HOME`,
//! else `$CARGO_TARGET_DIR/criterion`, else the workspace's
//! `target/criterion`; `<benchmark>` is the benchmark's id as criterion names
//! its directories: `group/function/parameter`, each part a directory, with
//! `? " / \ * < > : | ^` replaced by `_`. So `c.bench_function("fib 20", ..)`
//! writes `target/criterion/fib 20/profile/profile.pb.gz`, and function
//! `sha/256` of group `hash` writes
//! `target/criterion/hash/sha_256/profile/profile.pb.gz`. Under `cargo
//! criterion`, the file is `<criterion home>/profile/<benchmark>/profile.pb.gz`
//! instead.
//!
//! The profile covers the whole process (every thread) while the benchmark
//! runs: criterion's warm-up (it doubles the iterations until they took more
//! than a second, so 1 to 2 s) and then iterations for the rest of the
//! profile time, if any. On success nothing is printed
//! (criterion says which benchmark it profiles); a profile that cannot be
//! taken or written is reported in one line on stderr, and the benchmarks go
//! on. One CPU profile runs at a time per process: while another one runs
//! (from [`crate::cpu::start`] or the `/debug/pprof/profile` endpoint), a
//! benchmark is not profiled.

use std::io::Write;
use std::path::Path;

use crate::cpu::{self, CpuOptions};

/// The file [`CpuProfiler`] writes in each benchmark's directory.
pub const PROFILE_FILE: &str = "profile.pb.gz";

/// A [`criterion::profiler::Profiler`] that
/// writes a CPU profile (gzipped pprof) of each benchmark run with
/// `--profile-time` to `<benchmark dir>/profile.pb.gz`. See the
/// [module documentation](self) for its use.
#[derive(Default)]
pub struct CpuProfiler {
    options: CpuOptions,
    running: Option<(String, cpu::CpuProfiler)>,
}

impl std::fmt::Debug for CpuProfiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuProfiler")
            .field("options", &self.options)
            .field("profiling", &self.running.as_ref().map(|(id, _)| id))
            .finish()
    }
}

impl CpuProfiler {
    /// A profiler sampling at 100 Hz (Go's rate).
    pub fn new() -> CpuProfiler {
        CpuProfiler::default()
    }

    /// A profiler sampling at `hz` samples per CPU-second of each thread
    /// (1 to 1 000 000; an invalid rate is reported when a benchmark starts).
    pub fn with_frequency(hz: u32) -> CpuProfiler {
        CpuProfiler::with_options(CpuOptions::with_frequency(hz))
    }

    /// A profiler with these options (rate, mechanism, thread labels).
    pub fn with_options(options: CpuOptions) -> CpuProfiler {
        CpuProfiler { options, running: None }
    }
}

impl ::criterion::profiler::Profiler for CpuProfiler {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        // A profile left running (criterion always pairs the calls) is discarded.
        self.running = None;
        match cpu::start(self.options.clone()) {
            Ok(p) => self.running = Some((benchmark_id.to_string(), p)),
            Err(e) => eprintln!("rustprof: cannot profile benchmark {benchmark_id}: {e}"),
        }
    }

    fn stop_profiling(&mut self, _benchmark_id: &str, benchmark_dir: &Path) {
        // Not running: starting failed, and said so.
        // The id is the one the profile was started for (criterion passes the same).
        let Some((id, profiler)) = self.running.take() else { return };
        let written = profiler
            .stop()
            .map_err(|e| format!("cannot stop the cpu profile: {e}"))
            .and_then(|profile| write(&profile, benchmark_dir));
        if let Err(e) = written {
            eprintln!("rustprof: benchmark {id}: {e}");
        }
    }
}

/// Writes `profile` to `dir/profile.pb.gz` (through a temporary file, so that
/// the file is complete or absent), creating `dir`.
fn write(profile: &crate::Profile, dir: &Path) -> Result<(), String> {
    let path = dir.join(PROFILE_FILE);
    let tmp = dir.join(format!(".{PROFILE_FILE}.{}.tmp", std::process::id()));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = std::fs::File::create(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            crate::write_gzip(profile, &mut w)
                .and_then(|()| w.flush())
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
