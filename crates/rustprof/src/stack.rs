//! Capturing the calling thread's own stack, for the heap and lock profiles.
//!
//! The same unwinder as the CPU profiler ([`crate::cpu::unwind`]: `.eh_frame`
//! through framehop, frame pointers as a fallback, bounds-checked stack reads),
//! started from the registers of [`capture`] itself. It does not allocate and takes
//! no lock, so it is safe inside a global allocator, except when the tables must
//! be refreshed (a new thread's stack, a `dlopen`ed library): then `/proc/self/maps`
//! is read, which allocates; callers inside an allocator pass `may_refresh` only
//! while their reentrancy guard is set.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

use crate::cpu::unwind;
use crate::sys::{self, Regs};

/// 0: tables not requested, 1: being set up, 2: ready.
static STATE: AtomicU8 = AtomicU8::new(0);
/// When a refresh for an unknown return address last ran (ns, CLOCK_REALTIME).
static LAST_CODE_REFRESH: AtomicI64 = AtomicI64::new(0);

/// Makes the unwind tables available for the life of the process (a permanent
/// user). Never blocks: returns false while another thread is setting them up.
/// Safe to call from inside an allocator with its reentrancy guard set.
pub(crate) fn enable() -> bool {
    match STATE.load(Ordering::Acquire) {
        2 => true,
        1 => false,
        _ => {
            if STATE.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire).is_err() {
                return STATE.load(Ordering::Acquire) == 2;
            }
            unwind::init_caches();
            unwind::acquire_forever();
            STATE.store(2, Ordering::Release);
            true
        }
    }
}

/// The registers at this point of the calling function.
#[inline(always)]
fn here() -> Regs {
    let (pc, sp, fp, lr): (u64, u64, u64, u64);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads registers only.
    unsafe {
        std::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {fp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
        lr = 0;
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads registers only.
    unsafe {
        std::arch::asm!(
            "adr {pc}, .",
            "mov {sp}, sp",
            "mov {fp}, x29",
            "mov {lr}, x30",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            lr = out(reg) lr,
            options(nomem, nostack, preserves_flags),
        );
    }
    Regs { pc, sp, fp, lr }
}

/// Writes the return addresses of the calling thread into `out`, innermost first,
/// without `capture`'s own frame and without the `skip` frames above it; returns
/// how many were written. With `may_refresh`, a stack or code the tables do not
/// know yet makes it re-read the process's mappings first (that allocates).
#[inline(never)]
pub(crate) fn capture(skip: usize, out: &mut [u64], may_refresh: bool) -> usize {
    const MAX: usize = 160;
    if !enable() {
        return 0;
    }
    let mut buf = [0u64; MAX];
    let regs = here();
    if may_refresh && !unwind::knows(regs.sp, 0).0 {
        unwind::try_refresh();
    }
    let mut n = unwind::unwind(&regs, &mut buf);
    if may_refresh && (2..MAX).contains(&n) && !unwind::knows(regs.sp, buf[n - 1]).1 {
        // Probably code loaded since the last refresh; at most one such refresh
        // per second, since a broken frame chain looks the same.
        let now = sys::now_ns();
        let last = LAST_CODE_REFRESH.load(Ordering::Relaxed);
        if now - last > 1_000_000_000
            && LAST_CODE_REFRESH.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            unwind::try_refresh();
            let regs = here();
            n = unwind::unwind(&regs, &mut buf);
        }
    }
    // buf[0] is a PC inside this function; buf[1] returns into our caller.
    let from = (1 + skip).min(n);
    let k = (n - from).min(out.len());
    out[..k].copy_from_slice(&buf[from..from + k]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn inner(out: &mut [u64]) -> usize {
        std::hint::black_box(capture(0, out, true))
    }

    #[inline(never)]
    fn outer(out: &mut [u64]) -> usize {
        std::hint::black_box(inner(out))
    }

    /// The captured stack starts in the caller and reaches the test function.
    #[test]
    fn captures_the_callers() {
        enable();
        let mut out = [0u64; 64];
        let n = outer(&mut out);
        assert!(n >= 3, "{n} frames");
        // out[0] returns into `inner`, out[1] into `outer`: each a little past
        // the function's entry.
        let within = |a: u64, f: usize| a > f as u64 && a < f as u64 + 1024;
        let (inner, outer) =
            (inner as fn(&mut [u64]) -> usize as usize, outer as fn(&mut [u64]) -> usize as usize);
        assert!(within(out[0], inner), "{:x?} vs inner {:x}", &out[..n], inner);
        assert!(within(out[1], outer), "{:x?} vs outer {:x}", &out[..n], outer);
    }

    /// A thread started after the tables were built still gets its stack.
    #[test]
    fn new_thread_stacks_are_found() {
        enable();
        let n = std::thread::spawn(|| {
            let mut out = [0u64; 64];
            outer(&mut out)
        })
        .join()
        .unwrap();
        assert!(n >= 3, "{n} frames");
    }
}
