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
    start_when_free(out.clone());
    assert!(matches!(trace::start(Shared::default()), Err(trace::TraceError::AlreadyRunning)));

    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    let (l1, l2) = (lock.clone(), lock.clone());
    // The holder keeps the lock for 80 ms after the waiter is about to take it.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (wanting_tx, wanting_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::Builder::new()
        .name("holder".into())
        .spawn(move || {
            let task = trace::task("job");
            let _r = task.region("hold");
            let mut g = l1.lock().unwrap();
            locked_tx.send(()).unwrap();
            wanting_rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(80));
            *g += 1;
        })
        .unwrap();
    let waiter = std::thread::Builder::new()
        .name("waiter".into())
        .spawn(move || {
            locked_rx.recv().unwrap();
            wanting_tx.send(()).unwrap();
            trace::log("app", "before lock");
            let _r = trace::region("want");
            *l2.lock().unwrap() += 1;
        })
        .unwrap();
    holder.join().unwrap();
    waiter.join().unwrap();
    trace::stop().unwrap();

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

    // Annotations after the trace are not in it.
    let _r = trace::region("idle");
    trace::log("x", "y");
    assert!(!out.0.lock().unwrap().windows(4).any(|w| w == b"idle"));
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

/// Starts a trace, waiting for another test's trace to end (one at a time).
fn start_when_free(out: Shared) {
    let mut tries = 0;
    while trace::start(out.clone()).is_err() {
        tries += 1;
        assert!(tries < 400, "the trace stayed busy");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The CPU-state track of the thread with track `thread`.
fn sched_track(t: &Trace, thread: u64) -> Option<u64> {
    t.tracks
        .iter()
        .find(|tr| tr.parent == Some(thread) && tr.name == rustprof_trace::vocab::SCHED_TRACK)
        .map(|tr| tr.uuid)
}

/// (begin, end, name, reason) of the CPU-state slices of a track.
fn sched_slices(t: &Trace, track: u64) -> Vec<(u64, u64, String, Option<String>)> {
    use rustprof_trace::vocab;
    let mut out = Vec::new();
    let mut open: Option<(u64, String, Option<String>)> = None;
    for e in t.events.iter().filter(|e| e.track == track) {
        match e.kind {
            EventKind::SliceBegin => {
                assert_eq!(e.category, vocab::SCHED);
                assert!(open.is_none(), "CPU-state slices do not nest: {e:?}");
                let reason = e.args.iter().find(|a| a.name == vocab::ARG_REASON).map(|a| match &a.value {
                    rustprof_trace::ArgValue::Str(s) => s.clone(),
                    v => panic!("{v:?}"),
                });
                open = Some((e.ts, e.name.clone(), reason));
            }
            EventKind::SliceEnd => {
                let (b, n, r) = open.take().expect("end without begin");
                assert!(e.ts >= b);
                out.push((b, e.ts, n, r));
            }
            _ => {}
        }
    }
    assert!(open.is_none());
    // One after the other.
    for w in out.windows(2) {
        assert!(w[0].1 <= w[1].0, "{w:?}");
    }
    out
}

fn perf_allowed() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .is_some_and(|p| p <= 2)
}

#[test]
fn a_sleeping_thread_is_blocked_and_a_lock_waiter_blocks_on_the_lock() {
    use rustprof_trace::vocab;
    if !perf_allowed() {
        assert!(std::env::var_os("CI").is_none(), "CI needs perf_event_paranoid <= 2");
        eprintln!("skipping: perf events denied (perf_event_paranoid > 2)");
        return;
    }
    let out = Shared::default();
    start_when_free(out.clone());
    let lock = Arc::new(rustprof::sync::Mutex::new(0u64));
    let (l1, l2) = (lock.clone(), lock.clone());
    // Each thread waits long enough for the collector (every 100 ms) to find
    // it before the part under test.
    let sleeper = std::thread::Builder::new()
        .name("sleeper".into())
        .spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            let _r = trace::region("nap");
            std::thread::sleep(Duration::from_millis(50));
        })
        .unwrap();
    // The holder spins 60 ms with the lock once the waiter is about to take it.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (wanting_tx, wanting_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::Builder::new()
        .name("sw-holder".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let _r = trace::region("hold");
            let g = l1.lock().unwrap();
            locked_tx.send(()).unwrap();
            wanting_rx.recv().unwrap();
            let t0 = std::time::Instant::now();
            while t0.elapsed() < Duration::from_millis(60) {
                std::hint::black_box(&g);
            }
        })
        .unwrap();
    let waiter = std::thread::Builder::new()
        .name("sw-waiter".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            locked_rx.recv().unwrap();
            wanting_tx.send(()).unwrap();
            *l2.lock().unwrap() += 1;
        })
        .unwrap();
    sleeper.join().unwrap();
    holder.join().unwrap();
    waiter.join().unwrap();
    trace::stop().unwrap();

    let bytes = out.0.lock().unwrap().clone();
    let t = rustprof_trace::decode(&bytes).unwrap();
    assert_eq!(t.dropped_events(), 0);
    assert!(
        !t.events.iter().any(|e| e.name.starts_with("context switches not recorded")),
        "perf allowed, yet: {:?}",
        t.events.iter().find(|e| e.name.starts_with("context switches"))
    );

    // The sleeper: one blocked interval of about 50 ms inside its region.
    let th = thread_track(&t, "sleeper");
    let nap = slices(&t, th).into_iter().find(|s| s.2 == "nap").expect("nap region");
    let s = sched_slices(&t, sched_track(&t, th).expect("sleeper's CPU-state track"));
    let blocked: Vec<_> =
        s.iter().filter(|x| x.2 == vocab::BLOCKED && x.0 >= nap.0 && x.1 <= nap.1).collect();
    assert_eq!(blocked.len(), 1, "{s:?} in {nap:?}");
    let d = blocked[0].1 - blocked[0].0;
    assert!(d >= 49_000_000 && d <= nap.1 - nap.0, "{d} ns blocked, region {} ns", nap.1 - nap.0);
    assert!(s.iter().any(|x| x.2 == vocab::RUNNING), "{s:?}");

    // The waiter blocks, for the lock, while the holder runs inside its region.
    let hold = slices(&t, thread_track(&t, "sw-holder")).into_iter().find(|s| s.2 == "hold").unwrap();
    let wt = thread_track(&t, "sw-waiter");
    let wait = slices(&t, wt).into_iter().find(|s| s.2 == vocab::LOCK_WAIT).expect("lock wait");
    // The waiting stack, symbolized, starts at the caller of the lock.
    let begin = t.events.iter().find(|e| e.track == wt && e.name == vocab::LOCK_WAIT).unwrap();
    let stack = match &begin.args.iter().find(|a| a.name == vocab::ARG_STACK).expect("stack argument").value {
        rustprof_trace::ArgValue::Str(s) => vocab::parse_stack(s),
        v => panic!("{v:?}"),
    };
    assert!(!stack.is_empty() && !stack[0].function.starts_with("rustprof::sync"), "{stack:?}");
    assert!(
        stack.iter().any(|f| f.function.contains("a_sleeping_thread_is_blocked_and_a_lock_waiter")),
        "{stack:?}"
    );
    let ws = sched_slices(&t, sched_track(&t, wt).unwrap());
    let on_lock: Vec<_> = ws.iter().filter(|x| x.3.as_deref() == Some("lock")).collect();
    assert!(!on_lock.is_empty(), "no blocked interval with reason lock: {ws:?}");
    for x in &on_lock {
        assert_eq!(x.2, vocab::BLOCKED);
        assert!(x.0 >= wait.0 && x.0 <= wait.1, "{x:?} outside the wait {wait:?}");
    }
    let longest = on_lock.iter().max_by_key(|x| x.1 - x.0).unwrap();
    assert!(longest.0 < hold.1 && longest.1 > hold.0, "{longest:?} vs the holder's {hold:?}");
    assert!(longest.1 - longest.0 > 20_000_000, "{longest:?}");
    // The holder ran while it held the lock.
    let hs = sched_slices(&t, sched_track(&t, thread_track(&t, "sw-holder")).unwrap());
    // The holder spun (on CPU or preempted, never blocked) while it held the lock.
    let within = |x: &&(u64, u64, String, Option<String>)| x.1.min(hold.1).saturating_sub(x.0.max(hold.0));
    let ran: u64 = hs.iter().filter(|x| x.2 == vocab::RUNNING).map(|x| within(&x)).sum();
    let ready: u64 = hs.iter().filter(|x| x.2 == vocab::RUNNABLE).map(|x| within(&x)).sum();
    assert!(ran > 0 && ran + ready >= 60_000_000, "{ran} + {ready} ns in the hold region: {hs:?}");

    // Perfetto's schema: the same events, every slice closed, in time order per track.
    if let Some(py) = common::perfetto_python() {
        let path = std::env::temp_dir().join(format!("rustprof-trace-sw-{}.pftrace", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let d = common::perfetto_dump(&py, &path);
        let theirs: Vec<(u64, u64, String)> = d["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (e["ts"].as_u64().unwrap(), e["track"].as_u64().unwrap(), e["name"].as_str().unwrap().into())
            })
            .collect();
        let mut ours: Vec<(u64, u64, String)> =
            t.events.iter().map(|e| (e.ts, e.track, e.name.clone())).collect();
        let mut theirs = theirs;
        theirs.sort();
        ours.sort();
        assert_eq!(theirs, ours);
        assert_eq!(d["open_slices"], serde_json::json!({}));
        let _ = std::fs::remove_file(path);
    }
}

