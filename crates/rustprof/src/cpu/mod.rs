//! CPU profiling: Go's `pprof.StartCPUProfile` for Rust, at the rate you ask for.
//!
//! Each thread gets its own timer on its own CPU clock, so busy threads are all
//! sampled at the requested rate and equally: a `perf_event` task-clock counter
//! per thread delivering a signal on overflow (not bound to the kernel tick, and
//! allowed without privileges at `perf_event_paranoid` ≤ 2), else a POSIX timer on
//! the thread's CPU clock (`timer_create(CLOCK_THREAD_CPUTIME_ID)`, as Go does),
//! else the process-wide `setitimer(ITIMER_PROF)`. Threads created after the
//! start are found by a collector thread that scans `/proc/self/task` every 20 ms.
//!
//! The SIGPROF handler is async-signal-safe: it reads the registers of the
//! interrupted context, unwinds ([`unwind`]), and stores the stack in a
//! preallocated lock-free buffer ([`ring`]); nothing else. The collector drains
//! the buffer every 10 ms. At stop, stacks are symbolized in-process and written
//! as Go writes its CPU profiles: `samples/count` and `cpu/nanoseconds`, one
//! Location per PC with inlined frames as Lines, Mappings with build IDs.
//!
//! ```no_run
//! let guard = rustprof::cpu::start(rustprof::cpu::CpuOptions::default())?;
//! // ... the work to profile ...
//! let profile = guard.stop()?;
//! let mut f = std::fs::File::create("cpu.pb.gz")?;
//! rustprof::write_gzip(&profile, &mut f)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![allow(unsafe_code)]

pub(crate) mod ring;
pub(crate) mod unwind;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustprof_profile::Profile;

use crate::pbuild::{LabelValue, Stack, StackProfile};
use crate::signal::Info;
use crate::sys;
use ring::{MAX_DEPTH, Ring};

/// How samples are triggered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The best available: perf events, then thread timers, then setitimer.
    Auto,
    /// A `perf_event` task-clock counter per thread.
    PerfEvent,
    /// A POSIX timer on each thread's CPU clock.
    ThreadTimer,
    /// The process-wide `setitimer(ITIMER_PROF)` (capped at the kernel tick).
    ProcessTimer,
}

impl Mechanism {
    fn describe(self) -> &'static str {
        match self {
            Mechanism::Auto => "auto",
            Mechanism::PerfEvent => "perf_event task-clock per thread",
            Mechanism::ThreadTimer => "timer_create(CLOCK_THREAD_CPUTIME_ID) per thread",
            Mechanism::ProcessTimer => "setitimer(ITIMER_PROF)",
        }
    }
}

/// Options of a CPU profile.
#[derive(Clone, Debug)]
pub struct CpuOptions {
    /// Samples per second of CPU time of each thread (default 100, like Go).
    pub frequency: u32,
    /// The sampling mechanism (default: the best available).
    pub mechanism: Mechanism,
    /// Add a `thread` label (the thread's name, or its id) to every sample.
    pub thread_labels: bool,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions { frequency: 100, mechanism: Mechanism::Auto, thread_labels: false }
    }
}

impl CpuOptions {
    /// Default options at `hz` samples per CPU-second.
    pub fn with_frequency(hz: u32) -> Self {
        CpuOptions { frequency: hz, ..Default::default() }
    }
}

/// Why a CPU profile could not be taken.
#[derive(Debug)]
pub enum CpuError {
    /// Another CPU profile is running (Go's message).
    InUse,
    /// A frequency of 0 or above 1 MHz.
    BadFrequency(u32),
    /// The requested mechanism is not available here.
    Unavailable(Mechanism, io::Error),
    /// Installing the signal handler or a timer failed.
    Io(io::Error),
}

impl std::fmt::Display for CpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpuError::InUse => write!(f, "cpu profiling already in use"),
            CpuError::BadFrequency(hz) => {
                write!(f, "cpu profiling frequency {hz} Hz is out of range (1..=1000000)")
            }
            CpuError::Unavailable(m, e) => write!(f, "{} is not available: {e}", m.describe()),
            CpuError::Io(e) => write!(f, "starting cpu profiling: {e}"),
        }
    }
}

