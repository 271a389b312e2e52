//! Async tasks in execution traces (feature `tokio`).
//!
//! Each task gets a track of its own (an async track named after the task)
//! holding a [`vocab::POLL`] slice per poll, with the worker thread's tid as
//! [`vocab::ARG_WORKER`], and a [`vocab::TASK_DONE`] instant when it
//! completes. Two ways in:
//!
//! - [`spawn`] / [`Instrumented`] (stable Rust): wraps the future, so it also
//!   sees **wake-ups**: from a wake to the next poll the track shows a
//!   [`vocab::RUNNABLE`] slice, the task's scheduling latency (tokio's hooks
//!   do not say when a task was woken).
//! - `instrument` (only when built with `RUSTFLAGS="--cfg tokio_unstable"`:
//!   tokio's `on_task_spawn`, `on_before_task_poll`, `on_after_task_poll`
//!   and `on_task_terminate` and `TaskMeta::spawned_at` all need it, in tokio
//!   1.54): adds the hooks to a runtime `Builder`, so every task spawned on
//!   it has a track named by its spawn location, without wake-ups.
//!
//! Both cost one relaxed load per poll when no trace runs.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use rustprof_trace::vocab;

use super::async_tracks::{self, AsyncOp};

/// Ids of wrapped tasks: high numbers, apart from tokio's own ids.
static NEXT: AtomicU64 = AtomicU64::new(1 << 40);

/// Spawns `fut` on the current tokio runtime as [`tokio::spawn`] does,
/// wrapped in [`Instrumented`] with the name `name`.
#[track_caller]
pub fn spawn<F>(name: impl Into<Cow<'static, str>>, fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(Instrumented::new(name, fut))
}

/// A future whose polls, wake-ups and completion are recorded on a track of
/// its own while a trace runs (see the module's documentation).
#[derive(Debug)]
pub struct Instrumented<F> {
    fut: F,
    name: Cow<'static, str>,
    /// The track's uuid, once described in the running trace (and the
    /// trace's generation then).
    track: u64,
    generation: u64,
    wake: Option<Arc<WakeState>>,
    done: bool,
}

/// What the wrapped waker shares with the future.
#[derive(Debug)]
struct WakeState {
    /// When the task was woken and not yet polled (0: not woken).
    woken_at: AtomicU64,
    inner: Mutex<Option<Waker>>,
}

impl Wake for WakeState {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if super::is_enabled() {
            let _ = self.woken_at.compare_exchange(0, super::now(), Ordering::AcqRel, Ordering::Relaxed);
        }
        if let Some(w) = self.inner.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<F> Instrumented<F> {
    /// Wraps `fut`; its track is named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>, fut: F) -> Self {
        Instrumented { fut, name: name.into(), track: 0, generation: 0, wake: None, done: false }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: never moved out of the pinned
        // wrapper; the other fields are plain data.
        #[allow(unsafe_code)]
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        #[allow(unsafe_code)]
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        if !super::is_enabled() {
            return fut.poll(cx);
        }
        let generation = super::GENERATION.load(Ordering::Relaxed);
        if this.generation != generation {
            this.generation = generation;
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            this.track = async_tracks::task_track(id);
            let name = format!("task {id} {}", this.name);
            async_tracks::record(AsyncOp::Describe, this.track, name.into(), "", 0);
        }
        let wake = this
            .wake
            .get_or_insert_with(|| {
                Arc::new(WakeState { woken_at: AtomicU64::new(0), inner: Mutex::new(None) })
            })
            .clone();
        {
            let mut inner = wake.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if !inner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *inner = Some(cx.waker().clone());
            }
        }
        let start = super::now();
        let woken = wake.woken_at.swap(0, Ordering::AcqRel);
        if woken != 0 && woken <= start {
            let b = Cow::Borrowed(vocab::RUNNABLE);
            async_tracks::record_at(woken, AsyncOp::Begin, this.track, b, vocab::SCHED, 0);
            async_tracks::record_at(start, AsyncOp::End, this.track, Cow::Borrowed(""), "", 0);
        }
        let worker = crate::sys::gettid() as u64;
        let poll = Cow::Borrowed(vocab::POLL);
        async_tracks::record_at(start, AsyncOp::Begin, this.track, poll, vocab::POLL, worker);
        let waker = Waker::from(wake);
        let r = fut.poll(&mut Context::from_waker(&waker));
        async_tracks::record(AsyncOp::End, this.track, Cow::Borrowed(""), "", 0);
        if r.is_ready() && !this.done {
            this.done = true;
            async_tracks::record(
                AsyncOp::Instant,
                this.track,
                Cow::Borrowed(vocab::TASK_DONE),
                vocab::POLL,
                0,
            );
        }
        r
    }
}

