//! The raw locks: a futex mutex and a futex reader-writer lock, with no data and
//! no poisoning, that [`Mutex`](super::Mutex) and [`RwLock`](super::RwLock) are
//! built on and that `lock_api` can wrap.
//!
//! The uncontended paths are one atomic compare-exchange to lock and one atomic
//! read-modify-write to unlock, as in std. The clock is read, and the profiles
//! are touched, only on the paths that put a thread to sleep or wake one.

#![allow(unsafe_code)]

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, Ordering};

use super::futex;
use super::record::{Waiting, charge_unlock, record_unlock};

/// Returned by the out-of-line slow paths, and consumed by [`no_tail_call`].
struct Slow(u8);

/// Keeps a call to a slow path from being a tail call of the (inlined) fast
/// path: the frame of the function that locks or unlocks must still be on the
/// stack when the slow path records it.
#[inline(always)]
fn no_tail_call(s: Slow) {
    std::hint::black_box(s.0);
}

/// How many times a contended lock re-reads its state before sleeping.
const SPINS: u32 = 100;

/// Re-reads `word` until `done(state)` or the spins run out; returns the state.
#[inline]
fn spin(word: &AtomicU32, done: impl Fn(u32) -> bool) -> u32 {
    let mut n = SPINS;
    loop {
        let s = word.load(Ordering::Relaxed);
        if done(s) || n == 0 {
            return s;
        }
        spin_loop();
        n -= 1;
    }
}

const UNLOCKED: u32 = 0;
/// Locked, nobody sleeping.
const LOCKED: u32 = 1;
/// Locked, and threads may be sleeping on it.
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock without data: a 32-bit futex word, recording its
/// contention in the block and mutex profiles.
///
/// Use it through [`Mutex`](super::Mutex), or with
/// [`lock_api`](https://docs.rs/lock_api) (parking_lot style, no poisoning):
///
/// ```
/// type Mutex<T> = lock_api::Mutex<rustprof::sync::RawMutex, T>;
/// let m = Mutex::new(1);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 2);
/// ```
pub struct RawMutex {
    state: AtomicU32,
}

impl RawMutex {
    /// An unlocked mutex.
    pub const fn new() -> RawMutex {
        RawMutex { state: AtomicU32::new(UNLOCKED) }
    }

    fn id(&self) -> usize {
        &self.state as *const AtomicU32 as usize
    }

    #[inline]
    pub(super) fn try_acquire(&self) -> bool {
        self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Locks; a wait is a block profile event.
    #[inline]
    pub(super) fn acquire(&self) {
        if !self.try_acquire() {
            no_tail_call(self.lock_contended(true));
        }
    }

    /// Locks again after a condition variable wait (which is the block event).
    #[inline]
    pub(super) fn reacquire(&self) {
        if !self.try_acquire() {
            no_tail_call(self.lock_contended(false));
        }
    }

    /// Unlocks. The caller holds the lock.
    #[inline]
    pub(super) fn release(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            no_tail_call(self.wake());
        }
    }

    pub(super) fn held(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self, block_event: bool) -> Slow {
        // A short spin first: a lock held briefly is often free again sooner
        // than a sleep and a wake-up would take.
        let s = spin(&self.state, |s| s != LOCKED);
        if s == UNLOCKED
            && self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok()
        {
            return Slow(0);
        }
        self.lock_sleeping(block_event);
        Slow(0)
    }

    /// The path that may sleep: only here is a wait measured.
    #[inline(never)]
    fn lock_sleeping(&self, block_event: bool) {
        let mut waiting = Waiting::new(self.id(), block_event);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // Taking the lock from here on leaves it CONTENDED: others may
            // still sleep on it, so its unlock must wake one.
            if s != CONTENDED && self.state.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                break;
            }
            waiting.before_sleep();
            futex::wait(&self.state, CONTENDED, None);
            s = spin(&self.state, |s| s != LOCKED);
        }
        drop(waiting);
    }

    /// Called by an unlock that found the lock CONTENDED: charges it in the
    /// mutex profile (before the wake-up, while every waiter is registered),
    /// wakes one sleeper, then records the charge.
    #[cold]
    #[inline(never)]
    fn wake(&self) -> Slow {
        let delay = charge_unlock(self.id());
        futex::wake_one(&self.state);
        record_unlock(delay);
        Slow(0)
    }
}

impl Default for RawMutex {
    fn default() -> Self {
        RawMutex::new()
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex").field("locked", &self.held()).finish()
    }
}

// SAFETY: `lock`/`try_lock` give exclusive ownership until `unlock` (acquire on
// lock, release on unlock), and a lock taken on one thread may be released on
// another, so guards may be sent (GuardSend).
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)] // the trait's initializer, copied into each lock
    const INIT: RawMutex = RawMutex::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        self.acquire()
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.try_acquire()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.release()
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.held()
    }
}

