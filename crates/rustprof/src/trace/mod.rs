//! Execution traces, as Go's `runtime/trace`, written in Perfetto's protobuf
//! format (`.pftrace`: open it in ui.perfetto.dev or `trace_processor`).
//!
//! [`start`] begins a trace into any writer, [`stop`] ends it and returns the
//! first write error, if any. One trace at a time: a second [`start`] is
//! [`TraceError::AlreadyRunning`], as Go's `trace.Start`.
//!
//! While a trace runs, each thread records events into its own buffer (a
//! push under the thread's own, uncontended lock: no allocation, no shared
//! lock per event); a background collector drains the buffers every
//! [`FLUSH_INTERVAL`], encodes them (names interned) and writes them, so a
//! long trace costs bounded memory. A full buffer drops whole events and the
//! trace says how many (a `rustprof.dropped` instant with a `count`).
//!
//! What a trace holds, each event on the thread's track (named after the
//! thread) with a `CLOCK_MONOTONIC` timestamp:
//! - user annotations: [`task`] (its own track, a slice from creation to
//!   drop, like Go's `trace.NewTask`), [`region`] (a slice on the current
//!   thread, like `trace.WithRegion`), [`log`] (an instant, like `trace.Log`);
//!   all a single relaxed atomic load when no trace runs;
//! - waits in [`crate::sync`]'s `Mutex`, `RwLock` and `Condvar` as `sync`
//!   slices ("lock wait", "condvar wait") on the waiting thread, with the
//!   waiting stack;
//! - CPU profile samples (when [`crate::cpu`] runs meanwhile) as instants
//!   with their symbolized stacks, and the heap in-use counter (when
//!   [`crate::heap::Sampled`] is the allocator); see `extras`.
//! - each thread's CPU state from the kernel's context-switch records
//!   (running, runnable, blocked with its reason) on a child track of the
//!   thread's, written as a compact sequence; see `switch`;
//! - with feature `tokio`, async tasks on tracks of their own (`tokio`);
//!   with feature `tracing`, the `tracing` crate's spans and events
//!   (`TracingLayer`).
//!
//! A [`FlightRecorder`] keeps the last seconds of the same events in memory
//! and writes them on demand; it may run with a streaming trace or alone.
//! Ways in besides this API: `/debug/pprof/trace?seconds=N`
//! ([`crate::http`]) and `-trace FILE` in the bench harness (`rustprof::bench`).
//!
//! ```no_run
//! let f = std::fs::File::create("trace.pftrace").unwrap();
//! rustprof::trace::start(f).unwrap();
//! {
//!     let _t = rustprof::trace::task("handle request");
//!     let _r = rustprof::trace::region("parse");
//!     rustprof::trace::log("http", "GET /");
//! }
//! rustprof::trace::stop().unwrap();
//! ```

mod async_tracks;
mod buffer;
mod extras;
mod flight;
mod perf;
mod session;
mod stacks;
mod switch;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "tracing")]
mod tracing_layer;

#[cfg(feature = "tracing")]
pub use tracing_layer::TracingLayer;

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use buffer::{Raw, RawKind};
pub(crate) use extras::{cpu_drained, cpu_sample};
pub use flight::{FlightRecorder, FlightRecorderConfig};
use rustprof_trace::vocab;

/// How often the collector drains the threads' buffers.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Whether a trace or a flight recorder is recording: the one load of the
/// hot path.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Incremented by each session (the first of [`start`] and
/// [`FlightRecorder::start`] while neither runs): thread buffers of an older
/// session re-register.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static NEXT_TASK: AtomicU64 = AtomicU64::new(1);

/// Why [`start`] or [`stop`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// [`start`] while a trace runs.
    #[error("tracing is already enabled")]
    AlreadyRunning,
    /// [`stop`] with no trace running.
    #[error("tracing is not enabled")]
    NotRunning,
    /// Writing the trace failed; the trace stopped then.
    #[error("writing the trace: {0}")]
    Write(#[from] std::io::Error),
    /// [`FlightRecorder::start`] while a flight recorder runs.
    #[error("a flight recorder is already running")]
    FlightRecorderRunning,
    /// [`FlightRecorder::write_to`] while another is under way.
    #[error("a write_to of this flight recorder is already in progress")]
    WriteInProgress,
    /// In a child forked while a trace or flight recorder ran: the child
    /// records nothing and cannot start or stop one (its parent's collector
    /// is not in it); exec'ing starts afresh.
    #[error("tracing is unavailable in a child forked while tracing (exec, or trace from the parent)")]
    ForkedChild,
}

/// Whether a trace (or a flight recorder) is being recorded.
#[inline]
pub fn is_enabled() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Nanoseconds on `CLOCK_MONOTONIC`, the trace's clock.
pub(crate) fn now() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer given.
    unsafe { libc::clock_gettime(id, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// Starts tracing into `w`; events are written as the program runs, until
/// [`stop`]. Fails when a trace is already running. A [`FlightRecorder`] may
/// run at the same time (the trace then begins with the events recorded
/// from now on).
pub fn start<W: Write + Send + 'static>(w: W) -> Result<(), TraceError> {
    session::start_stream(Box::new(w)).map(|_| ())
}

/// Stops the trace: drains every thread's events, writes them and flushes
/// the writer. Returns the first write error (which had stopped the trace).
pub fn stop() -> Result<(), TraceError> {
    session::stop_stream(None)
}

/// [`start`], with an id for [`stop_id`].
#[cfg(feature = "http")]
pub(crate) fn start_id<W: Write + Send + 'static>(w: W) -> Result<u64, TraceError> {
    session::start_stream(Box::new(w))
}

