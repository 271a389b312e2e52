//! Giving each thread its own timer: a perf event or a POSIX timer on the
//! thread's CPU clock, whose first period is random (uniform in (0, period], as
//! Go's are), so that a thread shorter than a period is sampled with the
//! probability its CPU time gives it and no thread loses its last partial
//! period on average.
//!
//! Which threads have their own timer is kept in a [`TidSet`] the signal
//! handler reads: until a thread has one, the process-wide timer's signals
//! sample it (Go's `validSIGPROF` rule), and wake the collector to attach it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use super::{Mechanism, Shared};
use crate::sys;

/// A thread being sampled.
pub(super) enum Attach {
    Perf(i32),
    Timer(libc::timer_t),
    /// The thread refused a timer (or was gone): the process timer samples it.
    None,
}

// SAFETY: timer_t is an opaque id used only through system calls.
unsafe impl Send for Attach {}

/// Slots of a [`TidSet`].
const SLOTS: usize = 4096;
const EMPTY: i32 = 0;
const GONE: i32 = -1;

/// Entry states.
const OWN: u8 = 1;
const REFUSED: u8 = 2;

/// The threads the collector has seen: an open-addressing table written only
/// by the collector and read lock-free by the signal handler.
pub(super) struct TidSet {
    tids: Box<[AtomicI32]>,
    state: Box<[AtomicU8]>,
    /// A perf event whose random first period is running (its thread's
    /// handler then sets the full period), else -1.
    first_fd: Box<[AtomicI32]>,
}

/// What the handler learns about its thread.
pub(super) enum Seen {
    /// Never seen by the collector.
    Unknown,
    /// Seen, without a timer of its own.
    Refused,
    /// Has its own timer; the slot's index.
    Own(usize),
}

impl TidSet {
    pub(super) fn new() -> Self {
        TidSet {
            tids: (0..SLOTS).map(|_| AtomicI32::new(EMPTY)).collect(),
            state: (0..SLOTS).map(|_| AtomicU8::new(0)).collect(),
            first_fd: (0..SLOTS).map(|_| AtomicI32::new(-1)).collect(),
        }
    }

    fn home(tid: i32) -> usize {
        (tid as u32).wrapping_mul(0x9e37_79b9) as usize % SLOTS
    }

