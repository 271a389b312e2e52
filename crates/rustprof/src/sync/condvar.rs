//! [`Condvar`]: std's `Condvar` API on a futex, its waits in the block profile.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::futex;
use super::mutex::MutexGuard;
use super::record::Waiting;

/// A condition variable for [`Mutex`](super::Mutex): a drop-in for
/// [`std::sync::Condvar`] (same methods, poisoning, and spurious wake-ups).
/// Every wait is a blocking event of the [block profile](super::block_profile),
/// recorded at the waiter's stack from the moment it releases the mutex until
/// it holds it again (Go records `sync.Cond.Wait` the same way).
///
/// ```
/// use std::sync::Arc;
/// use rustprof::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let ready = cvar.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// ```
pub struct Condvar {
    /// Bumped by every notification; waiters sleep on it.
    seq: AtomicU32,
}

/// Whether a timed wait of a [`Condvar`] returned because its time ran out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended because the timeout elapsed.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    #[must_use]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar { seq: AtomicU32::new(0) }
    }

    /// Releases the guard's mutex, sleeps until notified (or woken
    /// spuriously), then locks the mutex again.
    ///
    /// # Errors
    /// The guard inside a [`PoisonError`] if the mutex is poisoned once
    /// re-acquired.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_on(&guard, None);
        let poisoned = guard.parts().1.get();
        if poisoned { Err(PoisonError::new(guard)) } else { Ok(guard) }
    }

    /// Waits while `condition` holds for the data (checked first, then after
    /// every wake-up).
    ///
    /// # Errors
    /// As [`Condvar::wait`].
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Condvar::wait`], but for at most `dur`.
    ///
    /// # Errors
    /// As [`Condvar::wait`] (the error holds the guard and the result).
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let woken = self.wait_on(&guard, Some(dur));
        let poisoned = guard.parts().1.get();
        let r = (guard, WaitTimeoutResult(!woken));
        if poisoned { Err(PoisonError::new(r)) } else { Ok(r) }
    }

    /// Waits while `condition` holds, for at most `dur` in total.
    ///
    /// # Errors
    /// As [`Condvar::wait`].
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            guard = self.wait_timeout(guard, left)?.0;
        }
    }

    /// Wakes one thread waiting on this condition variable, if any.
    #[inline]
    pub fn notify_one(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        futex::wake_one(&self.seq);
    }

    /// Wakes every thread waiting on this condition variable.
    #[inline]
    pub fn notify_all(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        futex::wake_all(&self.seq);
    }

    /// One wait; false if it timed out.
    #[inline(never)]
    fn wait_on<T>(&self, guard: &MutexGuard<'_, T>, timeout: Option<Duration>) -> bool {
        let raw = guard.parts().0;
        // Read before unlocking: a notification from then on changes it, and
        // the sleep below returns at once.
        let seq = self.seq.load(Ordering::Relaxed);
        raw.release();
        let mut waiting = Waiting::new(0, true);
        waiting.before_sleep();
        let woken = futex::wait(&self.seq, seq, timeout);
        // Contention re-taking the mutex counts in this wait, not as a second event.
        raw.reacquire();
        drop(waiting);
        woken
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl std::fmt::Debug for Condvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