/// [`stop`], when the trace running is still the one [`start_id`] started.
#[cfg(feature = "http")]
pub(crate) fn stop_id(id: u64) -> Result<(), TraceError> {
    session::stop_stream(Some(id))
}

#[inline]
fn record(kind: RawKind, name: Cow<'static, str>, category: Cow<'static, str>, track: u64, arg: u64) {
    if is_enabled() {
        buffer::push(Raw { ts: now(), kind, name, category, track, arg, args: None, stack: None });
    }
}

/// Records a slice begin, an end or a log on the current thread with more
/// arguments (the `tracing` layer's spans and events).
#[cfg(feature = "tracing")]
fn record_with_args(
    kind: RawKind,
    name: Cow<'static, str>,
    category: Cow<'static, str>,
    args: Vec<(&'static str, rustprof_trace::ArgValue)>,
) {
    if is_enabled() {
        let args = (!args.is_empty()).then(|| args.into_boxed_slice());
        buffer::push(Raw { ts: now(), kind, name, category, track: 0, arg: 0, args, stack: None });
    }
}

/// A user task: a logical operation with its own track, from [`task`] to
/// drop (or [`Task::end`]). Like Go's `trace.NewTask`.
#[must_use = "the task ends when dropped"]
#[derive(Debug)]
pub struct Task {
    id: u64,
}

/// Begins a user task named `name`. A no-op costing one load when no trace runs.
#[inline]
pub fn task(name: impl Into<Cow<'static, str>>) -> Task {
    if !is_enabled() {
        return Task { id: 0 };
    }
    let id = NEXT_TASK.fetch_add(1, Ordering::Relaxed);
    let name = name.into();
    record(RawKind::TaskBegin, name, Cow::Borrowed("task"), id, id);
    Task { id }
}

impl Task {
    /// The task's id (0 when no trace was running at its start).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A region of this task on the current thread: recorded with the task's
    /// id as argument `task`.
    pub fn region(&self, name: impl Into<Cow<'static, str>>) -> Region {
        region_with(name.into(), self.id)
    }

    /// Ends the task now.
    pub fn end(self) {}
}

impl Drop for Task {
    #[inline]
    fn drop(&mut self) {
        if self.id != 0 {
            record(RawKind::TaskEnd, Cow::Borrowed(""), Cow::Borrowed(""), self.id, 0);
        }
    }
}

/// A timed span on the current thread, from [`region`] to drop. Like Go's
/// `trace.WithRegion`.
#[must_use = "the region ends when dropped"]
#[derive(Debug)]
pub struct Region {
    generation: u64,
}

/// Begins a region named `name` on the current thread.
#[inline]
pub fn region(name: impl Into<Cow<'static, str>>) -> Region {
    if !is_enabled() {
        return Region { generation: 0 };
    }
    region_with(name.into(), 0)
}

fn region_with(name: Cow<'static, str>, task: u64) -> Region {
    if !is_enabled() {
        return Region { generation: 0 };
    }
    record(RawKind::Begin, name, Cow::Borrowed("region"), 0, task);
    Region { generation: GENERATION.load(Ordering::Relaxed) }
}

impl Drop for Region {
    #[inline]
    fn drop(&mut self) {
        // Only the trace that saw the begin gets the end.
        if self.generation != 0 && self.generation == GENERATION.load(Ordering::Relaxed) {
            record(RawKind::End, Cow::Borrowed(""), Cow::Borrowed(""), 0, 0);
        }
    }
}

/// Runs `f` inside a region named `name` (Go's `trace.WithRegion`).
pub fn with_region<R>(name: impl Into<Cow<'static, str>>, f: impl FnOnce() -> R) -> R {
    let _r = region(name);
    f()
}

/// Logs `message` under `category` on the current thread (Go's `trace.Log`).
#[inline]
pub fn log(category: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) {
    if is_enabled() {
        record(RawKind::Log, message.into(), category.into(), 0, 0);
    }
}

/// A wait in [`crate::sync`] begins on this thread: `lock` is the lock's
/// address, 0 for a condition variable. Returns whether it was recorded
/// (then [`wait_end`] must follow).
#[inline]
pub(crate) fn wait_begin(lock: usize) -> bool {
    if !is_enabled() {
        return false;
    }
    let name = if lock == 0 { vocab::CONDVAR_WAIT } else { vocab::LOCK_WAIT };
    // The waiting stack, taken now: this thread is about to sleep anyway.
    let stack = stacks::capture();
    buffer::push(Raw {
        ts: now(),
        kind: RawKind::Begin,
        name: Cow::Borrowed(name),
        category: Cow::Borrowed(vocab::SYNC),
        track: 0,
        arg: lock as u64,
        args: None,
        stack,
    });
    true
}

/// The wait [`wait_begin`] recorded has ended.
#[inline]
pub(crate) fn wait_end() {
    record(RawKind::End, Cow::Borrowed(""), Cow::Borrowed(""), 0, 0);
}
