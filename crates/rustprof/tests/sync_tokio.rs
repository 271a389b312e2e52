//! Async waits in the block and mutex profiles (feature `tokio`): tasks that
//! wait on rustprof::sync::tokio's Mutex, RwLock, Semaphore and channels are
//! recorded at their own `async fn`, with the time they measured themselves;
//! the tasks that held the lock or permit are charged in the mutex profile;
//! cancelled waits are not recorded and leave nothing behind. std and
//! crossbeam channel helpers too.
//!
//! The profiles are process-wide: every test takes `SERIAL` and looks only at
//! what changed during it, by leaf function.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use rustprof::Profile;
use rustprof::sync::tokio::{Mutex, RwLock, Semaphore, broadcast, mpsc, oneshot, watch};
use rustprof::sync::{self, channels::ProfiledRecv, channels::ProfiledSend};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const HOLD: Duration = Duration::from_millis(30);

/// Serializes the tests and turns both profiles on (every event) until dropped.
struct Profiling(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl Profiling {
    fn on() -> Profiling {
        let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        sync::set_block_profile_rate(1);
        sync::set_mutex_profile_fraction(1);
        Profiling(g)
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

/// What changed in a profile, by leaf function.
struct Delta(HashMap<String, (i64, i64)>);

impl Delta {
    fn since(before: &Profile, after: &Profile) -> Delta {
        let mut d = by_leaf(after);
        for (k, v) in by_leaf(before) {
            let e = d.entry(k).or_insert((0, 0));
            e.0 -= v.0;
            e.1 -= v.1;
        }
        d.retain(|_, v| *v != (0, 0));
        Delta(d)
    }

    /// Totals of the leaf functions `…::name` (an async fn's poll is
    /// `name::{{closure}}`).
    fn of(&self, name: &str) -> (i64, i64) {
        let (a, b) = (format!("::{name}"), format!("::{name}::{{{{closure}}}}"));
        self.0
            .iter()
            .filter(|(k, _)| k.ends_with(&a) || k.ends_with(&b))
            .fold((0, 0), |acc, (_, v)| (acc.0 + v.0, acc.1 + v.1))
    }
}

/// Runs `f` on a current-thread runtime with time, and returns what it
/// returned with the block and mutex profiles' changes.
fn run<R>(f: impl Future<Output = R>) -> (R, Delta, Delta) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let (b0, m0) = (sync::block_profile(), sync::mutex_profile());
    let r = rt.block_on(f);
    let (b1, m1) = (sync::block_profile(), sync::mutex_profile());
    (r, Delta::since(&b0, &b1), Delta::since(&m0, &m1))
}

/// The waiter's measured wait (ns) against the profile's: the profile's
/// starts after the waiter's clock and ends before it.
fn assert_wait(what: &str, delta: &Delta, name: &str, measured: Duration) {
    let (count, delay) = delta.of(name);
    let measured = measured.as_nanos() as i64;
    assert_eq!(count, 1, "{what}: one wait of {name} expected, profile by leaf: {:?}", delta.0);
    assert!(
        delay <= measured && delay >= measured / 2,
        "{what}: {delay} ns recorded at {name}, it measured {measured} ns"
    );
}

#[inline(never)]
async fn holds_mutex(m: &Mutex<u64>, locked: oneshot::Sender<()>) {
    let mut g = m.lock().await;
    locked.send(()).unwrap();
    tokio::time::sleep(HOLD).await;
    *g += 1;
    drop(g);
}

#[inline(never)]
async fn waits_for_mutex(m: &Mutex<u64>) -> Duration {
    let t = Instant::now();
    let g = m.lock().await;
    let waited = t.elapsed();
    assert_eq!(*g, 1);
    waited
}

#[test]
fn mutex_wait_and_holder() {
    let _p = Profiling::on();
    let m = Mutex::new(0);
    let (waited, block, mutex) = run(async {
        let (tx, rx) = oneshot::channel();
        let holder = holds_mutex(&m, tx);
        let waiter = async {
            rx.await.unwrap();
            waits_for_mutex(&m).await
        };
        tokio::join!(holder, waiter).1
    });
    assert!(waited >= HOLD / 2, "{waited:?}");
    assert_wait("block", &block, "waits_for_mutex", waited);
    // The holder is charged the waiter's time, once.
    let (n, charged) = mutex.of("holds_mutex");
    assert_eq!(n, 1, "{:?}", mutex.0);
    assert!(charged > 0 && charged <= waited.as_nanos() as i64, "{charged} vs {waited:?}");
    // Uncontended locking records nothing.
    let (_, block, mutex) = run(async {
        for _ in 0..1000 {
            *m.lock().await += 1;
        }
    });
    assert!(block.0.is_empty() && mutex.0.is_empty(), "{:?} {:?}", block.0, mutex.0);
}

#[inline(never)]
async fn holds_write(l: &RwLock<u64>, locked: oneshot::Sender<()>) {
    let g = l.write().await;
    locked.send(()).unwrap();
    tokio::time::sleep(HOLD).await;
    drop(g);
}

#[inline(never)]
async fn waits_to_read(l: &RwLock<u64>) -> Duration {
    let t = Instant::now();
    let g = l.read().await;
    let waited = t.elapsed();
    drop(g);
    waited
}

#[test]
fn rwlock_wait_and_holder() {
    let _p = Profiling::on();
    let l = RwLock::new(0);
    let (waited, block, mutex) = run(async {
        let (tx, rx) = oneshot::channel();
        let waiter = async {
            rx.await.unwrap();
            waits_to_read(&l).await
        };
        tokio::join!(holds_write(&l, tx), waiter).1
    });
    assert_wait("block", &block, "waits_to_read", waited);
    assert_eq!(mutex.of("holds_write").0, 1, "{:?}", mutex.0);
}

#[inline(never)]
async fn holds_permit(pool: &Semaphore, taken: oneshot::Sender<()>) {
    let permit = pool.acquire().await.unwrap();
    taken.send(()).unwrap();
    tokio::time::sleep(HOLD).await;
    drop(permit);
}

#[inline(never)]
async fn waits_for_permit(pool: &Semaphore) -> Duration {
    let t = Instant::now();
    let _permit = pool.acquire().await.unwrap();
    t.elapsed()
}

#[test]
fn semaphore_wait_and_holder() {
    let _p = Profiling::on();
    let pool = Semaphore::new(1);
    let (waited, block, mutex) = run(async {
        let (tx, rx) = oneshot::channel();
        let waiter = async {
            rx.await.unwrap();
            waits_for_permit(&pool).await
        };
        tokio::join!(holds_permit(&pool, tx), waiter).1
    });
    assert_wait("block", &block, "waits_for_permit", waited);
    assert_eq!(mutex.of("holds_permit").0, 1, "{:?}", mutex.0);
}

#[inline(never)]
async fn sends_into_full(tx: &mpsc::Sender<u32>) -> Duration {
    tx.send(1).await.unwrap(); // fills the channel
    let t = Instant::now();
    tx.send(2).await.unwrap();
    t.elapsed()
}

#[inline(never)]
async fn receives_from_empty(rx: &mut mpsc::Receiver<u32>) -> Duration {
    let t = Instant::now();
    assert_eq!(rx.recv().await, Some(7));
    t.elapsed()
}

#[test]
fn mpsc_send_and_recv_waits() {
    let _p = Profiling::on();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let (waited, block, _) = run(async {
        let reader = async {
            tokio::time::sleep(HOLD).await;
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, Some(2));
        };
        tokio::join!(sends_into_full(&tx), reader).0
    });
    assert_wait("send", &block, "sends_into_full", waited);
    let (waited, block, _) = run(async {
        let writer = async {
            tokio::time::sleep(HOLD).await;
            tx.send(7).await.unwrap();
        };
        tokio::join!(receives_from_empty(&mut rx), writer).0
    });
    assert_wait("recv", &block, "receives_from_empty", waited);
}

#[inline(never)]
async fn awaits_oneshot(rx: oneshot::Receiver<u32>) -> Duration {
    let t = Instant::now();
    assert_eq!(rx.await, Ok(3));
    t.elapsed()
}

#[inline(never)]
async fn awaits_broadcast(rx: &mut broadcast::Receiver<u32>) -> Duration {
    let t = Instant::now();
    assert_eq!(rx.recv().await, Ok(4));
    t.elapsed()
}

#[inline(never)]
async fn awaits_watch(rx: &mut watch::Receiver<u32>) -> Duration {
    let t = Instant::now();
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 5);
    t.elapsed()
}

