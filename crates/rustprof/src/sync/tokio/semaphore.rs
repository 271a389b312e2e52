//! [`Semaphore`]: tokio's async semaphore (a pool's gate), its waits in the
//! block profile, and permits released while others waited in the mutex profile.

use std::sync::Arc;

use ::tokio::sync::{AcquireError, TryAcquireError};

use super::wait::{Contention, Wait};

/// A drop-in for [`tokio::sync::Semaphore`]: an `acquire().await` that had to
/// wait is a block profile event at the awaiting task's stack; dropping a
/// permit while others wait is a mutex profile event at the dropping stack
/// (the holder that kept the pool busy).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let pool = rustprof::sync::tokio::Semaphore::new(2);
/// let permit = pool.acquire().await.unwrap();
/// assert_eq!(pool.available_permits(), 1);
/// drop(permit);
/// # });
/// ```
#[derive(Debug)]
pub struct Semaphore {
    contention: Contention,
    inner: ::tokio::sync::Semaphore,
}

/// Permits of a [`Semaphore`], returned when dropped.
#[must_use]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    /// `None` once forgotten or released.
    inner: Option<::tokio::sync::SemaphorePermit<'a>>,
    contention: &'a Contention,
}

/// Permits of a [`Semaphore`] in an [`Arc`], returned when dropped.
#[must_use]
#[derive(Debug)]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: u32,
}

impl Semaphore {
    /// The largest number of permits (tokio's).
    pub const MAX_PERMITS: usize = ::tokio::sync::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore { contention: Contention::new(), inner: ::tokio::sync::Semaphore::new(permits) }
    }

    /// [`Semaphore::new`] in a `const` context (a `static`).
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore { contention: Contention::new(), inner: ::tokio::sync::Semaphore::const_new(permits) }
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits.
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n)
    }

    /// Closes the semaphore: waiting and later acquires fail.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether [`Semaphore::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// One permit, waiting (fairly, first come first served) until one is free.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// `n` permits at once.
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        if let Ok(inner) = self.inner.try_acquire_many(n) {
            return Ok(SemaphorePermit { inner: Some(inner), contention: &self.contention });
        }
        let wait = Wait::begin(Some(&self.contention));
        let inner = self.inner.acquire_many(n).await?;
        wait.finish();
        Ok(SemaphorePermit { inner: Some(inner), contention: &self.contention })
    }

    /// One permit if one is free now.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if they are free now.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner
            .try_acquire_many(n)
            .map(|inner| SemaphorePermit { inner: Some(inner), contention: &self.contention })
    }

    /// One permit held through the `Arc` (`'static`, for spawned tasks).
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// `n` permits held through the `Arc`.
    pub async fn acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many(n).await?.forget();
        Ok(OwnedSemaphorePermit { sem: self, permits: n })
    }

    /// One permit held through the `Arc`, if one is free now.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many(1)?.forget();
        Ok(OwnedSemaphorePermit { sem: self, permits: 1 })
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        if let Some(p) = self.inner.take() {
            p.forget();
        }
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.num_permits())
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.inner.is_some() {
            // Charged while the waiters are still waiting, recorded once released.
            let delay = self.contention.charge();
            self.inner = None;
            Contention::record(delay);
        }
    }
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        let delay = self.sem.contention.charge();
        self.sem.inner.add_permits(self.permits as usize);
        Contention::record(delay);
    }
}