impl std::error::Error for CpuError {}

/// Set while a profile runs (one at a time, as in Go).
static IN_USE: AtomicBool = AtomicBool::new(false);
/// What the signal handler records into; null when not profiling.
static ACTIVE: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Per-process state shared with the signal handler.
struct Shared {
    ring: Ring,
    mechanism: Mechanism,
    /// perf event fds we own, as a bitset.
    fds: FdSet,
    thread_labels: bool,
}

/// A set of small integers (fds), readable from a signal handler.
struct FdSet {
    bits: Box<[AtomicU64]>,
}

impl FdSet {
    fn new() -> Self {
        FdSet { bits: (0..1024).map(|_| AtomicU64::new(0)).collect() }
    }
    fn insert(&self, fd: i32) -> bool {
        let (w, b) = (fd as usize / 64, fd as usize % 64);
        match self.bits.get(w) {
            Some(x) => {
                x.fetch_or(1 << b, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }
    fn remove(&self, fd: i32) {
        if let Some(x) = self.bits.get(fd as usize / 64) {
            x.fetch_and(!(1u64 << (fd as usize % 64)), Ordering::AcqRel);
        }
    }
    #[inline]
    fn contains(&self, fd: i32) -> bool {
        fd >= 0
            && self
                .bits
                .get(fd as usize / 64)
                .is_some_and(|x| x.load(Ordering::Acquire) & (1 << (fd % 64)) != 0)
    }
}

thread_local! {
    static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

#[inline]
fn cached_tid() -> i32 {
    TID.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        let v = sys::gettid();
        t.set(v);
        v
    })
}

/// The signal handler's CPU part: records a sample when the signal is one of
/// ours. Returns whether it was.
///
/// # Safety
/// Called from the SIGPROF handler with its ucontext.
pub(crate) unsafe fn on_signal(info: &Info, ctx: *mut libc::c_void) -> bool {
    IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
    let shared = ACTIVE.load(Ordering::Acquire);
    let ours = if shared.is_null() {
        false
    } else {
        // SAFETY: ACTIVE is only freed after IN_FLIGHT drops to zero.
        let s = unsafe { &*shared };
        let weight = match s.mechanism {
            Mechanism::PerfEvent
                if (info.code == sys::POLL_HUP || info.code == 1) && s.fds.contains(info.fd) =>
            {
                sys::perf_refresh(info.fd);
                Some(1)
            }
            Mechanism::ThreadTimer if info.code == sys::SI_TIMER => Some(1 + info.overrun.max(0) as u32),
            Mechanism::ProcessTimer if info.code == sys::SI_KERNEL => Some(1),
            _ => None,
        };
        match weight {
            Some(w) => {
                // SAFETY: ctx comes from the handler.
                let regs = unsafe { sys::regs_from_ucontext(ctx) };
                let thread_labels = s.thread_labels;
                s.ring.record(w, |d| {
                    d.depth = unwind::unwind(&regs, &mut d.frames) as u32;
                    d.labels = crate::labels::current_id();
                    d.tid = if thread_labels { cached_tid() } else { 0 };
                });
                true
            }
            None => false,
        }
    };
    IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    ours
}

/// A thread being sampled.
enum Attach {
    Perf(i32),
    Timer(libc::timer_t),
}

// SAFETY: timer_t is an opaque id used only through system calls.
unsafe impl Send for Attach {}

/// What the collector accumulates.
#[derive(Default)]
struct Collected {
    stacks: HashMap<(Vec<u64>, u32, i32), u64>,
    samples: u64,
    thread_names: HashMap<i32, String>,
}

struct Session {
    shared: *mut Shared,
    mechanism: Mechanism,
    period_ns: u64,
    frequency: u32,
    start_wall: i64,
    start: Instant,
    start_cpu_ns: u64,
    stop: Arc<(Mutex<bool>, Condvar)>,
    collector: Option<JoinHandle<Collected>>,
}

// SAFETY: the raw pointer is owned by the session and freed once at stop.
unsafe impl Send for Session {}

/// A running CPU profile; [`CpuProfiler::stop`] returns it. Dropping it stops the
/// profile and discards it.
pub struct CpuProfiler {
    session: Option<Session>,
}

/// Starts a CPU profile. Fails with [`CpuError::InUse`] when one is running.
pub fn start(opts: CpuOptions) -> Result<CpuProfiler, CpuError> {
    if opts.frequency == 0 || opts.frequency > 1_000_000 {
        return Err(CpuError::BadFrequency(opts.frequency));
    }
    if IN_USE.swap(true, Ordering::AcqRel) {
        return Err(CpuError::InUse);
    }
    match start_session(opts) {
        Ok(s) => Ok(CpuProfiler { session: Some(s) }),
        Err(e) => {
            IN_USE.store(false, Ordering::Release);
            Err(e)
        }
    }
}

/// Profiles the whole process for `duration` and returns the profile.
pub fn profile_for(duration: Duration, opts: CpuOptions) -> Result<Profile, CpuError> {
    let p = start(opts)?;
    std::thread::sleep(duration);
    p.stop()
}

fn probe(mechanism: Mechanism, period_ns: u64) -> Result<(Mechanism, bool), CpuError> {
    let tid = sys::gettid();
    let try_perf = |exclude_kernel| sys::perf_task_clock(tid, period_ns, libc::SIGPROF, exclude_kernel);
    let perf = || match try_perf(false) {
        Ok(fd) => {
            sys::close(fd);
            Ok(false)
        }
        Err(_) => try_perf(true).map(|fd| {
            sys::close(fd);
            true
        }),
    };
    let timer = || {
        // A probe timer that never fires (one hour of CPU).
        sys::thread_timer(tid, libc::SIGPROF, 0, 3_600_000_000_000, 0).map(sys::timer_delete)
    };
    match mechanism {
        Mechanism::PerfEvent => {
            perf().map(|k| (Mechanism::PerfEvent, k)).map_err(|e| CpuError::Unavailable(mechanism, e))
        }
        Mechanism::ThreadTimer => {
            timer().map(|_| (Mechanism::ThreadTimer, false)).map_err(|e| CpuError::Unavailable(mechanism, e))
        }
        Mechanism::ProcessTimer => Ok((Mechanism::ProcessTimer, false)),
        Mechanism::Auto => {
            if let Ok(k) = perf() {
                return Ok((Mechanism::PerfEvent, k));
            }
            if timer().is_ok() {
                return Ok((Mechanism::ThreadTimer, false));
            }
            Ok((Mechanism::ProcessTimer, false))
        }
    }
}

fn start_session(opts: CpuOptions) -> Result<Session, CpuError> {
    let period_ns = (1_000_000_000 / opts.frequency as u64).max(1);
    let (mechanism, exclude_kernel) = probe(opts.mechanism, period_ns)?;
    unwind::init_caches();
    unwind::acquire();
    let shared = Box::into_raw(Box::new(Shared {
        ring: Ring::new(1024),
        mechanism,
        fds: FdSet::new(),
        thread_labels: opts.thread_labels,
    }));
    if let Err(e) = crate::signal::acquire() {
        unwind::release();
        // SAFETY: never published.
        drop(unsafe { Box::from_raw(shared) });
        return Err(CpuError::Io(e));
    }
    ACTIVE.store(shared, Ordering::Release);
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let start_cpu_ns = sys::process_cpu_ns();
    let mut session = Session {
        shared,
        mechanism,
        period_ns,
        frequency: opts.frequency,
        start_wall: sys::now_ns(),
        start: Instant::now(),
        start_cpu_ns,
        stop: stop.clone(),
        collector: None,
    };
    if mechanism == Mechanism::ProcessTimer
        && let Err(e) = sys::setitimer_prof((period_ns / 1000).max(1))
    {
        teardown(&mut session);
        return Err(CpuError::Io(e));
    }
    let shared_addr = shared as usize;
    let handle = std::thread::Builder::new()
        .name("rustprof-cpu".into())
        .spawn(move || collect(shared_addr as *const Shared, mechanism, period_ns, exclude_kernel, stop))
        .map_err(CpuError::Io)?;
    session.collector = Some(handle);
    Ok(session)
}

/// The collector thread: attaches timers to threads as they appear, drains the
/// buffer, refreshes the unwinder's view of loaded objects.
fn collect(
    shared: *const Shared,
    mechanism: Mechanism,
    period_ns: u64,
    exclude_kernel: bool,
    stop: Arc<(Mutex<bool>, Condvar)>,
) -> Collected {
    // SAFETY: the session frees `shared` only after joining this thread.
    let shared = unsafe { &*shared };
    let mut out = Collected::default();
    let mut attached: HashMap<i32, Attach> = HashMap::new();
    let mut rng = (sys::now_ns() as u64) | 1;
    let mut last_scan = Instant::now() - Duration::from_secs(1);
    let mut last_refresh = Instant::now();
    let per_thread = mechanism != Mechanism::ProcessTimer;
    loop {
        if per_thread && last_scan.elapsed() >= Duration::from_millis(20) {
            last_scan = Instant::now();
            let tids = sys::thread_ids();
            let new: Vec<i32> = tids.iter().copied().filter(|t| !attached.contains_key(t)).collect();
            if !new.is_empty() {
                // New threads have new stacks: let the handler see them first.
                unwind::refresh();
                last_refresh = Instant::now();
            }
            for tid in new {
                let a = match mechanism {
                    Mechanism::PerfEvent => {
                        match sys::perf_task_clock(tid, period_ns, libc::SIGPROF, exclude_kernel) {
                            Ok(fd) => {
                                if shared.fds.insert(fd) {
                                    sys::perf_refresh(fd);
                                    Some(Attach::Perf(fd))
                                } else {
                                    sys::close(fd);
                                    None
                                }
                            }
                            Err(_) => None,
                        }
                    }
                    _ => {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // First expiry uniform in (0, period], as Go does.
                        let first = 1 + rng % period_ns;
                        sys::thread_timer(tid, libc::SIGPROF, tid as usize, first, period_ns)
                            .ok()
                            .map(Attach::Timer)
                    }
                };
                // A thread that is already gone, or that refused, is not retried.
                attached.insert(tid, a.unwrap_or(Attach::Perf(-1)));
            }
            let gone: Vec<i32> =
                attached.keys().copied().filter(|t| tids.binary_search(t).is_err()).collect();
            for tid in gone {
                if let Some(a) = attached.remove(&tid) {
                    detach(shared, a);
                }
            }
        }
        if last_refresh.elapsed() >= Duration::from_millis(250) {
            unwind::refresh();
            last_refresh = Instant::now();
        }
        drain(shared, &mut out);
        let (lock, cv) = &*stop;
        let g = lock.lock().unwrap_or_else(|e| e.into_inner());
        if *g {
            break;
        }
        let (g, _) = cv.wait_timeout(g, Duration::from_millis(10)).unwrap_or_else(|e| e.into_inner());
        if *g {
            break;
        }
    }
    for (_, a) in attached.drain() {
        detach(shared, a);
    }
    out
}

fn detach(shared: &Shared, a: Attach) {
    match a {
        Attach::Perf(fd) if fd >= 0 => {
            sys::perf_disable(fd);
            shared.fds.remove(fd);
            sys::close(fd);
        }
        Attach::Perf(_) => {}
        Attach::Timer(t) => sys::timer_delete(t),
    }
}

fn drain(shared: &Shared, out: &mut Collected) {
    shared.ring.drain(|d| {
        let frames = d.frames[..(d.depth as usize).min(MAX_DEPTH)].to_vec();
        *out.stacks.entry((frames, d.labels, d.tid)).or_insert(0) += d.weight as u64;
        out.samples += d.weight as u64;
        if d.tid != 0 && !out.thread_names.contains_key(&d.tid) {
            let name = sys::thread_name(d.tid);
            out.thread_names.insert(d.tid, if name.is_empty() { d.tid.to_string() } else { name });
        }
    });
}

/// Stops sampling and waits until no handler can touch the shared state.
fn teardown(s: &mut Session) -> Collected {
    {
        let (lock, cv) = &*s.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    let mut collected = s.collector.take().and_then(|h| h.join().ok()).unwrap_or_default();
    if s.mechanism == Mechanism::ProcessTimer {
        let _ = sys::setitimer_prof(0);
    }
    ACTIVE.store(std::ptr::null_mut(), Ordering::Release);
    while IN_FLIGHT.load(Ordering::Acquire) != 0 {
        std::thread::yield_now();
    }
    if !s.shared.is_null() {
        // SAFETY: no handler can see it any more; the collector was joined.
        let shared = unsafe { Box::from_raw(s.shared) };
        drain(&shared, &mut collected);
        collected.samples += shared.ring.lost();
        collected.stacks.insert((vec![LOST], 0, 0), shared.ring.lost());
        s.shared = std::ptr::null_mut();
    }
    crate::signal::release();
    unwind::release();
    collected
}

/// Address standing for samples lost because the buffer was full.
const LOST: u64 = 1;

impl CpuProfiler {
    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.session.as_ref().map_or(Mechanism::Auto, |s| s.mechanism)
    }

    /// Stops profiling and returns the profile.
    pub fn stop(mut self) -> Result<Profile, CpuError> {
        let Some(mut s) = self.session.take() else {
            return Err(CpuError::InUse);
        };
        let collected = teardown(&mut s);
        let duration = s.start.elapsed();
        let cpu_ns = sys::process_cpu_ns().saturating_sub(s.start_cpu_ns);
        IN_USE.store(false, Ordering::Release);
        Ok(build_profile(&s, collected, duration, cpu_ns))
    }
}

impl Drop for CpuProfiler {
    fn drop(&mut self) {
        if let Some(mut s) = self.session.take() {
            teardown(&mut s);
            IN_USE.store(false, Ordering::Release);
        }
    }
}

fn build_profile(s: &Session, c: Collected, duration: Duration, cpu_ns: u64) -> Profile {
    let lost = c.stacks.get(&(vec![LOST], 0, 0)).copied().unwrap_or(0);
    let total = c.samples;
    // ns of CPU one sample stands for: exact for per-thread timers, measured for
    // the process-wide timer (which the kernel tick caps).
    let unit_ns = match s.mechanism {
        Mechanism::ProcessTimer if total > 0 => (cpu_ns / total).max(1),
        _ => s.period_ns,
    };
    let mut sp = StackProfile::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        unit_ns as i64,
    );
    sp.time_nanos = s.start_wall;
    sp.duration_nanos = duration.as_nanos() as i64;
    let cpu_s = cpu_ns as f64 / 1e9;
    let achieved = if cpu_s > 0.0 { total as f64 / cpu_s } else { 0.0 };
    sp.comments.push(format!(
        "rustprof cpu: {}, requested {} Hz, recorded {} samples in {:.3} CPU-seconds ({:.1} per CPU-second), {} lost",
        s.mechanism.describe(),
        s.frequency,
        total,
        cpu_s,
        achieved,
        lost
    ));
    sp.pseudo_frame(LOST, "rustprof::cpu::lost_samples");
    for ((frames, labels, tid), w) in c.stacks {
        if w == 0 {
            continue;
        }
        let mut lv: Vec<(String, LabelValue)> =
            crate::labels::resolve(labels).into_iter().map(|(k, v)| (k, LabelValue::Str(v))).collect();
        if tid != 0 {
            let name = c.thread_names.get(&tid).cloned().unwrap_or_else(|| tid.to_string());
            lv.push(("thread".into(), LabelValue::Str(name)));
        }
        let exact_leaf = frames.first() != Some(&LOST);
        sp.add(Stack { frames: &frames, exact_leaf }, &[w as i64, (w * unit_ns) as i64], lv);
    }
    sp.build()
}