#[test]
fn oneshot_broadcast_watch_waits() {
    let _p = Profiling::on();
    let (otx, orx) = oneshot::channel();
    let (btx, mut brx) = broadcast::channel(4);
    let (wtx, mut wrx) = watch::channel(0);
    let ((o, b, w), block, _) = run(async {
        let writer = async {
            tokio::time::sleep(HOLD).await;
            otx.send(3).unwrap();
            btx.send(4).unwrap();
            wtx.send(5).unwrap();
        };
        let (o, b, w, ()) =
            tokio::join!(awaits_oneshot(orx), awaits_broadcast(&mut brx), awaits_watch(&mut wrx), writer);
        (o, b, w)
    });
    assert_wait("oneshot", &block, "awaits_oneshot", o);
    assert_wait("broadcast", &block, "awaits_broadcast", b);
    assert_wait("watch", &block, "awaits_watch", w);
}

#[inline(never)]
async fn gives_up_on_mutex(m: &Mutex<u64>) {
    assert!(tokio::time::timeout(Duration::from_millis(5), m.lock()).await.is_err());
}

/// A wait cut short (a timeout, a lost `select!` branch) is not a block event,
/// and its registration does not stay behind to be charged later.
#[test]
fn cancelled_waits_are_not_recorded() {
    let _p = Profiling::on();
    let m = Mutex::new(0);
    let (_, block, mutex) = run(async {
        let g = m.lock().await;
        gives_up_on_mutex(&m).await;
        drop(g);
    });
    assert_eq!(block.of("gives_up_on_mutex"), (0, 0), "{:?}", block.0);
    assert!(mutex.0.is_empty(), "nobody waits when the guard drops: {:?}", mutex.0);
}

