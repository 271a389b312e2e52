//! Recording: the two rates, sampling, the per-lock waiter accounting that
//! charges delay to unlockers, the event tables, and turning them into profiles.
//!
//! Nothing here uses the instrumented primitives: the tables and the waiter
//! accounting sit behind `std::sync::Mutex`es of their own, and a thread-local
//! flag makes any recording that starts while the same thread is already
//! recording (an allocator built on these locks, say) a no-op instead of a
//! deadlock.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustprof_profile::{LocationIdx, Profile, Samples};

use super::futex::now_ns;
use crate::pbuild::{LabelValue, Stack, StackProfile};
use crate::{labels, stack};

/// Block profile rate in ns (0: off).
static BLOCK_RATE: AtomicU64 = AtomicU64::new(0);
/// Mutex profile fraction (0: off, N: one contention event in N).
static MUTEX_FRACTION: AtomicU64 = AtomicU64::new(0);

/// Frames kept per event (a few of them are ours and trimmed when the
/// profile is built; Go keeps 32).
const DEPTH: usize = 64;

/// Controls the block profile, as Go's `runtime.SetBlockProfileRate`: every
/// blocking event that lasts at least `rate_ns` nanoseconds is recorded, a
/// shorter one of `d` ns with probability `d / rate_ns` and then counted as
/// `rate_ns / d` events of `rate_ns` in total (so sums stay unbiased). `0` turns
/// the profile off (the default), `1` records every event.
///
/// Blocking events are the waits of [`Mutex`](super::Mutex),
/// [`RwLock`](super::RwLock), the lock_api [`RawMutex`](super::RawMutex) and
/// [`RawRwLock`](super::RawRwLock) that had to sleep, every
/// [`Condvar`](super::Condvar) wait, and what [`record_block`] and
/// [`BlockEvent`] report. A wait counts if the rate was on when it started.
pub fn set_block_profile_rate(rate_ns: u64) {
    if rate_ns > 0 {
        stack::enable();
    }
    BLOCK_RATE.store(rate_ns, Ordering::Relaxed);
}

/// The current block profile rate in nanoseconds (0: off).
pub fn block_profile_rate() -> u64 {
    BLOCK_RATE.load(Ordering::Relaxed)
}

/// Controls the mutex profile, as Go's `runtime.SetMutexProfileFraction`: on
/// average one contention event in `fraction` is recorded, counted `fraction`
/// times with `fraction` times its delay. `0` turns the profile off (the
/// default), `1` records every event. Returns the previous fraction.
///
/// A contention event is the release of a lock others were sleeping on; it is
/// recorded at the releasing thread's stack with the delay its critical section
/// caused: the time each waiter spent waiting since the lock last changed hands.
/// Only waits that started while the fraction was non-zero are counted.
pub fn set_mutex_profile_fraction(fraction: u64) -> u64 {
    if fraction > 0 {
        stack::enable();
    }
    MUTEX_FRACTION.swap(fraction, Ordering::Relaxed)
}

/// The current mutex profile fraction (0: off).
pub fn mutex_profile_fraction() -> u64 {
    MUTEX_FRACTION.load(Ordering::Relaxed)
}

struct Local {
    busy: Cell<bool>,
    rng: Cell<u64>,
}

thread_local! {
    // No destructor: usable until the thread is gone.
    static LOCAL: Local = const { Local { busy: Cell::new(false), rng: Cell::new(0) } };
}

