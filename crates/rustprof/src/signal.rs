//! The signal handler shared by the CPU profiler and the thread dump.
//!
//! It serves two signals. SIGPROF carries POSIX-timer, `setitimer`, `O_ASYNC`
//! perf-event and queued thread-dump signals. SIGTRAP carries the signals of perf
//! events opened with `sigtrap` (si_code `TRAP_PERF`, our `si_perf_data`), the
//! cheapest way to be told that a thread used its CPU period.
//!
//! Both are installed with `SA_SIGINFO | SA_RESTART | SA_ONSTACK`, with SIGPROF
//! and SIGTRAP blocked while the handler runs. The handler saves and restores
//! errno, hands the signal to whichever user recognizes it, and passes anything
//! else on to the handler that was installed before it.
//!
//! When the last user of SIGPROF is done its previous handler comes back, except
//! `SIG_DFL`, which would kill the process on a late SIGPROF: `SIG_IGN` takes its
//! place (as Go does). The SIGTRAP handler, once installed, stays: a perf SIGTRAP
//! raised just before its event was closed may still be pending on some thread,
//! and the default action of SIGTRAP is to dump core. It is transparent to
//! everything else: a SIGTRAP that is not ours goes to the previous handler, and
//! when that was `SIG_DFL` the default action is restored and the signal raised
//! again, so a breakpoint instruction still stops the process as before.

#![allow(unsafe_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

/// The previous SIGPROF disposition, read by the handler to chain.
static mut PREVIOUS_PROF: Option<libc::sigaction> = None;
/// The previous SIGTRAP disposition.
static mut PREVIOUS_TRAP: Option<libc::sigaction> = None;
static INSTALLED: AtomicBool = AtomicBool::new(false);
static TRAP_INSTALLED: AtomicBool = AtomicBool::new(false);
static USERS: Mutex<usize> = Mutex::new(0);

/// Raw fields of a `siginfo_t` the handler needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info {
    /// The signal number.
    pub(crate) signo: i32,
    /// `si_code`.
    pub(crate) code: i32,
    /// `si_fd` of a poll signal.
    pub(crate) fd: i32,
    /// `si_overrun` of a timer signal.
    pub(crate) overrun: i32,
    /// `si_value` of a timer or queued signal; `si_perf_data` of a perf SIGTRAP.
    pub(crate) value: usize,
}

impl Info {
    /// Whether this is the SIGTRAP of one of our perf events.
    #[inline]
    pub(crate) fn is_our_perf_trap(&self) -> bool {
        self.signo == libc::SIGTRAP
            && self.code == sys::TRAP_PERF
            && self.value as u64 & 0xffff_ffff_0000_0000 == sys::SIGTRAP_MAGIC
    }
}

/// Reads the fields of a kernel siginfo.
///
/// # Safety
/// `info` must be the siginfo pointer given to an `SA_SIGINFO` handler.
#[inline]
unsafe fn read_info(sig: i32, info: *const libc::siginfo_t) -> Info {
    let base = info as *const u8;
    // Layout on 64-bit Linux: signo, errno, code (3 × i32), padding, then the
    // union at offset 16: timers {tid i32, overrun i32, value @24}, poll {band
    // i64, fd i32 @24}, queue {pid i32, uid u32, value @24}, fault {addr @16,
    // then a union @24 whose perf member starts with si_perf_data}.
    // SAFETY: the kernel provides a full siginfo_t (128 bytes).
    unsafe {
        let code = *(base.add(8) as *const i32);
        let overrun = *(base.add(20) as *const i32);
        let fd = *(base.add(24) as *const i32);
        let value = *(base.add(24) as *const usize);
        Info { signo: sig, code, fd, overrun, value }
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved = sys::errno();
    // SAFETY: called by the kernel with a valid siginfo.
    let i = unsafe { read_info(sig, info) };
    // SAFETY: ctx is the handler's ucontext.
    let handled = unsafe { crate::cpu::on_signal(&i, ctx) || crate::threads::on_signal(&i, ctx) };
    // A late perf SIGTRAP of a stopped profile is ours too: swallow it.
    if !handled && !i.is_our_perf_trap() {
        chain(sig, info, ctx);
    }
    sys::set_errno(saved);
}

fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the PREVIOUS_* are written before the handler is installed for that
    // signal and not after.
    let prev = unsafe {
        if sig == libc::SIGTRAP {
            *std::ptr::addr_of!(PREVIOUS_TRAP)
        } else {
            *std::ptr::addr_of!(PREVIOUS_PROF)
        }
    };
    let Some(prev) = prev else { return };
    let h = prev.sa_sigaction;
    if h == libc::SIG_IGN {
        return;
    }
    if h == libc::SIG_DFL {
        if sig == libc::SIGTRAP {
            // The default action (terminate with a core dump): put it back and
            // raise the signal again; it is blocked here, so it is delivered when
            // this handler returns.
            // SAFETY: restoring the default disposition and re-raising.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGTRAP, &act, std::ptr::null_mut());
                libc::syscall(libc::SYS_tgkill, libc::getpid(), sys::gettid(), libc::SIGTRAP);
            }
        }
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

/// Installs the handler for `sig`, saving the previous disposition into `prev`.
///
/// # Safety
/// `prev` must not be read by a handler of `sig` during the call.
unsafe fn install(sig: i32, prev: *mut Option<libc::sigaction>) -> std::io::Result<()> {
    // SAFETY: building and installing a sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Do not chain to ourselves if a previous session left us installed.
        if old.sa_sigaction != handler as *const () as usize {
            *prev = Some(old);
        }
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaddset(&mut act.sa_mask, libc::SIGPROF);
        libc::sigaddset(&mut act.sa_mask, libc::SIGTRAP);
        if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Installs the SIGPROF handler (first user) or counts another user.
pub(crate) fn acquire() -> std::io::Result<()> {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if *users == 0 && !INSTALLED.load(Ordering::Acquire) {
        // SAFETY: our handler is not installed for SIGPROF, so nothing reads it.
        unsafe { install(libc::SIGPROF, std::ptr::addr_of_mut!(PREVIOUS_PROF))? };
        INSTALLED.store(true, Ordering::Release);
    }
    *users += 1;
    Ok(())
}

/// Installs the SIGTRAP handler for perf `sigtrap` events, once for the life of
/// the process.
pub(crate) fn install_sigtrap() -> std::io::Result<()> {
    let _users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if TRAP_INSTALLED.load(Ordering::Acquire) {
        return Ok(());
    }
    // SAFETY: our handler is not installed for SIGTRAP, so nothing reads it.
    unsafe { install(libc::SIGTRAP, std::ptr::addr_of_mut!(PREVIOUS_TRAP))? };
    TRAP_INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// One user is done; the last one puts the previous SIGPROF handler back
/// (`SIG_IGN` for `SIG_DFL`).
pub(crate) fn release() {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *users = users.saturating_sub(1);
    if *users > 0 || !INSTALLED.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: restoring a saved sigaction; SIG_IGN otherwise.
    unsafe {
        let prev = *std::ptr::addr_of!(PREVIOUS_PROF);
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
    disposition(libc::SIGPROF)
}

/// The disposition of `sig` right now: `Some(true)` when it is our handler,
/// `Some(false)` for SIG_IGN, `None` for anything else.
pub(crate) fn disposition(sig: i32) -> Option<bool> {
    // SAFETY: querying the current action.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        if old.sa_sigaction == handler as *const () as usize {
            Some(true)
        } else if old.sa_sigaction == libc::SIG_IGN {
            Some(false)
        } else {
            None
        }
    }
}
