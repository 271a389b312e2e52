//! Block and mutex profiles from real contention between real threads: the
//! functions that wait and the ones that hold, the delays against what the
//! threads measured themselves, the rate and fraction semantics, RwLock,
//! Condvar, lock_api, poisoning.
//!
//! The profiles are process-wide and cumulative: every test takes `SERIAL` and
//! looks only at what changed during it, by leaf function.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rustprof::Profile;
use rustprof::sync::{
    self, BlockEvent, Condvar, Mutex, MutexGuard, RawMutex, RawRwLock, RwLock, RwLockReadGuard,
    RwLockWriteGuard, TryLockError,
};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the rate and fraction; restores "off" when dropped.
struct Profiling;

impl Profiling {
    fn on(rate: u64, fraction: u64) -> Profiling {
        sync::set_block_profile_rate(rate);
        sync::set_mutex_profile_fraction(fraction);
        Profiling
    }
}

impl Drop for Profiling {
    fn drop(&mut self) {
        sync::set_block_profile_rate(0);
        sync::set_mutex_profile_fraction(0);
    }
}

/// (contentions, delay) by the function of each sample's leaf (innermost line).
fn by_leaf(p: &Profile) -> HashMap<String, (i64, i64)> {
    let mut m = HashMap::new();
    for s in p.samples.iter() {
        let Some(&loc) = s.locations.first() else { continue };
        let name = match p.location_lines(loc).first() {
            Some(l) => p.str(p.functions[l.function as usize].name).to_string(),
            None => format!("{:#x}", p.locations[loc as usize].address),
        };
        let e = m.entry(name).or_insert((0, 0));
        e.0 += s.values[0];
        e.1 += s.values[1];
    }
    m
}

/// What changed between two snapshots of a profile, by leaf function.
struct Delta(HashMap<String, (i64, i64)>);

impl Delta {
    fn new(before: &Profile, after: &Profile) -> Delta {
        let b = by_leaf(before);
        let mut d = by_leaf(after);
        for (k, v) in &b {
            let e = d.entry(k.clone()).or_insert((0, 0));
            e.0 -= v.0;
            e.1 -= v.1;
        }
        d.retain(|_, v| *v != (0, 0));
        Delta(d)
    }

    /// Totals of the leaf functions named `…::name`.
    fn of(&self, name: &str) -> (i64, i64) {
        let suffix = format!("::{name}");
        self.0.iter().filter(|(k, _)| k.ends_with(&suffix)).fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1))
    }

    /// The leaf function with the largest delay.
    fn top(&self) -> String {
        self.0.iter().max_by_key(|(_, v)| v.1).map(|(k, _)| k.clone()).unwrap_or_default()
    }

    fn total_delay(&self) -> i64 {
        self.0.values().map(|v| v.1).sum()
    }
}

fn snapshot() -> (Profile, Profile) {
    (sync::block_profile(), sync::mutex_profile())
}

fn deltas(before: &(Profile, Profile)) -> (Delta, Delta) {
    let after = snapshot();
    (Delta::new(&before.0, &after.0), Delta::new(&before.1, &after.1))
}

fn assert_close(what: &str, got: i64, want: i64, tolerance: f64) {
    let diff = (got - want).abs() as f64;
    assert!(diff <= tolerance * want as f64, "{what}: {got} ns recorded, {want} ns expected (±{tolerance})");
}

const HOLD: Duration = Duration::from_millis(2);

#[inline(never)]
fn contend_acquire(m: &Mutex<u64>) -> MutexGuard<'_, u64> {
    black_box(m.lock().unwrap())
}

#[inline(never)]
fn contend_hold(mut g: MutexGuard<'_, u64>) {
    *g += 1;
    thread::sleep(HOLD);
    drop(black_box(g));
}

