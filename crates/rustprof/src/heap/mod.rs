//! Heap profiling: Go's heap and allocs profiles for any global allocator.
//!
//! Wrap the allocator you use in [`Sampled`]:
//!
//! ```
//! use std::alloc::System;
//! #[global_allocator]
//! static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);
//! ```
//!
//! Allocations are sampled as Go samples them: the gaps between samples, in
//! bytes, are drawn from an exponential distribution with mean
//! [`sample_rate`] (512 KiB by default, like `runtime.MemProfileRate`), so an
//! allocation of `S` bytes is sampled with probability `1 - exp(-S/rate)`. The
//! path of an allocation that is not sampled is a thread-local countdown and two
//! thread-local counters: no atomic read-modify-write, no lock. A sampled
//! allocation records its stack (the `.eh_frame` unwinder of the CPU profiler,
//! which does not allocate), size and bucket; a free is matched against the
//! sampled blocks through a 16 KiB bit filter indexed by a hash of the address,
//! so the common free pays one load from L1 and the rare candidate a table
//! lookup. Blocks freed on
//! another thread are matched the same way.
//!
//! [`profile`] and [`allocs_profile`] write what Go's `heap` and `allocs`
//! profiles hold: `alloc_objects`, `alloc_space`, `inuse_objects`,
//! `inuse_space`, unbiased with Go's formula, one sample per (stack, size class)
//! with a `bytes` label (the average size). In-use figures are exact at the
//! moment of writing (Go's are as of the last GC). [`stats`] and
//! [`thread_stats`] are exact counters of every allocation of the program (for
//! `allocs/op` and `B/op` in benchmarks); rustprof's own allocations (see
//! [`own_stats`]) are neither counted there nor sampled.

#![allow(unsafe_code)]

mod frames;
mod local;
mod spawn;

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rustprof_profile::Profile;

use self::frames::{allocator_entry, allocator_plumbing};
use self::local::{LOCAL, Local, init_thread};
pub(crate) use self::local::{Own, hand_over, outside, own, own_thread};
pub(crate) use self::spawn::{OwnThread, spawn as spawn_own};
use crate::pbuild::{LabelValue, Stack, StackProfile};

/// Go's default: one sample per 512 KiB allocated, on average.
pub const DEFAULT_SAMPLE_RATE: usize = 512 * 1024;

/// Deepest stack recorded for an allocation.
const MAX_DEPTH: usize = 64;
/// While profiling is off, how many bytes a thread allocates between looks at
/// the rate (so that turning it on takes effect).
const OFF_RECHECK: i64 = 1 << 20;
/// Largest gap drawn (Go caps its mean at 0x7000000).
const MAX_GAP: f64 = (1u64 << 40) as f64;

static RATE: AtomicUsize = AtomicUsize::new(DEFAULT_SAMPLE_RATE);
static IN_USE: AtomicBool = AtomicBool::new(false);

/// A global allocator that samples allocations for heap profiles; see the
/// [module documentation](self).
pub struct Sampled<A> {
    inner: A,
}

impl<A> Sampled<A> {
    /// Wraps `inner` (e.g. `std::alloc::System`, mimalloc, jemalloc).
    pub const fn new(inner: A) -> Self {
        Sampled { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every method forwards to the inner allocator with the caller's
// arguments unchanged and returns its result; the bookkeeping around it never
// touches the blocks themselves.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Sampled<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the inner allocator's.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            on_alloc(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            on_alloc(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The record goes before the block: once freed, its address may be
        // handed out (and sampled) again.
        on_free(ptr, layout.size());
        // SAFETY: the caller's contract is the inner allocator's.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = if filter_hit(ptr) { take_record(ptr) } else { None };
        // SAFETY: the caller's contract is the inner allocator's.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block is still live.
            if let Some(r) = old {
                put_back(ptr, r);
            }
            return p;
        }
        on_free_counters(layout.size());
        on_alloc(p, new_size);
        p
    }
}

