//! Traces for the tests, written with `rustprof_trace::{Trace, encode}` as
//! `rustprof_trace::vocab` says the recorder writes them: scheduler states on
//! a child track of each thread, regions, sync waits, logs and CPU samples on
//! the thread's track, user tasks on tracks of their own, an async task's
//! polls and wake-ups on its track, the heap counter.
//!
//! [`sample`] has round numbers, so that tests can state every total:
//!
//! | thread | running | runnable | blocked | sync wait |
//! |---|---|---|---|---|
//! | main (tid 10) | 5ms | 1ms | 4ms | 3ms (a lock wait inside the 4 ms blocked) |
//! | worker (tid 11) | 6ms | 0 | 4ms (read) | 1ms (a condvar wait while running) |
//!
//! async task `conn 1`: runnable 0.5 ms + 0.25 ms, polled 0.5 ms + 0.75 ms.
//! User tasks: `request` 9 ms and 2 ms, `batch` 6 ms. Regions: `handle` 8 ms
//! (main), `prep` 2 ms and `io` 4.5 ms (worker).

use rustprof_trace::{ArgValue, CounterUnit, Event, Trace, Track, TrackKind, vocab};

/// Where the sample trace starts (ns on its clock).
pub const T0: u64 = 1_000_000_000;
/// One millisecond.
pub const MS: u64 = 1_000_000;

pub const MAIN: u64 = 0x1_0000_000a;
pub const MAIN_SCHED: u64 = 0x3_0000_000a;
pub const WORKER: u64 = 0x1_0000_000b;
pub const WORKER_SCHED: u64 = 0x3_0000_000b;
pub const CONN: u64 = 0x4_0000_0001;
pub const HEAP: u64 = 0x5_0000_0001;

pub const LOCK_STACK: &str = "std::sync::Mutex<T>::lock (/rustc/library/std/src/sync/mutex.rs:317)\napp::handle (src/main.rs:20)\napp::main (src/main.rs:3)";
pub const READ_STACK: &str = "read\napp::io::fill (src/io.rs:7)\napp::worker (src/main.rs:30)";
pub const SPIN_STACK: &str = "app::spin (src/main.rs:10)\napp::main (src/main.rs:3)";
pub const FUTEX_STACK: &str = "syscall\nstd::sync::Mutex<T>::lock (/rustc/library/std/src/sync/mutex.rs:317)\napp::handle (src/main.rs:20)\napp::main (src/main.rs:3)";
pub const WORK_STACK: &str = "app::work (src/main.rs:5)\napp::main (src/main.rs:3)";

fn at(ms: f64) -> u64 {
    T0 + (ms * MS as f64) as u64
}

fn slice(t: &mut Trace, track: u64, from: f64, to: f64, name: &str, cat: &str, args: &[(&str, ArgValue)]) {
    let mut b = Event::begin(at(from), track, name, cat);
    for (k, v) in args {
        b = b.arg(k, v.clone());
    }
    t.events.push(b);
    t.events.push(Event::end(at(to), track));
}

fn s(v: &str) -> ArgValue {
    ArgValue::Str(v.to_string())
}