/// Runs `threads` threads that each take the lock `rounds` times through
/// `contend_acquire`, holding it in `contend_hold`. Returns the total time the
/// threads measured around `lock`, and how many acquisitions waited > 1 ms.
fn contend(threads: usize, rounds: usize) -> (Duration, usize) {
    let m = Arc::new(Mutex::new(0u64));
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (m, start) = (Arc::clone(&m), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let (mut waited, mut long) = (Duration::ZERO, 0);
                for _ in 0..rounds {
                    let t = Instant::now();
                    let g = contend_acquire(&m);
                    let w = t.elapsed();
                    waited += w;
                    long += usize::from(w > Duration::from_millis(1));
                    contend_hold(g);
                }
                (waited, long)
            })
        })
        .collect();
    let mut total = (Duration::ZERO, 0);
    for h in handles {
        let (w, l) = h.join().unwrap();
        total.0 += w;
        total.1 += l;
    }
    assert_eq!(*m.lock().unwrap(), (threads * rounds) as u64);
    total
}

/// The scenario: 4 threads on one Mutex. The block profile's top entry
/// is the function that called `lock`, with the delay the threads measured; the
/// mutex profile names the function that held the lock.
#[test]
fn contended_mutex_block_and_mutex_profiles() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    let before = snapshot();
    let (waited, long) = contend(4, 25);
    let (block, mutex) = deltas(&before);
    let waited = waited.as_nanos() as i64;
    assert!(long > 20, "only {long} waits over 1 ms: no contention?");

    assert!(block.top().ends_with("::contend_acquire"), "block top: {}, all: {:?}", block.top(), block.0);
    let (count, delay) = block.of("contend_acquire");
    assert!(count >= long as i64 && count <= 100, "{count} contentions, {long} long waits");
    assert_close("block delay", delay, waited, 0.2);

    assert!(mutex.top().ends_with("::contend_hold"), "mutex top: {}, all: {:?}", mutex.top(), mutex.0);
    let (count, delay) = mutex.of("contend_hold");
    assert!(count > 0 && count <= 100, "{count}");
    // Every waiting nanosecond is charged to the holder at that time: the
    // delays add up to the waiters' total (less their wake-up latencies).
    assert_close("mutex delay", delay, waited, 0.2);
    // Nothing charged to our own frames.
    for d in [&block, &mutex] {
        assert!(d.0.keys().all(|k| !k.contains("rustprof::sync::")), "{:?}", d.0.keys());
    }
}

#[inline(never)]
fn sampled_acquire(m: &Mutex<u64>) -> MutexGuard<'_, u64> {
    black_box(m.lock().unwrap())
}

#[inline(never)]
fn sampled_hold(mut g: MutexGuard<'_, u64>) {
    *g += 1;
    thread::sleep(Duration::from_millis(1));
    drop(black_box(g));
}

/// The fraction on a real contended lock: about 1 unlock in N recorded, each
/// counted N times with N times its delay, so the scaled totals still estimate
/// the real ones; the block profile (rate 1) keeps every wait as it is.
#[test]
fn mutex_fraction_scales_real_contention() {
    let _s = serial();
    let _p = Profiling::on(1, 2);
    let before = snapshot();
    let m = Mutex::new(0u64);
    let waited = AtomicUsize::new(0);
    let rounds = 100;
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..rounds {
                    let t = Instant::now();
                    let g = sampled_acquire(&m);
                    waited.fetch_add(t.elapsed().as_nanos() as usize, Ordering::Relaxed);
                    sampled_hold(g);
                }
            });
        }
    });
    assert_eq!(*m.lock().unwrap(), 4 * rounds);
    let waited = waited.load(Ordering::Relaxed) as i64;
    let (block, mutex) = deltas(&before);
    // Every wait, unscaled: at most one per acquisition (fewer when an
    // unlocker takes the lock again before the thread it woke runs).
    let (count, delay) = block.of("sampled_acquire");
    assert!(count > 40 && count <= 400, "{count} block events of 400 acquisitions");
    assert_close("block delay (rate 1)", delay, waited, 0.2);
    // Up to 400 contended unlocks, about half of them recorded (sd ≤ 7% with
    // 100 of them or more): each recorded one counts 2, with twice its delay.
    let (count, delay) = mutex.of("sampled_hold");
    assert_eq!(count % 2, 0, "each recorded event counts 2: {count}");
    assert!(count > 40 && count <= 2 * 400, "{count}");
    assert_close("scaled mutex delay (fraction 2)", delay, waited, 0.3);
}