/// Exact allocation counts and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Allocations (a `realloc` counts as one allocation and one free).
    pub allocs: u64,
    /// Bytes allocated.
    pub alloc_bytes: u64,
    /// Frees.
    pub frees: u64,
    /// Bytes freed.
    pub free_bytes: u64,
}

impl AllocStats {
    /// Blocks allocated and not freed.
    pub fn live_objects(&self) -> i64 {
        self.allocs as i64 - self.frees as i64
    }

    /// Bytes allocated and not freed.
    pub fn live_bytes(&self) -> i64 {
        self.alloc_bytes as i64 - self.free_bytes as i64
    }

    /// The difference `self - earlier`.
    pub fn since(&self, earlier: &AllocStats) -> AllocStats {
        AllocStats {
            allocs: self.allocs.wrapping_sub(earlier.allocs),
            alloc_bytes: self.alloc_bytes.wrapping_sub(earlier.alloc_bytes),
            frees: self.frees.wrapping_sub(earlier.frees),
            free_bytes: self.free_bytes.wrapping_sub(earlier.free_bytes),
        }
    }
}

#[inline(always)]
fn on_alloc(p: *mut u8, size: usize) {
    LOCAL.with(|l| {
        l.counters.count_alloc(size);
        let c = l.countdown.get() - size as i64;
        l.countdown.set(c);
        if c <= 0 {
            slow_alloc(l, p, size);
        }
    })
}

#[inline(always)]
fn on_free_counters(size: usize) {
    LOCAL.with(|l| {
        if l.watch.get() {
            local::slow_free(l, size);
        } else {
            l.counters.count_free(size);
        }
    })
}

#[inline(always)]
fn on_free(p: *mut u8, size: usize) {
    on_free_counters(size);
    if filter_hit(p) {
        take_record(p);
    }
}

// ---------------------------------------------------------------------------
// The filter: one bit per 1/131072 of the address space (hashed), set while a
// sampled block lives there; 16 KiB, so it stays in the L1 cache. The exact
// counts behind the bits are in the table, under its lock.

const FILTER_BITS: u32 = 17;
static FILTER: [AtomicU64; 1 << (FILTER_BITS - 6)] = [const { AtomicU64::new(0) }; 1 << (FILTER_BITS - 6)];

#[inline(always)]
fn slot(p: *mut u8) -> usize {
    ((p as usize as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - FILTER_BITS)) as usize
}

#[inline(always)]
fn filter_hit(p: *mut u8) -> bool {
    let i = slot(p);
    FILTER[i >> 6].load(Ordering::Relaxed) >> (i & 63) & 1 != 0
}

impl Table {
    /// Counts a sampled block at `p` in the filter.
    fn filter_add(&mut self, p: *mut u8) {
        let i = slot(p);
        let c = self.slot_counts.entry(i as u32).or_insert(0);
        *c += 1;
        if *c == 1 {
            FILTER[i >> 6].fetch_or(1 << (i & 63), Ordering::Relaxed);
        }
    }