impl<F> Drop for Instrumented<F> {
    /// A future dropped before it completed (a cancelled task, a lost
    /// `select!` branch) ends its track too, so that the trace session does
    /// not keep its descriptor for the rest of the session.
    fn drop(&mut self) {
        let current = self.generation == super::GENERATION.load(Ordering::Relaxed);
        if !self.done && self.track != 0 && current && super::is_enabled() {
            self.done = true;
            async_tracks::record(
                AsyncOp::Instant,
                self.track,
                Cow::Borrowed(vocab::TASK_DONE),
                vocab::POLL,
                0,
            );
        }
    }
}

/// Adds tokio's task hooks to `builder`: while a trace runs, every task
/// spawned on the runtime gets a track named `tokio task ID at FILE:LINE`
/// (its spawn location), a [`vocab::POLL`] slice per poll with the worker's
/// tid, and a [`vocab::TASK_DONE`] instant when it terminates. Needs
/// `--cfg tokio_unstable`. Replaces hooks set on `builder` before (tokio keeps
/// one hook of each kind): [`crate::tasks::hooks`] installs these too, with
/// its task labels, so call one or the other.
#[cfg(tokio_unstable)]
pub fn instrument(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    builder
        .on_task_spawn(hook_spawn)
        .on_before_task_poll(hook_before_poll)
        .on_after_task_poll(hook_after_poll)
        .on_task_terminate(hook_terminate)
}

/// The trace's part of the spawn hook (a no-op without a trace).
#[cfg(tokio_unstable)]
pub(crate) fn hook_spawn(meta: &tokio::runtime::TaskMeta<'_>) {
    if super::is_enabled() {
        let id = id_of(meta.id());
        let at = meta.spawned_at();
        let name = format!("tokio task {id} at {}:{}", at.file(), at.line());
        async_tracks::record(AsyncOp::Describe, async_tracks::task_track(id), name.into(), "", 0);
    }
}

/// The trace's part of the before-poll hook.
#[cfg(tokio_unstable)]
pub(crate) fn hook_before_poll(meta: &tokio::runtime::TaskMeta<'_>) {
    if super::is_enabled() {
        let track = async_tracks::task_track(id_of(meta.id()));
        let worker = crate::sys::gettid() as u64;
        async_tracks::record(AsyncOp::Begin, track, Cow::Borrowed(vocab::POLL), vocab::POLL, worker);
    }
}

/// The trace's part of the after-poll hook.
#[cfg(tokio_unstable)]
pub(crate) fn hook_after_poll(meta: &tokio::runtime::TaskMeta<'_>) {
    if super::is_enabled() {
        let track = async_tracks::task_track(id_of(meta.id()));
        async_tracks::record(AsyncOp::End, track, Cow::Borrowed(""), "", 0);
    }
}

/// The trace's part of the terminate hook.
#[cfg(tokio_unstable)]
pub(crate) fn hook_terminate(meta: &tokio::runtime::TaskMeta<'_>) {
    if super::is_enabled() {
        let track = async_tracks::task_track(id_of(meta.id()));
        async_tracks::record(AsyncOp::Instant, track, Cow::Borrowed(vocab::TASK_DONE), vocab::POLL, 0);
    }
}

/// The number inside a tokio task id (it hashes as that one `u64`).
#[cfg(tokio_unstable)]
fn id_of(id: tokio::task::Id) -> u64 {
    use std::hash::{Hash, Hasher};
    #[derive(Default)]
    struct Take(u64);
    impl Hasher for Take {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
        fn write_u64(&mut self, v: u64) {
            self.0 = v;
        }
    }
    let mut h = Take::default();
    id.hash(&mut h);
    h.finish()
}
