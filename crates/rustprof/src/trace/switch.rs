//! On and off CPU per thread, from the kernel's context-switch records.
//!
//! While a trace runs, the collector attaches a context-switch perf event
//! ([`super::perf::SwitchRing`]) to every thread of the process as it finds
//! them (the CPU profiler's discovery, [`crate::sys::thread_ids`], on each
//! collector pass), reads the rings on each pass and turns the records into
//! slices of category [`vocab::SCHED`] on the thread's CPU-state track (an
//! async track whose parent is the thread's track, named
//! [`vocab::SCHED_TRACK`]): [`vocab::RUNNING`] from a switch-in to the next
//! switch-out, then [`vocab::RUNNABLE`] when the thread was preempted
//! (`PERF_RECORD_MISC_SWITCH_OUT_PREEMPT`) or [`vocab::BLOCKED`] when it gave
//! up the CPU, until the next switch-in. A blocked interval that starts
//! inside a `rustprof::sync` wait has [`vocab::ARG_REASON`] `lock` or
//! `condvar`.
//!
//! Each thread's slices go to a compact sequence of their own
//! ([`rustprof_trace::Encoder::compact`]): no track per event, timestamps as
//! deltas, so a switch costs about 15 bytes.
//!
//! A slice is written once it has ended (its begin and end together), so a
//! thread that exits leaves no open slice (its last state ends at its
//! `PERF_RECORD_EXIT`); at the end of the trace the state
//! each thread is in ends at the stop time. Records the kernel dropped (a ring
//! filled up between two passes) are counted as dropped events on the
//! thread's CPU-state track. When perf events are denied (`perf_event_paranoid`
//! 3, a seccomp filter) or turned off with `RUSTPROF_TRACE_SWITCHES=0`, the
//! trace holds one instant on the process track saying so, and everything
//! else is traced as usual.

use hashbrown::{HashMap, HashSet};
use rustprof_trace::{ArgValue, Encoder, Event, Track, TrackKind, vocab};

use super::perf::{Item, SwitchEvent, SwitchRing};

/// Data pages of a thread's ring, tried in order (the locked-memory limit
/// may refuse the larger ones): 8 pages hold 1365 records, 2 pages 341.
/// They are read every [`READ_INTERVAL`].
const RING_PAGES: [usize; 3] = [8, 2, 1];
/// How often the collector reads the rings between its passes: 2 pages
/// then hold 10 ms of a thread switching 34,000 times a second.
pub(super) const READ_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// The first sequence id of the threads' compact sequences (ids below 128
/// take one byte: it is in every packet; 1 to 15 are left to the others).
const FIRST_SEQUENCE: u32 = 16;

pub(super) fn sched_uuid(tid: i32) -> u64 {
    0x3_0000_0000 | tid as u32 as u64
}

/// The state a thread is in since `ts`, not written yet.
struct Open {
    ts: u64,
    state: &'static str,
    reason: Option<&'static str>,
}

struct Thread {
    ring: SwitchRing,
    /// Attached in this collector pass: its track is described from the next
    /// one on, once the thread has named itself (a new thread starts with its
    /// creator's name).
    fresh: bool,
    enc: Encoder,
    described: bool,
    open: Option<Open>,
    items: Vec<Item>,
    gone: bool,
}

/// `rustprof::sync` waits of one thread, to say why it blocked.
#[derive(Default)]
struct Waits {
    /// The thread's open slices: the wait reason of each (None: a region).
    stack: Vec<Option<&'static str>>,
    /// Waits (begin, end or `u64::MAX` while open, reason).
    spans: Vec<(u64, u64, &'static str)>,
}

/// The context-switch recorder of one trace, owned by its collector.
pub(super) struct Switches {
    threads: HashMap<i32, Thread>,
    waits: HashMap<i32, Waits>,
    /// The collector's own thread, not traced.
    own: i32,
    next_sequence: u32,
    /// Why no thread is recorded, once known; written to the trace once.
    denied: Option<String>,
    denied_written: bool,
    /// Threads whose ring could not be mapped, and whether the trace said so.
    unmapped: u64,
    unmapped_written: u64,
    /// Bytes of the sequences of threads that exited, not taken yet.
    exited: Vec<u8>,
}

impl Switches {
    pub(super) fn new() -> Self {
        let off = std::env::var_os("RUSTPROF_TRACE_SWITCHES").is_some_and(|v| v == "0");
        Switches {
            threads: HashMap::new(),
            waits: HashMap::new(),
            own: crate::sys::gettid(),
            next_sequence: FIRST_SEQUENCE,
            denied: off.then(|| "turned off by RUSTPROF_TRACE_SWITCHES=0".to_owned()),
            denied_written: false,
            unmapped: 0,
            unmapped_written: 0,
            exited: Vec::new(),
        }
    }