// RwLock state: the low 30 bits count readers (all ones: write-locked); two
// flags say that readers or writers sleep. Writers are preferred: once one
// waits, new readers wait too.
const READ_LOCKED: u32 = 1;
const MASK: u32 = (1 << 30) - 1;
const WRITE_LOCKED: u32 = MASK;
const MAX_READERS: u32 = MASK - 1;
const READERS_WAITING: u32 = 1 << 30;
const WRITERS_WAITING: u32 = 1 << 31;

fn is_unlocked(s: u32) -> bool {
    s & MASK == 0
}

fn is_write_locked(s: u32) -> bool {
    s & MASK == WRITE_LOCKED
}

fn has_readers_waiting(s: u32) -> bool {
    s & READERS_WAITING != 0
}

fn has_writers_waiting(s: u32) -> bool {
    s & WRITERS_WAITING != 0
}

/// A reader can join: not write-locked, below the reader limit, nobody waiting.
fn is_read_lockable(s: u32) -> bool {
    s & MASK < MAX_READERS && s & (READERS_WAITING | WRITERS_WAITING) == 0
}

/// A reader-writer lock without data: two 32-bit futex words (the state, and a
/// counter writers sleep on), recording its contention in the block and mutex
/// profiles. Writers are preferred over new readers.
///
/// Use it through [`RwLock`](super::RwLock), or with `lock_api`:
///
/// ```
/// type RwLock<T> = lock_api::RwLock<rustprof::sync::RawRwLock, T>;
/// let l = RwLock::new(1);
/// assert_eq!(*l.read(), 1);
/// *l.write() = 2;
/// assert_eq!(*l.read(), 2);
/// ```
pub struct RawRwLock {
    state: AtomicU32,
    writer_notify: AtomicU32,
}

impl RawRwLock {
    /// An unlocked lock.
    pub const fn new() -> RawRwLock {
        RawRwLock { state: AtomicU32::new(0), writer_notify: AtomicU32::new(0) }
    }

    fn id(&self) -> usize {
        &self.state as *const AtomicU32 as usize
    }

