//! [`RwLock`]: std's `RwLock` API and poisoning, on the profiled [`RawRwLock`].

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::ptr::NonNull;
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::poison::{Flag, PanicState};
use super::raw::RawRwLock;

/// A reader-writer lock protecting a `T`: a drop-in for [`std::sync::RwLock`]
/// (same methods, guards, and poisoning) whose waits, of readers and writers,
/// are recorded in the [block profile](super::block_profile) and whose
/// contended critical sections are charged in the
/// [mutex profile](super::mutex_profile).
///
/// Writers are preferred: once a writer waits, new readers wait behind it.
///
/// ```
/// use rustprof::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    poison: Flag,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (so `T: Sync`), a writer gets
// `&mut T` on any thread (so `T: Send`), as for std's.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

/// Shared access granted by [`RwLock::read`]; releases it when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    data: NonNull<T>,
    raw: &'a RawRwLock,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: the guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Exclusive access granted by [`RwLock::write`]; releases it when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    panic: PanicState,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `t`.
    #[inline]
    pub const fn new(t: T) -> RwLock<T> {
        RwLock { raw: RawRwLock::new(), poison: Flag::new(), data: UnsafeCell::new(t) }
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes shared (read) access, blocking while a writer holds or waits for
    /// the lock. A wait that sleeps is recorded in the block profile.
    ///
    /// # Errors
    /// The guard inside a [`PoisonError`] if a writer panicked while holding the lock.
    ///
    /// # Panics
    /// If the number of readers would overflow (about 2³⁰).
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.acquire_shared();
        // SAFETY: just read-locked.
        unsafe { self.read_guard() }
    }

    /// Takes shared access if that is possible without blocking.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] if a writer holds or waits for the lock,
    /// [`TryLockError::Poisoned`] (with the guard) if it is poisoned.
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.try_acquire_shared() {
            // SAFETY: just read-locked.
            Ok(unsafe { self.read_guard() }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Takes exclusive (write) access, blocking until no one else holds the
    /// lock. A wait that sleeps is recorded in the block profile.
    ///
    /// # Errors
    /// The guard inside a [`PoisonError`] if a writer panicked while holding the lock.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.raw.acquire_exclusive();
        // SAFETY: just write-locked.
        unsafe { self.write_guard() }
    }

    /// Takes exclusive access if that is possible without blocking.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] if the lock is held,
    /// [`TryLockError::Poisoned`] (with the guard) if it is poisoned.
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.raw.try_acquire_exclusive() {
            // SAFETY: just write-locked.
            Ok(unsafe { self.write_guard() }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a writer panicked while holding the lock (and the poison was
    /// not cleared since).
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    #[inline]
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Errors
    /// The data inside a [`PoisonError`] if the lock is poisoned.
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
    /// The reference inside a [`PoisonError`] if the lock is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        let data = self.data.get_mut();
        if poisoned { Err(PoisonError::new(data)) } else { Ok(data) }
    }

    /// # Safety
    /// The caller holds a read lock and hands it to the guard.
    unsafe fn read_guard(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let guard = RwLockReadGuard {
            // SAFETY: `UnsafeCell::get` is never null.
            data: unsafe { NonNull::new_unchecked(self.data.get()) },
            raw: &self.raw,
            _not_send: PhantomData,
        };
        if self.poison.get() { Err(PoisonError::new(guard)) } else { Ok(guard) }
    }

    /// # Safety
    /// The caller holds the write lock and hands it to the guard.
    unsafe fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let guard = RwLockWriteGuard { lock: self, panic: PanicState::now(), _not_send: PhantomData };
        if self.poison.get() { Err(PoisonError::new(guard)) } else { Ok(guard) }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the read lock is held: only shared references exist.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.raw.release_shared();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: no other access exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held, and `&mut self` makes this the only
        // access through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.panic);
        self.lock.raw.release_exclusive();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
