//! One async wait, from the first time the awaited operation could not
//! complete to its completion, and the per-primitive count of registered
//! waiters that tells a releasing guard whether it has anyone to charge.

use std::sync::atomic::{AtomicU32, Ordering};

use super::super::record::{any_on, async_wait_begin, async_wait_end, charge_unlock, record_unlock};

/// The waiters of one lock or semaphore registered for the mutex profile; the
/// primitive's address (this struct's) names it in the waiter accounting.
#[derive(Debug, Default)]
pub(crate) struct Contention {
    waiting: AtomicU32,
}

impl Contention {
    pub(crate) const fn new() -> Contention {
        Contention { waiting: AtomicU32::new(0) }
    }

    fn id(&self) -> usize {
        self as *const Contention as usize
    }

    /// Called by a guard or permit before it releases: the delay its holder
    /// caused the registered waiters (0: none, or the profile is off), for
    /// [`Contention::record`] once released. One relaxed load when nobody waits.
    #[inline]
    pub(crate) fn charge(&self) -> u64 {
        if self.waiting.load(Ordering::Relaxed) != 0 { self.charge_slow() } else { 0 }
    }

    #[cold]
    #[inline(never)]
    fn charge_slow(&self) -> u64 {
        charge_unlock(self.id())
    }

    /// Records what [`Contention::charge`] returned at the caller's stack,
    /// after the release (taking the stack does not lengthen the critical
    /// section the waiters wait for).
    #[inline]
    pub(crate) fn record(delay: u64) {
        if delay != 0 {
            record_unlock(delay);
        }
    }
}

/// An async wait in progress: started once the operation's fast path failed,
/// [`Wait::finish`]ed when it completes (recorded in the block profile at the
/// awaiting task's stack), or dropped when the future is cancelled (only
/// deregistered).
pub(crate) struct Wait<'a> {
    lock: Option<&'a Contention>,
    t0: u64,
    registered: bool,
}

impl Wait<'static> {
    /// A wait that has not started (for futures that start it at their first
    /// `Pending`).
    pub(crate) const IDLE: Wait<'static> = Wait { lock: None, t0: 0, registered: false };
}

impl<'a> Wait<'a> {
    /// Starts a wait on `lock` (`None`: a channel, not charged to anyone).
    /// Reads the clock only while a profile is on.
    #[inline]
    pub(crate) fn begin(lock: Option<&'a Contention>) -> Wait<'a> {
        if !any_on() {
            return Wait { lock, t0: 0, registered: false };
        }
        Self::begin_slow(lock)
    }

    #[cold]
    #[inline(never)]
    fn begin_slow(lock: Option<&'a Contention>) -> Wait<'a> {
        let (t0, registered) = async_wait_begin(lock.map_or(0, Contention::id));
        if registered && let Some(l) = lock {
            l.waiting.fetch_add(1, Ordering::Relaxed);
        }
        Wait { lock, t0, registered }
    }

    /// Whether the wait has started measuring.
    pub(crate) fn started(&self) -> bool {
        self.t0 != 0
    }

    /// The operation completed: records the wait (if sampled) at the caller's stack.
    #[inline]
    pub(crate) fn finish(mut self) {
        if self.t0 != 0 {
            self.end(true);
        }
    }

    #[cold]
    #[inline(never)]
    fn end(&mut self, done: bool) {
        let t0 = std::mem::take(&mut self.t0);
        let id = self.lock.map_or(0, Contention::id);
        async_wait_end(id, t0, self.registered, done);
        if self.registered
            && let Some(l) = self.lock
        {
            l.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        self.registered = false;
    }
}

impl Drop for Wait<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.t0 != 0 {
            self.end(false);
        }
    }
}