    /// The slot of `tid` (async-signal-safe).
    #[inline]
    fn find(&self, tid: i32) -> Option<usize> {
        let h = Self::home(tid);
        for i in 0..SLOTS {
            let slot = (h + i) % SLOTS;
            match self.tids[slot].load(Ordering::Acquire) {
                t if t == tid => return Some(slot),
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// What is known of thread `tid` (async-signal-safe).
    #[inline]
    pub(super) fn seen(&self, tid: i32) -> Seen {
        match self.find(tid) {
            Some(slot) if self.state[slot].load(Ordering::Acquire) == OWN => Seen::Own(slot),
            Some(_) => Seen::Refused,
            None => Seen::Unknown,
        }
    }

    /// The perf event of slot `slot` still in its first period, taken once
    /// (async-signal-safe).
    #[inline]
    pub(super) fn take_first(&self, slot: usize) -> Option<i32> {
        let fd = self.first_fd[slot].swap(-1, Ordering::AcqRel);
        (fd >= 0).then_some(fd)
    }

    /// Adds `tid` (not in the set); false when the set is full.
    fn insert(&self, tid: i32, own: bool, first_fd: i32) -> bool {
        let h = Self::home(tid);
        for i in 0..SLOTS {
            let slot = (h + i) % SLOTS;
            let t = self.tids[slot].load(Ordering::Acquire);
            if t == EMPTY || t == GONE {
                self.first_fd[slot].store(first_fd, Ordering::Release);
                self.state[slot].store(if own { OWN } else { REFUSED }, Ordering::Release);
                self.tids[slot].store(tid, Ordering::Release);
                return true;
            }
        }
        false
    }

    fn remove(&self, tid: i32) {
        if let Some(slot) = self.find(tid) {
            self.tids[slot].store(GONE, Ordering::Release);
            self.state[slot].store(0, Ordering::Release);
            self.first_fd[slot].store(-1, Ordering::Release);
        }
    }
}

/// The collector's side: the threads attached, with their timers.
pub(super) struct Attacher {
    attached: HashMap<i32, Attach>,
    /// Thread names, read when each thread is first seen (it may be gone
    /// when its samples are drained).
    pub(super) names: HashMap<i32, String>,
    rng: u64,
    period_ns: u64,
    exclude_kernel: bool,
    thread_names: bool,
}

impl Attacher {
    pub(super) fn new(period_ns: u64, exclude_kernel: bool, thread_names: bool) -> Self {
        Attacher {
            attached: HashMap::new(),
            names: HashMap::new(),
            rng: (sys::now_ns() as u64) | 1,
            period_ns,
            exclude_kernel,
            thread_names,
        }
    }

    /// A random first period, uniform in (0, period].
    fn first_period(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        1 + self.rng % self.period_ns
    }

    /// The threads of `tids` not attached yet (sorted `tids`).
    pub(super) fn new_threads(&self, tids: &[i32]) -> Vec<i32> {
        tids.iter().copied().filter(|t| !self.attached.contains_key(t)).collect()
    }

    /// Gives thread `tid` its own timer.
    pub(super) fn attach(&mut self, shared: &Shared, tid: i32) {
        if self.thread_names {
            let name = sys::thread_name(tid);
            self.names.insert(tid, if name.is_empty() { tid.to_string() } else { name });
        }
        let first = self.first_period();
        let period_ns = self.period_ns;
        let (a, first_fd) = match shared.mechanism {
            Mechanism::PerfEvent => {
                let sigtrap = shared.sigtrap.then_some(sys::SIGTRAP_MAGIC | (shared.session << 16) as u64);
                // The kernel's hrtimer-driven software events run at least 10 µs.
                let first = if period_ns > 10_000 { first.max(10_000) } else { period_ns };
                let randomized = |fd| if first == period_ns { -1 } else { fd };
                match sys::perf_task_clock(tid, first, libc::SIGPROF, self.exclude_kernel, sigtrap) {
                    Ok(fd) if sigtrap.is_some() || shared.fds.insert(fd) => {
                        (Attach::Perf(fd), randomized(fd))
                    }
                    Ok(fd) => {
                        sys::close(fd);
                        (Attach::None, -1)
                    }
                    Err(_) => (Attach::None, -1),
                }
            }
            Mechanism::ThreadTimer => {
                match sys::thread_timer(tid, libc::SIGPROF, tid as usize, first, period_ns) {
                    Ok(t) => (Attach::Timer(t), -1),
                    Err(_) => (Attach::None, -1),
                }
            }
            _ => (Attach::None, -1),
        };
        let own = !matches!(a, Attach::None);
        // Published before the timer runs: its first signal finds the thread
        // attached and its perf event still in its first period. (A full set
        // would leave attached threads looking unattached: the process timer's
        // samples are then not taken at all, rather than counted twice.)
        if !shared.tids.insert(tid, own, first_fd) {
            shared.process_timer_counts.store(false, Ordering::Release);
        }
        match a {
            Attach::Perf(fd) if shared.sigtrap => sys::perf_enable(fd),
            Attach::Perf(fd) => sys::perf_refresh(fd),
            _ => {}
        }
        // A thread that is already gone, or that refused, is not retried.
        self.attached.insert(tid, a);
    }

    /// Detaches the threads not in `tids` (sorted): they have exited.
    pub(super) fn forget_gone(&mut self, shared: &Shared, tids: &[i32]) {
        let gone: Vec<i32> =
            self.attached.keys().copied().filter(|t| tids.binary_search(t).is_err()).collect();
        for tid in gone {
            if let Some(a) = self.attached.remove(&tid) {
                shared.tids.remove(tid);
                detach(shared, a);
            }
        }
    }

    /// Detaches every thread.
    pub(super) fn detach_all(&mut self, shared: &Shared) {
        for (tid, a) in self.attached.drain() {
            shared.tids.remove(tid);
            detach(shared, a);
        }
    }
}

fn detach(shared: &Shared, a: Attach) {
    match a {
        Attach::Perf(fd) => {
            sys::perf_disable(fd);
            shared.fds.remove(fd);
            sys::close(fd);
        }
        Attach::Timer(t) => sys::timer_delete(t),
        Attach::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_set_finds_what_was_inserted_and_reuses_removed_slots() {
        let s = TidSet::new();
        assert!(matches!(s.seen(42), Seen::Unknown));
        assert!(s.insert(42, true, 7));
        assert!(s.insert(43, false, -1));
        assert!(matches!(s.seen(42), Seen::Own(_)));
        assert!(matches!(s.seen(43), Seen::Refused));
        let Seen::Own(slot) = s.seen(42) else { unreachable!() };
        assert_eq!(s.take_first(slot), Some(7));
        assert_eq!(s.take_first(slot), None);
        s.remove(42);
        assert!(matches!(s.seen(42), Seen::Unknown));
        // Probing past other tids and removed slots.
        for t in 1000..1000 + SLOTS as i32 - 1 {
            assert!(s.insert(t, true, -1), "{t}");
        }
        assert!(matches!(s.seen(43), Seen::Refused));
        assert!(!s.insert(99_999, true, -1), "a full set refuses");
        for t in 1000..1000 + SLOTS as i32 - 1 {
            s.remove(t);
        }
        assert!(s.insert(99_999, true, -1));
        assert!(matches!(s.seen(99_999), Seen::Own(_)));
        assert!(matches!(s.seen(43), Seen::Refused));
    }
}