/// The record counts are the number of distinct stacks recorded, read without
/// building the profiles.
#[test]
fn record_counts() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    let (b0, m0) = (sync::block_record_count(), sync::mutex_record_count());
    for _ in 0..2 {
        custom_count_site(Duration::from_micros(3));
    }
    release_count_site(Duration::from_micros(3));
    let (b1, m1) = (sync::block_record_count(), sync::mutex_record_count());
    assert_eq!((b1, m1), (b0 + 1, m0 + 1), "one new stack each, recorded twice and once");
    let (block, mutex) = snapshot();
    assert!(block.samples.len() <= b1 && !block.samples.is_empty(), "{} {b1}", block.samples.len());
    assert!(mutex.samples.len() <= m1 && !mutex.samples.is_empty(), "{} {m1}", mutex.samples.len());
    // Off: nothing more.
    sync::set_block_profile_rate(0);
    sync::set_mutex_profile_fraction(0);
    custom_off_site(Duration::from_micros(3));
    release_site_off(Duration::from_micros(3));
    assert_eq!((sync::block_record_count(), sync::mutex_record_count()), (b1, m1));
}

#[inline(never)]
fn custom_count_site(d: Duration) {
    sync::record_block(d, 0);
    black_box(());
}

#[inline(never)]
fn release_count_site(d: Duration) {
    sync::record_contention(d, 0);
    black_box(());
}

#[inline(never)]
fn uncontended_work(m: &Mutex<u64>, rw: &RwLock<u64>, la: &lock_api::Mutex<RawMutex, u64>) {
    for _ in 0..10_000 {
        *m.lock().unwrap() += 1;
        *rw.write().unwrap() += 1;
        black_box(*rw.read().unwrap());
        *la.lock() += 1;
    }
}

#[test]
fn no_events_without_contention() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    let before = snapshot();
    let (m, rw, la) = (Mutex::new(0), RwLock::new(0), lock_api::Mutex::<RawMutex, u64>::new(0));
    // The same locks used by several threads, one at a time.
    for _ in 0..4 {
        thread::scope(|s| {
            s.spawn(|| uncontended_work(&m, &rw, &la));
        });
    }
    let (block, mutex) = deltas(&before);
    assert_eq!(block.of("uncontended_work"), (0, 0), "{:?}", block.0);
    assert_eq!(mutex.of("uncontended_work"), (0, 0), "{:?}", mutex.0);
    assert_eq!(*m.lock().unwrap(), 40_000);
}

#[inline(never)]
fn off_acquire(m: &Mutex<u64>) -> MutexGuard<'_, u64> {
    m.lock().unwrap()
}

#[inline(never)]
fn off_hold(g: MutexGuard<'_, u64>) {
    thread::sleep(HOLD);
    drop(black_box(g));
}

/// Rate 0 and fraction 0 (the defaults): contention records nothing.
#[test]
fn zero_rate_and_fraction_record_nothing() {
    let _s = serial();
    let _p = Profiling::on(0, 0);
    let before = snapshot();
    let m = Mutex::new(0u64);
    let waited = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..10 {
                    let t = Instant::now();
                    let g = off_acquire(&m);
                    waited.fetch_add(t.elapsed().as_micros() as usize, Ordering::Relaxed);
                    off_hold(g);
                }
            });
        }
    });
    assert!(waited.load(Ordering::Relaxed) > 10_000, "no contention");
    let (block, mutex) = deltas(&before);
    assert_eq!(block.total_delay(), 0, "{:?}", block.0);
    assert_eq!(mutex.total_delay(), 0, "{:?}", mutex.0);
}

