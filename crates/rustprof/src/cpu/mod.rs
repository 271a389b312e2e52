//! CPU profiling: Go's `pprof.StartCPUProfile` for Rust, at the rate you ask for.
//!
//! Each thread gets its own timer on its own CPU clock, so busy threads are all
//! sampled at the requested rate and equally: a `perf_event` task-clock counter
//! per thread delivering a signal on overflow (not bound to the kernel tick, and
//! allowed without privileges at `perf_event_paranoid` ≤ 2), else a POSIX timer on
//! the thread's CPU clock (`timer_create(CLOCK_THREAD_CPUTIME_ID)`, as Go does),
//! else the process-wide `setitimer(ITIMER_PROF)`. Each thread's timer starts
//! with a random first period (uniform in (0, period], as Go's), so a thread
//! that runs less than a period is sampled with the probability its CPU time
//! gives it. The threads that exist when the profile starts have their timers
//! when `start` returns; threads created later are found by a collector
//! thread that scans `/proc/self/task` every 50 ms, and until then are sampled
//! by the process-wide `ITIMER_PROF` running beside the per-thread timers, whose
//! signals count only on threads without a timer of their own (Go's
//! `validSIGPROF` rule) and wake the collector to attach them at once.
//!
//! The signal handler (SIGTRAP from perf events, else SIGPROF) is
//! async-signal-safe: it reads the registers of the interrupted context, unwinds
//! (`unwind`), and stores the stack in a preallocated lock-free buffer (`ring`);
//! nothing else. The collector drains the buffer every 50 ms (10 ms when it
//! fills up). At stop, stacks are symbolized in-process and written
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

mod attach;
pub(crate) mod ring;
pub(crate) mod unwind;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustprof_profile::Profile;

use crate::pbuild::{LabelValue, Stack, StackProfile};
use crate::signal::Info;
use crate::sys;
use attach::{Attacher, Seen, TidSet};
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
    /// perf event fds we own (`O_ASYNC` mode).
    fds: BitSet,
    /// Perf events signal with SIGTRAP (`sigtrap`) rather than `O_ASYNC` SIGPROF.
    sigtrap: bool,
    /// This session's number, in the `sig_data` of its sigtrap events.
    session: u32,
    thread_labels: bool,
    /// The threads the collector has seen, and which have their own timer.
    tids: TidSet,
    /// The sampling period, ns.
    period_ns: u64,
    /// The process-wide `ITIMER_PROF` runs beside the per-thread timers, to
    /// sample the threads that have none yet...
    process_timer: bool,
    /// ... and its samples count (false if the thread set overflowed).
    process_timer_counts: AtomicBool,
    /// The collector sleeps on this word; the handler wakes it when a stack was
    /// unknown (a new thread), `stop` when the profile ends.
    wake: AtomicU32,
    wake_sent: AtomicBool,
    stop: AtomicBool,
}

impl Shared {
    /// Ends the random first period of the calling thread's perf event, if it
    /// is in it: the event runs at the full period from now (async-signal-safe).
    #[inline]
    fn end_first_period(&self) {
        if let Seen::Own(slot) = self.tids.seen(cached_tid())
            && let Some(fd) = self.tids.take_first(slot)
        {
            sys::perf_set_period(fd, self.period_ns);
        }
    }

    /// Wakes the collector (async-signal-safe).
    fn wake(&self) {
        self.wake.store(1, Ordering::Release);
        sys::futex_wake(&self.wake);
    }
}

/// A set of small integers (fds), usable from a signal handler.
struct BitSet {
    bits: Box<[AtomicU64]>,
}

