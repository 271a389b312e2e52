//! The flight recorder (its window, its memory bound, with and without a
//! streaming trace), and what a trace gets from the other profilers: CPU
//! samples with their stacks, the heap in-use counter. Every trace is also
//! decoded with Perfetto's official schema.

#![allow(clippy::unwrap_used)]

#[path = "../../trace/tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::{Duration, Instant};

use rustprof::trace::{self, FlightRecorder, FlightRecorderConfig, TraceError};
use rustprof_trace::{ArgValue, CounterUnit, EventKind, Trace, TrackKind, vocab};

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

/// One test at a time: one trace, one flight recorder, one CPU profile per process.
fn lock() -> MutexGuard<'static, ()> {
    static L: StdMutex<()> = StdMutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
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

/// Decodes with rustprof-trace and checks Perfetto's schema reads the same
/// (balanced slices, time order per track, events on described tracks).
fn check(bytes: &[u8], what: &str) -> Trace {
    let t = rustprof_trace::decode(bytes).unwrap();
    assert_eq!(t.truncated_at, None);
    if let Some(py) = common::perfetto_python() {
        let path = std::env::temp_dir().join(format!("rustprof-{what}-{}.pftrace", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let d = common::perfetto_dump(&py, &path);
        assert_eq!(d["events"].as_array().unwrap().len(), t.events.len(), "{what}");
        let _ = std::fs::remove_file(path);
    }
    t
}

fn names(t: &Trace, kind: EventKind) -> Vec<&str> {
    t.events.iter().filter(|e| e.kind == kind).map(|e| e.name.as_str()).collect()
}

#[test]
fn window_holds_the_last_events_and_not_old_ones() {
    let _l = lock();
    let fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_millis(400),
        max_bytes: 64 << 20,
    });
    assert!(matches!(fr.write_to(&mut Vec::new()), Err(TraceError::NotRunning)));
    fr.start().unwrap();
    assert!(fr.enabled() && trace::is_enabled());
    assert!(matches!(fr.start(), Err(TraceError::FlightRecorderRunning)));
    let other = FlightRecorder::new(FlightRecorderConfig::default());
    assert!(matches!(other.start(), Err(TraceError::FlightRecorderRunning)), "one flight recorder at a time");

    // A region open across the window's start: its end must not be written alone.
    let long = trace::region("long region");
    for i in 0..50 {
        let _t = trace::task("old task");
        let _r = trace::region("old region");
        trace::log("old", format!("old {i}"));
    }
    std::thread::sleep(Duration::from_millis(900));
    drop(long);
    for i in 0..50 {
        let _t = trace::task("new task");
        let _r = trace::region("new region");
        trace::log("new", format!("new {i}"));
    }
    let mut out = Vec::new();
    let n = fr.write_to(&mut out).unwrap();
    assert_eq!(n as usize, out.len());
    let t = check(&out, "flight-window");
    let instants = names(&t, EventKind::Instant);
    assert_eq!(instants.iter().filter(|n| n.starts_with("new ")).count(), 50, "{instants:?}");
    assert!(instants.contains(&"new 49"));
    assert!(!instants.iter().any(|n| n.starts_with("old ")), "old events stay out of the window");
    let begins = names(&t, EventKind::SliceBegin);
    assert_eq!(begins.iter().filter(|n| **n == "new region").count(), 50);
    assert!(!begins.contains(&"old region") && !begins.contains(&"long region"));
    // The tasks of the window have their tracks.
    assert_eq!(t.tracks.iter().filter(|tr| tr.name.ends_with(" new task")).count(), 50);
    assert!(!t.tracks.iter().any(|tr| tr.name.ends_with(" old task")));

    // Recording went on: a later write has the later events.
    trace::log("new", "after the first write");
    let mut out2 = Vec::new();
    fr.write_to(&mut out2).unwrap();
    let t2 = check(&out2, "flight-window-2");
    assert!(names(&t2, EventKind::Instant).contains(&"after the first write"));

    fr.stop();
    assert!(!fr.enabled() && !trace::is_enabled());
    assert!(matches!(fr.write_to(&mut Vec::new()), Err(TraceError::NotRunning)));
}

