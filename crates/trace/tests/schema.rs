//! rustprof-trace's bytes decoded by Perfetto's official schema: tracks,
//! slices, nesting, timestamps, interning, arguments, flows and counters.

mod common;

use rustprof_trace::{ArgValue, CounterUnit, Encoder, Event, Trace, Track, TrackKind, clock, encode};
use serde_json::json;

fn sample_trace() -> Trace {
    let mut t = Trace { clock_id: clock::MONOTONIC, ..Trace::default() };
    t.clock_snapshot = vec![(clock::MONOTONIC, 1_000), (clock::REALTIME, 1_700_000_000_000_000_000)];
    t.tracks = vec![
        Track { uuid: 10, parent: None, name: "server".into(), kind: TrackKind::Process { pid: 77 } },
        Track {
            uuid: 11,
            parent: Some(10),
            name: "worker-1".into(),
            kind: TrackKind::Thread { pid: 77, tid: 78 },
        },
        Track { uuid: 12, parent: Some(10), name: "task 5".into(), kind: TrackKind::Async },
        Track {
            uuid: 13,
            parent: Some(10),
            name: "heap in use".into(),
            kind: TrackKind::Counter { unit: CounterUnit::SizeBytes },
        },
    ];
    t.events = vec![
        Event::begin(2_000, 11, "request", "task").arg("id", ArgValue::Uint(5)).flow(99),
        Event::begin(2_500, 11, "lock wait", "sync").arg("lock", ArgValue::Str("0x1234".into())),
        Event::end(3_000, 11),
        Event::instant(3_100, 11, "log", "http")
            .arg("status", ArgValue::Int(-1))
            .arg("ok", ArgValue::Bool(true)),
        Event::end(4_000, 11),
        Event::begin(4_100, 12, "poll", "tokio").terminating_flow(99).arg("ratio", ArgValue::Double(0.5)),
        Event::end(4_200, 12),
        Event::counter(4_300, 13, 1 << 20),
        Event::counter(4_400, 13, -3),
        // A name used again: interned once.
        Event::begin(5_000, 11, "request", "task"),
        Event::end(6_000, 11),
    ];
    t
}