impl BitSet {
    /// A set of 0..65536.
    fn new() -> Self {
        BitSet { bits: (0..1024).map(|_| AtomicU64::new(0)).collect() }
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

/// Session numbers (1..=0xffff, never 0) for the `sig_data` of sigtrap events,
/// so that a late signal of an earlier session is not taken for a sample.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

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
        let prof = info.signo == libc::SIGPROF;
        // None: not ours; Some(0): ours, nothing to record.
        let weight = match s.mechanism {
            Mechanism::PerfEvent if s.sigtrap && info.is_our_perf_trap() => {
                (info.value as u64 as u32 >> 16 == s.session).then(|| {
                    s.end_first_period();
                    1
                })
            }
            Mechanism::PerfEvent
                if !s.sigtrap
                    && prof
                    && (info.code == sys::POLL_HUP || info.code == 1)
                    && s.fds.contains(info.fd) =>
            {
                s.end_first_period();
                sys::perf_refresh(info.fd);
                Some(1)
            }
            Mechanism::ThreadTimer if prof && info.code == sys::SI_TIMER => {
                Some(1 + info.overrun.max(0) as u32)
            }
            // The process timer beside per-thread timers: it samples the
            // threads that have no timer of their own yet (Go's validSIGPROF),
            // and has the collector attach them now rather than at its next pass.
            Mechanism::PerfEvent | Mechanism::ThreadTimer
                if prof && info.code == sys::SI_KERNEL && s.process_timer =>
            {
                match s.tids.seen(cached_tid()) {
                    Seen::Own(_) => Some(0),
                    _ if !s.process_timer_counts.load(Ordering::Relaxed) => Some(0),
                    Seen::Refused => Some(1),
                    Seen::Unknown => {
                        if !s.wake_sent.swap(true, Ordering::AcqRel) {
                            s.wake();
                        }
                        Some(1)
                    }
                }
            }
            Mechanism::ProcessTimer if prof && info.code == sys::SI_KERNEL => Some(1),
            _ => None,
        };
        match weight {
            Some(0) => true,
            Some(w) => {
                // SAFETY: ctx comes from the handler.
                let regs = unsafe { sys::regs_from_ucontext(ctx) };
                let thread_labels = s.thread_labels;
                s.ring.record(w, |d| {
                    d.depth = unwind::unwind(&regs, &mut d.frames) as u32;
                    d.labels = crate::labels::current_id();
                    d.tid = if thread_labels { cached_tid() } else { 0 };
                    // A trace gets the sample too: a clock read (vDSO,
                    // async-signal-safe) and the cached tid, nothing more.
                    let traced = crate::trace::is_enabled();
                    d.trace_ts = if traced { crate::trace::now() } else { 0 };
                    d.trace_tid = if traced { cached_tid() } else { 0 };
                    // The thread names itself in each sample (one prctl): its name
                    // as it is now, though it may be gone when this is drained,
                    // and though a new thread's first sample may come before it
                    // set its name.
                    d.name[0] = 0;
                    if thread_labels {
                        sys::own_thread_name(&mut d.name);
                    }
                });
                let miss = unwind::STACK_MISS.load(Ordering::Relaxed)
                    | unwind::CODE_MISS_WAKE.swap(false, Ordering::Relaxed);
                if miss && !s.wake_sent.swap(true, Ordering::AcqRel) {
                    s.wake();
                }
                true
            }
            None => false,
        }
    };
    IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    ours
}

/// What the collector accumulates.
#[derive(Default)]
struct Collected {
    /// Frames followed by one word `labels | tid << 32` → weight.
    stacks: HashMap<Vec<u64>, u64>,
    samples: u64,
    thread_names: HashMap<i32, String>,
    /// Samples whose stack was cut at `MAX_DEPTH` frames.
    truncated: u64,
}

struct Session {
    shared: *mut Shared,
    mechanism: Mechanism,
    sigtrap: bool,
    period_ns: u64,
    frequency: u32,
    start_wall: i64,
    start: Instant,
    start_cpu_ns: u64,
    /// System CPU time of the process at the start, ns.
    start_sys_ns: u64,
    exclude_kernel: bool,
    collector: Option<crate::heap::OwnThread<Collected>>,
}

// SAFETY: the raw pointer is owned by the session and freed once at stop.
unsafe impl Send for Session {}