#[test]
fn memory_stays_bounded_under_a_flood() {
    let _l = lock();
    let max = 1 << 20;
    let fr = FlightRecorder::new(FlightRecorderConfig { min_age: Duration::from_secs(60), max_bytes: max });
    let own_before = rustprof::heap::own_stats().live_bytes();
    fr.start().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..3)
        .map(|k| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    trace::log("flood", format!("thread {k} event {i} with a message of some length"));
                    i += 1;
                    if i.is_multiple_of(1024) {
                        std::thread::yield_now();
                    }
                }
                i
            })
        })
        .collect();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
        assert!(fr.window().0 <= max, "window {} > {max}", fr.window().0);
    }
    stop.store(true, Ordering::Relaxed);
    let logged: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    // Far more than the bound came in ...
    assert!(logged * 100 > 20 * max as u64, "only {logged} events");
    let (bytes, evicted) = fr.window();
    assert!(bytes <= max && evicted > 0, "{bytes} bytes, {evicted} evicted");
    // ... and once the last passes are done, rustprof's own memory (the
    // window, the collector's tables) is near the bound.
    std::thread::sleep(Duration::from_millis(400));
    let own = rustprof::heap::own_stats().live_bytes() - own_before;
    assert!(own < 3 * max as i64, "rustprof holds {own} bytes");
    let mut out = Vec::new();
    fr.write_to(&mut out).unwrap();
    let t = check(&out, "flight-flood");
    let last: Vec<&str> = names(&t, EventKind::Instant);
    assert!(!last.is_empty());
    // Oldest dropped first: the first events are gone.
    assert!(!last.iter().any(|n| n.ends_with(" event 0 with a message of some length")));
    fr.stop();
}

#[test]
fn flight_recorder_runs_alongside_a_trace() {
    let _l = lock();
    let fr = FlightRecorder::new(FlightRecorderConfig::default());
    fr.start().unwrap();
    trace::log("both", "before the trace");
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    assert!(matches!(trace::start(Shared::default()), Err(TraceError::AlreadyRunning)));
    {
        let _r = trace::region("in both");
    }
    trace::stop().unwrap();
    assert!(trace::is_enabled(), "the flight recorder goes on after the trace stops");
    trace::log("both", "after the trace");
    let streamed = check(&out.0.lock().unwrap(), "both-stream");
    let s = names(&streamed, EventKind::SliceBegin);
    assert!(s.contains(&"in both"));
    assert!(!names(&streamed, EventKind::Instant).contains(&"before the trace"));
    let mut w = Vec::new();
    fr.write_to(&mut w).unwrap();
    let window = check(&w, "both-window");
    let i = names(&window, EventKind::Instant);
    assert!(i.contains(&"before the trace") && i.contains(&"after the trace"), "{i:?}");
    assert!(names(&window, EventKind::SliceBegin).contains(&"in both"));
    drop(fr);
    assert!(!trace::is_enabled());
}

#[inline(never)]
fn trace_test_burn(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(7) ^ i;
    }
    x
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn cpu_samples_appear_on_their_threads_with_stacks() {
    let _l = lock();
    // The symbol cache is shared with the profiles: a profile first, so that
    // the trace's collector does not spend the test opening the binary.
    let warm = rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(250)).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(200) {
        black_box(trace_test_burn(black_box(100_000)));
    }
    warm.stop().unwrap();
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let cpu = rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(250)).unwrap();
    let burner = std::thread::Builder::new()
        .name("cpu-burner".into())
        .spawn(|| {
            // 400 ms of this thread's CPU time (the machine may be busy).
            let t0 = Instant::now();
            let mut kept = Vec::new();
            let mut x = 0u64;
            while thread_cpu() < Duration::from_millis(400) && t0.elapsed() < Duration::from_secs(20) {
                let _r = trace::region("burn");
                x = x.wrapping_add(black_box(trace_test_burn(black_box(200_000))));
                kept.push(x);
            }
            (x, kept.len())
        })
        .unwrap();
    let _ = burner.join().unwrap();
    let _profile = cpu.stop().unwrap();
    trace::stop().unwrap();
    let t = check(&out.0.lock().unwrap(), "cpu-heap");

    let burner_track = t.tracks.iter().find(|tr| tr.name == "cpu-burner").unwrap().uuid;
    let samples: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Instant && e.category == vocab::CPU && e.name == vocab::CPU_SAMPLE)
        .collect();
    let on_burner: Vec<_> = samples.iter().filter(|e| e.track == burner_track).collect();
    assert!(on_burner.len() >= 20, "{} samples on the burner of {}", on_burner.len(), samples.len());
    // Symbolized stacks, leaf first, with the burning function in most.
    let with_fn = on_burner
        .iter()
        .filter(|e| {
            e.args.iter().any(|a| {
                a.name == vocab::ARG_STACK
                    && matches!(&a.value, ArgValue::Str(s)
                        if vocab::parse_stack(s).iter().any(|f| f.function.ends_with("trace_test_burn")))
            })
        })
        .count();
    assert!(with_fn * 2 >= on_burner.len(), "{with_fn} of {} samples in trace_test_burn", on_burner.len());
    // Samples fall inside the burner's regions' span.
    let first = t.events.iter().filter(|e| e.track == burner_track).map(|e| e.ts).min().unwrap();
    let last = t.events.iter().filter(|e| e.track == burner_track).map(|e| e.ts).max().unwrap();
    assert!(on_burner.iter().all(|e| e.ts >= first && e.ts <= last));
}

