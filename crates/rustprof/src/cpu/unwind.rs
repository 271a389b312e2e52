//! Stack unwinding inside a signal handler: no allocation, no locks, no libgcc,
//! no `dl_iterate_phdr`, and no read outside memory known to be mapped.
//!
//! - The interrupted PC is always the first frame.
//! - `.eh_frame` unwinding with framehop (`MustNotAllocateDuringUnwind`) over
//!   every loaded object, registered ahead of time from `/proc/self/maps` and
//!   refreshed outside the handler when libraries are loaded (`dlopen`). It handles
//!   code without frame pointers (libc, C libraries, leaf functions, prologues).
//! - Frame-pointer walking where framehop has no cache free or gives up early.
//! - Stack reads are bounds-checked against the readable mapping that holds the
//!   stack pointer (a sorted table built from `/proc/self/maps`): a read costs a
//!   compare, not a system call.
//!
//! Tables are published through atomic pointers; handlers count themselves in
//! and out so that a replaced table is freed only when no handler can see it.

#![allow(unsafe_code)]

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use framehop::{
    CacheNative, ExplicitModuleSectionInfo, FrameAddress, Module, MustNotAllocateDuringUnwind,
    UnwindRegsNative, Unwinder, UnwinderNative,
};

use crate::sys::Regs;

/// A copy of a loaded object's unwind section, owned by the profiler.
///
/// The handlers never read a library's own pages: once it is `dlclose`d they
/// are unmapped (or reused by the next library) while a published table may
/// still be in use, and reading them crashed the program. The copy lives as
/// long as the table that holds it.
pub(crate) type OwnedBytes = Vec<u8>;

/// Copies `len` bytes at address `addr` of this process without ever faulting:
/// `process_vm_readv` reports an unmapped range as an error instead of a
/// SIGSEGV, so a library unloaded during the copy costs its tables, not the
/// program.
fn copy_own_memory(addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    buf.resize(len, 0);
    let mut done = 0usize;
    while done < len {
        let local = libc::iovec { iov_base: buf[done..].as_mut_ptr().cast(), iov_len: len - done };
        let remote =
            libc::iovec { iov_base: (addr as usize + done) as *mut libc::c_void, iov_len: len - done };
        // SAFETY: `local` is our own writable buffer of the stated length; the
        // kernel checks `remote` and fails with EFAULT where it is not mapped.
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if n <= 0 {
            return None;
        }
        done += n as usize;
    }
    Some(buf)
}

type Native = UnwinderNative<OwnedBytes, MustNotAllocateDuringUnwind>;
type Cache = CacheNative<MustNotAllocateDuringUnwind>;

/// Readable address ranges, sorted and merged: the bounds of stack reads.
struct Regions {
    ranges: Vec<Range<u64>>,
}

impl Regions {
    /// The end of the readable region holding `addr`.
    #[inline]
    fn end_of(&self, addr: u64) -> Option<u64> {
        let i = self.ranges.partition_point(|r| r.end <= addr);
        let r = self.ranges.get(i)?;
        (r.start <= addr).then_some(r.end)
    }
}

/// What the handlers read: the module list and the readable regions.
struct Tables {
    unwinder: std::sync::Arc<Native>,
    regions: Regions,
    /// Executable ranges, sorted: which return addresses the tables know.
    exec: Regions,
}

/// The current module list and the objects it was built from (outside handlers).
struct Modules {
    unwinder: std::sync::Arc<Native>,
    key: Vec<(String, u64)>,
}

static MODULES: Mutex<Option<Modules>> = Mutex::new(None);

