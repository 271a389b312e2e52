//! Poisoning, as std does it: a lock is poisoned when a guard is dropped while
//! its thread panics (unless that thread was already panicking when it locked).

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// The poisoned bit of one lock.
pub(super) struct Flag(AtomicBool);

/// Whether the thread was panicking when it took the lock.
pub(super) struct PanicState {
    panicking: bool,
}

impl PanicState {
    #[inline]
    pub(super) fn now() -> PanicState {
        PanicState { panicking: thread::panicking() }
    }
}

impl Flag {
    #[inline]
    pub(super) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    #[inline]
    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    #[inline]
    pub(super) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed)
    }

    /// Called as a guard is released: poisons when a panic started while it was held.
    #[inline]
    pub(super) fn done(&self, at_lock: &PanicState) {
        if !at_lock.panicking && thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}
