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

#[test]
fn threads_that_exit_mid_trace_keep_their_events() {
    let out = Shared::default();
    let mut tries = 0;
    while trace::start(out.clone()).is_err() {
        tries += 1;
        assert!(tries < 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    // Each thread records and is gone before the collector's next pass.
    for i in 0..16 {
        std::thread::Builder::new()
            .name(format!("short-{i}"))
            .spawn(move || {
                let _r = trace::region("short life");
                trace::log("exit", format!("last words of {i}"));
            })
            .unwrap()
            .join()
            .unwrap();
    }
    trace::stop().unwrap();
    let t = rustprof_trace::decode(&out.0.lock().unwrap()).unwrap();
    for i in 0..16 {
        let track = thread_track(&t, &format!("short-{i}"));
        let s = slices(&t, track);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(t.events.iter().any(|e| e.track == track && e.name == format!("last words of {i}")));
    }
}

const FORK_CHILD_VAR: &str = "RUSTPROF_TRACE_FORK_CHILD";

/// Forks a child while a trace runs and threads record: the child must not
/// hang (on a lock some thread of the parent held), crash or write into the
/// parent's trace. Run in a child process of its own, so that nothing else
/// of this test binary is tracing.
#[test]
fn fork_while_tracing_is_safe_in_the_child() {
    if let Some(path) = std::env::var_os(FORK_CHILD_VAR) {
        fork_child(std::path::Path::new(&path));
        return;
    }
    let path = std::env::temp_dir().join(format!("rustprof-fork-{}.pftrace", std::process::id()));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fork_while_tracing_is_safe_in_the_child", "--nocapture", "--test-threads=1"])
        .env(FORK_CHILD_VAR, &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let t = rustprof_trace::decode(&bytes).unwrap();
    assert_eq!(t.truncated_at, None);
    // The parent's events are all there, and none of the children's.
    assert!(t.events.iter().filter(|e| e.name == "parent work").count() >= 100);
    assert!(!t.events.iter().any(|e| e.name == "child work"));
    if let Some(py) = common::perfetto_python() {
        let p = std::env::temp_dir().join(format!("rustprof-fork-check-{}.pftrace", std::process::id()));
        std::fs::write(&p, &bytes).unwrap();
        common::perfetto_dump(&py, &p);
        let _ = std::fs::remove_file(p);
    }
}

fn fork_child(path: &std::path::Path) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    trace::start(f).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, lock) = (stop.clone(), lock.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _r = trace::region("parent work");
                    *lock.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(7));
        // SAFETY: the child only records (atomics, its own buffer), calls the
        // trace API (which refuses without taking locks) and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            for _ in 0..50_000 {
                let _r = trace::region("child work");
                trace::log("child", "x");
            }
            let ok = !trace::is_enabled()
                && matches!(trace::start(Vec::new()), Err(trace::TraceError::ForkedChild))
                && matches!(trace::stop(), Err(trace::TraceError::ForkedChild));
            let fr = trace::FlightRecorder::new(trace::FlightRecorderConfig::default());
            let ok = ok && matches!(fr.start(), Err(trace::TraceError::ForkedChild));
            drop(fr);
            // SAFETY: leaves the child at once, running no destructor of the parent's state.
            unsafe { libc::_exit(if ok { 0 } else { 3 }) };
        }
        let t0 = std::time::Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: waits for our own child, status written to a local.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
                break;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                // SAFETY: kills our own hung child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the forked child hangs");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    trace::stop().unwrap();
}
