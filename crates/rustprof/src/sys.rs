//! The FFI edge: thin wrappers over the Linux system calls the profilers use.
//! Every function here is async-signal-safe unless its documentation says
//! otherwise (they are plain system calls or reads of the ucontext).

#![allow(unsafe_code)]

use std::io;

/// The calling thread's kernel thread id.
#[inline]
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The process id.
#[inline]
pub(crate) fn getpid() -> i32 {
    // SAFETY: getpid has no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// `perf_event_attr` up to `PERF_ATTR_SIZE_VER7` (128 bytes, with `sig_data`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct PerfEventAttr {
    pub(crate) type_: u32,
    pub(crate) size: u32,
    pub(crate) config: u64,
    pub(crate) sample_period: u64,
    pub(crate) sample_type: u64,
    pub(crate) read_format: u64,
    pub(crate) flags: u64,
    pub(crate) wakeup_events: u32,
    pub(crate) bp_type: u32,
    pub(crate) config1: u64,
    pub(crate) config2: u64,
    pub(crate) branch_sample_type: u64,
    pub(crate) sample_regs_user: u64,
    pub(crate) sample_stack_user: u32,
    pub(crate) clockid: i32,
    pub(crate) sample_regs_intr: u64,
    pub(crate) aux_watermark: u32,
    pub(crate) sample_max_stack: u16,
    pub(crate) reserved_2: u16,
    pub(crate) aux_sample_size: u32,
    pub(crate) reserved_3: u32,
    pub(crate) sig_data: u64,
}

const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

#[repr(C)]
struct FOwnerEx {
    type_: libc::c_int,
    pid: libc::pid_t,
}

pub(crate) const PERF_TYPE_SOFTWARE: u32 = 1;
pub(crate) const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
pub(crate) const PERF_FLAG_DISABLED: u64 = 1 << 0;
pub(crate) const PERF_FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
pub(crate) const PERF_FLAG_EXCLUDE_HV: u64 = 1 << 6;
pub(crate) const PERF_FLAG_REMOVE_ON_EXEC: u64 = 1 << 36;
pub(crate) const PERF_FLAG_SIGTRAP: u64 = 1 << 37;
/// `_IO('$', 0)`.
pub(crate) const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `si_code` of a SIGTRAP sent by a perf event with `sigtrap` set.
pub(crate) const TRAP_PERF: i32 = 6;
/// The upper half of the `sig_data` of our sigtrap events, to recognize their
/// signals (the lower half says which session and which event).
pub(crate) const SIGTRAP_MAGIC: u64 = 0x7270_7266 << 32; // "rprf"
/// `_IO('$', 2)`.
pub(crate) const PERF_EVENT_IOC_REFRESH: libc::c_ulong = 0x2402;
/// `_IO('$', 1)`.
pub(crate) const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
/// `si_code` of a signal from an fd with `O_ASYNC` when a perf event hits its
/// limit (`PERF_EVENT_IOC_REFRESH`).
pub(crate) const POLL_HUP: i32 = 6;
/// `si_code` of a POSIX timer expiry.
pub(crate) const SI_TIMER: i32 = -2;
/// `si_code` of `setitimer` signals.
pub(crate) const SI_KERNEL: i32 = 0x80;
/// `si_code` of `rt_tgsigqueueinfo` signals.
pub(crate) const SI_QUEUE: i32 = -1;