#[inline(never)]
fn custom_wait_site(d: Duration) {
    sync::record_block(d, 0);
    black_box(());
}

#[inline(never)]
fn custom_short_wait_site(d: Duration) {
    sync::record_block(d, 0);
    black_box(());
}

#[inline(never)]
fn custom_off_site(d: Duration) {
    sync::record_block(d, 0);
    black_box(());
}

#[inline(never)]
fn custom_primitive(d: Duration) {
    // Leaves its own frame out: the event is charged to its caller.
    sync::record_block(d, 1);
    black_box(());
}

#[inline(never)]
fn custom_caller(d: Duration) {
    custom_primitive(d);
    black_box(());
}

#[inline(never)]
fn event_site() {
    let ev = BlockEvent::start();
    thread::sleep(Duration::from_millis(3));
    ev.finish();
    black_box(());
}

#[inline(never)]
fn event_off_site() {
    let ev = BlockEvent::start();
    thread::sleep(Duration::from_millis(3));
    ev.finish();
    black_box(());
}

/// Go's rate semantics through the public API: events at least the rate long
/// are all recorded as they are; shorter ones sampled and scaled up; rate 0
/// records nothing, rate 1 everything.
#[test]
fn block_rate_sampling_and_custom_events() {
    let _s = serial();
    let _p = Profiling::on(1000, 0);
    let before = sync::block_profile();
    for _ in 0..100 {
        custom_wait_site(Duration::from_nanos(2000));
    }
    let n = 20_000;
    for _ in 0..n {
        custom_short_wait_site(Duration::from_nanos(100));
        custom_caller(Duration::from_nanos(100));
    }
    // Rate 0: nothing, and BlockEvent does not even read the clock.
    sync::set_block_profile_rate(0);
    assert_eq!(sync::block_profile_rate(), 0);
    custom_off_site(Duration::from_millis(5));
    event_off_site();
    // Rate 1: everything, at the stack of the caller of `finish`.
    sync::set_block_profile_rate(1);
    event_site();
    let block = Delta::new(&before, &sync::block_profile());

    assert_eq!(block.of("custom_wait_site"), (100, 200_000));
    // About 1 in 10 kept (sd ≈ 1%), each standing for 10 events and 1000 ns.
    let (count, delay) = block.of("custom_short_wait_site");
    assert!((count - n).abs() < n / 10, "{count} contentions for {n} events");
    assert_close("sampled delay", delay, n * 100, 0.1);
    assert_eq!(delay, count * 100, "each kept event counts rate/delay times, for rate ns");
    assert_eq!(block.of("custom_primitive"), (0, 0), "skip=1 leaves the primitive out");
    let (count, delay) = block.of("custom_caller");
    assert!((count - n).abs() < n / 10, "{count} contentions for {n} events");
    assert_close("sampled delay (skip=1)", delay, n * 100, 0.1);
    assert_eq!(block.of("custom_off_site"), (0, 0));
    assert_eq!(block.of("event_off_site"), (0, 0));
    let (count, delay) = block.of("event_site");
    assert_eq!(count, 1);
    assert!((3_000_000..1_000_000_000).contains(&delay), "{delay}");
}

#[inline(never)]
fn release_site_tenth(d: Duration) {
    sync::record_contention(d, 0);
    black_box(());
}

#[inline(never)]
fn release_site_all(d: Duration) {
    sync::record_contention(d, 0);
    black_box(());
}

#[inline(never)]
fn release_site_off(d: Duration) {
    sync::record_contention(d, 0);
    black_box(());
}