/// A running CPU profile; [`CpuProfiler::stop`] returns it. Dropping it stops the
/// profile and discards it.
#[must_use = "the profile stops and is discarded when this is dropped: keep it and call stop()"]
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
    // The session's memory is rustprof's own, as is all it allocates until
    // the profile is handed over at stop.
    match crate::heap::own(|| start_session(opts)) {
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

/// What [`probe`] found.
#[derive(Clone, Copy)]
struct Probed {
    mechanism: Mechanism,
    /// perf events need `exclude_kernel` (`perf_event_paranoid` 2).
    exclude_kernel: bool,
    /// perf events can signal with SIGTRAP.
    sigtrap: bool,
}

/// Whether a debugger (or any tracer) is attached: it would stop at each perf
/// SIGTRAP, so those are not used then.
fn traced() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("TracerPid:")).map(|v| v.trim() != "0"))
        .unwrap_or(false)
}

fn probe(mechanism: Mechanism, period_ns: u64) -> Result<Probed, CpuError> {
    let tid = sys::gettid();
    let try_perf = |exclude_kernel, sigtrap| {
        sys::perf_task_clock(tid, period_ns, libc::SIGPROF, exclude_kernel, sigtrap).map(sys::close)
    };
    let perf = || -> io::Result<(bool, bool)> {
        let mut last = None;
        let sigtrap_ok = !traced() && std::env::var_os("RUSTPROF_NO_SIGTRAP").is_none();
        for sigtrap in [true, false] {
            if sigtrap && !sigtrap_ok {
                continue;
            }
            for exclude_kernel in [false, true] {
                match try_perf(exclude_kernel, sigtrap.then_some(sys::SIGTRAP_MAGIC)) {
                    Ok(()) => return Ok((exclude_kernel, sigtrap)),
                    Err(e) => last = Some(e),
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::Unsupported)))
    };
    let timer = || {
        // A probe timer that never fires (one hour of CPU).
        sys::thread_timer(tid, libc::SIGPROF, 0, 3_600_000_000_000, 0).map(sys::timer_delete)
    };
    let plain = |mechanism| Probed { mechanism, exclude_kernel: false, sigtrap: false };
    let perf_probed =
        |(exclude_kernel, sigtrap)| Probed { mechanism: Mechanism::PerfEvent, exclude_kernel, sigtrap };
    match mechanism {
        Mechanism::PerfEvent => perf().map(perf_probed).map_err(|e| CpuError::Unavailable(mechanism, e)),
        Mechanism::ThreadTimer => {
            timer().map(|_| plain(Mechanism::ThreadTimer)).map_err(|e| CpuError::Unavailable(mechanism, e))
        }
        Mechanism::ProcessTimer => Ok(plain(Mechanism::ProcessTimer)),
        Mechanism::Auto => {
            if let Ok(p) = perf() {
                return Ok(perf_probed(p));
            }
            if timer().is_ok() {
                return Ok(plain(Mechanism::ThreadTimer));
            }
            Ok(plain(Mechanism::ProcessTimer))
        }
    }
}

