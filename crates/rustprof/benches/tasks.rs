//! Task dumps (rustprof::tasks) of a runtime with 10,000 idle tasks: tokio's
//! own `Handle::dump` (the time the runtime is stopped) against
//! `rustprof::tasks::dump` / `profile` / `dump_text(1)` (the dump plus taking
//! it apart and symbolizing, after the runtime resumed), and the longest gap a
//! 1 ms ticker task sees during each (how long the service stood still).
//! Then the cost of the task hooks: 20,000 tasks × 50 polls with and without
//! `rustprof::tasks::hooks`.
//!
//! ```sh
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/tokio-unstable \
//!     cargo bench -p rustprof --bench tasks
//! ```

#![allow(clippy::unwrap_used)]

#[cfg(not(tokio_unstable))]
fn main() {
    println!(
        "task dumps need --cfg tokio_unstable: RUSTFLAGS=\"--cfg tokio_unstable\" cargo bench -p rustprof --bench tasks"
    );
}

#[cfg(tokio_unstable)]
fn main() {
    imp::main()
}

#[cfg(tokio_unstable)]
mod imp {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    const TASKS: usize = 10_000;
    const ROUNDS: usize = 7;

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn now_us() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64
    }

    /// Runs `f` while a ticker task records its longest gap; returns (f's time, gap).
    fn with_ticker(last: &AtomicI64, gap: &AtomicU64, f: impl FnOnce()) -> (f64, f64) {
        std::thread::sleep(Duration::from_millis(20));
        gap.store(0, Ordering::Relaxed);
        last.store(now_us(), Ordering::Relaxed);
        let t = Instant::now();
        f();
        let took = ms(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
        (took, gap.load(Ordering::Relaxed) as f64 / 1e3)
    }

    pub(super) fn main() {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2).enable_all();
        rustprof::tasks::hooks(&mut b);
        let rt = b.build().unwrap();
        rustprof::tasks::register("bench", rt.handle());
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        for _ in 0..TASKS {
            let g = gate.clone();
            rt.spawn(async move {
                let _ = g.acquire().await;
            });
        }
        let last = Arc::new(AtomicI64::new(now_us()));
        let gap = Arc::new(AtomicU64::new(0));
        {
            let (last, gap) = (last.clone(), gap.clone());
            rt.spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let now = now_us();
                    let g = (now - last.swap(now, Ordering::Relaxed)).max(0) as u64;
                    gap.fetch_max(g, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(200));
        // Warm the symbol cache once, as a long-running service has.
        rustprof::tasks::profile().unwrap();
        let h = rt.handle().clone();
        let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> =
            ["tokio Handle::dump", "tasks::dump", "tasks::profile", "tasks::dump_text(1)"]
                .iter()
                .map(|n| (*n, Vec::new(), Vec::new()))
                .collect();
        let mut listed = 0;
        for _ in 0..ROUNDS {
            let (t, g) = with_ticker(&last, &gap, || {
                let h2 = h.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                h.spawn(async move {
                    let d = h2.dump().await;
                    tx.send(d.tasks().iter().count()).unwrap();
                });
                listed = rx.recv().unwrap();
            });
            rows[0].1.push(t);
            rows[0].2.push(g);
            let (t, g) =
                with_ticker(&last, &gap, || assert!(rustprof::tasks::dump().unwrap().len() >= TASKS));
            rows[1].1.push(t);
            rows[1].2.push(g);
            let (t, g) = with_ticker(&last, &gap, || drop(rustprof::tasks::profile().unwrap()));
            rows[2].1.push(t);
            rows[2].2.push(g);
            let (t, g) = with_ticker(&last, &gap, || drop(rustprof::tasks::dump_text(1).unwrap()));
            rows[3].1.push(t);
            rows[3].2.push(g);
        }
        println!("{listed} tasks in tokio's dump");
        for (name, t, g) in &mut rows {
            println!("{name:<22} {:8.1} ms   longest ticker gap {:6.1} ms", median(t), median(g));
        }
        gate.close();
        drop(rt);
        hooks_cost();
    }

    /// 20,000 tasks × 50 yields on 2 workers, with and without the hooks.
    fn hooks_cost() {
        let run = |hooks: bool| -> f64 {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            if hooks {
                rustprof::tasks::hooks(&mut b);
            }
            let rt = b.build().unwrap();
            let t = Instant::now();
            rt.block_on(async {
                let hs: Vec<_> = (0..20_000)
                    .map(|_| {
                        tokio::spawn(async {
                            for _ in 0..50 {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            });
            t.elapsed().as_nanos() as f64 / (20_000.0 * 51.0)
        };
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            off.push(run(false));
            on.push(run(true));
        }
        let (off, on) = (median(&mut off), median(&mut on));
        println!("task hooks: {off:.1} ns per poll without, {on:.1} ns with (ratio {:.2})", on / off);
    }
}
