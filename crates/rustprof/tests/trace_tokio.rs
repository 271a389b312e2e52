//! Async tasks in traces: `rustprof::trace::tokio::spawn` gives each task a
//! track with its polls (and the worker that ran them), its scheduling
//! latency (woken → polled) and its completion.

#![allow(clippy::unwrap_used)]

#[path = "../../trace/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustprof::trace;
use rustprof_trace::{ArgValue, EventKind, Trace, vocab};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// (begin, end, name, worker) of a slice.
type Slice = (u64, u64, String, Option<u64>);

/// The slices of the track named `… name`, and its `done` instants.
fn task_slices(t: &Trace, name: &str) -> (Vec<Slice>, usize) {
    let track = t.tracks.iter().find(|tr| tr.name.ends_with(&format!(" {name}"))).expect(name).uuid;
    let mut open = Vec::new();
    let mut out = Vec::new();
    let mut done = 0;
    for e in t.events.iter().filter(|e| e.track == track) {
        match e.kind {
            EventKind::SliceBegin => {
                assert!(open.is_empty(), "a task's slices do not nest: {e:?}");
                let w = e.args.iter().find(|a| a.name == vocab::ARG_WORKER).map(|a| match a.value {
                    ArgValue::Uint(v) => v,
                    _ => panic!(),
                });
                open.push((e.ts, e.name.clone(), w));
            }
            EventKind::SliceEnd => {
                let (b, n, w) = open.pop().unwrap();
                out.push((b, e.ts, n, w));
            }
            EventKind::Instant if e.name == vocab::TASK_DONE => done += 1,
            _ => {}
        }
    }
    assert!(open.is_empty());
    (out, done)
}

#[test]
fn a_woken_task_waits_to_be_polled_and_the_trace_shows_it() {
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let worker = rt.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let waiter = trace::tokio::spawn("waiter", async move {
            rx.await.unwrap();
        });
        let waker = trace::tokio::spawn("waker", async move {
            tokio::task::yield_now().await;
            tx.send(()).unwrap();
            // The waiter is woken now but this (only) worker is busy for 30 ms.
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(30) {
                std::hint::black_box(0);
            }
            rustprof_tid()
        });
        waiter.await.unwrap();
        let worker = waker.await.unwrap();
        // A task cancelled while it waits ends its track too (the session
        // keeps no descriptor for it).
        let cancelled = trace::tokio::spawn("cancelled", std::future::pending::<()>());
        tokio::task::yield_now().await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        worker
    });
    trace::stop().unwrap();

    let bytes = out.0.lock().unwrap().clone();
    let t = rustprof_trace::decode(&bytes).unwrap();
    let (w, done) = task_slices(&t, "waiter");
    assert_eq!(done, 1);
    let polls: Vec<_> = w.iter().filter(|s| s.2 == vocab::POLL).collect();
    assert_eq!(polls.len(), 2, "{w:?}");
    assert!(polls.iter().all(|p| p.3 == Some(worker)), "{polls:?} on worker {worker}");
    let runnable: Vec<_> = w.iter().filter(|s| s.2 == vocab::RUNNABLE).collect();
    assert_eq!(runnable.len(), 1, "{w:?}");
    let r = runnable[0];
    assert!(r.1 - r.0 >= 30_000_000, "scheduling latency {} ns", r.1 - r.0);
    assert_eq!(r.1, polls[1].0, "runnable until polled");
    // The waker's own poll spans the waiter's wait to be polled.
    let (k, kdone) = task_slices(&t, "waker");
    assert_eq!(kdone, 1);
    let last = k.iter().rfind(|s| s.2 == vocab::POLL).unwrap();
    assert!(last.0 <= r.0 && r.1 <= last.1 + 1_000_000, "{last:?} vs {r:?}");
    let (c, cdone) = task_slices(&t, "cancelled");
    assert_eq!((c.iter().filter(|s| s.2 == vocab::POLL).count(), cdone), (1, 1), "{c:?}");

    if let Some(py) = common::perfetto_python() {
        let path = std::env::temp_dir().join(format!("rustprof-trace-tokio-{}.pftrace", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let d = common::perfetto_dump(&py, &path);
        assert_eq!(d["events"].as_array().unwrap().len(), t.events.len());
        assert_eq!(d["open_slices"], serde_json::json!({}));
        let _ = std::fs::remove_file(path);
    }
}

fn rustprof_tid() -> u64 {
    // SAFETY: gettid has no arguments.
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(libc::SYS_gettid) as u64
    }
}
