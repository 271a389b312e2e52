//! What the collector adds to the threads' events: the CPU profiler's
//! samples (Go's `traceCPUSample`) and the heap in-use counter.
//!
//! The CPU profiler's signal handler stamps each sample with the trace clock
//! and its thread while a trace runs (nothing more: no allocation, no
//! symbols); its collector thread hands the samples over here ([`cpu_sample`])
//! and says up to when it has ([`cpu_drained`]), which bounds a pass's
//! watermark. The trace collector symbolizes them (through the process-wide
//! symbol cache, each address once) and writes each as a
//! [`vocab::CPU_SAMPLE`] instant with its [`vocab::ARG_STACK`] on its
//! thread's track. When [`crate::heap::Sampled`] is the global allocator, each
//! pass also writes the program's heap in-use bytes on a counter track
//! ([`vocab::HEAP_COUNTER`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use hashbrown::HashMap;
use rustprof_trace::vocab::{self, Frame};
use rustprof_trace::{ArgValue, CounterUnit, Event, Track, TrackKind};

use super::buffer::{Collector, PROCESS_UUID};

/// Samples waiting for the collector, at most this many (more are counted
/// as dropped).
const QUEUE: usize = 1 << 14;
/// Symbolized addresses kept between passes, at most.
const SYMBOLS: usize = 1 << 16;
/// The heap counter's track.
const HEAP_UUID: u64 = 3;

struct CpuSample {
    tid: i32,
    ts: u64,
    /// Leaf first: the interrupted PC, then return addresses.
    frames: Vec<u64>,
}

static QUEUED: Mutex<Vec<CpuSample>> = Mutex::new(Vec::new());
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The CPU profiler has handed over every sample stamped before this (0: no
/// CPU profiler runs).
static CPU_WATERMARK: AtomicU64 = AtomicU64::new(0);

/// A CPU sample of thread `tid` at `ts` (trace clock), from the CPU
/// profiler's collector.
pub(crate) fn cpu_sample(tid: i32, ts: u64, frames: &[u64]) {
    if !super::is_enabled() {
        return;
    }
    let mut q = QUEUED.lock().unwrap_or_else(PoisonError::into_inner);
    if q.len() >= QUEUE {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    q.push(CpuSample { tid, ts, frames: frames.to_vec() });
}

/// The CPU profiler handed over every sample stamped before `ts` (0 when it
/// stops).
pub(crate) fn cpu_drained(ts: u64) {
    CPU_WATERMARK.store(ts, Ordering::Release);
}

/// A pass starting at `now` writes events up to this time.
pub(super) fn watermark(now: u64) -> u64 {
    match CPU_WATERMARK.load(Ordering::Acquire) {
        0 => now,
        w => now.min(w),
    }
}

/// The collector's state for these sources.
#[derive(Default)]
pub(super) struct Extras {
    /// Address → its frames (inlined ones first), formatted once.
    symbols: HashMap<u64, Vec<Frame>>,
    heap_described: bool,
}

impl Extras {
    /// Adds the samples handed over since the last pass, and the heap counter.
    pub(super) fn collect(&mut self, c: &mut Collector) {
        // The counter first: symbolizing new addresses may take a while.
        if crate::heap::is_installed() {
            if !self.heap_described {
                self.heap_described = true;
                c.tracks.push(Track {
                    uuid: HEAP_UUID,
                    parent: Some(PROCESS_UUID),
                    name: vocab::HEAP_COUNTER.to_string(),
                    kind: TrackKind::Counter { unit: CounterUnit::SizeBytes },
                });
            }
            let live = crate::heap::stats().live_bytes();
            c.items.push(super::session::Item {
                track: None,
                event: Event::counter(super::now(), HEAP_UUID, live),
            });
        }
        let samples = std::mem::take(&mut *QUEUED.lock().unwrap_or_else(PoisonError::into_inner));
        if !samples.is_empty() {
            self.symbolize(&samples);
            for s in &samples {
                let track = c.thread_track(s.tid, || crate::sys::thread_name(s.tid));
                let frames: Vec<Frame> = s
                    .frames
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &pc)| {
                        self.symbols.get(&lookup_address(i, pc)).cloned().unwrap_or_default()
                    })
                    .collect();
                let e = Event::instant(s.ts, track, vocab::CPU_SAMPLE, vocab::CPU)
                    .arg(vocab::ARG_STACK, ArgValue::Str(vocab::format_stack(&frames)));
                c.items.push(super::session::Item { track: None, event: e });
            }
        }
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let e = Event::instant(
                super::now(),
                PROCESS_UUID,
                "cpu samples dropped",
                rustprof_trace::DROPPED_CATEGORY,
            )
            .arg("count", ArgValue::Uint(dropped));
            c.items.push(super::session::Item { track: None, event: e });
        }
    }

    /// Symbolizes the addresses of `samples` not seen yet.
    fn symbolize(&mut self, samples: &[CpuSample]) {
        if self.symbols.len() > SYMBOLS {
            self.symbols.clear();
        }
        let mut missing: Vec<u64> = samples
            .iter()
            .flat_map(|s| s.frames.iter().enumerate().map(|(i, &pc)| lookup_address(i, pc)))
            .filter(|a| !self.symbols.contains_key(a))
            .collect();
        if missing.is_empty() {
            return;
        }
        missing.sort_unstable();
        missing.dedup();
        let maps = rustprof_symbolize::read_proc_maps(None).unwrap_or_default();
        let found = crate::symbols::symbolize(&maps, &missing);
        for (a, f) in missing.into_iter().zip(found) {
            let frames: Vec<Frame> = if f.frames.iter().any(|f| !f.function.is_empty()) {
                f.frames
                    .into_iter()
                    .map(|f| Frame {
                        function: if f.function.is_empty() { format!("{a:#x}") } else { f.function },
                        file: f.file,
                        line: f.line,
                    })
                    .collect()
            } else {
                vec![Frame { function: format!("{a:#x}"), file: String::new(), line: 0 }]
            };
            self.symbols.insert(a, frames);
        }
    }
}

/// The address to look up for frame `i`: the leaf's PC as it is, a return
/// address minus one (the call instruction).
fn lookup_address(i: usize, pc: u64) -> u64 {
    if i == 0 { pc } else { pc.wrapping_sub(1) }
}