#[test]
fn perfetto_schema_reads_tracks_events_and_interning() {
    let Some(py) = common::perfetto_python() else { return };
    let t = sample_trace();
    let bytes = encode(&t);
    let dir = std::env::temp_dir().join(format!("rustprof-trace-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pftrace");
    std::fs::write(&path, &bytes).unwrap();
    let d = common::perfetto_dump(&py, &path);

    assert_eq!(d["clock_snapshot"], json!([[3, 1000], [1, 1_700_000_000_000_000_000u64]]));
    assert!(d["clock_ids"].as_array().unwrap().iter().all(|c| c == 3), "{}", d["clock_ids"]);
    assert_eq!(
        d["tracks"],
        json!([
            {"uuid": 10, "parent": null, "kind": "process", "pid": 77, "name": "server"},
            {"uuid": 11, "parent": 10, "kind": "thread", "pid": 77, "tid": 78, "name": "worker-1"},
            {"uuid": 12, "parent": 10, "kind": "async", "name": "task 5"},
            {"uuid": 13, "parent": 10, "kind": "counter", "unit": 3, "name": "heap in use"},
        ])
    );
    let ev = d["events"].as_array().unwrap();
    assert_eq!(ev.len(), t.events.len());
    let summary: Vec<_> = ev
        .iter()
        .map(|e| {
            (
                e["ts"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_owned(),
                e["track"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<_> = [
        (2000, "begin", 11, "request"),
        (2500, "begin", 11, "lock wait"),
        (3000, "end", 11, ""),
        (3100, "instant", 11, "log"),
        (4000, "end", 11, ""),
        (4100, "begin", 12, "poll"),
        (4200, "end", 12, ""),
        (4300, "counter", 13, ""),
        (4400, "counter", 13, ""),
        (5000, "begin", 11, "request"),
        (6000, "end", 11, ""),
    ]
    .iter()
    .map(|&(ts, ty, tr, n)| (ts, ty.to_owned(), tr, n.to_owned()))
    .collect();
    assert_eq!(summary, want);
    assert_eq!(ev[0]["category"], "task");
    assert_eq!(ev[1]["category"], "sync");
    assert_eq!(ev[0]["args"], json!([["id", "uint_value", 5]]));
    assert_eq!(ev[1]["args"], json!([["lock", "string_value", "0x1234"]]));
    assert_eq!(ev[3]["args"], json!([["status", "int_value", -1], ["ok", "bool_value", true]]));
    assert_eq!(ev[5]["args"], json!([["ratio", "double_value", 0.5]]));
    assert_eq!(ev[0]["flows"], json!([99]));
    assert_eq!(ev[5]["terminating_flows"], json!([99]));
    assert_eq!(ev[7]["value"], 1 << 20);
    assert_eq!(ev[8]["value"], -3);
    assert_eq!(d["open_slices"], json!({}));
}

/// Two encoders (two sequences), one of which resets its interning midway
/// (a flight recorder's chunk boundary): Perfetto's rules still resolve
/// every name, and our decoder agrees with Perfetto's.
#[test]
fn perfetto_schema_reads_sequences_and_resets() {
    let Some(py) = common::perfetto_python() else { return };
    let proc_ = Track { uuid: 1, parent: None, name: "p".into(), kind: TrackKind::Process { pid: 1 } };
    let th = |uuid, tid: i32| Track {
        uuid,
        parent: Some(1),
        name: format!("t{tid}"),
        kind: TrackKind::Thread { pid: 1, tid },
    };
    let mut a = Encoder::new(1, clock::BOOTTIME);
    let mut b = Encoder::new(2, clock::BOOTTIME);
    a.track(&proc_);
    a.track(&th(2, 2));
    b.track(&th(3, 3));
    a.event(&Event::begin(10, 2, "alpha", "c1"));
    b.event(&Event::begin(11, 3, "beta", "c2"));
    a.event(&Event::end(20, 2));
    a.reset_interning();
    // After the reset iid 1 means something else on sequence 1.
    a.event(&Event::instant(30, 2, "gamma", "c3"));
    b.event(&Event::end(31, 3));
    let mut bytes = a.take();
    bytes.extend_from_slice(&b.take());
    let dir = std::env::temp_dir().join(format!("rustprof-trace-seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pftrace");
    std::fs::write(&path, &bytes).unwrap();
    let d = common::perfetto_dump(&py, &path);
    let names: Vec<_> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["category"].as_str().unwrap().to_owned()))
        .collect();
    let ours = rustprof_trace::decode(&bytes).unwrap();
    let ours: Vec<_> = ours.events.iter().map(|e| (e.name.clone(), e.category.clone())).collect();
    assert_eq!(names, ours);
    assert_eq!(ours[2], ("gamma".to_owned(), "c3".to_owned()));
    assert_eq!(ours[3], ("beta".to_owned(), "c2".to_owned()));
}

/// A compact sequence (default track, timestamps as deltas on an incremental
/// clock) beside a plain one: Perfetto's schema and our decoder read the same
/// absolute timestamps and tracks, and a context switch (an end and a begin)
/// costs under 32 bytes.
#[test]
fn compact_sequences_have_default_tracks_and_delta_timestamps() {
    let proc_ = Track { uuid: 1, parent: None, name: "p".into(), kind: TrackKind::Process { pid: 1 } };
    let th = Track { uuid: 2, parent: Some(1), name: "t".into(), kind: TrackKind::Thread { pid: 1, tid: 2 } };
    let sched = Track { uuid: 3, parent: Some(2), name: "t sched".into(), kind: TrackKind::Async };
    let mut a = Encoder::new(1, clock::MONOTONIC);
    let mut b = Encoder::compact(2, clock::MONOTONIC, 3);
    a.track(&proc_);
    a.track(&th);
    a.track(&sched);
    let t0 = 5_000_000_000_000u64;
    a.event(&Event::begin(t0 + 5, 2, "region", "r"));
    let mut want = Vec::new();
    let mut t = t0;
    for i in 0..200u64 {
        let name = if i % 2 == 0 { "running" } else { "blocked" };
        b.event(&Event::begin(t, 3, name, "rustprof.sched"));
        want.push(t);
        t += 3_000 + i * 1_000;
        b.event(&Event::end(t, 3));
        want.push(t);
    }
    // An event on another track and a timestamp that goes back (written as
    // the previous one).
    b.event(&Event::instant(t + 7, 1, "note", "x"));
    b.event(&Event::instant(t, 3, "late", "x"));
    want.push(t + 7);
    want.push(t + 7);
    a.event(&Event::end(t + 10, 2));
    let compact_len = b.len();
    let mut bytes = a.take();
    bytes.extend_from_slice(&b.take());

    let ours = rustprof_trace::decode(&bytes).unwrap();
    assert_eq!(ours.clock_id, clock::MONOTONIC);
    assert!(ours.clock_snapshot.is_empty(), "a sequence's own clock is not the trace's snapshot");
    // Sequence 1's two events come first in the file.
    let on_b: Vec<u64> = ours.events.iter().skip(2).map(|e| e.ts).collect();
    assert_eq!(on_b, want);
    assert_eq!(ours.events[2].track, 3);
    assert_eq!(ours.events[2].name, "running");
    assert_eq!(ours.events[402].track, 1);
    assert_eq!(ours.events[403].track, 3);
    // 200 begins and 200 ends: a switch (end + begin) in at most 32 bytes.
    let per_switch = compact_len as f64 / 200.0;
    assert!(per_switch <= 32.0, "{per_switch} bytes per switch");

    let Some(py) = common::perfetto_python() else { return };
    let dir = std::env::temp_dir().join(format!("rustprof-trace-compact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pftrace");
    std::fs::write(&path, &bytes).unwrap();
    let d = common::perfetto_dump(&py, &path);
    let theirs: Vec<(u64, u64)> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["ts"].as_u64().unwrap(), e["track"].as_u64().unwrap()))
        .collect();
    let ours: Vec<(u64, u64)> = ours.events.iter().map(|e| (e.ts, e.track)).collect();
    assert_eq!(theirs, ours);
    assert_eq!(d["open_slices"], json!({}));
}
