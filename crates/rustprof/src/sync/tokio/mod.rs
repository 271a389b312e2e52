//! Async waits in the block and mutex profiles: drop-ins for tokio's
//! [`Mutex`], [`RwLock`], [`Semaphore`] and channels ([`mpsc`], [`oneshot`],
//! [`broadcast`], [`watch`]) — what Go's block profile shows for channels and
//! `select`, for tasks (feature `tokio`).
//!
//! Each operation first tries tokio's non-waiting form (`try_lock`,
//! `try_send`, `try_recv`, ...); only when that fails is the clock read (while
//! a profile is on) and tokio's waiting form awaited. When it completes, the
//! wait — from the failed attempt to readiness, the task's time parked on it —
//! is a block profile event with Go's rate semantics
//! ([`set_block_profile_rate`](super::set_block_profile_rate)), at the stack
//! of the awaiting task's poll: its `async fn` frames, from the one that
//! awaited down through the runtime's worker. A cancelled wait (the future
//! dropped, a `select!` branch that lost) is not recorded. Labels
//! ([`crate::labels::LabelsExt::with_labels`]) are the task's.
//!
//! For the mutex profile
//! ([`set_mutex_profile_fraction`](super::set_mutex_profile_fraction)),
//! dropping a [`MutexGuard`], an RwLock guard or a [`SemaphorePermit`] while
//! tasks wait for it charges the delay its holder caused them (their waiting
//! time since the lock last changed hands), at the dropping task's stack.
//! Channels are not locks and are in the block profile only.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use rustprof::sync::tokio::{Semaphore, mpsc};
//! rustprof::sync::set_block_profile_rate(1);
//! let pool = Semaphore::new(4);
//! let (tx, mut rx) = mpsc::channel(16);
//! let _permit = pool.acquire().await.unwrap();
//! tx.send(1).await.unwrap();
//! assert_eq!(rx.recv().await, Some(1));
//! # });
//! ```
//!
//! Without contention the cost is tokio's own plus a relaxed atomic load per
//! release (see BENCHMARKS.md).

mod wait;

pub mod broadcast;
pub mod mpsc;
mod mutex;
pub mod oneshot;
mod rwlock;
mod semaphore;
pub mod watch;

pub use ::tokio::sync::{AcquireError, TryAcquireError, TryLockError};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
