//! The SIGPROF handler shared by the CPU profiler and the thread dump.
//!
//! Installed with `SA_SIGINFO | SA_RESTART | SA_ONSTACK`; SIGPROF is blocked while
//! it runs. It saves and restores errno, hands the signal to whichever user
//! recognizes it (by `si_code`: perf event, POSIX timer, `setitimer`, or a queued
//! thread-dump request), and passes anything else on to the handler that was
//! installed before it. When the last user is done the previous handler comes
//! back — except `SIG_DFL`, which would kill the process on a late SIGPROF, so
//! `SIG_IGN` takes its place (as Go does).

#![allow(unsafe_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

/// The previous disposition, read by the handler to chain.
static mut PREVIOUS: Option<libc::sigaction> = None;
static INSTALLED: AtomicBool = AtomicBool::new(false);
static USERS: Mutex<usize> = Mutex::new(0);

/// Raw fields of a `siginfo_t` the handler needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info {
    /// `si_code`.
    pub(crate) code: i32,
    /// `si_fd` of a poll signal.
    pub(crate) fd: i32,
    /// `si_overrun` of a timer signal.
    pub(crate) overrun: i32,
    /// `si_value` of a timer or queued signal.
    pub(crate) value: usize,
}

/// Reads the fields of a kernel siginfo.
///
/// # Safety
/// `info` must be the siginfo pointer given to an `SA_SIGINFO` handler.
#[inline]
unsafe fn read_info(info: *const libc::siginfo_t) -> Info {
    let base = info as *const u8;
    // Layout on 64-bit Linux: signo, errno, code (3 × i32), padding, then the
    // union at offset 16: timers {tid i32, overrun i32, value @24}, poll {band
    // i64, fd i32 @24}, queue {pid i32, uid u32, value @24}.
    // SAFETY: the kernel provides a full siginfo_t (128 bytes).
    unsafe {
        let code = *(base.add(8) as *const i32);
        let overrun = *(base.add(20) as *const i32);
        let fd = *(base.add(24) as *const i32);
        let value = *(base.add(24) as *const usize);
        Info { code, fd, overrun, value }
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved = sys::errno();
    // SAFETY: called by the kernel with a valid siginfo.
    let i = unsafe { read_info(info) };
    // SAFETY: ctx is the handler's ucontext.
    let handled = unsafe { crate::cpu::on_signal(&i, ctx) || crate::threads::on_signal(&i, ctx) };
    if !handled {
        chain(sig, info, ctx);
    }
    sys::set_errno(saved);
}

fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: PREVIOUS is written before the handler is installed and not after.
    let prev = unsafe { *std::ptr::addr_of!(PREVIOUS) };
    let Some(prev) = prev else { return };
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

/// Installs the handler (first user) or counts another user.
pub(crate) fn acquire() -> std::io::Result<()> {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if *users == 0 && !INSTALLED.load(Ordering::Acquire) {
        // SAFETY: building and installing a sigaction for SIGPROF.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Do not chain to ourselves if a previous session left us installed.
            if old.sa_sigaction != handler as *const () as usize {
                *std::ptr::addr_of_mut!(PREVIOUS) = Some(old);
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaddset(&mut act.sa_mask, libc::SIGPROF);
            if libc::sigaction(libc::SIGPROF, &act, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        INSTALLED.store(true, Ordering::Release);
    }
    *users += 1;
    Ok(())
}

/// One user is done; the last one puts the previous handler back (`SIG_IGN` for
/// `SIG_DFL`).
pub(crate) fn release() {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *users = users.saturating_sub(1);
    if *users > 0 || !INSTALLED.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: restoring a saved sigaction; SIG_IGN otherwise.
    unsafe {
        let prev = *std::ptr::addr_of!(PREVIOUS);
        let mut act: libc::sigaction = match prev {
            Some(p) => p,
            None => std::mem::zeroed(),
        };
        if act.sa_sigaction == libc::SIG_DFL {
            act.sa_sigaction = libc::SIG_IGN;
        }
        libc::sigaction(libc::SIGPROF, &act, std::ptr::null_mut());
    }
    INSTALLED.store(false, Ordering::Release);
}

/// The disposition of SIGPROF right now (for tests): `Some(true)` when it is our
/// handler, `Some(false)` for SIG_IGN, `None` for anything else.
pub fn sigprof_disposition() -> Option<bool> {
    // SAFETY: querying the current action.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old);
        if old.sa_sigaction == handler as *const () as usize {
            Some(true)
        } else if old.sa_sigaction == libc::SIG_IGN {
            Some(false)
        } else {
            None
        }
    }
}