/// Go's fraction semantics: 1 in N recorded, counted N times with N times the
/// delay; 0 records nothing; the previous fraction is returned.
#[test]
fn mutex_fraction_sampling() {
    let _s = serial();
    let _p = Profiling::on(0, 1);
    assert_eq!(sync::set_mutex_profile_fraction(10), 1);
    assert_eq!(sync::mutex_profile_fraction(), 10);
    let before = sync::mutex_profile();
    let n = 20_000;
    for _ in 0..n {
        release_site_tenth(Duration::from_micros(1));
    }
    sync::set_mutex_profile_fraction(1);
    for _ in 0..100 {
        release_site_all(Duration::from_micros(3));
    }
    assert_eq!(sync::set_mutex_profile_fraction(0), 1);
    release_site_off(Duration::from_micros(3));
    let mutex = Delta::new(&before, &sync::mutex_profile());

    let (count, delay) = mutex.of("release_site_tenth");
    assert!((count - n).abs() < n / 10, "{count} contentions for {n} events");
    assert_eq!(count % 10, 0, "each recorded event counts 10");
    assert_eq!(delay, count * 1000, "each recorded event is scaled by the fraction");
    assert_eq!(mutex.of("release_site_all"), (100, 300_000));
    assert_eq!(mutex.of("release_site_off"), (0, 0));
}

#[inline(never)]
fn rw_write_hold(g: RwLockWriteGuard<'_, u64>, d: Duration) {
    thread::sleep(d);
    drop(black_box(g));
}

#[inline(never)]
fn rw_read_wait(l: &RwLock<u64>) -> RwLockReadGuard<'_, u64> {
    black_box(l.read().unwrap())
}

#[inline(never)]
fn rw_read_hold(g: RwLockReadGuard<'_, u64>, d: Duration) {
    thread::sleep(d);
    drop(black_box(g));
}

#[inline(never)]
fn rw_write_wait(l: &RwLock<u64>) -> RwLockWriteGuard<'_, u64> {
    black_box(l.write().unwrap())
}

/// Readers waiting for a writer, then a writer waiting for readers: the block
/// profile has the waiting side, the mutex profile the holding side.
#[test]
fn rwlock_readers_and_writers() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    let l = RwLock::new(7u64);
    let hold = Duration::from_millis(40);

    let before = snapshot();
    // Three readers wait for a writer.
    let held = Barrier::new(4);
    let waited = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                held.wait();
                let t = Instant::now();
                let g = rw_read_wait(&l);
                waited.fetch_add(t.elapsed().as_nanos() as usize, Ordering::Relaxed);
                assert_eq!(*g, 8);
            });
        }
        let mut g = l.write().unwrap();
        *g += 1;
        held.wait();
        rw_write_hold(g, hold);
    });
    let readers_waited = waited.load(Ordering::Relaxed) as i64;

    // A writer waits for two readers; the last one out is charged.
    let held = Barrier::new(3);
    let writer_waited = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..2 {
            let (l, held) = (&l, &held);
            s.spawn(move || {
                let g = l.read().unwrap();
                held.wait();
                rw_read_hold(g, hold * (i + 1));
            });
        }
        held.wait();
        let t = Instant::now();
        let mut g = rw_write_wait(&l);
        writer_waited.store(t.elapsed().as_nanos() as usize, Ordering::Relaxed);
        *g += 1;
    });
    let (block, mutex) = deltas(&before);
    let (count, delay) = block.of("rw_read_wait");
    assert_eq!(count, 3, "{:?}", block.0);
    assert_close("readers' delay", delay, readers_waited, 0.2);
    let (count, delay) = mutex.of("rw_write_hold");
    assert!(count >= 1, "{:?}", mutex.0);
    assert_close("writer's charge", delay, readers_waited, 0.2);

    let waited = writer_waited.load(Ordering::Relaxed) as i64;
    let (count, delay) = block.of("rw_write_wait");
    assert_eq!(count, 1, "{:?}", block.0);
    assert_close("writer's delay", delay, waited, 0.2);
    assert!(mutex.of("rw_read_hold").0 >= 1, "{:?}", mutex.0);
    assert_close("readers' charge", mutex.of("rw_read_hold").1, waited, 0.2);
    assert_eq!(*l.read().unwrap(), 9);
}