/// Marks the thread as recording; `None` when it already is. What it
/// allocates meanwhile is rustprof's own (see [`crate::heap::Own`]).
struct Busy(#[allow(dead_code)] crate::heap::Own);

impl Busy {
    fn enter() -> Option<Busy> {
        let entered = LOCAL.try_with(|l| !l.busy.replace(true)).unwrap_or(false);
        entered.then(|| Busy(crate::heap::Own::enter()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|l| l.busy.set(false));
    }
}

/// A uniformly distributed random number (xorshift64*, per thread).
fn rand() -> u64 {
    LOCAL
        .try_with(|l| {
            let mut x = l.rng.get();
            if x == 0 {
                // Seed from the clock and this thread's slot.
                x = (now_ns() ^ (l as *const Local as u64).rotate_left(32)) | 1;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            l.rng.set(x);
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
        .unwrap_or_else(|_| now_ns().wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Accumulated events of one stack and label set.
#[derive(Clone, Copy)]
struct Record {
    count: f64,
    delay: u64,
}

/// A fast hash for keys made of addresses (multiply-rotate per word).
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.add(u64::from_ne_bytes(b));
        }
        for &b in words.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.add(w);
    }

    fn write_usize(&mut self, w: usize) {
        self.add(w as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Events by key: the label set id, then the stack (return addresses, innermost first).
type Table = Mutex<HashMap<Box<[u64]>, Record, BuildHasherDefault<WordHasher>>>;

static BLOCK_EVENTS: Table = Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));
static CONTENTION_EVENTS: Table = Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds an event to a table. The caller holds [`Busy`]. An event without a
/// stack (the unwinder still being set up by another thread) is dropped.
fn add(table: &Table, labels: u32, frames: &[u64], count: f64, delay: u64) {
    if frames.is_empty() {
        return;
    }
    let mut key = [0u64; DEPTH + 1];
    let n = frames.len().min(DEPTH);
    key[0] = u64::from(labels);
    key[1..=n].copy_from_slice(&frames[..n]);
    let key = &key[..=n];
    let mut t = lock(table);
    match t.get_mut(key) {
        Some(r) => {
            r.count += count;
            r.delay = r.delay.saturating_add(delay);
        }
        None => {
            t.insert(key.into(), Record { count, delay });
        }
    }
}

/// Go's block sampling for an event of `delay` ns: `None` when dropped, else the
/// (count, delay) to add.
fn sample_block(delay: u64, rate: u64) -> Option<(f64, u64)> {
    let delay = delay.max(1);
    if rate == 0 {
        return None;
    }
    if delay >= rate {
        return Some((1.0, delay));
    }
    // Kept with probability delay/rate (Go keeps (delay+1)/rate: a slight
    // bias), then stands for rate/delay such events.
    if rand() % rate >= delay {
        return None;
    }
    Some((rate as f64 / delay as f64, rate))
}

/// Who waits on which lock, so that an unlocker can be charged with the delay
/// its critical section caused. Kept only while a lock has sleeping waiters,
/// in a table striped by the lock's address (as Go keeps its semaphores).
mod waiters {
    use super::*;

    /// The sleeping waiters of one lock (`lock` 0: a free slot).
    #[derive(Clone, Copy)]
    struct Waits {
        lock: usize,
        waiters: u64,
        /// Sum over the waiters of when they started waiting or, if later, of
        /// `charged_at`.
        since_sum: i128,
        /// When the lock's last unlocker was charged.
        charged_at: u64,
    }

    const FREE: Waits = Waits { lock: 0, waiters: 0, since_sum: 0, charged_at: 0 };
    const STRIPES: usize = 64;
    /// Locks with sleepers at once per stripe; fixed, so that nothing here
    /// allocates (see [`record_unlock`]). Waits beyond it are not charged.
    const SLOTS: usize = 8;
    static TABLE: [Mutex<[Waits; SLOTS]>; STRIPES] = [const { Mutex::new([FREE; SLOTS]) }; STRIPES];

    pub(super) fn stripe_of(lock: usize) -> usize {
        ((lock as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize % STRIPES
    }

    fn stripe(lock: usize) -> MutexGuard<'static, [Waits; SLOTS]> {
        super::lock(&TABLE[stripe_of(lock)])
    }

    /// A waiter of `lock` starts waiting at `t0`; false if there is no room.
    pub(super) fn register(lock: usize, t0: u64) -> bool {
        let mut s = stripe(lock);
        let slot = match s.iter().position(|w| w.lock == lock) {
            Some(i) => i,
            None => match s.iter().position(|w| w.lock == 0) {
                Some(i) => {
                    s[i] = Waits { lock, ..FREE };
                    i
                }
                None => return false,
            },
        };
        s[slot].waiters += 1;
        s[slot].since_sum += i128::from(t0);
        true
    }

    /// The waiter that started at `t0` stops waiting.
    pub(super) fn deregister(lock: usize, t0: u64) {
        let mut s = stripe(lock);
        if let Some(w) = s.iter_mut().find(|w| w.lock == lock) {
            w.waiters -= 1;
            w.since_sum -= i128::from(t0.max(w.charged_at));
            if w.waiters == 0 {
                *w = FREE;
            }
        }
    }

    /// The waiting time of `lock`'s waiters since the last charge (or since
    /// they started), charged to the unlocker at `now`.
    pub(super) fn charge(lock: usize, now: u64) -> u64 {
        let mut s = stripe(lock);
        let Some(w) = s.iter_mut().find(|w| w.lock == lock) else { return 0 };
        let now = now.max(w.charged_at);
        let all = i128::from(w.waiters) * i128::from(now);
        let delay = all - w.since_sum;
        w.since_sum = all;
        w.charged_at = now;
        u64::try_from(delay.max(0)).unwrap_or(u64::MAX)
    }
}

/// One wait of a lock or condition variable, from before its first sleep until
/// it is dropped (the lock acquired, the condition signalled): records it in
/// the block profile and registers it for the mutex profile, when those are on.
pub(super) struct Waiting {
    /// Address of the lock for the mutex profile's accounting, 0 for none.
    lock: usize,
    /// Whether the wait is a block profile event.
    block: bool,
    started: bool,
    t0: u64,
    registered: bool,
    labels: u32,
    n: usize,
    stack: [u64; DEPTH],
    /// The wait is a slice of a running execution trace.
    traced: bool,
}

impl Waiting {
    /// A wait on the lock at `lock` (0: not a lock, e.g. a condition variable);
    /// `block`: count it in the block profile.
    #[inline]
    pub(super) fn new(lock: usize, block: bool) -> Self {
        Waiting {
            lock,
            block,
            started: false,
            t0: 0,
            registered: false,
            labels: 0,
            n: 0,
            stack: [0; DEPTH],
            traced: false,
        }
    }

    /// Called before every sleep: the first call starts the measurement.
    #[inline]
    pub(super) fn before_sleep(&mut self) {
        if !self.started {
            self.started = true;
            self.traced = crate::trace::wait_begin(self.lock);
            self.start();
        }
    }

    #[inline(never)]
    fn start(&mut self) {
        let block = self.block && BLOCK_RATE.load(Ordering::Relaxed) > 0;
        let contention = self.lock != 0 && MUTEX_FRACTION.load(Ordering::Relaxed) > 0;
        if !block && !contention {
            return;
        }
        let Some(_busy) = Busy::enter() else { return };
        self.t0 = now_ns();
        if contention {
            self.registered = waiters::register(self.lock, self.t0);
        }
        if block {
            // Taken now, while this thread would sleep anyway, rather than
            // once it holds the lock. Our own frames are trimmed at build.
            self.labels = labels::current_id();
            self.n = stack::capture(0, &mut self.stack, true);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.traced {
            crate::trace::wait_end();
        }
        if self.t0 == 0 {
            return;
        }
        let delay = now_ns().saturating_sub(self.t0);
        if self.registered {
            // Always (it neither allocates nor records): a registration left
            // behind would charge phantom waiters to the lock's next unlockers.
            waiters::deregister(self.lock, self.t0);
        }
        let Some(_busy) = Busy::enter() else { return };
        if self.n > 0
            && let Some((count, total)) = sample_block(delay, BLOCK_RATE.load(Ordering::Relaxed))
        {
            add(&BLOCK_EVENTS, self.labels, &self.stack[..self.n], count, total);
        }
    }
}

/// Called by an unlock that found sleeping waiters, before it wakes them (while
/// they are all still registered): the delay this critical section caused, or
/// 0 when the mutex profile is off. Takes one stripe lock and never allocates.
#[cold]
#[inline(never)]
pub(super) fn charge_unlock(lock: usize) -> u64 {
    if MUTEX_FRACTION.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    let Some(_busy) = Busy::enter() else { return 0 };
    waiters::charge(lock, now_ns())
}

/// Called after the wake-up with what [`charge_unlock`] returned: records the
/// contention event at the caller's stack, 1 time in N.
///
/// Only after the wake-up: taking the stack may read `/proc/self/maps` and
/// adding to the table may allocate, and a thread asleep on this very lock
/// might hold what those need (an allocator built on these locks, entered from
/// the profiler itself); it must be woken first.
#[cold]
#[inline(never)]
pub(super) fn record_unlock(delay: u64) {
    let fraction = MUTEX_FRACTION.load(Ordering::Relaxed);
    if delay == 0 || fraction == 0 || !rand().is_multiple_of(fraction) {
        return;
    }
    let Some(_busy) = Busy::enter() else { return };
    let mut stack = [0u64; DEPTH];
    let n = stack::capture(0, &mut stack, true);
    add(
        &CONTENTION_EVENTS,
        labels::current_id(),
        &stack[..n],
        fraction as f64,
        delay.saturating_mul(fraction),
    );
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A block event reported through the public API; `skip` counts frames above
/// this function (1: the function the public one is inlined into).
#[inline(never)]
fn custom_block(delay: u64, skip: usize) -> bool {
    let Some((count, total)) = sample_block(delay, BLOCK_RATE.load(Ordering::Relaxed)) else { return false };
    let Some(_busy) = Busy::enter() else { return false };
    let mut stack = [0u64; DEPTH];
    let n = stack::capture(skip, &mut stack, true);
    add(&BLOCK_EVENTS, labels::current_id(), &stack[..n], count, total);
    true
}

/// Whether either profile is on (an async wait then reads the clock).
#[cfg(feature = "tokio")]
#[inline]
pub(super) fn any_on() -> bool {
    BLOCK_RATE.load(Ordering::Relaxed) > 0 || MUTEX_FRACTION.load(Ordering::Relaxed) > 0
}

/// An async wait ([`super::tokio`]) on the lock at `lock` (0: not a lock)
/// begins: its start time (0 when neither profile is on) and whether it was
/// registered for the mutex profile.
#[cfg(feature = "tokio")]
#[cold]
#[inline(never)]
pub(super) fn async_wait_begin(lock: usize) -> (u64, bool) {
    let contention = lock != 0 && MUTEX_FRACTION.load(Ordering::Relaxed) > 0;
    if BLOCK_RATE.load(Ordering::Relaxed) == 0 && !contention {
        return (0, false);
    }
    let Some(_busy) = Busy::enter() else { return (0, false) };
    let t0 = now_ns();
    (t0, contention && waiters::register(lock, t0))
}

/// An async wait begun at `t0` ends: it is deregistered and, when `done` (not
/// cancelled), sampled for the block profile — only a kept event takes the
/// stack (the caller's: the awaiting task's poll), so that unsampled waits
/// cost two clock reads.
#[cfg(feature = "tokio")]
#[cold]
#[inline(never)]
pub(super) fn async_wait_end(lock: usize, t0: u64, registered: bool, done: bool) {
    if registered {
        waiters::deregister(lock, t0);
    }
    if done {
        std::hint::black_box(custom_block(now_ns().saturating_sub(t0), 0));
    }
}

/// A contention event reported through the public API; `skip` as in [`custom_block`].
#[inline(never)]
fn custom_contention(delay: u64, skip: usize) -> bool {
    let fraction = MUTEX_FRACTION.load(Ordering::Relaxed);
    if fraction == 0 || !rand().is_multiple_of(fraction) {
        return false;
    }
    let Some(_busy) = Busy::enter() else { return false };
    let mut stack = [0u64; DEPTH];
    let n = stack::capture(skip, &mut stack, true);
    add(
        &CONTENTION_EVENTS,
        labels::current_id(),
        &stack[..n],
        fraction as f64,
        delay.saturating_mul(fraction),
    );
    true
}

/// Records that the calling thread was blocked for `delay` in a primitive of
/// its own (a channel, a pool, a custom lock), in the block profile, with the
/// rate's sampling (see [`set_block_profile_rate`]).
///
/// The stack recorded starts at the function that calls `record_block`, or
/// `skip` frames further out (to leave out the primitive's own frames; a frame
/// is a real call, functions inlined into their caller count with it). The
/// thread's [labels](crate::labels) are attached. Nothing is done while the
/// profile is off.
///
/// ```
/// use std::time::Instant;
/// let (tx, rx) = std::sync::mpsc::channel();
/// std::thread::spawn(move || tx.send(1).unwrap());
/// let start = Instant::now();
/// let v = rx.recv().unwrap();
/// rustprof::sync::record_block(start.elapsed(), 0);
/// assert_eq!(v, 1);
/// ```
#[inline(always)]
pub fn record_block(delay: Duration, skip: usize) {
    // Inlined into the caller, and not a tail call there: the caller's frame is
    // on the stack when `custom_block` captures it.
    std::hint::black_box(custom_block(ns(delay), skip.saturating_add(1)));
}

/// Records a contention event of a primitive of your own in the mutex
/// profile: the calling thread, releasing it, had made others wait `delay` in
/// total. Sampled with the fraction (see [`set_mutex_profile_fraction`]); the
/// stack is taken as in [`record_block`].
#[inline(always)]
pub fn record_contention(delay: Duration, skip: usize) {
    std::hint::black_box(custom_contention(ns(delay), skip.saturating_add(1)));
}

/// Times one blocking wait of a primitive of your own, for the block profile:
/// [`BlockEvent::start`] before waiting, [`BlockEvent::finish`] once done. The
/// clock is read only while the block profile is on.
///
/// ```
/// use rustprof::sync::BlockEvent;
/// let (tx, rx) = std::sync::mpsc::channel();
/// std::thread::spawn(move || tx.send(42).unwrap());
/// let ev = BlockEvent::start();
/// let v = rx.recv().unwrap();
/// ev.finish(); // recorded at this function's stack, if sampled
/// assert_eq!(v, 42);
/// ```
#[derive(Debug)]
#[must_use = "the event is recorded by `finish`"]
pub struct BlockEvent {
    start: u64,
}

impl BlockEvent {
    /// Starts timing a wait.
    #[inline]
    pub fn start() -> BlockEvent {
        BlockEvent { start: if BLOCK_RATE.load(Ordering::Relaxed) > 0 { now_ns() } else { 0 } }
    }

    /// Records the wait at the caller's stack (as [`record_block`] with skip 0).
    #[inline(always)]
    pub fn finish(self) {
        if self.start != 0 {
            std::hint::black_box(custom_block(now_ns().saturating_sub(self.start), 1));
        }
    }
}

/// The block profile: where threads waited, and for how long, since the
/// program started (or the rate was first set). Sample types
/// `contentions/count` and `delay/nanoseconds`, period `contentions/count` 1,
/// as Go writes it; samples sorted by delay, largest first.
///
/// The stacks are the waiters', starting at the function that called `lock`,
/// `read`, `write` or `wait` (rustprof's own frames are left out), with the
/// thread's labels. Write it with [`crate::write_gzip`].
pub fn block_profile() -> Profile {
    let rate = block_profile_rate();
    own_build(&BLOCK_EVENTS, || {
        format!(
            "rustprof block profile: rate {rate} ns (events shorter than the rate are sampled and scaled up)"
        )
    })
}

/// The mutex profile: which critical sections made others wait, and for how
/// long in total, since the program started (or the fraction was first set).
/// Same format as [`block_profile`]; values are already scaled by the fraction
/// each event was sampled with (Go ≥ 1.22 does the same).
///
/// The stacks are the unlockers', starting at the function that released the
/// lock (dropped the guard); the delay is the waiting time the section caused.
pub fn mutex_profile() -> Profile {
    let fraction = mutex_profile_fraction();
    own_build(&CONTENTION_EVENTS, || {
        format!(
            "rustprof mutex profile: fraction {fraction} (delay charged at the stack that released the lock)"
        )
    })
}

/// How many records the block profile holds: one per distinct stack and label
/// set, without taking the stacks out or symbolizing anything (one lock, a
/// length). For an index of the profiles, as Go's `/debug/pprof/` shows; the
/// [`block_profile`] built from them can have slightly fewer samples, where
/// stacks that differed only inside rustprof's frames merge once those are
/// left out.
pub fn block_record_count() -> usize {
    record_count(&BLOCK_EVENTS)
}

/// How many records the mutex profile holds, as [`block_record_count`] counts
/// them for the block profile.
pub fn mutex_record_count() -> usize {
    record_count(&CONTENTION_EVENTS)
}

fn record_count(table: &Table) -> usize {
    lock(table).len()
}

/// [`build`] as rustprof's own work, the profile handed to the caller.
fn own_build(table: &Table, comment: impl FnOnce() -> String) -> Profile {
    crate::heap::hand_over(crate::heap::own(|| build(table, comment())))
}

fn build(table: &Table, comment: String) -> Profile {
    let mut records: Vec<(Box<[u64]>, Record)> = {
        // Copying may allocate: any recording it triggers on this thread is skipped.
        let _busy = Busy::enter();
        lock(table).iter().map(|(k, r)| (k.clone(), *r)).collect()
    };
    // By delay, then by key: a stable order for equal delays.
    records.sort_by(|a, b| b.1.delay.cmp(&a.1.delay).then_with(|| a.0.cmp(&b.0)));
    let mut sp =
        StackProfile::new(&[("contentions", "count"), ("delay", "nanoseconds")], ("contentions", "count"), 1);
    sp.time_nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
    sp.comments.push(comment);
    let mut label_sets: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for (key, r) in &records {
        let set = label_sets.entry(key[0]).or_insert_with(|| labels::resolve(key[0] as u32));
        let lv = set.iter().map(|(k, v)| (k.clone(), LabelValue::Str(v.clone()))).collect();
        let count = (r.count as i64).max(1);
        let delay = i64::try_from(r.delay).unwrap_or(i64::MAX);
        sp.add(Stack { frames: &key[1..], exact_leaf: false }, &[count, delay], lv);
    }
    trim_own_frames(sp.build())
}

/// Whether a function is part of how a lock is taken or released rather than
/// of the program that takes it: rustprof's sync module, lock_api's wrappers,
/// and the drop glue that runs a guard's `Drop`. Judged by the name, and by
/// the source file too (this module's, lock_api's), so that short or missing
/// names (`debug = "line-tables-only"`) are recognised.
fn is_own_frame(name: &str, file: &str) -> bool {
    let n = name.trim_start_matches('<');
    let tests = n.contains("::tests::") || n.starts_with("tests::");
    (n.starts_with("rustprof::sync::") && !n.starts_with("rustprof::sync::tests"))
        || n.starts_with("lock_api::")
        || n.starts_with("core::ptr::drop_in_place")
        || n == "core::mem::drop"
        || n.starts_with("core::mem::drop<")
        || (!tests && own_source(file))
}

/// Whether `file` is a source of this module or its submodules (`file!()` is relative to the
/// workspace for a workspace member, absolute for a registry dependency) or of
/// lock_api.
fn own_source(file: &str) -> bool {
    let dir = std::path::Path::new(file).parent();
    let here = std::path::Path::new(file!()).parent();
    let ours = match (dir, here) {
        // This directory or one below it (`sync/tokio/`).
        (Some(d), Some(h)) => {
            !file.is_empty() && (d.ends_with(h) || d.parent().is_some_and(|p| p.ends_with(h)))
        }
        _ => false,
    };
    ours || file.split('/').any(|d| d.starts_with("lock_api-")) && file.contains("/src/")
}

/// Removes, from the leaf end of every sample, the frames of [`is_own_frame`]
/// functions, so that a sample starts in the code that called the lock (Go's
/// profiles start at `sync.(*Mutex).Lock`; here its caller, where the time is
/// actionable). Inlined frames are Lines of a Location: a Location whose
/// innermost Lines are ours is replaced by a copy without them.
fn trim_own_frames(mut p: Profile) -> Profile {
    let own: Vec<bool> = p.functions.iter().map(|f| is_own_frame(p.str(f.name), p.str(f.filename))).collect();
    // For each location: how many of its innermost lines are ours.
    let own_lines: Vec<u32> = p
        .locations
        .iter()
        .map(|l| {
            let lines = &p.lines[l.lines_start as usize..l.lines_end as usize];
            lines.iter().take_while(|line| own[line.function as usize]).count() as u32
        })
        .collect();
    let mut next_id = p.locations.iter().map(|l| l.id).max().unwrap_or(0) + 1;
    let mut trimmed: HashMap<LocationIdx, LocationIdx> = HashMap::new();
    let locations = &mut p.locations;
    p.samples.map_locations(|_, old, new| {
        let whole = |l: &LocationIdx| {
            let loc = &locations[*l as usize];
            loc.num_lines() > 0 && own_lines[*l as usize] as usize == loc.num_lines()
        };
        let skip = old.iter().take_while(|l| whole(l)).count();
        if skip == old.len() {
            // Nothing but our frames (should not happen): keep the stack as it is.
            new.extend_from_slice(old);
            return true;
        }
        let first = old[skip];
        let k = own_lines[first as usize];
        let first = if k == 0 {
            first
        } else {
            *trimmed.entry(first).or_insert_with(|| {
                let mut loc = locations[first as usize];
                loc.lines_start += k;
                loc.id = next_id;
                next_id += 1;
                locations.push(loc);
                (locations.len() - 1) as LocationIdx
            })
        };
        new.push(first);
        new.extend_from_slice(&old[skip + 1..]);
        true
    });
    // Drop what is no longer referenced, merge samples that became identical,
    // and sort by delay again.
    let mut p = rustprof_profile::compact(&p);
    let mut order: Vec<usize> = (0..p.samples.len()).collect();
    order.sort_by_key(|&i| Reverse(p.samples.values(i).get(1).copied().unwrap_or(0)));
    let mut sorted = Samples::with_capacity(p.samples.n_values(), p.samples.len(), p.samples.total_frames());
    for i in order {
        let s = p.samples.get(i);
        sorted.push(s.locations, s.values, s.labels);
    }
    p.samples = sorted;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_frames() {
        let none = "";
        assert!(is_own_frame("rustprof::sync::raw::RawMutex::lock_contended", none));
        assert!(is_own_frame("<rustprof::sync::mutex::MutexGuard<T> as core::ops::drop::Drop>::drop", none));
        assert!(is_own_frame("core::ptr::drop_in_place<rustprof::sync::mutex::MutexGuard<u64>>", none));
        assert!(is_own_frame("lock_api::mutex::Mutex<R,T>::lock", none));
        assert!(is_own_frame("core::mem::drop", none));
        assert!(!is_own_frame("core::mem::drop_something", none));
        assert!(!is_own_frame("rustprof::sync::tests::contended", none));
        assert!(!is_own_frame("sync::acquire", none));
        assert!(!is_own_frame("std::sync::mutex::Mutex<T>::lock", none));
        // Short names (line tables only), by their files.
        let mutex_rs = format!("/home/u/rustprof/{}", file!().replace("record.rs", "mutex.rs"));
        assert!(is_own_frame("record_unlock", file!()));
        assert!(is_own_frame("lock", &mutex_rs));
        assert!(is_own_frame("lock", "/home/u/.cargo/registry/src/x/lock_api-0.4.14/src/mutex.rs"));
        assert!(!is_own_frame("lock", "/home/u/app/src/sync/record.rs"));
        assert!(!is_own_frame("rustprof::sync::tests::contended", &mutex_rs));
    }

    /// Go's rule: events at least the rate long are always kept as they are;
    /// shorter ones are kept about delay/rate of the time and scaled up.
    #[test]
    fn block_sampling() {
        assert_eq!(sample_block(5, 0), None);
        assert_eq!(sample_block(1, 1), Some((1.0, 1)));
        assert_eq!(sample_block(0, 1), Some((1.0, 1)));
        assert_eq!(sample_block(2000, 1000), Some((1.0, 2000)));
        let (mut kept, mut count, mut delay) = (0, 0.0, 0u64);
        let n = 100_000;
        for _ in 0..n {
            if let Some((c, d)) = sample_block(100, 1000) {
                kept += 1;
                count += c;
                delay += d;
                assert_eq!((c, d), (10.0, 1000));
            }
        }
        // Expected 10_000 kept (sd ≈ 95); the estimates are unbiased.
        assert!((9_000..11_000).contains(&kept), "{kept}");
        assert!((count - n as f64).abs() < 0.1 * n as f64, "{count}");
        assert!((delay as f64 - 100.0 * n as f64).abs() < 0.1 * 100.0 * n as f64, "{delay}");
    }

    /// The unlocker is charged each waiter's time since the previous charge.
    #[test]
    fn charges_split_between_unlockers() {
        let lock = 0x1000_usize;
        assert!(waiters::register(lock, 100));
        assert!(waiters::register(lock, 150));
        // First unlocker at 200: (200-100) + (200-150).
        assert_eq!(waiters::charge(lock, 200), 150);
        // One waiter leaves; the other's time since 200 goes to the next one.
        waiters::deregister(lock, 100);
        assert!(waiters::register(lock, 260));
        assert_eq!(waiters::charge(lock, 300), 100 + 40);
        waiters::deregister(lock, 150);
        waiters::deregister(lock, 260);
        // No waiters: nothing to charge, and the entry is gone.
        assert_eq!(waiters::charge(lock, 400), 0);
    }

    /// A full stripe refuses new locks (they go uncharged) instead of allocating.
    #[test]
    fn full_stripe_refuses() {
        let base = 0x7000_0000_usize;
        let stripe = waiters::stripe_of(base);
        let same: Vec<usize> =
            (0..).map(|i| base + 64 * i).filter(|&a| waiters::stripe_of(a) == stripe).take(9).collect();
        let accepted: Vec<bool> = same.iter().map(|&a| waiters::register(a, 10)).collect();
        assert_eq!(accepted, [true, true, true, true, true, true, true, true, false]);
        assert_eq!(waiters::charge(same[8], 20), 0);
        assert_eq!(waiters::charge(same[0], 20), 10);
        for &a in &same[..8] {
            waiters::deregister(a, 10);
        }
        assert!(waiters::register(same[8], 30));
        waiters::deregister(same[8], 30);
    }
}