fn start_session(opts: CpuOptions) -> Result<Session, CpuError> {
    let period_ns = (1_000_000_000 / opts.frequency as u64).max(1);
    let probed = probe(opts.mechanism, period_ns)?;
    let (mechanism, exclude_kernel, sigtrap) = (probed.mechanism, probed.exclude_kernel, probed.sigtrap);
    if sigtrap && let Err(e) = crate::signal::install_sigtrap() {
        return Err(CpuError::Io(e));
    }
    unwind::init_caches();
    unwind::acquire();
    let shared = Box::into_raw(Box::new(Shared {
        ring: Ring::new(RING_SLOTS),
        mechanism,
        fds: BitSet::new(),
        sigtrap,
        session: SESSIONS.fetch_add(1, Ordering::AcqRel) % 0xffff + 1,
        thread_labels: opts.thread_labels,
        tids: TidSet::new(),
        period_ns,
        process_timer: mechanism != Mechanism::ProcessTimer,
        process_timer_counts: AtomicBool::new(true),
        wake: AtomicU32::new(0),
        wake_sent: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    }));
    if let Err(e) = crate::signal::acquire() {
        unwind::release();
        // SAFETY: never published.
        drop(unsafe { Box::from_raw(shared) });
        return Err(CpuError::Io(e));
    }
    ACTIVE.store(shared, Ordering::Release);
    let start_cpu_ns = sys::process_cpu_ns();
    let mut session = Session {
        shared,
        mechanism,
        sigtrap,
        period_ns,
        frequency: opts.frequency,
        start_wall: sys::now_ns(),
        start: Instant::now(),
        start_cpu_ns,
        start_sys_ns: sys::process_sys_ns(),
        exclude_kernel,
        collector: None,
    };
    // The process-wide timer: the mechanism itself, or beside per-thread
    // timers the sampler of threads that have none yet.
    if let Err(e) = sys::setitimer_prof((period_ns / 1000).max(1)) {
        teardown(&mut session);
        return Err(CpuError::Io(e));
    }
    // The threads that exist now have their own timers when start returns.
    let mut attacher = Attacher::new(period_ns, exclude_kernel, opts.thread_labels);
    if mechanism != Mechanism::ProcessTimer {
        unwind::refresh();
        // SAFETY: the shared state lives until the session's teardown.
        let shared = unsafe { &*shared };
        for tid in sys::thread_ids() {
            attacher.attach(shared, tid);
        }
    }
    let shared_addr = shared as usize;
    let handle =
        crate::heap::spawn_own("rustprof-cpu", move || collect(shared_addr as *const Shared, attacher))
            .map_err(CpuError::Io)?;
    session.collector = Some(handle);
    Ok(session)
}

/// How often the collector looks for new threads and drains the buffer (the
/// buffer's 1024 slots hold 50 ms of samples of 20 threads at 1 kHz)...
const TICK: Duration = Duration::from_millis(50);
/// ... and how often when the last drain found the buffer a quarter full.
const FAST_TICK: Duration = Duration::from_millis(10);
/// Slots of the sample buffer.
const RING_SLOTS: usize = 1024;

/// The collector thread: attaches timers to threads as they appear (scanning
/// `/proc/self/task` every tick, or at once when the process timer's handler
/// met a thread without its own timer), drains the buffer, keeps the
/// unwinder's view of memory current.
///
/// (Perf events can be inherited by the threads a thread creates, which would
/// make the scan unnecessary; but on Linux 6.18 an event with `inherit` stops
/// signalling its own thread once that thread creates threads: measured, a
/// thread spawning and joining threads in a loop got 0 samples for 0.59 s of
/// CPU. So each thread gets its own event.)
fn collect(shared: *const Shared, mut attacher: Attacher) -> Collected {
    // SAFETY: the session frees `shared` only after joining this thread.
    let shared = unsafe { &*shared };
    // Samples from now on reach a trace at the drains.
    crate::trace::cpu_drained(crate::trace::now());
    let mechanism = shared.mechanism;
    let mut out = Collected::default();
    let mut last_refresh = Instant::now();
    // Never the loader's: the first pass refreshes (a library may have come
    // since the session's tables were built).
    let mut dl_gen = (u64::MAX, u64::MAX);
    loop {
        // The unwinder's view of memory: refreshed when a handler met an unknown
        // stack or threads appeared (new stacks), when the loader's counters say
        // a library came or went (checked at once when a handler met unknown
        // code), and every few seconds in case a mapping moved.
        let mut refresh = last_refresh.elapsed() >= Duration::from_secs(5);
        if unwind::STACK_MISS.swap(false, Ordering::AcqRel) {
            refresh = true;
        }
        shared.wake_sent.store(false, Ordering::Release);
        let generation = sys::dl_generation();
        if generation != dl_gen {
            dl_gen = generation;
            refresh = true;
        }
        let mut new = Vec::new();
        let mut tids = Vec::new();
        if mechanism != Mechanism::ProcessTimer {
            tids = sys::thread_ids();
            new = attacher.new_threads(&tids);
            refresh |= !new.is_empty();
        }
        if refresh {
            // Before attaching timers, so the handler knows the new stacks.
            unwind::refresh();
            last_refresh = Instant::now();
            // Code unknown to these tables may be a library loaded next: the
            // handler may wake us for it (once until the next refresh, so
            // code no refresh can name costs no more wakes than refreshes).
            unwind::CODE_MISS.store(false, Ordering::Relaxed);
        }
        for tid in new {
            attacher.attach(shared, tid);
        }
        if !tids.is_empty() {
            attacher.forget_gone(shared, &tids);
        }
        let drained = drain(shared, &mut attacher, &mut out);
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let tick = if drained >= RING_SLOTS / 4 { FAST_TICK } else { TICK };
        sys::futex_wait(&shared.wake, 0, tick);
        shared.wake.store(0, Ordering::Release);
        if shared.stop.load(Ordering::Acquire) {
            drain(shared, &mut attacher, &mut out);
            break;
        }
    }
    attacher.detach_all(shared);
    out
}

