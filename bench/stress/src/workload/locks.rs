//! Block and mutex profiles at rate 1 under contention: `rustprof::sync`
//! locks that several threads fight over, a reader-writer lock, and a
//! producer/consumer queue on a condition variable.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustprof::sync::{Condvar, Mutex, RwLock};

use super::Shared;

/// Longest queue the producers fill before they wait.
const QUEUE: usize = 64;

#[derive(Clone)]
pub(crate) struct Locks(Arc<Inner>);

struct Inner {
    /// Two hot locks (each worker takes both, in order).
    hot: [Mutex<u64>; 2],
    table: RwLock<Vec<u64>>,
    queue: Mutex<VecDeque<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl Locks {
    pub(crate) fn new() -> Self {
        Locks(Arc::new(Inner {
            hot: [Mutex::new(0), Mutex::new(0)],
            table: RwLock::new(vec![0; 256]),
            queue: Mutex::new(VecDeque::new()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }))
    }
}

/// Workers 0–3 fight over the hot locks, 4–5 read and write the table, 6
/// produces and 7 consumes through the queue.
pub(crate) fn worker(s: &Shared, l: &Locks, i: usize) {
    let l = &*l.0;
    let mut n = 0u64;
    while !s.stopping() {
        n += 1;
        match i {
            0..=3 => {
                let mut a = l.hot[0].lock().unwrap_or_else(|e| e.into_inner());
                *a += 1;
                let mut b = l.hot[1].lock().unwrap_or_else(|e| e.into_inner());
                *b = black_box(b.wrapping_add(*a));
                // A critical section long enough to make the others sleep.
                for k in 0..2000u64 {
                    *b = black_box(b.wrapping_mul(31).wrapping_add(k));
                }
            }
            4 => {
                let t = l.table.read().unwrap_or_else(|e| e.into_inner());
                black_box(t.iter().sum::<u64>());
            }
            5 => {
                let mut t = l.table.write().unwrap_or_else(|e| e.into_inner());
                let k = (n % 256) as usize;
                t[k] = t[k].wrapping_add(n);
                std::thread::sleep(Duration::from_micros(50));
            }
            6 => {
                let q = l.queue.lock().unwrap_or_else(|e| e.into_inner());
                let mut q = l
                    .not_full
                    .wait_timeout_while(q, Duration::from_millis(100), |q| q.len() >= QUEUE)
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
                if q.len() < QUEUE {
                    q.push_back(n);
                }
                drop(q);
                l.not_empty.notify_one();
            }
            _ => {
                let q = l.queue.lock().unwrap_or_else(|e| e.into_inner());
                let mut q = l
                    .not_empty
                    .wait_timeout_while(q, Duration::from_millis(100), |q| q.is_empty())
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
                black_box(q.pop_front());
                drop(q);
                l.not_full.notify_one();
                // A slower consumer: the producer waits on `not_full`.
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        if n.is_multiple_of(16) {
            s.locks.fetch_add(1, Ordering::Relaxed);
        }
    }
}
