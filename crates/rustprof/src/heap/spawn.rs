//! Threads that are rustprof's from their first instruction (the HTTP
//! server's, the CPU profiler's collector).
//!
//! `std::thread::spawn` frees and allocates on the new thread before the
//! closure runs (its start-up boxes and bookkeeping), which would count
//! rustprof's memory as the program's; these threads start with
//! [`super::own_thread`] instead, then run the closure.

use std::ffi::CString;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

/// Stack of a rustprof thread (std's default).
const STACK: usize = 2 << 20;

type Slot<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

/// A running thread of rustprof's; [`OwnThread::join`] waits for its result,
/// dropping it detaches the thread.
pub(crate) struct OwnThread<T> {
    thread: libc::pthread_t,
    result: Slot<T>,
    joined: bool,
}

struct Start {
    name: CString,
    run: Box<dyn FnOnce() + Send>,
}

extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
    super::own_thread();
    // SAFETY: `arg` is the `Start` boxed by `spawn`, handed to this thread.
    let s = unsafe { Box::from_raw(arg as *mut Start) };
    // SAFETY: a NUL-terminated name of at most 15 bytes, for this thread.
    unsafe { libc::pthread_setname_np(libc::pthread_self(), s.name.as_ptr()) };
    let Start { run, .. } = *s;
    // The closure stores its own result (a panic included): nothing unwinds
    // out of this C entry point.
    let _ = catch_unwind(AssertUnwindSafe(run));
    std::ptr::null_mut()
}

/// Starts `f` on a new thread named `name` (cut to 15 bytes), all of whose
/// allocations are rustprof's own. The caller should be inside an
/// [`super::Own`] scope, since the thread's start-up state is freed on it.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<OwnThread<T>> {
    let _inside = super::Own::enter();
    let result: Slot<T> = Arc::new(Mutex::new(None));
    let r2 = result.clone();
    let run = Box::new(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        *r2.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    let name: Vec<u8> = name.bytes().filter(|&b| b != 0).take(15).collect();
    let name = CString::new(name).unwrap_or_default();
    let arg = Box::into_raw(Box::new(Start { name, run })) as *mut libc::c_void;
    let mut thread: libc::pthread_t = 0;
    // SAFETY: attributes initialized and destroyed here; the new thread owns
    // `arg` when creation succeeds, which is freed here when it fails.
    let rc = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstacksize(&mut attr, STACK);
        let rc = libc::pthread_create(&mut thread, &attr, start, arg);
        libc::pthread_attr_destroy(&mut attr);
        rc
    };
    if rc != 0 {
        // SAFETY: not handed to any thread.
        drop(unsafe { Box::from_raw(arg as *mut Start) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(OwnThread { thread, result, joined: false })
}

impl<T> OwnThread<T> {
    /// Waits for the thread to end; its result, or the panic it ended with.
    pub(crate) fn join(mut self) -> std::thread::Result<T> {
        // SAFETY: a joinable thread of ours, joined once.
        unsafe { libc::pthread_join(self.thread, std::ptr::null_mut()) };
        self.joined = true;
        let r = self.result.lock().unwrap_or_else(|e| e.into_inner()).take();
        r.unwrap_or_else(|| Err(Box::new("rustprof thread ended without a result")))
    }
}

impl<T> Drop for OwnThread<T> {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: a joinable thread of ours, neither joined nor detached.
            unsafe { libc::pthread_detach(self.thread) };
        }
    }
}