static TABLES: AtomicPtr<Tables> = AtomicPtr::new(std::ptr::null_mut());
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Set when a stack pointer was outside every known region (a thread started
/// since the last refresh): the owner of the tables should refresh them.
pub(crate) static STACK_MISS: AtomicBool = AtomicBool::new(false);
/// Set when a sampled PC lay in code the tables do not know: a library loaded
/// since the last refresh (which may be unloaded again before the next tick,
/// taking its name with it), or code no file backs (JIT). The collector clears
/// it after each refresh, so code that no refresh can name wakes the collector
/// at most once per refresh; the collector refreshes for a wake only when the
/// loader's counters (`dlpi_adds`/`dlpi_subs`) changed.
pub(crate) static CODE_MISS: AtomicBool = AtomicBool::new(false);
/// The first [`CODE_MISS`] since it was cleared: the handler wakes the collector.
pub(crate) static CODE_MISS_WAKE: AtomicBool = AtomicBool::new(false);

/// A pool of unwind workspaces: a framehop cache and a stack to run framehop on.
/// A handler takes a free one (a thread runs one handler at a time, so as many as
/// CPUs are enough). The stack is needed because the handler runs on the
/// thread's small signal stack (`SA_ONSTACK`), too small for DWARF unwinding.
const POOL: usize = 8;
/// Size of each unwind stack (touched pages only become resident).
const UNWIND_STACK: usize = 256 * 1024;

struct Workspace {
    cache: Cache,
    /// Lowest usable address of the stack (a guard page lies below).
    stack: *mut u8,
}

static CACHES: [AtomicPtr<Workspace>; POOL] = [const { AtomicPtr::new(std::ptr::null_mut()) }; POOL];
static CACHES_INIT: AtomicBool = AtomicBool::new(false);
static UPDATE: Mutex<()> = Mutex::new(());

/// Allocates the unwind caches (outside any handler).
pub(crate) fn init_caches() {
    // A concurrent caller returns at once; until the caches are in, unwinding
    // falls back to frame pointers.
    if CACHES_INIT.swap(true, Ordering::AcqRel) {
        return;
    }
    let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, POOL);
    for slot in CACHES.iter().take(n) {
        let page = 4096;
        // SAFETY: a fresh anonymous mapping; the lowest page becomes a guard.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                UNWIND_STACK + page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            continue;
        }
        // SAFETY: protecting the first page of our own mapping.
        unsafe { libc::mprotect(base, page, libc::PROT_NONE) };
        let ws = Workspace { cache: Cache::new_in(), stack: (base as *mut u8).wrapping_add(page) };
        slot.store(Box::into_raw(Box::new(ws)), Ordering::Release);
    }
}

/// Parses `/proc/self/maps` and publishes new tables: the readable regions
/// always, the module list when the set of loaded objects changed (a `dlopen`).
/// Returns the number of objects registered for `.eh_frame` unwinding.
pub(crate) fn refresh() -> usize {
    let g = UPDATE.lock().unwrap_or_else(|e| e.into_inner());
    refresh_locked(g)
}

/// [`refresh`] unless another refresh is running (then `None`): for callers
/// that may have interrupted a refresh on their own thread (an allocation made
/// by the refresh itself, sampled by the heap profiler).
pub(crate) fn try_refresh() -> Option<usize> {
    let g = match UPDATE.try_lock() {
        Ok(g) => g,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    Some(refresh_locked(g))
}

fn refresh_locked(_g: std::sync::MutexGuard<'_, ()>) -> usize {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    crate::maphistory::record(&text);
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut exec: Vec<Range<u64>> = Vec::new();
    let mut objects: Vec<(String, Vec<MapLine>)> = Vec::new();
    for line in text.lines() {
        let Some(m) = MapLine::parse(line) else { continue };
        // One range per mapping, never merged with its neighbours: a stack read
        // stays inside the mapping that holds the stack pointer (the thread's own
        // stack, mapped while it runs), so a neighbouring library unloaded since
        // this refresh can never be read.
        if m.perms.starts_with('r') {
            ranges.push(m.start..m.end);
        }
        if m.perms.contains('x') {
            exec.push(m.start..m.end);
        }
        if m.path.starts_with('/') || m.path == "[vdso]" {
            match objects.iter_mut().find(|(p, _)| *p == m.path) {
                Some((_, v)) => v.push(m),
                None => objects.push((m.path.clone(), vec![m])),
            }
        }
    }
    let key: Vec<(String, u64)> = objects
        .iter()
        .filter_map(|(p, v)| v.iter().find(|m| m.perms.contains('x')).map(|m| (p.clone(), m.start)))
        .collect();
    let mut modules = MODULES.lock().unwrap_or_else(|e| e.into_inner());
    let reuse = modules.as_ref().filter(|m| m.key == key).map(|m| m.unwinder.clone());
    let unwinder = match reuse {
        Some(u) => u,
        None => {
            let mut u = Native::new();
            for (path, maps) in &objects {
                if let Some(module) = module_for(path, maps) {
                    u.add_module(module);
                }
            }
            let u = std::sync::Arc::new(u);
            *modules = Some(Modules { unwinder: u.clone(), key: key.clone() });
            u
        }
    };
    let count = key.len();
    let new = Box::into_raw(Box::new(Tables {
        unwinder,
        regions: Regions { ranges },
        exec: Regions { ranges: exec },
    }));
    let old = TABLES.swap(new, Ordering::AcqRel);
    retire(old);
    count
}

/// Frees a replaced table once no handler can be using it.
fn retire(old: *mut Tables) {
    if old.is_null() {
        return;
    }
    // Handlers load the pointer after counting themselves in: once the count
    // has been seen at zero after the swap, nobody holds the old one.
    let start = std::time::Instant::now();
    while IN_HANDLER.load(Ordering::Acquire) != 0 {
        if start.elapsed() > std::time::Duration::from_secs(1) {
            // A handler stuck for a second: leak rather than risk a use after free.
            return;
        }
        std::thread::yield_now();
    }
    // SAFETY: `old` came from Box::into_raw and is no longer reachable.
    drop(unsafe { Box::from_raw(old) });
}

/// A line of /proc/self/maps.
#[derive(Clone, Debug)]
pub(crate) struct MapLine {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) perms: String,
    pub(crate) offset: u64,
    pub(crate) path: String,
}