/// Without perf events (here turned off, as a denied `perf_event_open`
/// is handled the same way) the trace says why once and holds everything
/// else. Runs itself as a child process, for the environment variable.
#[test]
fn without_perf_events_the_trace_says_so_and_still_works() {
    use rustprof_trace::vocab;
    if let Some(path) = std::env::var_os("RUSTPROF_TRACE_TEST_CHILD") {
        trace::start(std::fs::File::create(path).unwrap()).unwrap();
        trace::with_region("work", || std::thread::sleep(Duration::from_millis(150)));
        trace::stop().unwrap();
        return;
    }
    let path = std::env::temp_dir().join(format!("rustprof-trace-noperf-{}.pftrace", std::process::id()));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "without_perf_events_the_trace_says_so_and_still_works", "--test-threads=1"])
        .env("RUSTPROF_TRACE_TEST_CHILD", &path)
        .env("RUSTPROF_TRACE_SWITCHES", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let t = rustprof_trace::decode(&bytes).unwrap();
    let notes: Vec<_> =
        t.events.iter().filter(|e| e.category == vocab::SCHED && e.kind == EventKind::Instant).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].name.starts_with("context switches not recorded"), "{:?}", notes[0]);
    assert!(matches!(t.track(notes[0].track).unwrap().kind, TrackKind::Process { .. }));
    assert!(notes[0].args.iter().any(|a| a.name == vocab::ARG_REASON));
    assert!(!t.tracks.iter().any(|tr| tr.name == vocab::SCHED_TRACK));
    assert!(t.events.iter().any(|e| e.name == "work" && e.kind == EventKind::SliceBegin));
}