/// The trace with the totals of the module's table.
pub fn sample() -> Trace {
    let mut t = Trace { clock_id: rustprof_trace::clock::MONOTONIC, ..Trace::default() };
    t.clock_snapshot = vec![
        (rustprof_trace::clock::MONOTONIC, T0),
        (rustprof_trace::clock::REALTIME, 1_764_720_000_000_000_000),
    ];
    let thread = |uuid, tid, name: &str| Track {
        uuid,
        parent: Some(1),
        name: name.into(),
        kind: TrackKind::Thread { pid: 7, tid },
    };
    let sched = |uuid, parent| Track {
        uuid,
        parent: Some(parent),
        name: vocab::SCHED_TRACK.into(),
        kind: TrackKind::Async,
    };
    t.tracks.push(Track { uuid: 1, parent: None, name: "app".into(), kind: TrackKind::Process { pid: 7 } });
    t.tracks.push(thread(MAIN, 10, "main"));
    t.tracks.push(sched(MAIN_SCHED, MAIN));
    t.tracks.push(thread(WORKER, 11, "worker"));
    t.tracks.push(sched(WORKER_SCHED, WORKER));
    t.tracks.push(Track { uuid: CONN, parent: Some(1), name: "conn 1".into(), kind: TrackKind::Async });
    t.tracks.push(Track {
        uuid: HEAP,
        parent: Some(1),
        name: vocab::HEAP_COUNTER.into(),
        kind: TrackKind::Counter { unit: CounterUnit::SizeBytes },
    });
    for (id, name) in [(1u64, "request"), (2, "request"), (3, "batch")] {
        t.tracks.push(Track {
            uuid: 0x2_0000_0000_0000 | id,
            parent: Some(1),
            name: format!("task {id} {name}"),
            kind: TrackKind::Async,
        });
    }

    // main: running 0-2, runnable 2-3, running 3-4, blocked 4-8 (futex), running 8-10.
    let st = vocab::SCHED;
    slice(&mut t, MAIN_SCHED, 0.0, 2.0, vocab::RUNNING, st, &[]);
    slice(&mut t, MAIN_SCHED, 2.0, 3.0, vocab::RUNNABLE, st, &[(vocab::ARG_STACK, s(SPIN_STACK))]);
    slice(&mut t, MAIN_SCHED, 3.0, 4.0, vocab::RUNNING, st, &[]);
    slice(
        &mut t,
        MAIN_SCHED,
        4.0,
        8.0,
        vocab::BLOCKED,
        st,
        &[(vocab::ARG_REASON, s("futex")), (vocab::ARG_STACK, s(FUTEX_STACK))],
    );
    slice(&mut t, MAIN_SCHED, 8.0, 10.0, vocab::RUNNING, st, &[]);
    // Region handle 1-9 with a lock wait 4-7 inside.
    t.events
        .push(Event::begin(at(1.0), MAIN, "handle", vocab::REGION).arg(vocab::ARG_TASK, ArgValue::Uint(1)));
    slice(
        &mut t,
        MAIN,
        4.0,
        7.0,
        vocab::LOCK_WAIT,
        vocab::SYNC,
        &[(vocab::ARG_LOCK, s("0x7f00")), (vocab::ARG_STACK, s(LOCK_STACK))],
    );
    t.events.push(Event::end(at(9.0), MAIN));
    t.events.push(Event::instant(at(5.0), MAIN, "GET /login", "http"));
    for ms in [0.5, 1.5, 9.0] {
        t.events.push(
            Event::instant(at(ms), MAIN, vocab::CPU_SAMPLE, vocab::CPU).arg(vocab::ARG_STACK, s(WORK_STACK)),
        );
    }

    // worker: running 0-5, blocked 5-9 (read), running 9-10; region prep 0.5-2.5
    // with a condvar wait 1-2 (no stack); region io 5-9.5.
    slice(&mut t, WORKER_SCHED, 0.0, 5.0, vocab::RUNNING, st, &[]);
    slice(
        &mut t,
        WORKER_SCHED,
        5.0,
        9.0,
        vocab::BLOCKED,
        st,
        &[(vocab::ARG_REASON, s("read")), (vocab::ARG_STACK, s(READ_STACK))],
    );
    slice(&mut t, WORKER_SCHED, 9.0, 10.0, vocab::RUNNING, st, &[]);
    t.events.push(Event::begin(at(0.5), WORKER, "prep", vocab::REGION));
    slice(&mut t, WORKER, 1.0, 2.0, vocab::CONDVAR_WAIT, vocab::SYNC, &[]);
    t.events.push(Event::end(at(2.5), WORKER));
    slice(&mut t, WORKER, 5.0, 9.5, "io", vocab::REGION, &[]);
    t.events.push(Event::instant(at(6.0), WORKER, "short read", "io"));

    // conn 1: woken at 1, polled 1.5-2; woken at 6, polled 6.25-7.
    slice(&mut t, CONN, 1.0, 1.5, vocab::RUNNABLE, st, &[]);
    slice(&mut t, CONN, 1.5, 2.0, vocab::POLL, vocab::POLL, &[(vocab::ARG_WORKER, ArgValue::Uint(11))]);
    slice(&mut t, CONN, 6.0, 6.25, vocab::RUNNABLE, st, &[]);
    slice(&mut t, CONN, 6.25, 7.0, vocab::POLL, vocab::POLL, &[(vocab::ARG_WORKER, ArgValue::Uint(10))]);

    // User tasks; task 2's end is written before its begin (another thread's buffer).
    let task = |id: u64| 0x2_0000_0000_0000 | id;
    slice(&mut t, task(1), 0.5, 9.5, "request", vocab::TASK, &[(vocab::ARG_TASK, ArgValue::Uint(1))]);
    t.events.push(Event::end(at(3.0), task(2)));
    t.events
        .push(Event::begin(at(1.0), task(2), "request", vocab::TASK).arg(vocab::ARG_TASK, ArgValue::Uint(2)));
    slice(&mut t, task(3), 2.0, 8.0, "batch", vocab::TASK, &[(vocab::ARG_TASK, ArgValue::Uint(3))]);

    // Heap.
    for (ms, v) in [(0.0, 1000), (2.0, 5000), (6.0, 3000)] {
        t.events.push(Event::counter(at(ms), HEAP, v));
    }
    t
}