    /// Attaches to new threads and reads every ring. Called before the
    /// threads' buffers are drained, so that the wait a switch-out record
    /// follows is in the buffers drained after it.
    pub(super) fn poll(&mut self) {
        if self.denied.is_some() {
            return;
        }
        let tids = crate::sys::thread_ids();
        for &tid in &tids {
            if tid == self.own || self.threads.contains_key(&tid) {
                continue;
            }
            match attach(tid) {
                Ok(ring) => {
                    let seq = self.next_sequence;
                    self.next_sequence = self.next_sequence.wrapping_add(1).max(FIRST_SEQUENCE);
                    self.threads.insert(
                        tid,
                        Thread {
                            ring,
                            fresh: true,
                            enc: Encoder::compact(seq, rustprof_trace::clock::MONOTONIC, sched_uuid(tid)),
                            described: false,
                            open: None,
                            items: Vec::new(),
                            gone: false,
                        },
                    );
                }
                Err(Attach::Gone) => {}
                Err(Attach::Unmapped) => self.unmapped += 1,
                Err(Attach::Denied(e)) => {
                    self.denied = Some(e);
                    self.threads.clear();
                    return;
                }
            }
        }
        for (tid, t) in self.threads.iter_mut() {
            t.ring.read(&mut t.items);
            t.gone = tids.binary_search(tid).is_err();
        }
    }

    /// Reads every ring (between two passes, so they do not fill up).
    pub(super) fn read(&mut self) {
        for t in self.threads.values_mut() {
            t.ring.read(&mut t.items);
        }
    }

    /// A slice began on thread `tid` (from its buffer): a `sync` wait gives
    /// the blocked intervals inside it their reason.
    pub(super) fn note_begin(&mut self, tid: i32, ts: u64, category: &str, name: &str) {
        let reason =
            (category == vocab::SYNC).then(|| if name == vocab::CONDVAR_WAIT { "condvar" } else { "lock" });
        let w = self.waits.entry(tid).or_default();
        if let Some(r) = reason {
            w.spans.push((ts, u64::MAX, r));
        }
        w.stack.push(reason);
    }

    /// The innermost open slice of thread `tid` ended.
    pub(super) fn note_end(&mut self, tid: i32, ts: u64) {
        let Some(w) = self.waits.get_mut(&tid) else { return };
        if let Some(Some(_)) = w.stack.pop()
            && let Some(s) = w.spans.iter_mut().rev().find(|s| s.1 == u64::MAX)
        {
            s.1 = ts;
        }
    }

