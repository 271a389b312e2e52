//! Heap sampling under load: workers keep a bounded ring of buffers of many
//! sizes from many call depths, grow vectors (realloc), and hand some buffers
//! to another worker to free (frees by a thread that did not allocate); the
//! sample rate switches between 4 KiB and 1 (every allocation) every 5 s.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Shared;

/// The sample rates the run switches between (bytes between samples).
pub(crate) const RATES: [usize; 2] = [4096, 1];
const SWITCH_EVERY: Duration = Duration::from_secs(5);
/// Buffers a worker keeps live (about 4 MB each at 4 KiB on average).
const RING: usize = 1000;

/// Switches the sample rate every [`SWITCH_EVERY`].
pub(crate) fn rate_switcher(s: &Shared) {
    let mut i = 0;
    let mut next = Instant::now() + SWITCH_EVERY;
    while !s.stopping() {
        if Instant::now() >= next {
            i += 1;
            rustprof::heap::set_sample_rate(RATES[i % RATES.len()]);
            next += SWITCH_EVERY;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One mailbox per worker: buffers other workers allocated, for it to free.
#[derive(Clone)]
pub(crate) struct Handoff(Arc<Vec<rustprof::sync::Mutex<Vec<Vec<u8>>>>>);

impl Handoff {
    pub(crate) fn new(n: usize) -> Self {
        Handoff(Arc::new((0..n).map(|_| rustprof::sync::Mutex::new(Vec::new())).collect()))
    }
}

#[inline(never)]
fn alloc_at(depth: u32, size: usize) -> Vec<u8> {
    if depth == 0 { black_box(vec![depth as u8; size]) } else { black_box(alloc_at(depth - 1, size)) }
}

pub(crate) fn worker(s: &Shared, h: &Handoff, i: usize) {
    let mut ring: Vec<Vec<u8>> = Vec::with_capacity(RING);
    let mut x = 0x2545_f491_4f6c_dd1du64 ^ ((i as u64) << 32);
    let mut n = 0usize;
    let next = (i + 1) % h.0.len();
    while !s.stopping() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Mostly small, some up to 64 KiB.
        let size =
            if x.is_multiple_of(16) { 1 + (x >> 20) as usize % 65536 } else { 1 + (x >> 20) as usize % 4096 };
        let v = alloc_at((x % 24) as u32, size);
        if ring.len() < RING {
            ring.push(v);
        } else {
            let old = std::mem::replace(&mut ring[n % RING], v);
            if n.is_multiple_of(8) {
                // Freed by the next worker.
                let mut mb = h.0[next].lock().unwrap_or_else(|e| e.into_inner());
                if mb.len() < 256 {
                    mb.push(old);
                }
            }
        }
        if n.is_multiple_of(64) {
            // What others left here, freed by this thread.
            let taken = std::mem::take(&mut *h.0[i].lock().unwrap_or_else(|e| e.into_inner()));
            drop(taken);
            // A growing vector: reallocs.
            let mut grow = Vec::new();
            for k in 0..(x % 2000) {
                grow.push(k);
            }
            black_box(grow);
            // Strings, as services make them.
            let words: Vec<String> = (0..16).map(|k| format!("{i}-{n}-{k}")).collect();
            black_box(words);
            s.heap.fetch_add(1, Ordering::Relaxed);
        }
        n += 1;
        if n.is_multiple_of(256) {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}