/// Writes `trace` into `dir/name` and returns the path.
pub fn write(dir: &std::path::Path, name: &str, trace: &Trace) -> String {
    let path = dir.join(name);
    std::fs::write(&path, rustprof_trace::encode(trace)).unwrap();
    path.to_string_lossy().into_owned()
}

/// A pseudo-random trace: `threads` threads with `per_thread` scheduler
/// states each (on their child tracks), sync waits on the thread tracks
/// overlapping the states anyhow, and two async tasks with wake-ups and polls.
pub fn random(seed: u64, threads: u32, per_thread: u32) -> Trace {
    let mut x = seed.max(1);
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let stacks = [LOCK_STACK, READ_STACK, SPIN_STACK, FUTEX_STACK];
    let mut t = Trace { clock_id: rustprof_trace::clock::MONOTONIC, ..Trace::default() };
    t.tracks.push(Track { uuid: 1, parent: None, name: "app".into(), kind: TrackKind::Process { pid: 7 } });
    for th in 0..threads {
        let (thread, sched) = (0x1_0000_0000 | u64::from(th), 0x3_0000_0000 | u64::from(th));
        t.tracks.push(Track {
            uuid: thread,
            parent: Some(1),
            name: format!("w{th}"),
            kind: TrackKind::Thread { pid: 7, tid: 100 + th as i32 },
        });
        t.tracks.push(Track {
            uuid: sched,
            parent: Some(thread),
            name: vocab::SCHED_TRACK.into(),
            kind: TrackKind::Async,
        });
        let mut ts = T0 + next(1000);
        for _ in 0..per_thread {
            let d = 1 + next(50_000);
            let (name, args): (&str, Vec<(&str, ArgValue)>) = match next(3) {
                0 => (vocab::RUNNING, vec![]),
                1 => (vocab::RUNNABLE, vec![(vocab::ARG_STACK, s(stacks[next(4) as usize]))]),
                _ => (
                    vocab::BLOCKED,
                    vec![(vocab::ARG_REASON, s("futex")), (vocab::ARG_STACK, s(stacks[next(4) as usize]))],
                ),
            };
            let mut b = Event::begin(ts, sched, name, vocab::SCHED);
            for (k, v) in args {
                b = b.arg(k, v);
            }
            t.events.push(b);
            ts += d;
            t.events.push(Event::end(ts, sched));
        }
        let end = ts;
        let mut ts = T0 + next(5000);
        while ts < end {
            let d = 1 + next(80_000);
            let name = if next(4) == 0 { vocab::CONDVAR_WAIT } else { vocab::LOCK_WAIT };
            let mut b = Event::begin(ts, thread, name, vocab::SYNC);
            if next(2) == 0 {
                b = b.arg(vocab::ARG_STACK, s(stacks[next(4) as usize]));
            }
            t.events.push(b);
            t.events.push(Event::end(ts + d, thread));
            ts += d + next(60_000);
        }
    }
    for task in 0..2u64 {
        let uuid = 0x4_0000_0000 | task;
        t.tracks.push(Track { uuid, parent: Some(1), name: format!("conn {task}"), kind: TrackKind::Async });
        let mut ts = T0 + next(1000);
        for _ in 0..per_thread / 4 {
            let w = 1 + next(20_000);
            t.events.push(Event::begin(ts, uuid, vocab::RUNNABLE, vocab::SCHED));
            t.events.push(Event::end(ts + w, uuid));
            let p = 1 + next(20_000);
            t.events.push(Event::begin(ts + w, uuid, vocab::POLL, vocab::POLL));
            t.events.push(Event::end(ts + w + p, uuid));
            ts += w + p + next(40_000);
        }
    }
    t
}