#[inline(never)]
fn cv_wait_site<'a>(cv: &Condvar, g: MutexGuard<'a, bool>) -> MutexGuard<'a, bool> {
    cv.wait_while(g, |ready| !*ready).unwrap()
}

#[inline(never)]
fn cv_timeout_site(cv: &Condvar, m: &Mutex<bool>, d: Duration) -> bool {
    let g = m.lock().unwrap();
    let (_g, r) = cv.wait_timeout(g, d).unwrap();
    r.timed_out()
}

/// Condition variable waits are blocking events, timed out or notified.
#[test]
fn condvar_waits_are_blocking_events() {
    let _s = serial();
    let _p = Profiling::on(1, 0);
    let before = sync::block_profile();
    let pair = (Mutex::new(false), Condvar::new());
    let t = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            let g = cv_wait_site(&pair.1, pair.0.lock().unwrap());
            assert!(*g);
        });
        thread::sleep(Duration::from_millis(30));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_one();
    });
    let elapsed = t.elapsed().as_nanos() as i64;
    assert!(cv_timeout_site(&pair.1, &Mutex::new(false), Duration::from_millis(20)));
    let block = Delta::new(&before, &sync::block_profile());
    let (count, delay) = block.of("cv_wait_site");
    assert!(count >= 1, "{:?}", block.0);
    assert!(delay >= 25_000_000 && delay <= elapsed, "{delay} of {elapsed}");
    let (count, delay) = block.of("cv_timeout_site");
    assert_eq!(count, 1, "{:?}", block.0);
    assert!((20_000_000..1_000_000_000).contains(&delay), "{delay}");
}

#[test]
fn condvar_semantics() {
    let _s = serial();
    let cv = Condvar::new();
    let m = Mutex::new(0u32);
    // wait_timeout_while gives up after its time, with the condition still true.
    let t = Instant::now();
    let (g, r) = cv.wait_timeout_while(m.lock().unwrap(), Duration::from_millis(10), |v| *v == 0).unwrap();
    assert!(r.timed_out() && *g == 0 && t.elapsed() >= Duration::from_millis(10));
    drop(g);
    // notify_all wakes every waiter.
    let go = AtomicBool::new(false);
    let woken = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let g = cv.wait_while(m.lock().unwrap(), |v| *v == 0).unwrap();
                assert_eq!(*g, 1);
                woken.fetch_add(1, Ordering::Relaxed);
            });
        }
        while !go.swap(true, Ordering::Relaxed) {}
        thread::sleep(Duration::from_millis(20));
        *m.lock().unwrap() = 1;
        cv.notify_all();
    });
    assert_eq!(woken.load(Ordering::Relaxed), 3);
    // A waiter that re-takes a poisoned mutex gets the guard in the error.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let waiter = thread::spawn(move || {
        let (m, cv) = &*p2;
        let mut g = m.lock().unwrap();
        loop {
            match cv.wait(g) {
                Ok(ng) if !*ng => g = ng,
                Ok(_) => return false,
                Err(e) => return *e.into_inner(),
            }
        }
    });
    let poisoner = {
        let pair = Arc::clone(&pair);
        thread::spawn(move || {
            // Wait until the waiter sleeps (it holds the lock until then).
            thread::sleep(Duration::from_millis(20));
            let mut g = pair.0.lock().unwrap();
            *g = true;
            pair.1.notify_one();
            panic!("poison the mutex");
        })
    };
    assert!(poisoner.join().is_err());
    assert!(waiter.join().unwrap(), "the waiter saw the poison and the data");
}

type LaMutex<T> = lock_api::Mutex<RawMutex, T>;

#[inline(never)]
fn la_acquire(m: &LaMutex<u64>) -> lock_api::MutexGuard<'_, RawMutex, u64> {
    black_box(m.lock())
}

#[inline(never)]
fn la_hold(mut g: lock_api::MutexGuard<'_, RawMutex, u64>) {
    *g += 1;
    thread::sleep(HOLD);
    drop(black_box(g));
}

