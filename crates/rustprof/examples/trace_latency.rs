//! A request's latency split into running, waiting for a lock and waiting to
//! be polled, as an execution trace shows it.
//!
//! `cargo run -p rustprof --example trace_latency --features tokio [-- trace.pftrace]`
//! writes the trace (open it at ui.perfetto.dev) and prints the split it reads
//! back from the file: the request's task track (its polls and its
//! `runnable` wait after a wake-up), the worker thread's `lock wait` and its
//! `cpu state` (`running`).

use std::io::Write;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use rustprof_trace::{EventKind, Trace, TrackKind, vocab};

/// Where a request's time went, in ns, read from its trace.
#[derive(Debug, Default)]
pub(crate) struct Split {
    /// From the first poll's start to the end of the last.
    pub(crate) total: u64,
    /// On a CPU inside the request's polls (from context switches; the polls
    /// minus the lock wait where perf events are denied).
    pub(crate) running: u64,
    /// Preempted (ready, not on a CPU: another process had it) inside its
    /// polls; 0 where perf events are denied.
    pub(crate) preempted: u64,
    /// Blocked in `rustprof::sync::Mutex::lock` inside its polls.
    pub(crate) lock_wait: u64,
    /// Woken, waiting for its worker to poll it.
    pub(crate) waiting_to_be_polled: u64,
}

#[derive(Clone, Default)]
struct Shared(Arc<StdMutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn spin(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::black_box(0u64);
    }
}

/// The service: one worker thread; the request computes (20 ms), takes a
/// lock a background job holds (30 ms), then waits for a reply that another
/// task sends just before hogging the worker (25 ms).
async fn serve(lock: Arc<rustprof::sync::Mutex<u64>>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
    let request = rustprof::trace::tokio::spawn("request", async move {
        spin(Duration::from_millis(20));
        {
            let (held_tx, held_rx) = std::sync::mpsc::channel();
            let l = lock.clone();
            let job = std::thread::spawn(move || {
                let _g = l.lock().unwrap_or_else(|e| e.into_inner());
                let _ = held_tx.send(());
                std::thread::sleep(Duration::from_millis(30));
            });
            let _ = held_rx.recv();
            *lock.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            let _ = job.join();
        }
        rx.await.unwrap_or(0)
    });
    let hog = rustprof::trace::tokio::spawn("hog", async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let _ = tx.send(1);
        spin(Duration::from_millis(25));
    });
    let _ = request.await;
    let _ = hog.await;
}

/// Runs the service under a trace; returns the trace's bytes.
pub(crate) fn run() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let out = Shared::default();
    rustprof::trace::start(out.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    // Let the trace's collector find the worker thread before the request.
    std::thread::sleep(Duration::from_millis(150));
    rt.block_on(serve(Arc::new(rustprof::sync::Mutex::new(0))));
    rustprof::trace::stop()?;
    let bytes = out.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(bytes)
}

/// (begin, end, name) of a track's slices, by nesting.
fn slices(t: &Trace, track: u64) -> Vec<(u64, u64, String, Vec<rustprof_trace::Arg>)> {
    let mut open = Vec::new();
    let mut out = Vec::new();
    for e in t.events.iter().filter(|e| e.track == track) {
        match e.kind {
            EventKind::SliceBegin => open.push((e.ts, e.name.clone(), e.args.clone())),
            EventKind::SliceEnd => {
                if let Some((b, n, a)) = open.pop() {
                    out.push((b, e.ts, n, a));
                }
            }
            _ => {}
        }
    }
    out
}

fn overlap(a: (u64, u64), b: (u64, u64)) -> u64 {
    a.1.min(b.1).saturating_sub(a.0.max(b.0))
}

/// Reads the split of the task named `name` from a trace.
pub(crate) fn split(t: &Trace, name: &str) -> Option<Split> {
    let task = t.tracks.iter().find(|tr| tr.name.ends_with(&format!(" {name}")))?.uuid;
    let s = slices(t, task);
    let polls: Vec<_> = s.iter().filter(|x| x.2 == vocab::POLL).collect();
    let worker =
        polls.first()?.3.iter().find(|a| a.name == vocab::ARG_WORKER).and_then(|a| match a.value {
            rustprof_trace::ArgValue::Uint(v) => Some(v as i32),
            _ => None,
        })?;
    let thread =
        t.tracks.iter().find(|tr| matches!(tr.kind, TrackKind::Thread { tid, .. } if tid == worker))?.uuid;
    let in_polls = |x: (u64, u64)| polls.iter().map(|p| overlap((p.0, p.1), x)).sum::<u64>();
    let lock_wait =
        slices(t, thread).iter().filter(|x| x.2 == vocab::LOCK_WAIT).map(|x| in_polls((x.0, x.1))).sum();
    let polled: u64 = polls.iter().map(|p| p.1 - p.0).sum();
    let sched = t.tracks.iter().find(|tr| tr.parent == Some(thread) && tr.name == vocab::SCHED_TRACK);
    let state = |name: &str| match sched {
        Some(tr) => slices(t, tr.uuid).iter().filter(|x| x.2 == name).map(|x| in_polls((x.0, x.1))).sum(),
        None => 0,
    };
    let (running, preempted) = match sched {
        Some(_) => (state(vocab::RUNNING), state(vocab::RUNNABLE)),
        None => (polled.saturating_sub(lock_wait), 0),
    };
    let waiting_to_be_polled = s.iter().filter(|x| x.2 == vocab::RUNNABLE).map(|x| x.1 - x.0).sum();
    let total = polls.last()?.1 - polls.first()?.0;
    Some(Split { total, running, preempted, lock_wait, waiting_to_be_polled })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "trace_latency.pftrace".into());
    let bytes = run()?;
    std::fs::write(&path, &bytes).map_err(|e| format!("{path}: {e}"))?;
    let t = rustprof_trace::decode(&bytes)?;
    let s = split(&t, "request").ok_or("the trace has no request task")?;
    let ms = |ns: u64| ns as f64 / 1e6;
    println!(
        "wrote {path} ({} bytes, {} events); open it at https://ui.perfetto.dev",
        bytes.len(),
        t.events.len()
    );
    println!("request: {:.1} ms", ms(s.total));
    println!("  running               {:6.1} ms", ms(s.running));
    println!("  preempted (CPU busy)  {:6.1} ms", ms(s.preempted));
    println!("  waiting for a lock    {:6.1} ms", ms(s.lock_wait));
    println!("  waiting to be polled  {:6.1} ms", ms(s.waiting_to_be_polled));
    let rest = s.total.saturating_sub(s.running + s.preempted + s.lock_wait + s.waiting_to_be_polled);
    println!("  waiting for the reply {:6.1} ms", ms(rest));
    Ok(())
}
