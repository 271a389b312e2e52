//! The per-thread state of the heap profiler: the sampling countdown, the exact
//! counters, and the scopes in which the thread works for rustprof itself.
//!
//! Inside such a scope ([`Own`]) allocations are neither sampled nor counted in
//! [`super::stats`]; they go to the separate [`super::own_stats`]. The fast path
//! does not test for it: entering the scope parks the countdown far below zero,
//! so that every allocation takes the slow path, which moves its counts over;
//! and it raises [`Local::watch`], the one flag a free tests, which sends the
//! frees of the scope to the slow path as well. The same flag is up on a thread
//! that has not registered its counters yet (so that a thread that only frees
//! is counted) and on a thread whose registration has ended.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{AllocStats, IN_USE, RATE, draw};

/// The countdown of a thread that must take the slow path on every allocation
/// (far enough from `i64::MIN` that no run of allocations wraps it).
pub(super) const PARKED: i64 = i64::MIN / 4;

/// A thread's counters: written only by their thread (a load and a store, no
/// read-modify-write), read by others.
pub(super) struct Counters {
    allocs: AtomicU64,
    alloc_bytes: AtomicU64,
    frees: AtomicU64,
    free_bytes: AtomicU64,
}

#[inline(always)]
fn add(c: &AtomicU64, v: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
}

#[inline(always)]
fn sub(c: &AtomicU64, v: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_sub(v), Ordering::Relaxed);
}