/// `lock_api::Mutex<rustprof::sync::RawMutex, T>` is profiled the same way.
#[test]
fn lock_api_mutex_and_rwlock() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    let before = snapshot();
    let m = LaMutex::new(0u64);
    let waited = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..10 {
                    let t = Instant::now();
                    let g = la_acquire(&m);
                    waited.fetch_add(t.elapsed().as_nanos() as usize, Ordering::Relaxed);
                    la_hold(g);
                }
            });
        }
    });
    assert_eq!(*m.lock(), 30);
    assert!(m.try_lock().is_some());
    let (block, mutex) = deltas(&before);
    assert!(block.top().ends_with("::la_acquire"), "{:?}", block.0);
    assert_close(
        "lock_api block delay",
        block.of("la_acquire").1,
        waited.load(Ordering::Relaxed) as i64,
        0.2,
    );
    assert!(mutex.top().ends_with("::la_hold"), "{:?}", mutex.0);

    let rw = lock_api::RwLock::<RawRwLock, Vec<u32>>::new(vec![]);
    thread::scope(|s| {
        for i in 0..4 {
            let rw = &rw;
            s.spawn(move || {
                for j in 0..1000 {
                    if j % 10 == 0 {
                        rw.write().push(i);
                    } else {
                        black_box(rw.read().len());
                    }
                }
            });
        }
    });
    assert_eq!(rw.read().len(), 400);
    let g = rw.read();
    assert!(rw.try_write().is_none() && rw.try_read().is_some());
    drop(g);
    assert!(!rw.is_locked());
}

/// Many threads hammering the locks keep their data consistent, with
/// profiling on or off.
#[test]
fn stress_consistency() {
    let _s = serial();
    for (rate, fraction) in [(0, 0), (1, 1), (10_000, 7)] {
        let _p = Profiling::on(rate, fraction);
        let m = Mutex::new((0u64, 0u64));
        let rw = RwLock::new((0u64, 0u64));
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..20_000u64 {
                        let mut g = m.lock().unwrap();
                        g.0 += 1;
                        g.1 += 2;
                        drop(g);
                        if i % 4 == 0 {
                            let mut g = rw.write().unwrap();
                            g.0 += 1;
                            g.1 += 1;
                        } else {
                            let g = rw.read().unwrap();
                            assert_eq!(g.0, g.1);
                        }
                    }
                });
            }
        });
        assert_eq!(m.into_inner().unwrap(), (80_000, 160_000));
        assert_eq!(rw.into_inner().unwrap(), (20_000, 20_000));
    }
}

#[test]
fn mutex_poisoning_and_api() {
    let _s = serial();
    let m = Arc::new(Mutex::new(vec![1]));
    assert!(!m.is_poisoned());
    // try_lock while another thread holds it.
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let would_block = thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(would_block.join().unwrap());
    drop(g);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1], poisoned: false, .. }");

    let m2 = Arc::clone(&m);
    let r = thread::spawn(move || {
        let mut g = m2.lock().unwrap();
        g.push(2);
        panic!("poison it");
    })
    .join();
    assert!(r.is_err());
    assert!(m.is_poisoned());
    let g = m.lock().unwrap_err().into_inner();
    assert_eq!(*g, vec![1, 2], "the data stays reachable");
    drop(g);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    assert!(!m.is_poisoned());
    m.lock().unwrap().push(3);

    // A guard taken while already panicking does not poison.
    let m3 = Arc::new(Mutex::new(0));
    let m4 = Arc::clone(&m3);
    let _ = thread::spawn(move || {
        struct LockOnDrop(Arc<Mutex<i32>>);
        impl Drop for LockOnDrop {
            fn drop(&mut self) {
                *self.0.lock().unwrap() += 1;
            }
        }
        let _d = LockOnDrop(m4);
        panic!("unwinding");
    })
    .join();
    assert!(!m3.is_poisoned());
    assert_eq!(*m3.lock().unwrap(), 1);

    let mut m = Arc::try_unwrap(m).unwrap();
    m.get_mut().unwrap().push(4);
    assert_eq!(m.into_inner().unwrap(), vec![1, 2, 3, 4]);
    let m: Mutex<u8> = Default::default();
    assert_eq!(*m.lock().unwrap(), 0);
    let m = Mutex::from(5);
    assert_eq!(format!("{}", m.lock().unwrap()), "5");
    // Unsized data.
    let m: &Mutex<[u8]> = &Mutex::new([1u8, 2, 3]);
    assert_eq!(m.lock().unwrap().len(), 3);
}

