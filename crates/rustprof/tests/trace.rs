//! The execution tracer end to end: a real multi-threaded program with a
//! contended `rustprof::sync::Mutex`, regions, tasks and logs; the trace is
//! decoded by rustprof-trace and by Perfetto's official schema.

#![allow(clippy::unwrap_used)]

#[path = "../../trace/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use rustprof::trace;
use rustprof_trace::{EventKind, Trace, TrackKind};

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

/// (begin, end, name) of the slices on a track, matched by nesting.
fn slices(t: &Trace, track: u64) -> Vec<(u64, u64, String)> {
    let mut open = Vec::new();
    let mut out = Vec::new();
    for e in t.events.iter().filter(|e| e.track == track) {
        match e.kind {
            EventKind::SliceBegin => open.push((e.ts, e.name.clone())),
            EventKind::SliceEnd => {
                let (b, n) = open.pop().expect("end without begin");
                out.push((b, e.ts, n));
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed slices {open:?}");
    out
}

fn thread_track(t: &Trace, name: &str) -> u64 {
    t.tracks
        .iter()
        .find(|tr| tr.name == name && matches!(tr.kind, TrackKind::Thread { .. }))
        .unwrap_or_else(|| panic!("no thread track {name}: {:?}", t.tracks))
        .uuid
}

#[test]
fn lock_holder_region_overlaps_waiter_blocked_interval() {
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    assert!(matches!(trace::start(Shared::default()), Err(trace::TraceError::AlreadyRunning)));

    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    let (l1, l2) = (lock.clone(), lock.clone());
    let holder = std::thread::Builder::new()
        .name("holder".into())
        .spawn(move || {
            let task = trace::task("job");
            let _r = task.region("hold");
            let mut g = l1.lock().unwrap();
            std::thread::sleep(Duration::from_millis(80));
            *g += 1;
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let waiter = std::thread::Builder::new()
        .name("waiter".into())
        .spawn(move || {
            trace::log("app", "before lock");
            let _r = trace::region("want");
            *l2.lock().unwrap() += 1;
        })
        .unwrap();
    holder.join().unwrap();
    waiter.join().unwrap();
    trace::stop().unwrap();
    assert!(matches!(trace::stop(), Err(trace::TraceError::NotRunning)));

    let bytes = out.0.lock().unwrap().clone();
    let t = rustprof_trace::decode(&bytes).unwrap();
    let h = slices(&t, thread_track(&t, "holder"));
    let w = slices(&t, thread_track(&t, "waiter"));
    let hold = h.iter().find(|s| s.2 == "hold").expect("hold region");
    let wait = w.iter().find(|s| s.2 == "lock wait").expect("lock wait slice");
    let want = w.iter().find(|s| s.2 == "want").expect("want region");
    // The waiter blocked while the holder held the lock, inside its region.
    assert!(wait.0 >= hold.0 && wait.0 < hold.1, "{wait:?} vs {hold:?}");
    assert!(wait.1 >= hold.1 - 1_000_000, "wait ended before the holder let go: {wait:?} vs {hold:?}");
    assert!(wait.1 - wait.0 > 30_000_000, "{wait:?}");
    assert!(want.0 <= wait.0 && wait.1 <= want.1);
    // The task has its own track with one slice.
    let task_track = t.tracks.iter().find(|tr| tr.name.ends_with(" job")).expect("task track").uuid;
    assert_eq!(slices(&t, task_track).len(), 1);
    assert!(
        t.events
            .iter()
            .any(|e| e.kind == EventKind::Instant && e.name == "before lock" && e.category == "app")
    );
    assert_eq!(t.dropped_events(), 0);

    // And Perfetto's schema reads the same.
    if let Some(py) = common::perfetto_python() {
        let path = std::env::temp_dir().join(format!("rustprof-trace-{}.pftrace", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let d = common::perfetto_dump(&py, &path);
        assert_eq!(d["events"].as_array().unwrap().len(), t.events.len());
        assert!(
            d["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "lock wait" && e["category"] == "sync")
        );
        let _ = std::fs::remove_file(path);
    }

    // Annotations with no trace running record nothing and cost nothing visible.
    let _r = trace::region("idle");
    trace::log("x", "y");
    assert!(!trace::is_enabled());
}

struct Failing;
impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_error_stops_the_trace_and_stop_returns_it() {
    // Serialised with the other test by the global trace: retry start.
    let mut tries = 0;
    while trace::start(Failing).is_err() {
        tries += 1;
        assert!(tries < 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    trace::log("a", "b");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!trace::is_enabled(), "a write error stops the trace");
    let e = trace::stop().unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
}
