//! The FFI edge of context-switch tracing: a per-thread perf event that
//! records nothing but `PERF_RECORD_SWITCH` (`context_switch = 1` on a dummy
//! software event, perf_event_open(2)), timestamped on `CLOCK_MONOTONIC`
//! (`use_clockid`), in a small ring buffer mapped into this process, read by
//! the trace collector.
//!
//! It needs what the CPU profiler's per-thread events need: the process's own
//! threads at `perf_event_paranoid` ≤ 2 (the event excludes the kernel), and
//! the ring's pages fit the per-user `perf_event_mlock_kb` (516 KiB by
//! default) or `RLIMIT_MEMLOCK`.

#![allow(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys::{self, PerfEventAttr};

const PERF_COUNT_SW_DUMMY: u64 = 9;
const PERF_SAMPLE_TID: u64 = 1 << 1;
const PERF_SAMPLE_TIME: u64 = 1 << 2;
const FLAG_TASK: u64 = 1 << 13;
const FLAG_SAMPLE_ID_ALL: u64 = 1 << 18;
const FLAG_USE_CLOCKID: u64 = 1 << 25;
const FLAG_CONTEXT_SWITCH: u64 = 1 << 26;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_EXIT: u32 = 4;
const PERF_RECORD_SWITCH: u32 = 14;
const MISC_SWITCH_OUT: u16 = 1 << 13;
const MISC_SWITCH_OUT_PREEMPT: u16 = 1 << 14;
/// Offsets in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

/// What the ring said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Item {
    /// The thread left (`out`; `preempt`: while runnable) or got a CPU.
    Switch { ts: u64, out: bool, preempt: bool },
    /// The kernel dropped this many records (the ring was full).
    Lost(u64),
    /// The thread exited.
    Exit { ts: u64 },
}

/// One thread's context-switch event and its ring.
#[derive(Debug)]
pub(super) struct SwitchRing {
    fd: i32,
    base: *mut u8,
    map_len: usize,
    data_size: usize,
}

// SAFETY: the mapping belongs to this value alone; only its owner reads it.
unsafe impl Send for SwitchRing {}

/// An open context-switch event, not mapped yet.
#[derive(Debug)]
pub(super) struct SwitchEvent {
    fd: i32,
}

impl SwitchEvent {
    /// Starts recording thread `tid`'s context switches.
    pub(super) fn open(tid: i32) -> io::Result<SwitchEvent> {
        let mut attr = PerfEventAttr {
            type_: sys::PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: PERF_COUNT_SW_DUMMY,
            sample_type: PERF_SAMPLE_TID | PERF_SAMPLE_TIME,
            flags: sys::PERF_FLAG_EXCLUDE_KERNEL
                | sys::PERF_FLAG_EXCLUDE_HV
                | FLAG_TASK
                | FLAG_SAMPLE_ID_ALL
                | FLAG_USE_CLOCKID
                | FLAG_CONTEXT_SWITCH,
            clockid: libc::CLOCK_MONOTONIC,
            ..Default::default()
        };
        Ok(SwitchEvent { fd: sys::perf_event_open(&mut attr, tid)? })
    }

    /// Maps the event's ring of `data_pages` pages (a power of two).
    pub(super) fn map(self, data_pages: usize) -> Result<SwitchRing, (SwitchEvent, io::Error)> {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let map_len = page * (1 + data_pages);
        // SAFETY: mapping the perf fd we own, as perf_event_open(2) says: one
        // metadata page and 2^n data pages, writable so that data_tail tells
        // the kernel what was read (records are then never overwritten).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err((self, io::Error::last_os_error()));
        }
        let fd = self.fd;
        std::mem::forget(self);
        Ok(SwitchRing { fd, base: base as *mut u8, map_len, data_size: page * data_pages })
    }
}

impl Drop for SwitchEvent {
    fn drop(&mut self) {
        sys::close(self.fd);
    }
}

impl SwitchRing {
    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: offsets within the metadata page, 8-aligned; the kernel
        // writes data_head, we write data_tail, both as atomics.
        unsafe { &*(self.base.add(offset) as *const AtomicU64) }
    }

    /// Appends every record the kernel wrote since the last call to `out`.
    pub(super) fn read(&mut self, out: &mut Vec<Item>) {
        let head = self.word(DATA_HEAD).load(Ordering::Acquire);
        let mut tail = self.word(DATA_TAIL).load(Ordering::Relaxed);
        // SAFETY: the data area follows the metadata page, `data_size` bytes.
        let data = unsafe {
            std::slice::from_raw_parts(self.base.add(self.map_len - self.data_size), self.data_size)
        };
        let mut rec = [0u8; 64];
        while head.wrapping_sub(tail) >= 8 {
            let at = |i: u64| data[((tail + i) % self.data_size as u64) as usize];
            let header: [u8; 8] = std::array::from_fn(|i| at(i as u64));
            let kind = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
            let misc = u16::from_ne_bytes([header[4], header[5]]);
            let size = u16::from_ne_bytes([header[6], header[7]]) as u64;
            if size < 8 || head.wrapping_sub(tail) < size {
                break;
            }
            let n = (size as usize).min(rec.len());
            for (i, b) in rec[..n].iter_mut().enumerate() {
                *b = at(i as u64);
            }
            let u64_at = |o: usize| {
                rec.get(o..o + 8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))).unwrap_or(0)
            };
            match kind {
                // sample_id: pid, tid (u32 each), time.
                PERF_RECORD_SWITCH if n >= 24 => out.push(Item::Switch {
                    ts: u64_at(16),
                    out: misc & MISC_SWITCH_OUT != 0,
                    preempt: misc & MISC_SWITCH_OUT_PREEMPT != 0,
                }),
                // id, lost, then sample_id.
                PERF_RECORD_LOST if n >= 24 => out.push(Item::Lost(u64_at(16))),
                // pid, ppid, tid, ptid (u32 each), time.
                PERF_RECORD_EXIT if n >= 32 => out.push(Item::Exit { ts: u64_at(24) }),
                _ => {}
            }
            tail = tail.wrapping_add(size);
        }
        self.word(DATA_TAIL).store(tail, Ordering::Release);
    }
}

impl Drop for SwitchRing {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping, closing our own fd.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.map_len);
        }
        sys::close(self.fd);
    }
}