    #[inline]
    pub(super) fn try_acquire_shared(&self) -> bool {
        self.state
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |s| {
                is_read_lockable(s).then_some(s + READ_LOCKED)
            })
            .is_ok()
    }

    #[inline]
    pub(super) fn acquire_shared(&self) {
        let s = self.state.load(Ordering::Relaxed);
        if !is_read_lockable(s)
            || self
                .state
                .compare_exchange_weak(s, s + READ_LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            no_tail_call(self.read_contended());
        }
    }

    /// Releases a read lock. The caller holds one.
    #[inline]
    pub(super) fn release_shared(&self) {
        let s = self.state.fetch_sub(READ_LOCKED, Ordering::Release) - READ_LOCKED;
        // Readers only wait while a writer does too; the last reader out wakes it.
        if is_unlocked(s) && has_writers_waiting(s) {
            no_tail_call(self.wake_writer_or_readers(s));
        }
    }

    #[inline]
    pub(super) fn try_acquire_exclusive(&self) -> bool {
        self.state
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |s| {
                is_unlocked(s).then_some(s + WRITE_LOCKED)
            })
            .is_ok()
    }

    #[inline]
    pub(super) fn acquire_exclusive(&self) {
        if self.state.compare_exchange_weak(0, WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            no_tail_call(self.write_contended());
        }
    }

    /// Releases the write lock. The caller holds it.
    #[inline]
    pub(super) fn release_exclusive(&self) {
        let s = self.state.fetch_sub(WRITE_LOCKED, Ordering::Release) - WRITE_LOCKED;
        if has_readers_waiting(s) || has_writers_waiting(s) {
            no_tail_call(self.wake_writer_or_readers(s));
        }
    }

    pub(super) fn held(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MASK != 0
    }

    pub(super) fn held_exclusive(&self) -> bool {
        is_write_locked(self.state.load(Ordering::Relaxed))
    }

    #[cold]
    #[inline(never)]
    fn read_contended(&self) -> Slow {
        let mut s = self.spin_read();
        while is_read_lockable(s) {
            match self.state.compare_exchange_weak(s, s + READ_LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Slow(0),
                Err(e) => s = e,
            }
        }
        self.read_sleeping(s);
        Slow(0)
    }

    #[inline(never)]
    fn read_sleeping(&self, mut s: u32) {
        let mut waiting = Waiting::new(self.id(), true);
        loop {
            if is_read_lockable(s) {
                match self.state.compare_exchange_weak(
                    s,
                    s + READ_LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(e) => {
                        s = e;
                        continue;
                    }
                }
            }
            if s & MASK == MAX_READERS {
                panic!("too many active read locks on RwLock");
            }
            // Say that a reader sleeps, then sleep while that is still the state.
            if !has_readers_waiting(s)
                && let Err(e) =
                    self.state.compare_exchange(s, s | READERS_WAITING, Ordering::Relaxed, Ordering::Relaxed)
            {
                s = e;
                continue;
            }
            waiting.before_sleep();
            futex::wait(&self.state, s | READERS_WAITING, None);
            s = self.spin_read();
        }
        drop(waiting);
    }

    #[cold]
    #[inline(never)]
    fn write_contended(&self) -> Slow {
        let mut s = self.spin_write();
        if is_unlocked(s) {
            match self.state.compare_exchange_weak(s, s | WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Slow(0),
                Err(e) => s = e,
            }
        }
        self.write_sleeping(s);
        Slow(0)
    }

    #[inline(never)]
    fn write_sleeping(&self, mut s: u32) {
        let mut waiting = Waiting::new(self.id(), true);
        // Once this writer has slept, others may sleep too: keep the flag set
        // when taking the lock, so that its unlock wakes the next one.
        let mut keep_flag = 0;
        loop {
            if is_unlocked(s) {
                match self.state.compare_exchange_weak(
                    s,
                    s | WRITE_LOCKED | keep_flag,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(e) => {
                        s = e;
                        continue;
                    }
                }
            }
            if !has_writers_waiting(s)
                && let Err(e) =
                    self.state.compare_exchange(s, s | WRITERS_WAITING, Ordering::Relaxed, Ordering::Relaxed)
            {
                s = e;
                continue;
            }
            keep_flag = WRITERS_WAITING;
            // Read the notification counter before re-checking the state, so a
            // wake-up between the two makes the sleep return at once.
            let seq = self.writer_notify.load(Ordering::Acquire);
            s = self.state.load(Ordering::Relaxed);
            if is_unlocked(s) || !has_writers_waiting(s) {
                continue;
            }
            waiting.before_sleep();
            futex::wait(&self.writer_notify, seq, None);
            s = self.spin_write();
        }
        drop(waiting);
    }

    /// Called with the lock free and someone waiting: charges this unlock in
    /// the mutex profile, wakes one writer if one waits, else all readers, then
    /// records the charge.
    #[cold]
    #[inline(never)]
    fn wake_writer_or_readers(&self, s: u32) -> Slow {
        let delay = charge_unlock(self.id());
        self.wake(s);
        record_unlock(delay);
        Slow(0)
    }

    fn wake(&self, mut s: u32) {
        debug_assert!(is_unlocked(s));
        if s == WRITERS_WAITING {
            match self.state.compare_exchange(s, 0, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    self.wake_writer();
                    return;
                }
                Err(e) => s = e,
            }
        }
        if s == READERS_WAITING | WRITERS_WAITING {
            if self.state.compare_exchange(s, READERS_WAITING, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                // Someone took the lock; their unlock will wake the waiters.
                return;
            }
            if self.wake_writer() {
                return;
            }
            // No writer was asleep (it may be about to take the lock): the
            // readers must not be left sleeping.
            s = READERS_WAITING;
        }
        if s == READERS_WAITING
            && self.state.compare_exchange(s, 0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            futex::wake_all(&self.state);
        }
    }

    /// Wakes a sleeping writer; false if none was asleep.
    fn wake_writer(&self) -> bool {
        self.writer_notify.fetch_add(1, Ordering::Release);
        futex::wake_one(&self.writer_notify)
    }

    fn spin_read(&self) -> u32 {
        // Stop when it is not write-locked (readers can join or someone waits).
        spin(&self.state, |s| !is_write_locked(s) || has_readers_waiting(s) || has_writers_waiting(s))
    }

    fn spin_write(&self) -> u32 {
        spin(&self.state, |s| is_unlocked(s) || has_writers_waiting(s))
    }
}

impl Default for RawRwLock {
    fn default() -> Self {
        RawRwLock::new()
    }
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRwLock")
            .field("locked", &self.held())
            .field("exclusive", &self.held_exclusive())
            .finish()
    }
}

// SAFETY: shared locks exclude the exclusive lock and the exclusive lock
// excludes everything (acquire on lock, release on unlock); locks may be
// released by another thread than the one that took them (GuardSend).
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)] // the trait's initializer, copied into each lock
    const INIT: RawRwLock = RawRwLock::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock_shared(&self) {
        self.acquire_shared()
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.try_acquire_shared()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        self.release_shared()
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.acquire_exclusive()
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.try_acquire_exclusive()
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        self.release_exclusive()
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.held()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.held_exclusive()
    }
}
