//! What the CPU tests measure themselves: a thread's CPU time (and its user
//! part) around the work it does, and whether a sample count agrees with it
//! within a tolerance derived from the count, not from the machine's load.

#![allow(dead_code)]

/// CPU time of the calling thread so far, ns (`CLOCK_THREAD_CPUTIME_ID`).
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// User-mode CPU time of the calling thread so far, ns (`RUSAGE_THREAD`).
pub(crate) fn thread_user_ns() -> u64 {
    // SAFETY: rusage is plain data, filled by the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ru.ru_utime.tv_sec as u64 * 1_000_000_000 + ru.ru_utime.tv_usec as u64 * 1000
}

/// CPU time a thread spent in some work: all of it, and its user part.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    pub(crate) total_ns: u64,
    pub(crate) user_ns: u64,
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, o: Cpu) {
        self.total_ns += o.total_ns;
        self.user_ns += o.user_ns;
    }
}

/// Runs `f` on the calling thread and returns its result with the CPU time it took.
pub(crate) fn measure<R>(f: impl FnOnce() -> R) -> (R, Cpu) {
    let (c0, u0) = (thread_cpu_ns(), thread_user_ns());
    let r = f();
    let (c1, u1) = (thread_cpu_ns(), thread_user_ns());
    (r, Cpu { total_ns: c1 - c0, user_ns: u1.saturating_sub(u0).min(c1 - c0) })
}

/// Checks that `samples` samples (each standing for `unit_ns` of CPU) agree
/// with `cpu`, measured on the `threads` threads that ran the work.
///
/// A sampler that takes one sample per period of a thread's CPU time, with a
/// random first period, gives a count whose mean is the CPU time over the
/// period; its spread is at most a Poisson count's, so the count must be within
/// 4·√n of the mean (n the expected count), plus one period per thread (a
/// thread's first or last partial period). Under `perf_event_paranoid` 2 the
/// kernel drops samples that land in kernel mode, so the lower end is the user
/// time's count.
pub(crate) fn assert_samples_match(what: &str, samples: i64, unit_ns: i64, cpu: Cpu, threads: usize) {
    let low_mean = cpu.user_ns as f64 / unit_ns as f64;
    let high_mean = cpu.total_ns as f64 / unit_ns as f64;
    let tol = |mean: f64| 4.0 * mean.sqrt() + threads as f64;
    let (low, high) = (low_mean - tol(low_mean), high_mean + tol(high_mean));
    let got = samples as f64;
    assert!(
        low <= got && got <= high,
        "{what}: {samples} samples of {unit_ns} ns for {:.1} ms of CPU ({:.1} ms user) on {threads} \
         threads: expected {low:.0}..={high:.0} (ratio {:.3})",
        cpu.total_ns as f64 / 1e6,
        cpu.user_ns as f64 / 1e6,
        got / high_mean,
    );
}