impl MapLine {
    pub(crate) fn parse(line: &str) -> Option<MapLine> {
        let mut it = line.split_ascii_whitespace();
        let range = it.next()?;
        let perms = it.next()?.to_string();
        let offset = u64::from_str_radix(it.next()?, 16).ok()?;
        let _dev = it.next()?;
        let _inode = it.next()?;
        let path = it.collect::<Vec<_>>().join(" ");
        let (a, b) = range.split_once('-')?;
        Some(MapLine {
            start: u64::from_str_radix(a, 16).ok()?,
            end: u64::from_str_radix(b, 16).ok()?,
            perms,
            offset,
            path: path.trim_end_matches(" (deleted)").to_string(),
        })
    }
}

/// framehop module for one loaded object, its .eh_frame_hdr/.eh_frame copied
/// from the loaded image into memory the profiler owns.
fn module_for(path: &str, maps: &[MapLine]) -> Option<Module<OwnedBytes>> {
    use object::{Object, ObjectSection, ObjectSegment};
    let text_map = maps.iter().find(|m| m.perms.contains('x'))?;
    // The file's headers: mapped from disk (only the pages read are loaded), or
    // for the vDSO read in memory.
    let mapped;
    let data: &[u8] = if path == "[vdso]" {
        // SAFETY: the vDSO mapping is readable for the life of the process.
        unsafe {
            std::slice::from_raw_parts(text_map.start as *const u8, (text_map.end - text_map.start) as usize)
        }
    } else {
        mapped = crate::sys::Mmap::open(path)?;
        &mapped
    };
    let file = object::File::parse(data).ok()?;
    // Load bias from the segment holding the executable mapping's file offset.
    let bias = if path == "[vdso]" {
        let first = file.segments().next()?;
        text_map.start.wrapping_sub(first.address())
    } else {
        // The segment the kernel mapped at this offset: its offset rounded down to a
        // page is the mapping's offset (a read-only segment before it may also
        // cover that page).
        let page = 4096u64;
        let seg =
            file.segments().find(|s| s.file_range().0 & !(page - 1) == text_map.offset).or_else(|| {
                file.segments().find(|s| {
                    let (off, size) = s.file_range();
                    (off..off + size.max(1)).contains(&text_map.offset)
                })
            })?;
        let (off, _) = seg.file_range();
        (text_map.start as i128 - text_map.offset as i128 + off as i128 - seg.address() as i128) as u64
    };
    let base_svma = file.segments().map(|s| s.address()).min().unwrap_or(0);
    let section = |name: &str| -> Option<(Range<u64>, OwnedBytes)> {
        let s = file.section_by_name(name)?;
        let svma = s.address()..s.address() + s.size();
        let avma = svma.start.wrapping_add(bias);
        // The section must lie in a readable mapping of this object.
        let inside =
            maps.iter().any(|m| m.perms.starts_with('r') && m.start <= avma && avma + s.size() <= m.end);
        if !inside || s.size() == 0 {
            return None;
        }
        let bytes = copy_own_memory(avma, usize::try_from(s.size()).ok()?)?;
        Some((svma, bytes))
    };
    let eh_frame = section(".eh_frame");
    let eh_frame_hdr = section(".eh_frame_hdr");
    let text = file.section_by_name(".text").map(|s| s.address()..s.address() + s.size());
    let info = ExplicitModuleSectionInfo {
        base_svma,
        text_svma: text,
        eh_frame_svma: eh_frame.as_ref().map(|e| e.0.clone()),
        eh_frame: eh_frame.map(|e| e.1),
        eh_frame_hdr_svma: eh_frame_hdr.as_ref().map(|e| e.0.clone()),
        eh_frame_hdr: eh_frame_hdr.map(|e| e.1),
        ..Default::default()
    };
    let avma_start = maps.iter().filter(|m| m.perms.contains('x')).map(|m| m.start).min()?;
    let avma_end = maps.iter().filter(|m| m.perms.contains('x')).map(|m| m.end).max()?;
    Some(Module::new(path.to_string(), avma_start..avma_end, base_svma.wrapping_add(bias), info))
}