    /// Uncounts a sampled block at `p`.
    fn filter_remove(&mut self, p: *mut u8) {
        let i = slot(p);
        if let Some(c) = self.slot_counts.get_mut(&(i as u32)) {
            *c -= 1;
            if *c == 0 {
                self.slot_counts.remove(&(i as u32));
                FILTER[i >> 6].fetch_and(!(1 << (i & 63)), Ordering::Relaxed);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The slow paths.

#[cold]
#[inline(never)]
fn slow_alloc(l: &Local, p: *mut u8, size: usize) {
    if l.divert_alloc(size) {
        // rustprof's own allocation (not sampled, counted apart), or one of a
        // thread that is ending.
        return;
    }
    if !l.init.get() {
        // The first allocation of a thread starts its first gap.
        init_thread(l);
        let c = l.countdown.get() - size as i64;
        l.countdown.set(c);
        if c > 0 {
            return;
        }
    }
    let rate = RATE.load(Ordering::Relaxed);
    if rate == 0 {
        l.countdown.set(OFF_RECHECK);
        return;
    }
    let was = l.enter();
    record_alloc(l, p, size);
    l.set_gap(draw(l, rate));
    l.leave(was);
}

/// Draws the next gap: exponential with mean `rate` bytes (at least 1).
fn draw(l: &Local, rate: usize) -> i64 {
    if rate == 0 {
        return OFF_RECHECK;
    }
    if rate == 1 {
        return 1;
    }
    // xorshift64*
    let mut x = l.rng.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    l.rng.set(x);
    let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    // u in (0, 1]
    let u = ((r >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let gap = (-u.ln() * rate as f64).min(MAX_GAP);
    (gap as i64).max(1)
}

/// Sets the calling thread's random state (and draws its next gap): for
/// reproducible sampling in tests.
pub fn seed_thread(seed: u64) {
    LOCAL.with(|l| {
        if !l.init.get() {
            init_thread(l);
        }
        l.rng.set(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        l.set_gap(draw(l, RATE.load(Ordering::Relaxed)));
    })
}

/// One (stack, size class) bucket, as Go keeps them, with the exact bytes.
struct Bucket {
    stack: u32,
    allocs: u64,
    frees: u64,
    alloc_bytes: u64,
    free_bytes: u64,
}

/// The size class of an allocation of `size` bytes, as the bucket key: sizes
/// up to 128 bytes in steps of 16, larger ones in 8 steps per power of two (at
/// most 12.5% apart), as Go's allocator classes them. Bounds the number of
/// buckets of one stack (about 8 per doubling of the size) where exact sizes
/// would make one per size ever seen.
fn size_class(size: usize) -> usize {
    if size <= 128 {
        return size.div_ceil(16) * 16;
    }
    let shift = usize::BITS - 1 - size.leading_zeros() - 3;
    ((size - 1) >> shift).wrapping_add(1) << shift
}

/// The sampled allocations.
#[derive(Default)]
struct Table {
    stacks: Vec<Box<[u64]>>,
    stack_ids: HashMap<Box<[u64]>, u32>,
    buckets: Vec<Bucket>,
    bucket_ids: HashMap<(u32, usize), u32>,
    /// Live sampled blocks: address → (bucket, size).
    live: HashMap<usize, (u32, usize)>,
    /// Live sampled blocks per filter slot.
    slot_counts: HashMap<u32, u32>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// The table, locked, with the thread marked as inside it.
struct Locked<'a> {
    guard: MutexGuard<'a, Option<Table>>,
    was_busy: bool,
}

impl Locked<'_> {
    fn table(&mut self) -> &mut Table {
        self.guard.get_or_insert_with(Table::default)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        LOCAL.with(|l| {
            l.locked.set(false);
            l.leave(self.was_busy);
        });
    }
}

fn lock_table() -> Locked<'static> {
    let was_busy = LOCAL.with(Local::enter);
    let guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    LOCAL.with(|l| l.locked.set(true));
    Locked { guard, was_busy }
}

fn record_alloc(_l: &Local, p: *mut u8, size: usize) {
    let mut frames = [0u64; MAX_DEPTH];
    let n = crate::stack::capture(0, &mut frames, true);
    let mut t = lock_table();
    let t = t.table();
    let stack = match t.stack_ids.get(&frames[..n]) {
        Some(&id) => id,
        None => {
            let id = t.stacks.len() as u32;
            let s: Box<[u64]> = frames[..n].into();
            t.stacks.push(s.clone());
            t.stack_ids.insert(s, id);
            id
        }
    };
    let bucket = *t.bucket_ids.entry((stack, size_class(size))).or_insert_with(|| {
        t.buckets.push(Bucket { stack, allocs: 0, frees: 0, alloc_bytes: 0, free_bytes: 0 });
        (t.buckets.len() - 1) as u32
    });
    let b = &mut t.buckets[bucket as usize];
    b.allocs += 1;
    b.alloc_bytes += size as u64;
    if let Some((old, old_size)) = t.live.insert(p as usize, (bucket, size)) {
        // A block we never saw freed (cannot happen through this allocator):
        // count it freed rather than leak it.
        let b = &mut t.buckets[old as usize];
        b.frees += 1;
        b.free_bytes += old_size as u64;
    } else {
        t.filter_add(p);
    }
}

/// A removed live record: (bucket, size).
type Record = (u32, usize);

/// Removes `p` from the live sampled blocks (counting it freed) if it is one.
#[cold]
#[inline(never)]
fn take_record(p: *mut u8) -> Option<Record> {
    if LOCAL.with(|l| l.locked.get()) {
        // Freed while this thread holds the table: the table's own memory,
        // allocated while busy, hence never sampled.
        return None;
    }
    let mut g = lock_table();
    let t = g.table();
    let r = t.live.remove(&(p as usize))?;
    let b = &mut t.buckets[r.0 as usize];
    b.frees += 1;
    b.free_bytes += r.1 as u64;
    t.filter_remove(p);
    Some(r)
}

/// Undoes [`take_record`] (a `realloc` that failed).
#[cold]
fn put_back(p: *mut u8, b: Record) {
    let mut g = lock_table();
    let t = g.table();
    let bucket = &mut t.buckets[b.0 as usize];
    bucket.frees -= 1;
    bucket.free_bytes -= b.1 as u64;
    t.live.insert(p as usize, b);
    t.filter_add(p);
}

// ---------------------------------------------------------------------------
// The public API.

/// Sets the mean number of bytes between samples (Go's `MemProfileRate`): 0
/// turns sampling off, 1 samples every allocation. Threads pick the new rate up
/// at their next sample (within 1 MiB of allocation when it was off). Returns
/// the previous rate.
pub fn set_sample_rate(bytes: usize) -> usize {
    let old = RATE.swap(bytes, Ordering::Relaxed);
    // The calling thread takes it at once.
    LOCAL.with(|l| {
        if l.init.get() {
            l.set_gap(draw(l, bytes));
        }
    });
    old
}

/// The current sample rate in bytes.
pub fn sample_rate() -> usize {
    RATE.load(Ordering::Relaxed)
}

/// Whether a [`Sampled`] allocator is in use in this process (it has seen an
/// allocation).
pub fn is_installed() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

/// Exact counters of every allocation of the program so far (threads that
/// ended included), rustprof's own left out: what it allocates to record
/// samples, symbolize, build and serve profiles, on any thread, is counted in
/// [`own_stats`] instead, frees included, whichever thread frees. (A reading
/// taken while another thread is inside rustprof may include that thread's
/// one allocation in flight.) Zero when [`Sampled`] is not the global
/// allocator.
pub fn stats() -> AllocStats {
    local::totals().0
}

/// Exact counters of rustprof's own allocations (the complement of
/// [`stats`]): its tables, its symbol cache, the profiles it builds, the HTTP
/// server's threads. `live_bytes()` is what rustprof holds on the heap now.
pub fn own_stats() -> AllocStats {
    local::totals().1
}

/// Bytes the heap profiler itself holds: its tables of stacks, buckets and
/// live sampled blocks (approximate: capacities times entry sizes), and the
/// 16 KiB address filter.
pub fn profiler_memory() -> usize {
    let n = {
        let mut g = lock_table();
        let t = g.table();
        let stacks: usize = t.stacks.iter().map(|s| s.len() * 8 + 16).sum::<usize>() * 2;
        stacks
            + t.stacks.capacity() * 16
            + t.stack_ids.capacity() * 24
            + t.buckets.capacity() * std::mem::size_of::<Bucket>()
            + t.bucket_ids.capacity() * 24
            + t.live.capacity() * 24
            + t.slot_counts.capacity() * 8
    };
    n + std::mem::size_of_val(&FILTER)
}

/// Exact counters of the calling thread's allocations and frees so far
/// (rustprof's own left out, as in [`stats`]).
pub fn thread_stats() -> AllocStats {
    local::thread_totals().0
}

/// Exact counters of what the calling thread allocated and freed for
/// rustprof itself.
pub fn thread_own_stats() -> AllocStats {
    local::thread_totals().1
}

/// The number of (stack, size) records, as Go's `Profile.Count()` for heap.
pub fn record_count() -> usize {
    lock_table().table().buckets.len()
}

/// The heap profile (Go's `heap`): what is in use now, and what was allocated.
/// Default sample type `inuse_space`.
pub fn profile() -> Profile {
    hand_over(own(|| build(false)))
}

/// The allocs profile (Go's `allocs`): the same data, default sample type
/// `alloc_space`.
pub fn allocs_profile() -> Profile {
    hand_over(own(|| build(true)))
}

/// Go's `scaleHeapSample`: un-biases `count` objects of `size` total bytes
/// sampled at `rate`.
pub fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

fn build(allocs: bool) -> Profile {
    let rate = RATE.load(Ordering::Relaxed) as i64;
    // Copy the buckets out, then symbolize without the lock.
    let snapshot: Vec<(Vec<u64>, [u64; 4])> = {
        let mut g = lock_table();
        let t = g.table();
        t.buckets
            .iter()
            .map(|b| (t.stacks[b.stack as usize].to_vec(), [b.allocs, b.alloc_bytes, b.frees, b.free_bytes]))
            .collect()
    };
    let mut sp = StackProfile::new(
        &[
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ],
        ("space", "bytes"),
        rate,
    );
    sp.time_nanos = crate::sys::now_ns();
    sp.trim = Some((allocator_entry, allocator_plumbing));
    if allocs {
        sp.default_sample_type = Some("alloc_space");
    }
    // Newest bucket first, as Go lists them.
    for (frames, [a, ab, f, fb]) in snapshot.iter().rev() {
        let (a, ab, f, fb) = (*a as i64, *ab as i64, *f as i64, *fb as i64);
        // Each (count, bytes) pair un-biased with its own average size.
        let (ao, ab_s) = scale_heap_sample(a, ab, rate);
        let (io, ib) = scale_heap_sample(a - f, ab - fb, rate);
        // The bucket's size: the average of its allocations (one size when
        // they were all alike).
        let size = if a > 0 { (ab as f64 / a as f64).round() as i64 } else { 0 };
        let labels = if size > 0 { vec![("bytes".to_string(), LabelValue::Num(size, ""))] } else { vec![] };
        sp.add(Stack { frames, exact_leaf: false }, &[ao, ab_s, io, ib], labels);
    }
    sp.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_scaling() {
        // Go's own example: 5 objects of 1 MiB at 512 KiB.
        assert_eq!(scale_heap_sample(5, 5 * 1024 * 1024, 512 * 1024), (5, 6063483));
        assert_eq!(scale_heap_sample(3, 300, 1), (3, 300));
        assert_eq!(scale_heap_sample(0, 300, 512), (0, 0));
    }

    #[test]
    fn gaps_have_the_mean_rate() {
        let l = Local::new();
        l.rng.set(12345);
        let n = 200_000;
        let sum: i64 = (0..n).map(|_| draw(&l, 4096)).sum();
        let mean = sum as f64 / n as f64;
        assert!((mean - 4096.0).abs() < 4096.0 * 0.02, "mean {mean}");
        assert_eq!(draw(&l, 1), 1);
    }

    #[test]
    fn size_classes_are_at_most_an_eighth_apart() {
        assert_eq!((size_class(0), size_class(1), size_class(16), size_class(17)), (0, 16, 16, 32));
        assert_eq!(
            (size_class(128), size_class(129), size_class(144), size_class(145)),
            (128, 144, 144, 160)
        );
        let mut classes = std::collections::BTreeSet::new();
        for s in 1..=65536usize {
            let c = size_class(s);
            assert!(c >= s && (c - s) * 8 <= s.max(128), "{s} -> {c}");
            classes.insert(c);
        }
        // 8 classes up to 128 bytes, then 8 per doubling.
        assert_eq!(classes.len(), 8 + 8 * 9);
    }

    #[test]
    fn filter_slots_spread() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000usize {
            seen.insert(slot((0x5555_0000_0000 + i * 32) as *mut u8));
        }
        assert!(seen.len() > 9_500, "{}", seen.len());
    }
}