#[inline(never)]
fn std_recv_waits(rx: &std::sync::mpsc::Receiver<u32>) -> Duration {
    let t = Instant::now();
    assert_eq!(rx.recv_profiled(), Ok(1));
    t.elapsed()
}

#[inline(never)]
fn crossbeam_send_waits(tx: &crossbeam_channel::Sender<u32>) -> Duration {
    tx.send_profiled(1).unwrap();
    let t = Instant::now();
    tx.send_profiled(2).unwrap();
    t.elapsed()
}

#[test]
fn blocking_channel_helpers() {
    let _p = Profiling::on();
    let b0 = sync::block_profile();
    let (tx, rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(HOLD);
        tx.send(1).unwrap();
    });
    let waited = std_recv_waits(&rx);
    sender.join().unwrap();
    let (ctx, crx) = crossbeam_channel::bounded(1);
    let reader = std::thread::spawn(move || {
        std::thread::sleep(HOLD);
        (crx.recv_profiled().unwrap(), crx.recv_profiled().unwrap())
    });
    let cwaited = crossbeam_send_waits(&ctx);
    assert_eq!(reader.join().unwrap(), (1, 2));
    let block = Delta::since(&b0, &sync::block_profile());
    assert_wait("std recv", &block, "std_recv_waits", waited);
    assert_wait("crossbeam send", &block, "crossbeam_send_waits", cwaited);
}