#[test]
fn rwlock_poisoning_and_api() {
    let _s = serial();
    let l = Arc::new(RwLock::new(1));
    {
        let r = l.read().unwrap();
        assert!(l.try_read().is_ok());
        assert!(matches!(l.try_write(), Err(TryLockError::WouldBlock)));
        drop(r);
        let _w = l.write().unwrap();
        assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
        assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, poisoned: false, .. }");
    }
    // A panic while reading does not poison.
    let l2 = Arc::clone(&l);
    let _ = thread::spawn(move || {
        let _r = l2.read().unwrap();
        panic!("reader");
    })
    .join();
    assert!(!l.is_poisoned());
    // A panic while writing does.
    let l2 = Arc::clone(&l);
    let _ = thread::spawn(move || {
        let mut w = l2.write().unwrap();
        *w = 2;
        panic!("writer");
    })
    .join();
    assert!(l.is_poisoned());
    assert_eq!(*l.read().unwrap_err().into_inner(), 2);
    assert!(matches!(l.try_write(), Err(TryLockError::Poisoned(_))));
    l.clear_poison();
    *l.write().unwrap() = 3;
    let mut l = Arc::try_unwrap(l).unwrap();
    *l.get_mut().unwrap() += 1;
    assert_eq!(l.into_inner().unwrap(), 4);
}

/// The profiles are Go's block/mutex format.
#[test]
fn profile_format() {
    let _s = serial();
    let _p = Profiling::on(1, 1);
    custom_wait_site(Duration::from_micros(5));
    release_site_all(Duration::from_micros(5));
    for p in [sync::block_profile(), sync::mutex_profile()] {
        let types: Vec<(String, String)> = p.sample_type_names();
        assert_eq!(types, [("contentions".into(), "count".into()), ("delay".into(), "nanoseconds".into())]);
        assert_eq!(
            (p.str(p.period_type.ty), p.str(p.period_type.unit), p.period),
            ("contentions", "count", 1)
        );
        assert!(p.time_nanos > 0);
        assert!(!p.mappings.is_empty() && p.mappings[0].has_functions);
        assert!(!p.samples.is_empty());
        // Sorted by delay, largest first.
        let delays: Vec<i64> = p.samples.iter().map(|s| s.values[1]).collect();
        assert!(delays.windows(2).all(|w| w[0] >= w[1]), "{delays:?}");
        let bytes = rustprof_profile::encode(&p);
        let back = rustprof_profile::decode(&bytes).unwrap();
        assert_eq!(back.samples.len(), p.samples.len());
    }
}

/// Labels set around a wait are attached to its sample.
#[test]
fn labels_are_recorded() {
    let _s = serial();
    let _p = Profiling::on(1, 0);
    {
        let _l = rustprof::labels::scope(&[("endpoint", "sync-test")]);
        custom_wait_site(Duration::from_micros(7));
    }
    let p = sync::block_profile();
    let found = p.samples.iter().any(|s| {
        s.labels.iter().any(|l| p.str(l.key) == "endpoint" && p.str(l.str) == "sync-test")
            && s.locations.first().is_some_and(|&loc| {
                p.location_lines(loc).first().is_some_and(|l| {
                    p.str(p.functions[l.function as usize].name).ends_with("::custom_wait_site")
                })
            })
    });
    assert!(found);
}
