//! Thread churn: short threads spawned and ended continuously, each
//! allocating, freeing what its parent allocated, locking and computing, and
//! returning a buffer for its parent to free; several alive at once.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;

/// Threads of one spawner alive at once.
const BATCH: usize = 4;

static SHARED_COUNT: rustprof::sync::Mutex<u64> = rustprof::sync::Mutex::new(0);

pub(crate) fn spawner(s: &Shared, i: usize) {
    let mut n = 0u64;
    while !s.stopping() {
        let batch: Vec<_> = (0..BATCH)
            .map(|k| {
                let from_parent = vec![k as u8; 512 + k * 100];
                std::thread::Builder::new().name(format!("churn-{i}-{k}")).spawn(move || {
                    drop(from_parent);
                    let mut x = 0u64;
                    for j in 0..5000u64 {
                        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(j));
                    }
                    *SHARED_COUNT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    vec![x as u8; 1024]
                })
            })
            .collect();
        for t in batch {
            match t {
                Ok(h) => {
                    // Freed here, allocated by the thread that ended.
                    let _ = black_box(h.join());
                    n += 1;
                    s.churn.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("rustprof-stress child: spawning a short thread: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        if n.is_multiple_of(64) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
