//! [`Mutex`]: tokio's async mutex, its waits in the block profile and its
//! contended releases in the mutex profile.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::wait::{Contention, Wait};

/// A drop-in for [`tokio::sync::Mutex`]: `lock().await` that had to wait is a
/// block profile event at the awaiting task's stack, and dropping a guard
/// others were waiting for is a mutex profile event at the dropping stack.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = rustprof::sync::tokio::Mutex::new(1);
/// *m.lock().await += 1;
/// assert_eq!(*m.lock().await, 2);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    contention: Contention,
    inner: ::tokio::sync::Mutex<T>,
}

/// The guard of a [`Mutex`]: the lock is released when it is dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Dropped after `Drop::drop` has charged the waiters: they still wait.
    /// `None` only inside `drop`, once the lock is released.
    inner: Option<::tokio::sync::MutexGuard<'a, T>>,
    contention: &'a Contention,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex { contention: Contention::new(), inner: ::tokio::sync::Mutex::new(value) }
    }

    /// [`Mutex::new`] in a `const` context (a `static`).
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex { contention: Contention::new(), inner: ::tokio::sync::Mutex::const_new(value) }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting (asynchronously, fairly, as tokio's) while another
    /// holds the lock.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        if let Ok(inner) = self.inner.try_lock() {
            return MutexGuard { inner: Some(inner), contention: &self.contention };
        }
        let wait = Wait::begin(Some(&self.contention));
        let inner = self.inner.lock().await;
        wait.finish();
        MutexGuard { inner: Some(inner), contention: &self.contention }
    }

    /// Locks if nobody holds the lock.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, ::tokio::sync::TryLockError> {
        self.inner.try_lock().map(|inner| MutexGuard { inner: Some(inner), contention: &self.contention })
    }

    /// The value, through exclusive access to the mutex (no locking).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Charged while the waiters are still waiting, recorded once released.
        let delay = self.contention.charge();
        self.inner = None;
        Contention::record(delay);
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.inner {
            Some(g) => g,
            None => unreachable!("a guard holds its lock until dropped"),
        }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.inner {
            Some(g) => g,
            None => unreachable!("a guard holds its lock until dropped"),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