impl Counters {
    pub(super) const fn new() -> Self {
        Counters {
            allocs: AtomicU64::new(0),
            alloc_bytes: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    pub(super) fn count_alloc(&self, size: usize) {
        add(&self.allocs, 1);
        add(&self.alloc_bytes, size as u64);
    }

    #[inline(always)]
    pub(super) fn count_free(&self, size: usize) {
        add(&self.frees, 1);
        add(&self.free_bytes, size as u64);
    }

    fn uncount_alloc(&self, size: usize) {
        sub(&self.allocs, 1);
        sub(&self.alloc_bytes, size as u64);
    }

    pub(super) fn read(&self) -> AllocStats {
        AllocStats {
            allocs: self.allocs.load(Ordering::Relaxed),
            alloc_bytes: self.alloc_bytes.load(Ordering::Relaxed),
            frees: self.frees.load(Ordering::Relaxed),
            free_bytes: self.free_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Per-thread state. Constant-initialized and without a destructor, so that
/// reaching it is an offset from the thread pointer, valid until the thread ends
/// (also while other thread-locals are destroyed).
pub(super) struct Local {
    /// Bytes left before the next sample; [`PARKED`] inside rustprof.
    pub(super) countdown: Cell<i64>,
    /// Frees take the slow path: not registered yet, inside rustprof, or ended.
    pub(super) watch: Cell<bool>,
    /// Inside rustprof: allocations are its own.
    pub(super) busy: Cell<bool>,
    /// The countdown to restore when the outermost scope ends.
    saved: Cell<i64>,
    /// Holding the table lock: a free seen now is of the table's own memory.
    pub(super) locked: Cell<bool>,
    /// Registered (counters visible to other threads, random state seeded).
    pub(super) init: Cell<bool>,
    /// The registration has ended (the thread is going): counts go straight to
    /// the totals of ended threads.
    ended: Cell<bool>,
    pub(super) rng: Cell<u64>,
    /// The program's allocations.
    pub(super) counters: Counters,
    /// rustprof's own.
    own: Counters,
}

impl Local {
    pub(super) const fn new() -> Self {
        Local {
            countdown: Cell::new(0),
            watch: Cell::new(true),
            busy: Cell::new(false),
            saved: Cell::new(0),
            locked: Cell::new(false),
            init: Cell::new(false),
            ended: Cell::new(false),
            rng: Cell::new(0),
            counters: Counters::new(),
            own: Counters::new(),
        }
    }

    /// Enters rustprof; returns whether it was already inside.
    #[inline]
    pub(super) fn enter(&self) -> bool {
        if self.busy.replace(true) {
            return true;
        }
        self.saved.set(self.countdown.get());
        self.countdown.set(PARKED);
        self.watch.set(true);
        false
    }

    /// Leaves what [`Local::enter`] entered (nothing when it was nested).
    #[inline]
    pub(super) fn leave(&self, was_inside: bool) {
        if was_inside {
            return;
        }
        self.busy.set(false);
        let ended = self.ended.get();
        self.countdown.set(if ended { PARKED } else { self.saved.get() });
        self.watch.set(ended || !self.init.get());
    }

    /// Sets the bytes until the next sample (kept aside while inside rustprof).
    pub(super) fn set_gap(&self, gap: i64) {
        if self.ended.get() {
            return;
        }
        if self.busy.get() {
            self.saved.set(gap);
        } else {
            self.countdown.set(gap);
        }
    }

    /// The slow path of an allocation when it is not the program's to sample:
    /// rustprof's own, or of a thread that has ended. Returns false when it is
    /// the program's.
    #[inline]
    pub(super) fn divert_alloc(&self, size: usize) -> bool {
        if self.busy.get() {
            self.counters.uncount_alloc(size);
            self.countdown.set(PARKED);
            if self.ended.get() {
                ended_totals(|t| t.1.add_alloc(size));
            } else {
                if !self.init.get() {
                    init_thread(self);
                }
                self.own.count_alloc(size);
            }
            return true;
        }
        if self.ended.get() {
            self.counters.uncount_alloc(size);
            self.countdown.set(PARKED);
            ended_totals(|t| t.0.add_alloc(size));
            return true;
        }
        false
    }
}

thread_local! {
    pub(super) static LOCAL: Local = const { Local::new() };
    /// Unregisters the thread's counters when it ends (registered lazily, on the
    /// slow path).
    static REGISTRATION: Registration = const { Registration };
}

/// The slow path of a free: the thread is not registered yet, inside rustprof,
/// or ended.
#[cold]
#[inline(never)]
pub(super) fn slow_free(l: &Local, size: usize) {
    if l.busy.get() {
        if l.ended.get() {
            ended_totals(|t| t.1.add_free(size));
        } else {
            l.own.count_free(size);
        }
        return;
    }
    if !l.init.get() {
        init_thread(l);
    }
    if l.ended.get() {
        ended_totals(|t| t.0.add_free(size));
        return;
    }
    l.counters.count_free(size);
}

/// Registered threads: the addresses of their `Local`s.
static THREADS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Counters of threads that ended: the program's, and rustprof's own.
static EXITED: Mutex<(AllocStats, AllocStats)> = Mutex::new((AllocStats::ZERO, AllocStats::ZERO));

fn ended_totals(f: impl FnOnce(&mut (AllocStats, AllocStats))) {
    f(&mut EXITED.lock().unwrap_or_else(|e| e.into_inner()));
}

impl AllocStats {
    const ZERO: AllocStats = AllocStats { allocs: 0, alloc_bytes: 0, frees: 0, free_bytes: 0 };

    fn add_alloc(&mut self, size: usize) {
        self.allocs += 1;
        self.alloc_bytes += size as u64;
    }

    fn add_free(&mut self, size: usize) {
        self.frees += 1;
        self.free_bytes += size as u64;
    }

    fn add(&mut self, o: &AllocStats) {
        self.allocs += o.allocs;
        self.alloc_bytes += o.alloc_bytes;
        self.frees += o.frees;
        self.free_bytes += o.free_bytes;
    }
}

/// Seeds the thread's random state, draws its first gap and registers its
/// counters.
pub(super) fn init_thread(l: &Local) {
    let was = l.enter();
    l.init.set(true);
    let seed = (l as *const Local as u64)
        ^ (crate::sys::now_ns() as u64).rotate_left(32)
        ^ crate::sys::gettid() as u64;
    l.rng.set(seed | 1);
    IN_USE.store(true, Ordering::Relaxed);
    // The destructor that unregisters the counters first: a thread whose
    // thread-locals are already being destroyed must not be registered, its
    // `Local` would outlive the registration (this may allocate: inside).
    if REGISTRATION.try_with(|_| ()).is_ok() {
        THREADS.lock().unwrap_or_else(|e| e.into_inner()).push(l as *const Local as usize);
    } else {
        l.ended.set(true);
    }
    l.set_gap(draw(l, RATE.load(Ordering::Relaxed)));
    l.leave(was);
}

/// Unregisters a thread's counters when it ends, keeping their totals.
struct Registration;

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|l| {
            let was = l.enter();
            let addr = l as *const Local as usize;
            {
                let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = threads.iter().position(|&a| a == addr) {
                    threads.swap_remove(i);
                    ended_totals(|t| {
                        t.0.add(&l.counters.read());
                        t.1.add(&l.own.read());
                    });
                }
                // From now on (other thread-locals' destructors), counts go
                // straight to the totals.
                l.ended.set(true);
            }
            l.leave(was);
        });
    }
}

/// Sums the registered threads' and ended threads' counters: the program's,
/// and rustprof's own.
pub(super) fn totals() -> (AllocStats, AllocStats) {
    let _inside = Own::enter();
    // THREADS first, as a thread that ends moves its counts under it.
    let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let mut total = *EXITED.lock().unwrap_or_else(|e| e.into_inner());
    for &a in threads.iter() {
        // SAFETY: a registered `Local` stays valid until its thread unregisters
        // it under this lock.
        let l = unsafe { &*(a as *const Local) };
        total.0.add(&l.counters.read());
        total.1.add(&l.own.read());
    }
    total
}

/// The calling thread's counters: the program's and rustprof's own.
pub(super) fn thread_totals() -> (AllocStats, AllocStats) {
    LOCAL.with(|l| (l.counters.read(), l.own.read()))
}

/// The calling thread works for rustprof until this is dropped: its
/// allocations are not sampled and are counted apart from the program's
/// ([`super::own_stats`]), as are its frees.
///
/// Every block allocated inside must be freed inside (on any thread); what
/// rustprof hands to the program goes through [`hand_over`].
pub(crate) struct Own {
    was_inside: bool,
    /// Ends on the thread it began on.
    _thread: PhantomData<*const ()>,
}

impl Own {
    /// Enters the scope (nesting is fine).
    pub(crate) fn enter() -> Own {
        Own { was_inside: LOCAL.with(Local::enter), _thread: PhantomData }
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        LOCAL.with(|l| l.leave(self.was_inside));
    }
}

/// Runs `f` as rustprof's own work (see [`Own`]).
pub(crate) fn own<T>(f: impl FnOnce() -> T) -> T {
    let _inside = Own::enter();
    f()
}

/// The calling thread is rustprof's for the rest of its life (the HTTP
/// server's, the CPU profiler's collector).
pub(crate) fn own_thread() {
    std::mem::forget(Own::enter());
}

/// Whether the calling thread is working for rustprof.
pub(crate) fn is_own() -> bool {
    LOCAL.with(|l| l.busy.get())
}

/// Gives `v`, made inside an [`Own`] scope, to the program: when the caller is
/// the program, a copy made outside the scope (the program's allocation, which
/// it will free), the original freed inside. Within rustprof, `v` itself.
pub(crate) fn hand_over<T: Clone>(v: T) -> T {
    if is_own() {
        return v;
    }
    let copy = v.clone();
    own(move || drop(v));
    copy
}

/// Runs `f` as the program's work, also inside an [`Own`] scope (what it
/// allocates is the program's to free: e.g. the chunks handed to a web
/// framework).
pub(crate) fn outside<T>(f: impl FnOnce() -> T) -> T {
    if !is_own() {
        return f();
    }
    LOCAL.with(|l| l.leave(false));
    let r = f();
    LOCAL.with(|l| l.enter());
    r
}
