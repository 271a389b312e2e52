//! Round trips, truncation and bad input of the decoder.

use rustprof_trace::{ArgValue, CounterUnit, Event, Trace, Track, TrackKind, clock, decode, encode};

fn trace() -> Trace {
    let mut t = Trace { clock_id: clock::MONOTONIC, ..Trace::default() };
    t.clock_snapshot = vec![(clock::MONOTONIC, 5), (clock::BOOTTIME, 9)];
    t.tracks = vec![
        Track { uuid: 1, parent: None, name: "p".into(), kind: TrackKind::Process { pid: 3 } },
        Track { uuid: 2, parent: Some(1), name: "main".into(), kind: TrackKind::Thread { pid: 3, tid: 3 } },
        Track {
            uuid: 3,
            parent: Some(1),
            name: "heap".into(),
            kind: TrackKind::Counter { unit: CounterUnit::SizeBytes },
        },
        Track { uuid: 4, parent: Some(1), name: "task".into(), kind: TrackKind::Async },
    ];
    for i in 0..100u64 {
        t.events.push(Event::begin(i * 10, 2, &format!("n{}", i % 7), "cat").arg("i", ArgValue::Uint(i)));
        t.events.push(Event::end(i * 10 + 5, 2));
        t.events.push(Event::counter(i * 10 + 6, 3, i as i64 * 1000 - 50_000));
    }
    t.events.push(
        Event::instant(2000, 4, "x", "").arg("s", ArgValue::Str("é".into())).flow(1).terminating_flow(2),
    );
    t.events.push(
        Event::instant(
            rustprof_trace::clock::REALTIME as u64,
            2,
            "events dropped",
            rustprof_trace::DROPPED_CATEGORY,
        )
        .arg("count", ArgValue::Uint(17)),
    );
    t
}

#[test]
fn round_trip() {
    let t = trace();
    let back = decode(&encode(&t)).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.dropped_events(), 17);
}

#[test]
fn interning_keeps_events_small() {
    let t = trace();
    let bytes = encode(&t);
    // 100 begin/end/counter triples, names interned: well under 32 bytes an event.
    let per_event = bytes.len() / t.events.len();
    assert!(per_event < 32, "{per_event} bytes per event");
}

#[test]
fn truncated_file_reads_up_to_last_complete_packet() {
    let t = trace();
    let bytes = encode(&t);
    let full = decode(&bytes).unwrap();
    assert_eq!(full.truncated_at, None);
    let mut last = 0;
    for cut in (0..bytes.len()).step_by(7) {
        let got = decode(&bytes[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert!(got.events.len() >= last, "cut at {cut}");
        last = got.events.len();
        assert_eq!(got.events[..], full.events[..got.events.len()]);
        if let Some(at) = got.truncated_at {
            assert!(at < cut);
        }
    }
    let half = decode(&bytes[..bytes.len() / 2]).unwrap();
    assert!(half.truncated_at.is_some());
    assert!(!half.events.is_empty());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    // A complete packet holding an event whose name iid was never interned.
    let mut bad = vec![0x0a, 0x06, 0x5a, 0x02, 0x50, 0x09, 0x50, 0x01];
    let e = decode(&bad).unwrap_err();
    assert!(e.to_string().contains("not interned"), "{e}");
    // Wire type 3 (groups) is refused with the offset.
    bad = vec![0x0b];
    let e = decode(&bad).unwrap_err();
    assert!(e.to_string().contains("wire type 3"), "{e}");
    assert!(e.to_string().contains("at byte 0"), "{e}");
    // Pseudo-random bytes: errors or traces, never a panic.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for len in 0..2000 {
        let buf: Vec<u8> = (0..len % 200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode(&buf);
    }
    // Mutations of a valid trace.
    let good = encode(&trace());
    for i in 0..good.len().min(3000) {
        let mut m = good.clone();
        m[i] ^= 0x5a;
        let _ = decode(&m);
    }
}