    /// Writes the slices of the records read by [`Switches::poll`]: tracks
    /// (and notes) into `main`, slices into each thread's sequence.
    pub(super) fn emit(&mut self, main: &mut Encoder, known: &mut HashSet<i32>, pid: i32, now: u64) {
        if let Some(why) = &self.denied
            && !self.denied_written
        {
            self.denied_written = true;
            main.event(
                &Event::instant(
                    now,
                    super::buffer::PROCESS_UUID,
                    &format!("context switches not recorded: {why}"),
                    vocab::SCHED,
                )
                .arg(vocab::ARG_REASON, ArgValue::Str(why.clone())),
            );
        }
        if self.unmapped > self.unmapped_written {
            self.unmapped_written = self.unmapped;
            main.event(
                &Event::instant(
                    now,
                    super::buffer::PROCESS_UUID,
                    "context switches not recorded for some threads",
                    vocab::SCHED,
                )
                .arg("threads", ArgValue::Uint(self.unmapped))
                .arg(
                    vocab::ARG_REASON,
                    ArgValue::Str(
                        "the perf ring could not be mapped (perf_event_mlock_kb, RLIMIT_MEMLOCK)".into(),
                    ),
                ),
            );
        }
        for (&tid, t) in self.threads.iter_mut() {
            let fresh = std::mem::take(&mut t.fresh);
            if t.items.is_empty() || (fresh && !t.gone) {
                continue;
            }
            if !t.described {
                t.described = true;
                let thread = super::buffer::thread_uuid(tid);
                if known.insert(tid) {
                    main.track(&Track {
                        uuid: thread,
                        parent: Some(super::buffer::PROCESS_UUID),
                        name: Some(crate::sys::thread_name(tid))
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| tid.to_string()),
                        kind: TrackKind::Thread { pid, tid },
                    });
                }
                main.track(&Track {
                    uuid: sched_uuid(tid),
                    parent: Some(thread),
                    name: vocab::SCHED_TRACK.to_owned(),
                    kind: TrackKind::Async,
                });
            }
            let waits = self.waits.get(&tid);
            let track = sched_uuid(tid);
            for item in t.items.drain(..) {
                match item {
                    Item::Switch { ts, out, preempt } => {
                        if let Some(o) = t.open.take() {
                            write_slice(&mut t.enc, track, &o, ts);
                        }
                        let (state, reason) = match (out, preempt) {
                            (false, _) => (vocab::RUNNING, None),
                            (true, true) => (vocab::RUNNABLE, None),
                            (true, false) => (vocab::BLOCKED, waits.and_then(|w| reason_at(w, ts))),
                        };
                        t.open = Some(Open { ts, state, reason });
                    }
                    Item::Exit { ts } => {
                        if let Some(o) = t.open.take() {
                            write_slice(&mut t.enc, track, &o, ts.max(o.ts));
                        }
                    }
                    Item::Lost(n) => {
                        // The state since the last record is unknown.
                        let ts = t.open.take().map(|o| o.ts).unwrap_or(now);
                        t.enc.event(
                            &Event::instant(ts, track, "events dropped", rustprof_trace::DROPPED_CATEGORY)
                                .arg("count", ArgValue::Uint(n)),
                        );
                    }
                }
            }
        }
        // Exited threads (their state ended at the exit record) leave, their
        // bytes kept for the next take.
        self.threads.retain(|tid, t| {
            let keep = !t.gone;
            if !keep {
                self.waits.remove(tid);
                self.exited.extend_from_slice(&t.enc.take());
            }
            keep
        });
        // Waits that ended before each thread's current state began are done.
        for (tid, w) in self.waits.iter_mut() {
            let since = self.threads.get(tid).and_then(|t| t.open.as_ref()).map_or(0, |o| o.ts);
            w.spans.retain(|s| s.1 >= since);
        }
    }

    /// The end of the trace at `ts`: each thread's current state ends.
    pub(super) fn finish(&mut self, ts: u64) {
        for (&tid, t) in self.threads.iter_mut() {
            if let Some(o) = t.open.take() {
                write_slice(&mut t.enc, sched_uuid(tid), &o, ts.max(o.ts));
            }
        }
    }

    /// Appends the threads' sequences' bytes to `out`.
    pub(super) fn take(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.exited);
        for t in self.threads.values_mut() {
            out.extend_from_slice(&t.enc.take());
        }
    }
}

fn write_slice(enc: &mut Encoder, track: u64, o: &Open, end: u64) {
    let mut e = Event::begin(o.ts, track, o.state, vocab::SCHED);
    if let Some(r) = o.reason {
        e = e.arg(vocab::ARG_REASON, ArgValue::Str(r.to_owned()));
    }
    enc.event(&e);
    enc.event(&Event::end(end, track));
}

fn reason_at(w: &Waits, ts: u64) -> Option<&'static str> {
    w.spans.iter().rev().find(|s| s.0 <= ts && ts <= s.1).map(|s| s.2)
}

enum Attach {
    /// The thread exited meanwhile.
    Gone,
    /// The event opened but no ring could be mapped.
    Unmapped,
    /// Perf events are refused: why.
    Denied(String),
}

fn attach(tid: i32) -> Result<SwitchRing, Attach> {
    let mut ev = match SwitchEvent::open(tid) {
        Ok(ev) => ev,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(Attach::Gone),
        Err(e) => return Err(Attach::Denied(format!("perf_event_open: {e}{}", paranoid_note()))),
    };
    for pages in RING_PAGES {
        match ev.map(pages) {
            Ok(ring) => return Ok(ring),
            Err((back, _)) => ev = back,
        }
    }
    Err(Attach::Unmapped)
}

fn paranoid_note() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid") {
        Ok(s) => format!(" (perf_event_paranoid = {})", s.trim()),
        Err(_) => String::new(),
    }
}
