//! The execution tracer's cost, against its own absence in the same run:
//!
//! - annotations with no trace running (`region` + drop, `log`, `task` +
//!   drop), ns each net of an empty loop; target: at most 2 ns;
//! - a multi-threaded workload (2 threads, each "request" a region with a
//!   contended `rustprof::sync::Mutex` section, about 20 µs of work outside
//!   it, and a log every fourth request: about 2.3 events per request): wall time with a trace running (written to `io::sink`) against no
//!   trace (target: at most 1.05×), and with a flight recorder recording
//!   (default window) against none (target: at most 1.01×);
//! - the size of the trace: bytes per event and per second of the workload.
//!
//! ```sh
//! cargo bench -p rustprof --bench trace
//! ```
//!
//! Configurations run interleaved, several times, so that drifts of the
//! machine hit all alike; medians are printed, with the spread in brackets.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex as StdMutex};
use std::time::{Duration, Instant};

use rustprof::trace::{self, FlightRecorder, FlightRecorderConfig};

const ANNOTATION_OPS: u64 = 50_000_000;
const ROUNDS: usize = 21;
const THREADS: usize = 2;
const REQUESTS: u64 = 4_000;

#[inline(never)]
fn work(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(11) ^ i;
    }
    x
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("[{:.3}..{:.3}]", v[v.len() / 4], v[v.len() * 3 / 4])
}

fn process_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// One run of the workload; its wall time and the process's CPU time
/// (workers and collector) until the collector's next pass is done.
fn measured(with: impl FnOnce(), stop: impl FnOnce()) -> (f64, f64) {
    let c0 = process_cpu();
    with();
    let d = workload();
    stop();
    (d.as_secs_f64(), process_cpu() - c0)
}

/// One run of the workload; its wall time.
fn workload() -> Duration {
    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (lock, barrier) = (lock.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..REQUESTS {
                    let _r = trace::region("request");
                    {
                        let mut g = lock.lock().unwrap();
                        *g = g.wrapping_add(work(black_box(300)));
                    }
                    black_box(work(black_box(20_000)));
                    if i % 4 == 0 {
                        trace::log("app", "a quarter of the requests log");
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    t.elapsed()
}

#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<StdMutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    // `cargo test --benches` runs this once as a smoke test: keep it short.
    let quick = std::env::args().any(|a| a == "--test");
    let ops_scale = if quick { 1000 } else { 1 };

    println!("annotations with no trace running (target <= 2 ns each, net of the loop):");
    let mut base = Vec::new();
    let mut region = Vec::new();
    let mut log = Vec::new();
    let mut task = Vec::new();
    for _ in 0..if quick { 1 } else { 5 } {
        let scale = |f: &dyn Fn(u64)| {
            let t = Instant::now();
            let n = ANNOTATION_OPS / ops_scale;
            for i in 0..n {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / n as f64
        };
        base.push(scale(&|i| {
            black_box(i);
        }));
        region.push(scale(&|i| {
            black_box(i);
            drop(black_box(trace::region("request")));
        }));
        log.push(scale(&|i| {
            black_box(i);
            trace::log("app", "message");
        }));
        task.push(scale(&|i| {
            black_box(i);
            drop(black_box(trace::task("job")));
        }));
    }
    let b = median(&mut base);
    for (name, v) in [("region + drop", &mut region), ("log", &mut log), ("task + drop", &mut task)] {
        let m = median(v);
        println!("  {name:<14} {:>6.2} ns  (loop alone {b:.2} ns)", (m - b).max(0.0));
    }

    println!(
        "\nworkload: {THREADS} threads x {REQUESTS} requests (region, contended rustprof::sync::Mutex, work, a log)"
    );
    let rounds = if quick { 1 } else { ROUNDS };
    let (mut off, mut on, mut fr_on) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_off, mut cpu_on, mut cpu_fr) = (Vec::new(), Vec::new(), Vec::new());
    let written = Counting::default();
    let mut traced_time = 0.0;
    for _ in 0..rounds {
        let (w, c) = measured(|| {}, || {});
        off.push(w);
        cpu_off.push(c);

        let (w, c) = measured(|| trace::start(written.clone()).unwrap(), || trace::stop().unwrap());
        traced_time += w;
        on.push(w);
        cpu_on.push(c);

        let fr = FlightRecorder::new(FlightRecorderConfig::default());
        // Stopped after a last pass, so that its work is counted.
        let (w, c) = measured(
            || fr.start().unwrap(),
            || {
                fr.write_to(&mut std::io::sink()).unwrap();
            },
        );
        fr.stop();
        fr_on.push(w);
        cpu_fr.push(c);
    }
    let on_ratios: Vec<f64> = {
        let m = median(&mut off.clone());
        on.iter().map(|x| x / m).collect()
    };
    let fr_ratios: Vec<f64> = {
        let m = median(&mut off.clone());
        fr_on.iter().map(|x| x / m).collect()
    };
    let m_off = median(&mut off);
    let m_on = median(&mut on);
    let m_fr = median(&mut fr_on);
    let (c_off, c_on, c_fr) = (median(&mut cpu_off), median(&mut cpu_on), median(&mut cpu_fr));
    println!("  no trace          {:>8.2} ms wall, {:>8.2} ms CPU", m_off * 1e3, c_off * 1e3);
    println!(
        "  trace running     {:>8.2} ms wall = {:.3}x no trace {} (target <= 1.05x); CPU {:.3}x",
        m_on * 1e3,
        m_on / m_off,
        spread(&on_ratios),
        c_on / c_off
    );
    println!(
        "  flight recorder   {:>8.2} ms wall = {:.3}x no trace {} (target <= 1.01x); CPU {:.3}x",
        m_fr * 1e3,
        m_fr / m_off,
        spread(&fr_ratios),
        c_fr / c_off
    );

    // Size: one more traced run, decoded to count its events.
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let d = workload();
    trace::stop().unwrap();
    let bytes = out.0.lock().unwrap().clone();
    let t = rustprof_trace::decode(&bytes).unwrap();
    let events = t.events.len().max(1);
    println!(
        "\ntrace size: {} bytes, {} events: {:.1} bytes/event, {:.1} MB/s of workload ({:.0} events/s); \
         all rounds wrote {:.1} MB in {:.2} s traced",
        bytes.len(),
        events,
        bytes.len() as f64 / events as f64,
        bytes.len() as f64 / d.as_secs_f64() / 1e6,
        events as f64 / d.as_secs_f64(),
        written.0.load(Ordering::Relaxed) as f64 / 1e6,
        traced_time
    );
    println!("dropped events (full buffers) in that run: {}", t.dropped_events());
    println!(
        "CPU per event (workers and collector, medians): trace {:.0} ns, flight recorder {:.0} ns",
        (c_on - c_off) / events as f64 * 1e9,
        (c_fr - c_off) / events as f64 * 1e9
    );
}