static USERS: Mutex<usize> = Mutex::new(0);

/// A user of the tables (CPU profile, thread dump): publishes them if needed.
pub(crate) fn acquire() {
    let mut u = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *u += 1;
    if *u == 1 || TABLES.load(Ordering::Acquire).is_null() {
        drop(u);
        refresh();
    }
}

/// A permanent user that never waits: publishes the tables unless a refresh is
/// running (which will publish them).
pub(crate) fn acquire_forever() {
    let mut u = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *u += 1;
    drop(u);
    if TABLES.load(Ordering::Acquire).is_null() {
        try_refresh();
    }
}

/// A user is done; the last one frees the tables (the caches stay for the next
/// session).
pub(crate) fn release() {
    let mut u = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *u = u.saturating_sub(1);
    if *u > 0 {
        return;
    }
    let _g = UPDATE.lock();
    let old = TABLES.swap(std::ptr::null_mut(), Ordering::AcqRel);
    retire(old);
    *MODULES.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Unwinds the interrupted context into `out` (leaf first); returns the number of
/// frames written. Async-signal-safe.
#[inline(never)]
pub(crate) fn unwind(regs: &Regs, out: &mut [u64]) -> usize {
    if out.is_empty() {
        return 0;
    }
    out[0] = regs.pc;
    let mut n = 1;
    IN_HANDLER.fetch_add(1, Ordering::AcqRel);
    let tables = TABLES.load(Ordering::Acquire);
    if !tables.is_null() {
        // SAFETY: a published table stays alive while IN_HANDLER > 0.
        let t = unsafe { &*tables };
        if t.exec.end_of(regs.pc).is_none() && !CODE_MISS.swap(true, Ordering::Relaxed) {
            CODE_MISS_WAKE.store(true, Ordering::Relaxed);
        }
        if let Some(hi) = t.regions.end_of(regs.sp) {
            let lo = regs.sp.saturating_sub(128);
            let mut read = |addr: u64| -> Result<u64, ()> {
                if addr >= lo && addr.checked_add(8).is_some_and(|e| e <= hi) && addr.is_multiple_of(8) {
                    // SAFETY: addr..addr+8 lies in the readable region holding the
                    // stack pointer.
                    Ok(unsafe { std::ptr::read_volatile(addr as *const u64) })
                } else {
                    Err(())
                }
            };
            n = match take_cache() {
                Some((idx, ws)) => {
                    // SAFETY: the workspace is ours until put back.
                    let w = unsafe { &mut *ws };
                    let (stack, cache) = (w.stack, &mut w.cache);
                    let unwinder = &*t.unwinder;
                    // SAFETY: the stack is a private mapping of UNWIND_STACK bytes
                    // that nobody else uses while we hold the workspace.
                    let r = unsafe {
                        psm::on_stack(stack, UNWIND_STACK, || {
                            unwind_framehop(unwinder, regs, cache, &mut read, out)
                        })
                    };
                    put_cache(idx, ws);
                    r
                }
                None => unwind_fp(regs, &mut read, out),
            };
        } else {
            STACK_MISS.store(true, Ordering::Relaxed);
        }
    }
    IN_HANDLER.fetch_sub(1, Ordering::AcqRel);
    n
}

/// Whether the published tables know the stack holding `sp` and the code at
/// `addr` (no tables: neither). Tells the stack capture when a refresh is due
/// (a new thread's stack, a `dlopen`ed library).
pub(crate) fn knows(sp: u64, addr: u64) -> (bool, bool) {
    IN_HANDLER.fetch_add(1, Ordering::AcqRel);
    let tables = TABLES.load(Ordering::Acquire);
    let r = if tables.is_null() {
        (false, false)
    } else {
        // SAFETY: a published table stays alive while IN_HANDLER > 0.
        let t = unsafe { &*tables };
        (t.regions.end_of(sp).is_some(), t.exec.end_of(addr).is_some())
    };
    IN_HANDLER.fetch_sub(1, Ordering::AcqRel);
    r
}

fn take_cache() -> Option<(usize, *mut Workspace)> {
    for (i, slot) in CACHES.iter().enumerate() {
        let p = slot.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            return Some((i, p));
        }
    }
    None
}

