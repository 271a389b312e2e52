//! Writes a synthetic trace of a busy service for the timeline benchmark
//! (`bench/timeline.sh`): threads with scheduler states (on their child
//! tracks, as `rustprof_trace::vocab` says), regions, lock waits with
//! stacks, CPU samples and logs; async tasks with wake-ups and polls; user
//! tasks; the heap counter. Deterministic (a fixed xorshift seed).
//!
//! usage: cargo run --release -p rustprof-cli --example synth_trace -- OUT [EVENTS] [SECONDS]

use std::io::Write;

use rustprof_trace::{ArgValue, CounterUnit, Encoder, Event, Track, TrackKind, vocab};

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const STACKS: [&str; 4] = [
    "std::sync::Mutex<T>::lock (/rustc/library/std/src/sync/mutex.rs:317)\nsvc::cache::get (src/cache.rs:41)\nsvc::handle (src/main.rs:88)\nsvc::main (src/main.rs:12)",
    "read\nsvc::io::fill (src/io.rs:7)\nsvc::handle (src/main.rs:80)\nsvc::main (src/main.rs:12)",
    "futex_wait\nstd::sync::Condvar::wait (/rustc/library/std/src/sync/condvar.rs:189)\nsvc::queue::pop (src/queue.rs:22)\nsvc::worker (src/main.rs:40)",
    "svc::json::encode (src/json.rs:150)\nsvc::handle (src/main.rs:95)\nsvc::main (src/main.rs:12)",
];

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().cloned().unwrap_or_else(|| "synth.pftrace".into());
    let target: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let threads = 32u64;
    let tasks = 16u64;
    let t0 = 1_000_000_000u64;
    let span = seconds * 1_000_000_000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut enc = Encoder::new(1, rustprof_trace::clock::MONOTONIC);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    enc.clock_snapshot(&[
        (rustprof_trace::clock::MONOTONIC, t0),
        (rustprof_trace::clock::REALTIME, 1_764_720_000_000_000_000),
    ]);
    enc.track(&Track { uuid: 1, parent: None, name: "svc".into(), kind: TrackKind::Process { pid: 4242 } });
    let mut events = 0u64;
    // Per thread: ~80% of the budget, evenly; a state costs 2 events.
    let per_thread = target * 8 / 10 / threads;
    // Mean state length so that a thread's states fill the span.
    let mean = (span / (per_thread / 3).max(1)).max(2);
    for th in 0..threads {
        let (thread, sched) = (0x1_0000_0000 | th, 0x3_0000_0000 | th);
        let tid = 5000 + th as i32;
        enc.track(&Track {
            uuid: thread,
            parent: Some(1),
            name: format!("worker-{th}"),
            kind: TrackKind::Thread { pid: 4242, tid },
        });
        enc.track(&Track {
            uuid: sched,
            parent: Some(thread),
            name: vocab::SCHED_TRACK.into(),
            kind: TrackKind::Async,
        });
        let mut ts = t0;
        let mut budget = per_thread as i64;
        let mut region_end = 0u64;
        while budget > 0 && ts < t0 + span {
            let d = 1 + rng.next(mean * 2);
            let pick = rng.next(10);
            let (name, stack) = match pick {
                0..=5 => (vocab::RUNNING, None),
                6 => (vocab::RUNNABLE, Some(STACKS[3])),
                _ => (vocab::BLOCKED, Some(STACKS[rng.next(3) as usize])),
            };
            let mut b = Event::begin(ts, sched, name, vocab::SCHED);
            if let Some(s) = stack {
                b = b.arg(vocab::ARG_STACK, ArgValue::Str(s.into()));
            }
            if name == vocab::BLOCKED {
                b = b.arg(vocab::ARG_REASON, ArgValue::Str(if pick == 7 { "futex" } else { "read" }.into()));
            }
            enc.event(&b);
            enc.event(&Event::end(ts + d, sched));
            budget -= 2;
            // A region around some states, a lock wait inside some blocked ones.
            if ts >= region_end && rng.next(4) == 0 {
                region_end = ts + d * (1 + rng.next(6));
                enc.event(&Event::begin(
                    ts,
                    thread,
                    ["handle", "parse", "respond"][rng.next(3) as usize],
                    vocab::REGION,
                ));
                if name == vocab::BLOCKED && pick == 7 {
                    enc.event(
                        &Event::begin(ts + d / 4, thread, vocab::LOCK_WAIT, vocab::SYNC)
                            .arg(vocab::ARG_LOCK, ArgValue::Str("0x7f3a00".into()))
                            .arg(vocab::ARG_STACK, ArgValue::Str(STACKS[0].into())),
                    );
                    enc.event(&Event::end(ts + d / 2, thread));
                    budget -= 2;
                }
                enc.event(&Event::end(region_end, thread));
                budget -= 2;
            }
            if name == vocab::RUNNING && rng.next(2) == 0 {
                enc.event(
                    &Event::instant(ts + d / 2, thread, vocab::CPU_SAMPLE, vocab::CPU)
                        .arg(vocab::ARG_STACK, ArgValue::Str(STACKS[3].into())),
                );
                budget -= 1;
            }
            if rng.next(50) == 0 {
                enc.event(&Event::instant(ts, thread, "GET /api/items", "http"));
                budget -= 1;
            }
            ts += d;
            if enc.len() > 1 << 20 {
                w.write_all(&enc.take())?;
            }
        }
        events += per_thread - budget.max(0) as u64;
    }
    // Async tasks: wake-ups and polls (~15% of the budget).
    let per_task = target * 15 / 100 / tasks;
    for k in 0..tasks {
        let uuid = 0x4_0000_0000 | k;
        enc.track(&Track { uuid, parent: Some(1), name: format!("conn {k}"), kind: TrackKind::Async });
        let gap = span / (per_task / 4).max(1);
        let mut ts = t0 + rng.next(gap);
        for _ in 0..per_task / 4 {
            let wake = 1 + rng.next(gap / 8);
            let poll = 1 + rng.next(gap / 4);
            enc.event(&Event::begin(ts, uuid, vocab::RUNNABLE, vocab::SCHED));
            enc.event(&Event::end(ts + wake, uuid));
            enc.event(
                &Event::begin(ts + wake, uuid, vocab::POLL, vocab::POLL)
                    .arg(vocab::ARG_WORKER, ArgValue::Uint(5000 + rng.next(threads))),
            );
            enc.event(&Event::end(ts + wake + poll, uuid));
            ts += gap;
            events += 4;
        }
        w.write_all(&enc.take())?;
    }
    // User tasks and the heap counter (the rest).
    let user = target * 3 / 100 / 2;
    for i in 0..user {
        let uuid = 0x2_0000_0000_0000 | (i + 1);
        let start = t0 + rng.next(span);
        let name = ["request", "batch", "flush"][rng.next(3) as usize];
        enc.track(&Track {
            uuid,
            parent: Some(1),
            name: format!("task {} {name}", i + 1),
            kind: TrackKind::Async,
        });
        enc.event(&Event::begin(start, uuid, name, vocab::TASK).arg(vocab::ARG_TASK, ArgValue::Uint(i + 1)));
        enc.event(&Event::end(start + 1 + rng.next(50_000_000), uuid));
        events += 2;
        if enc.len() > 1 << 20 {
            w.write_all(&enc.take())?;
        }
    }
    let heap = 0x5_0000_0001;
    enc.track(&Track {
        uuid: heap,
        parent: Some(1),
        name: vocab::HEAP_COUNTER.into(),
        kind: TrackKind::Counter { unit: CounterUnit::SizeBytes },
    });
    let points = target.saturating_sub(events).max(1000);
    let mut v = 64i64 << 20;
    for i in 0..points {
        v = (v + rng.next(1 << 20) as i64 - (1 << 19)).max(1 << 20);
        enc.event(&Event::counter(t0 + i * span / points, heap, v));
    }
    events += points;
    w.write_all(&enc.take())?;
    w.flush()?;
    eprintln!("{out}: {events} events over {seconds} s");
    Ok(())
}
