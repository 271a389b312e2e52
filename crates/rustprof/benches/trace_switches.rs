//! Bytes per context-switch record in a trace (issue 15's target: ≤ 32 on
//! average): threads ping-pong over std channels (each hand-over switches two
//! threads out and in) for a few seconds under `rustprof::trace`, with no
//! annotations, so the file is tracks, context switches and little else.
//! The whole file's size is divided by the CPU-state slices it holds (one per
//! switch record), and compared with the same events written by the plain
//! encoder (absolute timestamps, a track per event) as the peer.
//!
//! `cargo bench -p rustprof --bench trace_switches [-- SECONDS PAIRS]`

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustprof_trace::{Encoder, EventKind, clock, vocab};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let pairs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let out = Shared::default();
    rustprof::trace::start(out.clone()).expect("start the trace");
    // Threads exist a collector pass before the measured part.
    let deadline = Instant::now() + Duration::from_millis(200) + Duration::from_secs_f64(secs);
    let mut handles = Vec::new();
    for _ in 0..pairs {
        let (a_tx, a_rx) = mpsc::sync_channel::<u32>(0);
        let (b_tx, b_rx) = mpsc::sync_channel::<u32>(0);
        handles.push(std::thread::spawn(move || {
            while Instant::now() < deadline {
                if a_tx.send(1).is_err() || b_rx.recv().is_err() {
                    break;
                }
            }
        }));
        handles.push(std::thread::spawn(move || {
            while let Ok(v) = a_rx.recv() {
                // A little work per message.
                std::hint::black_box((0..200u32).fold(v, |x, y| x.wrapping_mul(31).wrapping_add(y)));
                if b_tx.send(v).is_err() {
                    break;
                }
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    rustprof::trace::stop().expect("stop the trace");
    let bytes = out.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let t = rustprof_trace::decode(&bytes).expect("decode");
    let sched: Vec<_> = t.events.iter().filter(|e| e.category == vocab::SCHED).collect();
    let slices = sched.iter().filter(|e| e.kind == EventKind::SliceBegin).count();
    // The peer: the same CPU-state events through the plain encoder.
    let mut plain = Encoder::new(1, clock::MONOTONIC);
    let sched_tracks: Vec<u64> =
        t.tracks.iter().filter(|tr| tr.name == vocab::SCHED_TRACK).map(|tr| tr.uuid).collect();
    let mut n_plain = 0usize;
    for e in t.events.iter().filter(|e| sched_tracks.contains(&e.track)) {
        plain.event(e);
        n_plain += 1;
    }
    let plain_len = plain.len();
    let per = bytes.len() as f64 / slices.max(1) as f64;
    let per_plain = plain_len as f64 / slices.max(1) as f64;
    println!(
        "trace: {} bytes, {} events, {} context-switch records (CPU-state slices)",
        bytes.len(),
        t.events.len(),
        slices
    );
    println!("bytes per context-switch record, whole file:     {per:.1} (target <= 32)");
    println!("bytes per record, plain encoder (peer), {n_plain} events: {per_plain:.1}");
    println!("ratio compact / plain: {:.2}", per / per_plain);
    println!("records per second of trace: {:.0}", slices as f64 / (secs + 0.2));
    println!("records the kernel dropped (full rings): {}", t.dropped_events());
}