/// Opens a software task-clock event on thread `tid` that overflows every
/// `period_ns` of the thread's CPU time, starting disabled.
///
/// With `sigtrap = Some(data)` (Linux 5.13+), each overflow sends SIGTRAP to the
/// thread that ran (`si_code` `TRAP_PERF`, `si_perf_data` = `data`), delivered on
/// the way back to user space with no system call per sample. Enable it with
/// [`perf_enable`]. Otherwise the fd sends `signal` on overflow (`O_ASYNC`) and
/// must be re-armed after each one with [`perf_refresh`].
pub(crate) fn perf_task_clock(
    tid: i32,
    period_ns: u64,
    signal: i32,
    exclude_kernel: bool,
    sigtrap: Option<u64>,
) -> io::Result<i32> {
    let mut attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_TASK_CLOCK,
        sample_period: period_ns,
        flags: PERF_FLAG_DISABLED
            | PERF_FLAG_EXCLUDE_HV
            | if exclude_kernel { PERF_FLAG_EXCLUDE_KERNEL } else { 0 }
            | if sigtrap.is_some() { PERF_FLAG_SIGTRAP | PERF_FLAG_REMOVE_ON_EXEC } else { 0 },
        wakeup_events: 1,
        sig_data: sigtrap.unwrap_or(0),
        ..Default::default()
    };
    let fd = perf_event_open(&mut attr, tid)?;
    if sigtrap.is_some() {
        return Ok(fd);
    }
    let setup = || -> io::Result<()> {
        // SAFETY: plain fcntl calls on the fd just opened.
        unsafe {
            if libc::fcntl(fd, libc::F_SETFL, libc::O_ASYNC | libc::O_NONBLOCK) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::fcntl(fd, F_SETSIG, signal) < 0 {
                return Err(io::Error::last_os_error());
            }
            let owner = FOwnerEx { type_: F_OWNER_TID, pid: tid };
            if libc::fcntl(fd, F_SETOWN_EX, &owner as *const FOwnerEx) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    if let Err(e) = setup() {
        close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Opens the perf event `attr` on thread `tid` (any CPU), close-on-exec.
pub(crate) fn perf_event_open(attr: &mut PerfEventAttr, tid: i32) -> io::Result<i32> {
    // SAFETY: the attribute struct is fully initialized and outlives the call;
    // pid=tid, cpu=-1 measures that thread on any CPU.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *mut PerfEventAttr,
            tid,
            -1i32,
            -1i32,
            PERF_FLAG_FD_CLOEXEC,
        )
    } as i32;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Starts a perf event counting (sigtrap events).
pub(crate) fn perf_enable(fd: i32) {
    // SAFETY: ioctl on an fd we own.
    unsafe {
        libc::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    }
}

/// Re-arms a perf event for one more overflow (from the signal handler).
#[inline]
pub(crate) fn perf_refresh(fd: i32) {
    // SAFETY: ioctl is async-signal-safe; a stale fd only makes it fail.
    unsafe {
        libc::ioctl(fd, PERF_EVENT_IOC_REFRESH, 1);
    }
}

/// Stops a perf event from firing.
pub(crate) fn perf_disable(fd: i32) {
    // SAFETY: ioctl on an fd we own.
    unsafe {
        libc::ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    }
}

/// Closes an fd.
pub(crate) fn close(fd: i32) {
    // SAFETY: closing an fd we own.
    unsafe {
        libc::close(fd);
    }
}

/// The CPU-time clock of thread `tid` (the kernel's `MAKE_THREAD_CPUCLOCK`).
pub(crate) fn thread_cpu_clock(tid: i32) -> libc::clockid_t {
    ((!(tid as u32) as i32) << 3) | 6
}

/// Creates a POSIX timer on thread `tid`'s CPU clock that sends `signal` to that
/// thread, with `value` in `si_value`; first expiry after `first_ns`, then every
/// `period_ns`.
pub(crate) fn thread_timer(
    tid: i32,
    signal: i32,
    value: usize,
    first_ns: u64,
    period_ns: u64,
) -> io::Result<libc::timer_t> {
    // SAFETY: sigevent is a plain C struct; zeroed is a valid start.
    let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
    sev.sigev_notify = libc::SIGEV_THREAD_ID;
    sev.sigev_signo = signal;
    sev.sigev_value = libc::sigval { sival_ptr: value as *mut libc::c_void };
    sev.sigev_notify_thread_id = tid;
    let mut timer: libc::timer_t = std::ptr::null_mut();
    // SAFETY: valid pointers to initialized structs.
    if unsafe { libc::timer_create(thread_cpu_clock(tid), &mut sev, &mut timer) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let spec = libc::itimerspec { it_interval: timespec(period_ns), it_value: timespec(first_ns.max(1)) };
    // SAFETY: the timer was just created.
    if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
        let e = io::Error::last_os_error();
        timer_delete(timer);
        return Err(e);
    }
    Ok(timer)
}

/// Deletes a POSIX timer.
pub(crate) fn timer_delete(timer: libc::timer_t) {
    // SAFETY: deleting a timer we created; a second delete only fails.
    unsafe {
        libc::timer_delete(timer);
    }
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// Arms (or with 0, disarms) the process-wide `ITIMER_PROF`.
pub(crate) fn setitimer_prof(period_us: u64) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: (period_us / 1_000_000) as libc::time_t,
        tv_usec: (period_us % 1_000_000) as libc::suseconds_t,
    };
    let it = libc::itimerval { it_interval: tv, it_value: tv };
    // SAFETY: valid itimerval; the old value is not needed.
    if unsafe { libc::setitimer(libc::ITIMER_PROF, &it, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to thread `tid` of this process with `value` in `si_value`
/// (`si_code` = `SI_QUEUE`).
pub(crate) fn tgsigqueue(tid: i32, signal: i32, value: usize) -> io::Result<()> {
    // SAFETY: siginfo_t is plain data; we fill the fields rt_tgsigqueueinfo reads.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    #[repr(C)]
    struct QueueInfo {
        signo: i32,
        errno: i32,
        code: i32,
        _pad: i32,
        pid: i32,
        uid: u32,
        value: usize,
    }
    let q = QueueInfo { signo: signal, errno: 0, code: SI_QUEUE, _pad: 0, pid: getpid(), uid: 0, value };
    // SAFETY: QueueInfo is no larger than siginfo_t and matches its layout for
    // queued signals on 64-bit Linux.
    unsafe {
        std::ptr::copy_nonoverlapping(
            &q as *const QueueInfo as *const u8,
            &mut info as *mut libc::siginfo_t as *mut u8,
            std::mem::size_of::<QueueInfo>(),
        );
    }
    // SAFETY: a valid siginfo for the calling process.
    let r = unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, getpid(), tid, signal, &mut info as *mut _) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// CPU time (user + system) of the whole process, in ns.
pub(crate) fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer; an invalid clock only fails.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The thread ids of this process.
pub(crate) fn thread_ids() -> Vec<i32> {
    // Reading /proc/self/task while threads exit can skip live entries (the
    // kernel resumes the listing by position), so the listing is read twice and
    // merged, and the calling thread is always included.
    let mut v = vec![gettid()];
    for _ in 0..2 {
        if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
            v.extend(rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok())));
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The name of thread `tid` (`/proc/self/task/TID/comm`).
pub(crate) fn thread_name(tid: i32) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// Registers read from an interrupted context.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Regs {
    pub(crate) pc: u64,
    pub(crate) sp: u64,
    pub(crate) fp: u64,
    /// Link register (aarch64); 0 elsewhere.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) lr: u64,
}

/// The registers of the context a signal interrupted.
///
/// # Safety
/// `ctx` must be the `ucontext_t` pointer given to an `SA_SIGINFO` handler.
#[inline]
pub(crate) unsafe fn regs_from_ucontext(ctx: *mut libc::c_void) -> Regs {
    let uc = ctx as *const libc::ucontext_t;
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the caller passes the kernel-provided ucontext.
        let g = unsafe { &(*uc).uc_mcontext.gregs };
        Regs {
            pc: g[libc::REG_RIP as usize] as u64,
            sp: g[libc::REG_RSP as usize] as u64,
            fp: g[libc::REG_RBP as usize] as u64,
            lr: 0,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: the caller passes the kernel-provided ucontext.
        let m = unsafe { &(*uc).uc_mcontext };
        Regs { pc: m.pc, sp: m.sp, fp: m.regs[29], lr: m.regs[30] }
    }
}

/// errno of the calling thread, to save and restore around a signal handler.
#[inline]
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Restores errno.
#[inline]
pub(crate) fn set_errno(v: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe {
        *libc::__errno_location() = v;
    }
}

/// The dynamic loader's counts of objects loaded and unloaded so far: a change
/// means a `dlopen` or `dlclose` happened.
pub(crate) fn dl_generation() -> (u64, u64) {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> i32 {
        // SAFETY: the loader passes a valid info; data is the tuple below.
        unsafe {
            let out = &mut *(data as *mut (u64, u64));
            *out = ((*info).dlpi_adds, (*info).dlpi_subs);
        }
        1
    }
    let mut out = (0u64, 0u64);
    // SAFETY: the callback only reads the info it is given.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut out as *mut (u64, u64) as *mut libc::c_void) };
    out
}

/// A file mapped read-only (only the pages touched are read from disk).
pub(crate) struct Mmap {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mmap {
    /// Maps the file at `path`; `None` when it cannot be opened or is empty.
    pub(crate) fn open(path: &str) -> Option<Mmap> {
        let c = std::ffi::CString::new(path).ok()?;
        // SAFETY: open/fstat/mmap/close on a path we own a copy of.
        unsafe {
            let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return None;
            }
            let mut st: libc::stat = std::mem::zeroed();
            let len = if libc::fstat(fd, &mut st) == 0 { st.st_size as usize } else { 0 };
            let ptr = if len > 0 {
                libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, fd, 0)
            } else {
                libc::MAP_FAILED
            };
            libc::close(fd);
            (ptr != libc::MAP_FAILED).then_some(Mmap { ptr, len })
        }
    }
}

impl std::ops::Deref for Mmap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: a live read-only mapping of `len` bytes. (A file truncated while
        // mapped would fault on access; loaded objects are not truncated in place.)
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Waits until `word` is woken (or no longer holds `expected`), at most `timeout`.
pub(crate) fn futex_wait(word: &std::sync::atomic::AtomicU32, expected: u32, timeout: std::time::Duration) {
    let ts =
        libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
    // SAFETY: a futex wait on a live atomic with a relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// Wakes one waiter of `word`. Async-signal-safe.
#[inline]
pub(crate) fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    // SAFETY: a futex wake on a live atomic.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
    }
}

/// `_IOW('$', 4, u64)`.
const PERF_EVENT_IOC_PERIOD: libc::c_ulong = 0x4008_2404;

/// Sets a perf event's sampling period; the next overflow comes a full new
/// period from now (async-signal-safe).
#[inline]
pub(crate) fn perf_set_period(fd: i32, period_ns: u64) {
    let period = period_ns;
    // SAFETY: ioctl is async-signal-safe and reads one u64 from a valid pointer;
    // a stale fd only makes it fail.
    unsafe {
        libc::ioctl(fd, PERF_EVENT_IOC_PERIOD, &period as *const u64);
    }
}

/// System-mode CPU time of the whole process, in ns (`getrusage`).
pub(crate) fn process_sys_ns() -> u64 {
    // SAFETY: rusage is plain data, filled by the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0;
    }
    ru.ru_stime.tv_sec as u64 * 1_000_000_000 + ru.ru_stime.tv_usec as u64 * 1000
}

/// The calling thread's name into `buf` (NUL-padded; async-signal-safe).
#[inline]
pub(crate) fn own_thread_name(buf: &mut [u8; 16]) {
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into buf.
    if unsafe { libc::prctl(libc::PR_GET_NAME, buf.as_mut_ptr()) } != 0 {
        buf[0] = 0;
    }
}
