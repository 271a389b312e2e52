//! [`RwLock`]: tokio's async reader-writer lock, profiled as [`super::Mutex`].

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::wait::{Contention, Wait};

/// A drop-in for [`tokio::sync::RwLock`]: waits of `read().await` and
/// `write().await` are block profile events at the awaiting task's stack;
/// dropping a guard others were waiting for is a mutex profile event.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let l = rustprof::sync::tokio::RwLock::new(1);
/// assert_eq!(*l.read().await, 1);
/// *l.write().await = 2;
/// assert_eq!(*l.read().await, 2);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    contention: Contention,
    inner: ::tokio::sync::RwLock<T>,
}

/// A shared guard of a [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// `None` only inside `drop`, once the lock is released.
    inner: Option<::tokio::sync::RwLockReadGuard<'a, T>>,
    contention: &'a Contention,
}

/// The exclusive guard of a [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    /// `None` only inside `drop`, once the lock is released.
    inner: Option<::tokio::sync::RwLockWriteGuard<'a, T>>,
    contention: &'a Contention,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub fn new(value: T) -> RwLock<T> {
        RwLock { contention: Contention::new(), inner: ::tokio::sync::RwLock::new(value) }
    }

    /// [`RwLock::new`] in a `const` context (a `static`).
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock { contention: Contention::new(), inner: ::tokio::sync::RwLock::const_new(value) }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds or waits for the lock.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        if let Ok(inner) = self.inner.try_read() {
            return RwLockReadGuard { inner: Some(inner), contention: &self.contention };
        }
        let wait = Wait::begin(Some(&self.contention));
        let inner = self.inner.read().await;
        wait.finish();
        RwLockReadGuard { inner: Some(inner), contention: &self.contention }
    }

    /// Locks for writing, waiting while anyone holds the lock.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        if let Ok(inner) = self.inner.try_write() {
            return RwLockWriteGuard { inner: Some(inner), contention: &self.contention };
        }
        let wait = Wait::begin(Some(&self.contention));
        let inner = self.inner.write().await;
        wait.finish();
        RwLockWriteGuard { inner: Some(inner), contention: &self.contention }
    }

    /// Locks for reading if no writer holds or waits for the lock.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, ::tokio::sync::TryLockError> {
        self.inner
            .try_read()
            .map(|inner| RwLockReadGuard { inner: Some(inner), contention: &self.contention })
    }

    /// Locks for writing if nobody holds the lock.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, ::tokio::sync::TryLockError> {
        self.inner
            .try_write()
            .map(|inner| RwLockWriteGuard { inner: Some(inner), contention: &self.contention })
    }

    /// The value, through exclusive access to the lock (no locking).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Charged while the waiters are still waiting, recorded once released.
        let delay = self.contention.charge();
        self.inner = None;
        Contention::record(delay);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Charged while the waiters are still waiting, recorded once released.
        let delay = self.contention.charge();
        self.inner = None;
        Contention::record(delay);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.inner {
            Some(g) => g,
            None => unreachable!("a guard holds its lock until dropped"),
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.inner {
            Some(g) => g,
            None => unreachable!("a guard holds its lock until dropped"),
        }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.inner {
            Some(g) => g,
            None => unreachable!("a guard holds its lock until dropped"),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