#[test]
fn heap_counter_follows_what_the_program_holds() {
    let _l = lock();
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for _ in 0..40 {
        kept.push(vec![1u8; 256 << 10]);
        std::thread::sleep(Duration::from_millis(15));
    }
    std::thread::sleep(Duration::from_millis(250));
    let held = kept.len() as i64 * (256 << 10);
    drop(kept);
    std::thread::sleep(Duration::from_millis(250));
    trace::stop().unwrap();
    let t = check(&out.0.lock().unwrap(), "heap");
    // The heap counter: bytes, rising with what the program holds ...
    let heap = t.tracks.iter().find(|tr| tr.name == vocab::HEAP_COUNTER).expect("heap counter track");
    assert_eq!(heap.kind, TrackKind::Counter { unit: CounterUnit::SizeBytes });
    let values: Vec<i64> = t
        .events
        .iter()
        .filter(|e| e.track == heap.uuid)
        .map(|e| match e.kind {
            EventKind::Counter(v) => v,
            k => panic!("{k:?} on the counter track"),
        })
        .collect();
    assert!(values.len() >= 3, "{values:?}");
    let rise = values.iter().max().unwrap() - values[0];
    assert!(rise >= (held) / 2, "rise {rise} for {held} bytes held: {values:?}");
    // ... and falling when it is freed.
    assert!(values.last().unwrap() + held / 2 < *values.iter().max().unwrap(), "{values:?}");
}

/// The CPU-state slices of thread `name` in `t` (`None` when the trace says
/// context switches were not recorded: perf events denied; under CI only a
/// refused `perf_event_open` may do that).
fn sched_states<'a>(t: &'a Trace, name: &str) -> Option<Vec<&'a str>> {
    if let Some(e) =
        t.events.iter().find(|e| e.category == vocab::SCHED && e.name.starts_with("context switches"))
    {
        let why = format!("{e:?}");
        assert!(std::env::var_os("CI").is_none() || why.contains("perf_event_open"), "under CI: {why}");
        eprintln!("skipping: {why}");
        return None;
    }
    let thread = t.tracks.iter().find(|tr| tr.name == name).unwrap_or_else(|| panic!("no {name}")).uuid;
    let sched = t
        .tracks
        .iter()
        .find(|tr| tr.parent == Some(thread) && tr.name == vocab::SCHED_TRACK)
        .unwrap_or_else(|| panic!("no cpu state track under {name}"))
        .uuid;
    Some(
        t.events
            .iter()
            .filter(|e| e.track == sched && e.kind == EventKind::SliceBegin)
            .map(|e| e.name.as_str())
            .collect(),
    )
}

/// Context switches are a source of the session: a streaming trace and the
/// flight recorder running together both get the CPU-state slices (each as
/// compact sequences, which Perfetto's schema reads as `check` verifies).
#[test]
fn context_switches_reach_the_stream_and_the_flight_recorder() {
    let _l = lock();
    let fr = FlightRecorder::new(FlightRecorderConfig::default());
    fr.start().unwrap();
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    std::thread::Builder::new()
        .name("napper".into())
        .spawn(|| {
            // 300 ms: the collector attaches to a thread on its next pass.
            for _ in 0..12 {
                let _r = trace::region("nap");
                std::thread::sleep(Duration::from_millis(25));
            }
        })
        .unwrap()
        .join()
        .unwrap();
    trace::stop().unwrap();
    let mut w = Vec::new();
    fr.write_to(&mut w).unwrap();
    fr.stop();
    let streamed = check(&out.0.lock().unwrap(), "switches-stream");
    let window = check(&w, "switches-window");
    for (what, t) in [("stream", &streamed), ("window", &window)] {
        let Some(states) = sched_states(t, "napper") else { return };
        let blocked = states.iter().filter(|s| **s == vocab::BLOCKED).count();
        assert!(blocked >= 4, "{what}: {states:?}");
        assert!(states.contains(&vocab::RUNNING), "{what}: {states:?}");
    }
}