fn put_cache(i: usize, p: *mut Workspace) {
    CACHES[i].store(p, Ordering::Release);
}

fn unwind_framehop(
    unwinder: &Native,
    regs: &Regs,
    cache: &mut Cache,
    read: &mut impl FnMut(u64) -> Result<u64, ()>,
    out: &mut [u64],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    let uregs = UnwindRegsNative::new(regs.pc, regs.sp, regs.fp);
    #[cfg(target_arch = "aarch64")]
    let uregs = UnwindRegsNative::new(regs.lr, regs.sp, regs.fp);
    let mut iter = unwinder.iter_frames(regs.pc, uregs, cache, read);
    // The first frame framehop yields is the PC itself, then return addresses.
    let mut n = 0;
    while n < out.len() {
        match iter.next() {
            Ok(Some(FrameAddress::InstructionPointer(a))) => out[n] = a,
            Ok(Some(FrameAddress::ReturnAddress(a))) => out[n] = a.get(),
            _ => break,
        }
        n += 1;
    }
    n.max(1)
}

/// Walks the frame-pointer chain: `[fp]` is the caller's fp, `[fp+8]` the return
/// address.
fn unwind_fp(regs: &Regs, read: &mut impl FnMut(u64) -> Result<u64, ()>, out: &mut [u64]) -> usize {
    let mut n = 1;
    #[cfg(target_arch = "aarch64")]
    {
        // A leaf function may not have saved the link register yet.
        if regs.lr != 0 && n < out.len() {
            out[n] = regs.lr;
            n += 1;
        }
    }
    let mut fp = regs.fp;
    while n < out.len() {
        let (Ok(next), Ok(ret)) = (read(fp), read(fp.wrapping_add(8))) else { break };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    static DEPTH: AtomicU64 = AtomicU64::new(0);
    static LEAF: AtomicU64 = AtomicU64::new(0);

    extern "C" fn on_prof(_s: libc::c_int, _i: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: ctx is the handler's ucontext.
        let regs = unsafe { crate::sys::regs_from_ucontext(ctx) };
        let mut out = [0u64; 64];
        let n = unwind(&regs, &mut out);
        DEPTH.store(n as u64, Ordering::SeqCst);
        LEAF.store(out[0], Ordering::SeqCst);
    }

    #[inline(never)]
    fn spin(n: u64) -> u64 {
        let mut x = n;
        for i in 0..n {
            x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(13) ^ i;
        }
        x
    }

    /// A timer signal interrupting a leaf function, with the handler on the
    /// thread's small signal stack: the whole chain is unwound.
    #[test]
    fn unwinds_a_leaf_from_a_signal_on_the_alternate_stack() {
        let _l = crate::TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        init_caches();
        acquire();
        // SAFETY: installing a test handler for SIGPROF.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_prof as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigaction(libc::SIGPROF, &act, std::ptr::null_mut());
        }
        crate::sys::setitimer_prof(20_000).unwrap();
        let mut r = 0;
        while DEPTH.load(Ordering::SeqCst) == 0 {
            r ^= spin(std::hint::black_box(50_000_000));
        }
        crate::sys::setitimer_prof(0).unwrap();
        // SAFETY: back to ignoring SIGPROF.
        unsafe { libc::signal(libc::SIGPROF, libc::SIG_IGN) };
        release();
        let depth = DEPTH.load(Ordering::SeqCst);
        assert!(depth >= 4, "only {depth} frames (r={r})");
        assert_ne!(LEAF.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn maps_lines_parse() {
        let m =
            MapLine::parse("55d0c8a00000-55d0c8a21000 r-xp 00001000 fd:01 123 /usr/bin/x (deleted)").unwrap();
        assert_eq!((m.start, m.end, m.offset), (0x55d0c8a00000, 0x55d0c8a21000, 0x1000));
        assert_eq!(m.path, "/usr/bin/x");
        let r = Regions { ranges: vec![10..20, 30..40] };
        assert_eq!(r.end_of(15), Some(20));
        assert_eq!(r.end_of(25), None);
        assert_eq!(r.end_of(30), Some(40));
    }
}
