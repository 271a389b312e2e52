//! The heap profiler's exact counters count every free, also by a thread that
//! never allocated, and none of the profiler's own allocations; records are per
//! size class. (What other threads do for rustprof: `heap_own_process.rs`.)

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::sync::{Mutex, MutexGuard};

use rustprof::heap::{self, Sampled};

#[global_allocator]
static ALLOC: Sampled<System> = Sampled::new(System);

/// The rate is process-wide: one test at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the default rate when a test ends (also on failure).
struct Rate(usize);
impl Rate {
    fn set(r: usize) -> Rate {
        Rate(heap::set_sample_rate(r))
    }
}
impl Drop for Rate {
    fn drop(&mut self) {
        heap::set_sample_rate(self.0);
    }
}

#[test]
fn frees_by_a_thread_that_never_allocated_are_counted() {
    let _l = lock();
    let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![7u8; 1 << 20]).collect();
    let before = heap::stats();
    // A raw thread, so that nothing but the frees runs on it (std's spawn
    // allocates on the new thread for its bookkeeping).
    extern "C" fn drop_them(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the Box made below, handed over to this thread.
        drop(unsafe { Box::from_raw(arg as *mut Vec<Vec<u8>>) });
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(blocks)) as *mut libc::c_void;
    let mut t: libc::pthread_t = 0;
    // SAFETY: a thread running `drop_them` with the box it owns from now on;
    // joined below.
    unsafe {
        assert_eq!(libc::pthread_create(&mut t, std::ptr::null(), drop_them, arg), 0);
        assert_eq!(libc::pthread_join(t, std::ptr::null_mut()), 0);
    }
    let d = heap::stats().since(&before);
    // 100 blocks, the outer vector and the box.
    assert!(d.frees >= 102, "{d:?}");
    assert!(d.free_bytes >= 100 << 20, "{d:?}");
}

#[test]
fn thread_counters_count_exactly_the_program_allocations_while_sampling_all() {
    let _l = lock();
    let _r = Rate::set(1);
    // Every allocation is sampled: the profiler's table grows as it records
    // them, and none of that may show in the counters.
    let before = heap::thread_stats();
    for i in 0..100_000usize {
        black_box(Vec::<u8>::with_capacity(1 + i % 5000));
    }
    let d = heap::thread_stats().since(&before);
    assert_eq!((d.allocs, d.frees), (100_000, 100_000), "{d:?}");
    let bytes: u64 = (0..100_000u64).map(|i| 1 + i % 5000).sum();
    assert_eq!((d.alloc_bytes, d.free_bytes), (bytes, bytes));
}

/// One allocation site with 20,000 different sizes: Go keeps one record per
/// size class, not per size, so the profile (and its text) stays bounded by
/// the program's call sites; the bytes are still exact.
#[test]
fn records_are_per_size_class_not_per_size() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn many_sizes() -> Vec<Vec<u8>> {
        (1..=20_000usize).map(|n| black_box(vec![0u8; n])).collect()
    }
    let kept = many_sizes();
    let p = heap::profile();
    let idx = p.sample_type_index("inuse_space").unwrap();
    let (mut records, mut bytes) = (0, 0);
    for s in p.samples.iter() {
        let here = s.locations.first().is_some_and(|&l| {
            p.location_lines(l)
                .iter()
                .any(|line| p.str(p.functions[line.function as usize].name).contains("many_sizes"))
        });
        if here && s.values[idx] > 0 {
            records += 1;
            bytes += s.values[idx];
        }
    }
    // 8 classes up to 128 bytes, 8 per doubling above (the outer vector too).
    assert!(records <= 8 + 8 * 8 + 1, "{records} records");
    assert_eq!(bytes, (1..=20_000i64).sum::<i64>() + 20_000 * 24);
    drop(kept);
}