/// Drains the buffer; the threads' names are known from their attach.
fn drain(shared: &Shared, attacher: &mut Attacher, out: &mut Collected) -> usize {
    for (tid, name) in attacher.names.drain() {
        out.thread_names.entry(tid).or_insert(name);
    }
    drain_samples(shared, out)
}

/// The last word of a stack key: its labels and thread.
fn stack_tag(labels: u32, tid: i32) -> u64 {
    labels as u64 | (tid as u32 as u64) << 32
}

/// Moves the buffer's samples into `out`; returns how many there were.
fn drain_samples(shared: &Shared, out: &mut Collected) -> usize {
    let mut key = [0u64; MAX_DEPTH + 2];
    let mut count = 0;
    let drained_at = crate::trace::now();
    shared.ring.drain(|d| {
        count += 1;
        let mut n = (d.depth as usize).min(MAX_DEPTH);
        if d.trace_ts != 0 {
            crate::trace::cpu_sample(d.trace_tid, d.trace_ts, &d.frames[..n]);
        }
        key[..n].copy_from_slice(&d.frames[..n]);
        if d.depth as usize > MAX_DEPTH {
            // Cut: the frames nearest the leaf, under a marker root frame.
            key[n] = TRUNCATED;
            n += 1;
            out.truncated += d.weight as u64;
        }
        key[n] = stack_tag(d.labels, d.tid);
        match out.stacks.get_mut(&key[..=n]) {
            Some(w) => *w += d.weight as u64,
            None => {
                out.stacks.insert(key[..=n].to_vec(), d.weight as u64);
            }
        }
        out.samples += d.weight as u64;
        if d.tid != 0 && d.name[0] != 0 {
            // The name the thread sent last overrides the one read when it was
            // attached (a thread may be attached before it sets its name).
            let len = d.name.iter().position(|&b| b == 0).unwrap_or(d.name.len());
            let name = &d.name[..len];
            if out.thread_names.get(&d.tid).map(|n| n.as_bytes()) != Some(name) {
                out.thread_names.insert(d.tid, String::from_utf8_lossy(name).into_owned());
            }
        }
    });
    crate::trace::cpu_drained(drained_at);
    count
}

/// Stops sampling and waits until no handler can touch the shared state.
fn teardown(s: &mut Session) -> Collected {
    if !s.shared.is_null() {
        // SAFETY: the shared state lives until the end of this function.
        let shared = unsafe { &*s.shared };
        shared.stop.store(true, Ordering::Release);
        shared.wake();
    }
    // The process timer first: the per-thread timers it stands in for are
    // being detached.
    let _ = sys::setitimer_prof(0);
    let mut collected = s.collector.take().and_then(|h| h.join().ok()).unwrap_or_default();
    ACTIVE.store(std::ptr::null_mut(), Ordering::Release);
    while IN_FLIGHT.load(Ordering::Acquire) != 0 {
        std::thread::yield_now();
    }
    if !s.shared.is_null() {
        // SAFETY: no handler can see it any more; the collector was joined.
        let shared = unsafe { Box::from_raw(s.shared) };
        drain_samples(&shared, &mut collected);
        collected.samples += shared.ring.lost();
        collected.stacks.insert(vec![LOST, stack_tag(0, 0)], shared.ring.lost());
        s.shared = std::ptr::null_mut();
    }
    crate::trace::cpu_drained(0);
    crate::signal::release();
    unwind::release();
    collected
}

