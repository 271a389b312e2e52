//! Block and mutex profiles: where threads wait for locks, and which critical
//! sections make them wait — Go's `block` and `mutex` profiles for Rust.
//!
//! [`Mutex`], [`RwLock`] and [`Condvar`] are drop-ins for std's (same methods,
//! guards and poisoning, std's [`PoisonError`] and [`TryLockError`]); for
//! `lock_api` (parking_lot-style locks), [`RawMutex`] and [`RawRwLock`] implement
//! its raw traits, so `lock_api::Mutex<rustprof::sync::RawMutex, T>` works too.
//! They are futex locks like std's: locking and unlocking without contention is
//! one atomic operation each and nothing else. A thread that has to sleep reads
//! the clock, and only then is anything recorded:
//!
//! - the **block profile** ([`set_block_profile_rate`], [`block_profile`]):
//!   each wait, at the waiting thread's stack, with how long it lasted. Go's
//!   sampling: waits of at least the rate (in ns) are all recorded, shorter ones
//!   with probability `wait / rate` and up-weighted. Condition variable waits
//!   count, and [`record_block`] / [`BlockEvent`] add the waits of primitives of
//!   your own (channels, pools);
//! - the **mutex profile** ([`set_mutex_profile_fraction`], [`mutex_profile`]):
//!   each release of a lock others were sleeping on, at the *releasing* thread's
//!   stack, with the delay its critical section caused them (the waiting time of
//!   every waiter since the lock last changed hands, so the delays of a lock add
//!   up to its waiters' total wait). One event in N is recorded, counted N times.
//!
//! [`block_record_count`] and [`mutex_record_count`] say how many distinct
//! stacks each holds without building or symbolizing anything.
//!
//! Both are off by default and written as Go writes them (sample types
//! `contentions/count` and `delay/nanoseconds`, period type `contentions/count`,
//! period 1), symbolized in-process with mappings and build IDs like the CPU
//! profile, with the thread's [labels](crate::labels). Stacks start at the
//! function that called `lock`/`read`/`write`/`wait` (or released the lock):
//! rustprof's and lock_api's frames are left out, where Go's start inside
//! `sync.(*Mutex).Lock`.
//!
//! ```no_run
//! use rustprof::sync::{Mutex, set_block_profile_rate, set_mutex_profile_fraction};
//!
//! set_block_profile_rate(1); // every wait
//! set_mutex_profile_fraction(1); // every contention event
//! static COUNTER: Mutex<u64> = Mutex::new(0);
//! // ... threads lock COUNTER ...
//! # *COUNTER.lock().unwrap() += 1;
//! let block = rustprof::sync::block_profile();
//! rustprof::write_gzip(&block, std::fs::File::create("block.pb.gz")?)?;
//! let mutex = rustprof::sync::mutex_profile();
//! rustprof::write_gzip(&mutex, std::fs::File::create("mutex.pb.gz")?)?;
//! // rustprof -top block.pb.gz   (or: go tool pprof -top block.pb.gz)
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`channels`] times the blocking waits of std's and crossbeam's channels;
//! with feature `tokio`, `sync::tokio` has drop-ins for tokio's locks,
//! semaphore and channels whose waits are recorded at the awaiting task's stack.
//!
//! Linux only (futexes). Recording uses `std::sync` locks of its own, never the
//! primitives it instruments, and skips any event that would nest inside another
//! recording on the same thread.

pub mod channels;
mod condvar;
mod futex;
mod mutex;
mod poison;
mod raw;
mod record;
mod rwlock;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use raw::{RawMutex, RawRwLock};
pub use record::{
    BlockEvent, block_profile, block_profile_rate, block_record_count, mutex_profile, mutex_profile_fraction,
    mutex_record_count, record_block, record_contention, set_block_profile_rate, set_mutex_profile_fraction,
};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
