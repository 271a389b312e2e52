//! rustprof::sync::tokio's wrappers against tokio's own primitives, in the
//! same run (ratios: rustprof's time or throughput over tokio's):
//!
//! - uncontended: `lock().await` + drop of a Mutex, `acquire().await` + drop of a
//!   Semaphore permit, `send` + `recv` on a bounded mpsc channel, on a
//!   current-thread runtime (ns/op; target at most 1.1× tokio's), profiles off
//!   and on (rate 1, fraction 1: they cost only on waits);
//! - contended: 8 tasks on a 2-worker runtime incrementing one counter under a
//!   Mutex, each holding it across a `yield_now` so that others queue (Kops/s;
//!   target at least 0.9× tokio's), profiles off, at rate 1 / fraction 1
//!   (every wait recorded: a stack capture each) and at a sampled rate 100 µs / fraction 100.
//!
//! ```sh
//! cargo bench -p rustprof --bench sync_tokio
//! ```
//!
//! Configurations are interleaved, each run several times; medians reported.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 11;
const OPS: u64 = 2_000_000;
const CONTENDED_TIME: Duration = Duration::from_millis(200);

/// ns per iteration of `body`, run `OPS` times on a current-thread runtime.
macro_rules! per_op {
    ($rt:expr, $body:block) => {
        $rt.block_on(async {
            let t = Instant::now();
            for _ in 0..OPS {
                $body
            }
            t.elapsed().as_nanos() as f64 / OPS as f64
        })
    };
}

/// Kops/s of 8 tasks taking turns at one lock on a 2-worker runtime.
macro_rules! contended {
    ($mutex:expr) => {{
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let m = Arc::new($mutex);
        let stop = Arc::new(AtomicBool::new(false));
        let t = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (m, stop) = (m.clone(), stop.clone());
                rt.spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let mut g = m.lock().await;
                        *g += 1;
                        tokio::task::yield_now().await;
                        drop(g);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(CONTENDED_TIME);
        stop.store(true, Ordering::Relaxed);
        let total: u64 = rt.block_on(async {
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            total
        });
        total as f64 / t.elapsed().as_secs_f64() / 1e3
    }};
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Off, Go's `go test` setting (every event), and a sampled one.
const SETTINGS: [(u64, u64, &str); 3] =
    [(0, 0, "off"), (1, 1, "rate 1/fraction 1"), (100_000, 100, "rate 100 µs/fraction 100")];

fn profiling((rate, fraction, _): (u64, u64, &str)) {
    rustprof::sync::set_block_profile_rate(rate);
    rustprof::sync::set_mutex_profile_fraction(fraction);
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let tm = tokio::sync::Mutex::new(0u64);
    let rm = rustprof::sync::tokio::Mutex::new(0u64);
    let ts = tokio::sync::Semaphore::new(4);
    let rs = rustprof::sync::tokio::Semaphore::new(4);
    let (ttx, mut trx) = tokio::sync::mpsc::channel::<u64>(16);
    let (rtx, mut rrx) = rustprof::sync::tokio::mpsc::channel::<u64>(16);
    let names = ["Mutex lock+unlock", "Semaphore acquire+release", "mpsc send+recv"];
    for on in SETTINGS[..2].iter().copied() {
        profiling(on);
        let mut r: Vec<[Vec<f64>; 2]> = (0..3).map(|_| [Vec::new(), Vec::new()]).collect();
        for _ in 0..ROUNDS {
            r[0][0].push(per_op!(rt, { *black_box(&tm).lock().await += 1 }));
            r[0][1].push(per_op!(rt, { *black_box(&rm).lock().await += 1 }));
            r[1][0].push(per_op!(rt, { drop(black_box(&ts).acquire().await) }));
            r[1][1].push(per_op!(rt, { drop(black_box(&rs).acquire().await) }));
            r[2][0].push(per_op!(rt, {
                ttx.send(1).await.unwrap();
                black_box(trx.recv().await);
            }));
            r[2][1].push(per_op!(rt, {
                rtx.send(1).await.unwrap();
                black_box(rrx.recv().await);
            }));
        }
        for (name, [t, p]) in names.iter().zip(r.iter_mut()) {
            let (t, p) = (median(t), median(p));
            println!(
                "uncontended {name:<26} profiles {:<18}: tokio {t:6.2} ns  rustprof {p:6.2} ns  ratio {:.3}",
                on.2,
                p / t
            );
        }
    }
    for on in SETTINGS {
        profiling(on);
        let (mut t, mut p) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            t.push(contended!(tokio::sync::Mutex::new(0u64)));
            p.push(contended!(rustprof::sync::tokio::Mutex::new(0u64)));
        }
        let (t, p) = (median(&mut t), median(&mut p));
        println!(
            "contended Mutex, 8 tasks/2 workers, profiles {:<22}: tokio {t:8.1} Kops/s  rustprof {p:8.1} Kops/s  ratio {:.3}",
            on.2,
            p / t
        );
    }
    profiling(SETTINGS[0]);
}
