//! [`Mutex`]: std's `Mutex` API and poisoning, on the profiled [`RawMutex`].

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::poison::{Flag, PanicState};
use super::raw::RawMutex;

/// A mutual-exclusion lock protecting a `T`: a drop-in for
/// [`std::sync::Mutex`] (same methods, guard, and poisoning, with std's
/// [`PoisonError`] and [`TryLockError`]) whose waits are recorded in the
/// [block profile](super::block_profile) and whose contended critical sections
/// are charged in the [mutex profile](super::mutex_profile).
///
/// Locking and unlocking without contention cost what std's do (one atomic
/// operation each); only a thread that has to sleep reads the clock.
///
/// ```
/// use std::sync::Arc;
/// use rustprof::sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let c = Arc::clone(&counter);
///         std::thread::spawn(move || *c.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    poison: Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time, so a
// `Mutex<T>` can be shared when `T` can be sent (as std's).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T: ?Sized> UnwindSafe for Mutex<T> {}
impl<T: ?Sized> RefUnwindSafe for Mutex<T> {}

/// The access a [`Mutex`] grants: dereferences to the data, unlocks when
/// dropped. Not `Send`, like std's.
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a Mutex<T>,
    panic: PanicState,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `t`.
    #[inline]
    pub const fn new(t: T) -> Mutex<T> {
        Mutex { raw: RawMutex::new(), poison: Flag::new(), data: UnsafeCell::new(t) }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, blocking the thread until it can. A wait that sleeps is recorded
    /// in the block profile (at the caller's stack) while it is on.
    ///
    /// # Errors
    /// If a thread panicked while holding the lock, the lock is poisoned: the
    /// guard is returned inside a [`PoisonError`].
    ///
    /// # Panics
    /// May deadlock (never return) if the thread already holds the lock.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.acquire();
        // SAFETY: just locked.
        unsafe { self.guard() }
    }

    /// Locks if it is free right now, without blocking.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] if the lock is held,
    /// [`TryLockError::Poisoned`] (with the guard) if it is poisoned.
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_acquire() {
            // SAFETY: just locked.
            Ok(unsafe { self.guard() }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a thread panicked while holding the lock (and the poison was
    /// not cleared since).
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state: the next lock succeeds.
    #[inline]
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Errors
    /// The data inside a [`PoisonError`] if the mutex is poisoned.
    pub fn into_inner(self) -> LockResult<T>
    where
        T: Sized,
    {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        if poisoned { Err(PoisonError::new(data)) } else { Ok(data) }
    }

    /// The data, through an exclusive borrow (no locking needed).
    ///
    /// # Errors
    /// The reference inside a [`PoisonError`] if the mutex is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        let data = self.data.get_mut();
        if poisoned { Err(PoisonError::new(data)) } else { Ok(data) }
    }

    /// A guard for the lock the caller just took.
    ///
    /// # Safety
    /// The caller holds the raw lock, and hands it over to the guard.
    unsafe fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard { lock: self, panic: PanicState::now(), _not_send: PhantomData };
        if self.poison.get() { Err(PoisonError::new(guard)) } else { Ok(guard) }
    }
}

impl<T: ?Sized> MutexGuard<'_, T> {
    /// The raw lock and poison flag, for the condition variable.
    pub(super) fn parts(&self) -> (&RawMutex, &Flag) {
        (&self.lock.raw, &self.lock.poison)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no `&mut` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only
        // access through it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.panic);
        self.lock.raw.release();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
