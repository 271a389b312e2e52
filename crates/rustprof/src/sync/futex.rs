//! The two Linux primitives the locks are built on: `futex(2)` waits and wakes on
//! a 32-bit word, and the monotonic clock (read only on the paths that sleep).

#![allow(unsafe_code)]

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Sleeps while `word` holds `expected`, until woken by [`wake_one`] or
/// [`wake_all`], a signal, or the timeout. Returns `false` only when the timeout
/// expired; spurious returns are possible (callers re-check their condition).
pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    // An absolute deadline on CLOCK_MONOTONIC, so that retries after EINTR do
    // not extend the wait; a timeout too large to represent waits forever.
    let deadline = timeout.and_then(|t| {
        let now = now_timespec();
        let secs = i64::try_from(t.as_secs()).ok()?.checked_add(now.tv_sec)?;
        let nanos = now.tv_nsec + t.subsec_nanos() as libc::c_long;
        let (secs, nanos) = if nanos >= 1_000_000_000 {
            (secs.checked_add(1)?, nanos - 1_000_000_000)
        } else {
            (secs, nanos)
        };
        Some(libc::timespec { tv_sec: secs, tv_nsec: nanos })
    });
    let ts: *const libc::timespec = deadline.as_ref().map_or(ptr::null(), |d| d as *const libc::timespec);
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        // SAFETY: `word` is a live, aligned 32-bit atomic for the duration of the
        // call (the kernel only reads it); `ts` is null or points to `deadline`,
        // which outlives the call; the remaining arguments are plain integers.
        // FUTEX_WAIT_BITSET with a full bitset behaves as FUTEX_WAIT but takes
        // an absolute CLOCK_MONOTONIC deadline.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts,
                ptr::null::<u32>(),
                u32::MAX,
            )
        };
        if r >= 0 {
            return true;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ETIMEDOUT) => return false,
            // EAGAIN: the word had changed already.
            _ => return true,
        }
    }
}

/// Wakes one thread sleeping on `word`; true if one was woken.
pub(super) fn wake_one(word: &AtomicU32) -> bool {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1) > 0
    }
}

/// Wakes every thread sleeping on `word`.
pub(super) fn wake_all(word: &AtomicU32) {
    // SAFETY: as in `wake_one`.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
    }
}

fn now_timespec() -> libc::timespec {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

/// Nanoseconds on the monotonic clock (the vDSO: no system call). Never 0.
pub(super) fn now_ns() -> u64 {
    let ts = now_timespec();
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64).max(1)
}