/// A comment when the achieved rate is far (below half) under the requested
/// one, with the likely causes; None when it is not, or when too little CPU
/// time ran to tell (fewer than 20 samples expected).
fn rate_warning(s: &Session, achieved: f64, cpu_s: f64, sys_ns: u64, lost: u64) -> Option<String> {
    let requested = s.frequency as f64;
    if cpu_s * requested < 20.0 || achieved >= requested / 2.0 {
        return None;
    }
    let mut why = Vec::new();
    if s.mechanism == Mechanism::ProcessTimer {
        why.push("setitimer(ITIMER_PROF) fires at most once per kernel tick (CONFIG_HZ)".to_string());
    }
    if lost > 0 {
        why.push(format!("{lost} samples were lost because the sample buffer was full"));
    }
    let sys_share = sys_ns as f64 / 1e9 / cpu_s;
    if s.exclude_kernel && sys_share > 0.2 {
        why.push(format!(
            "perf_event_paranoid is 2, so ticks that land in the kernel are not sampled, and {:.0}% of the CPU time was system time",
            sys_share * 100.0
        ));
    }
    if why.is_empty() {
        why.push(
            "the CPU time was spent by threads that could not be given a timer, or that exited before the process timer sampled them"
                .to_string(),
        );
    }
    Some(format!(
        "rustprof cpu: warning: {achieved:.1} samples per CPU-second is far below the requested {} Hz: {}",
        s.frequency,
        why.join("; ")
    ))
}

/// Address standing for samples lost because the buffer was full.
const LOST: u64 = 1;
/// Address of the root frame put under stacks cut at `MAX_DEPTH` frames.
const TRUNCATED: u64 = 2;
/// The name of that frame.
const TRUNCATED_NAME: &str = "[truncated]";

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
        let p = crate::heap::own(move || {
            let collected = teardown(&mut s);
            let duration = s.start.elapsed();
            let cpu_ns = sys::process_cpu_ns().saturating_sub(s.start_cpu_ns);
            let sys_ns = sys::process_sys_ns().saturating_sub(s.start_sys_ns);
            IN_USE.store(false, Ordering::Release);
            build_profile(&s, collected, duration, cpu_ns, sys_ns)
        });
        Ok(crate::heap::hand_over(p))
    }
}

impl Drop for CpuProfiler {
    fn drop(&mut self) {
        if let Some(mut s) = self.session.take() {
            crate::heap::own(move || {
                teardown(&mut s);
                IN_USE.store(false, Ordering::Release);
            });
        }
    }
}

fn build_profile(s: &Session, c: Collected, duration: Duration, cpu_ns: u64, sys_ns: u64) -> Profile {
    let lost = c.stacks.get(&[LOST, stack_tag(0, 0)][..]).copied().unwrap_or(0);
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
        "rustprof cpu: {}{}, requested {} Hz, recorded {} samples in {:.3} CPU-seconds ({:.1} per CPU-second), {} lost",
        s.mechanism.describe(),
        if s.sigtrap { " (SIGTRAP)" } else if s.mechanism == Mechanism::PerfEvent { " (SIGPROF)" } else { "" },
        s.frequency,
        total,
        cpu_s,
        achieved,
        lost
    ));
    if let Some(why) = rate_warning(s, achieved, cpu_s, sys_ns, lost) {
        sp.comments.push(why);
    }
    if c.truncated > 0 {
        sp.comments.push(format!(
            "rustprof cpu: {} samples had stacks deeper than {MAX_DEPTH} frames: they keep the {MAX_DEPTH} frames nearest the leaf, under a root frame {TRUNCATED_NAME}",
            c.truncated
        ));
    }
    sp.pseudo_frame(LOST, "rustprof::cpu::lost_samples");
    sp.pseudo_frame(TRUNCATED, TRUNCATED_NAME);
    for (mut frames, w) in c.stacks {
        let tag = frames.pop().unwrap_or(0);
        let (labels, tid) = (tag as u32, (tag >> 32) as u32 as i32);
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
