//! On and off CPU per thread, from the kernel's context-switch records.
//!
//! While a trace session runs (a streaming trace, a flight recorder or
//! both: each gets the same slices), the collector attaches a context-switch perf event
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
//! The slices go to the session's consumers as events like any other
//! ([`Emitted`]); each consumer writes a thread's CPU-state track as a
//! compact sequence of its own ([`rustprof_trace::Encoder::compact`], see
//! [`super::session::Sequences`]): no track per event, timestamps as deltas,
//! so a switch costs about 15 bytes.
//!
//! A slice is handed over once it has ended (its begin and end together), so
//! a thread that exits leaves no open slice (its last state ends at its
//! `PERF_RECORD_EXIT`); when a trace is written (a stream stops, a flight
//! recorder writes its window) the state each thread is in then ends at that
//! time in what is written ([`Switches::open_states`]). Records the kernel dropped (a ring
//! filled up between two passes) are counted as dropped events on the
//! thread's CPU-state track. When perf events are denied (`perf_event_paranoid`
//! 3, a seccomp filter) or turned off with `RUSTPROF_TRACE_SWITCHES=0`, the
//! trace holds one instant on the process track saying so, and everything
//! else is traced as usual.

use hashbrown::HashMap;
use rustprof_trace::{ArgValue, Event, Track, TrackKind, vocab};

use super::perf::{Item, SwitchEvent, SwitchRing};

/// Data pages of a thread's ring, tried in order (the locked-memory limit
/// may refuse the larger ones): 8 pages hold 1365 records, 2 pages 341.
/// They are read every [`READ_INTERVAL`].
const RING_PAGES: [usize; 3] = [8, 2, 1];
/// How often the collector reads the rings between its passes: 2 pages
/// then hold 10 ms of a thread switching 34,000 times a second.
pub(super) const READ_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

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

/// What [`Switches::emit`] hands over.
#[derive(Default)]
pub(super) struct Emitted {
    /// Threads whose CPU-state track is new (their thread track must be
    /// described before it).
    pub(super) threads: Vec<i32>,
    /// The new CPU-state tracks.
    pub(super) tracks: Vec<Track>,
    /// Slices (each begin with its end) and notes.
    pub(super) events: Vec<Event>,
}

/// The context-switch recorder of one trace session, owned by its collector.
pub(super) struct Switches {
    threads: HashMap<i32, Thread>,
    waits: HashMap<i32, Waits>,
    /// Why no thread is recorded, once known; written to the trace once.
    denied: Option<String>,
    denied_written: bool,
    /// Threads whose ring could not be mapped, and whether the trace said so.
    unmapped: u64,
    unmapped_written: u64,
}

impl Switches {
    pub(super) fn new() -> Self {
        let off = std::env::var_os("RUSTPROF_TRACE_SWITCHES").is_some_and(|v| v == "0");
        Switches {
            threads: HashMap::new(),
            waits: HashMap::new(),
            denied: off.then(|| "turned off by RUSTPROF_TRACE_SWITCHES=0".to_owned()),
            denied_written: false,
            unmapped: 0,
            unmapped_written: 0,
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
        // The collector's own thread is not traced.
        let own = super::session::collector_tid();
        for &tid in &tids {
            if tid == own || self.threads.contains_key(&tid) {
                continue;
            }
            match attach(tid) {
                Ok(ring) => {
                    self.threads.insert(
                        tid,
                        Thread {
                            ring,
                            fresh: true,
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
            // A listing of /proc/self/task can skip live threads while
            // others exit: one missing from it is gone only if its entry is.
            t.gone = tids.binary_search(tid).is_err()
                && !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists();
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

    /// Hands over the slices of the records read by [`Switches::poll`], the
    /// tracks they need and notes (perf denied, rings not mapped).
    pub(super) fn emit(&mut self, now: u64, emitted: &mut Emitted) {
        if let Some(why) = &self.denied
            && !self.denied_written
        {
            self.denied_written = true;
            emitted.events.push(
                Event::instant(
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
            emitted.events.push(
                Event::instant(
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
                emitted.threads.push(tid);
                emitted.tracks.push(Track {
                    uuid: sched_uuid(tid),
                    parent: Some(super::buffer::thread_uuid(tid)),
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
                            write_slice(&mut emitted.events, track, &o, ts);
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
                            write_slice(&mut emitted.events, track, &o, ts.max(o.ts));
                        }
                    }
                    Item::Lost(n) => {
                        // The state since the last record is unknown.
                        let ts = t.open.take().map(|o| o.ts).unwrap_or(now);
                        emitted.events.push(
                            Event::instant(ts, track, "events dropped", rustprof_trace::DROPPED_CATEGORY)
                                .arg("count", ArgValue::Uint(n)),
                        );
                    }
                }
            }
        }
        // Exited threads (their state ended at the exit record) leave.
        self.threads.retain(|tid, t| {
            let keep = !t.gone;
            if !keep {
                self.waits.remove(tid);
            }
            keep
        });
        // Waits that ended before each thread's current state began are done.
        for (tid, w) in self.waits.iter_mut() {
            let since = self.threads.get(tid).and_then(|t| t.open.as_ref()).map_or(0, |o| o.ts);
            w.spans.retain(|s| s.1 >= since);
        }
    }

    /// The state each thread is in, as slices ending at `ts`, for a trace
    /// written now (the states go on: they are handed over again, whole,
    /// when they end).
    pub(super) fn open_states(&self, ts: u64) -> Vec<Event> {
        let mut out = Vec::new();
        for (&tid, t) in &self.threads {
            if t.described
                && let Some(o) = &t.open
            {
                write_slice(&mut out, sched_uuid(tid), o, ts.max(o.ts));
            }
        }
        out
    }
}

fn write_slice(out: &mut Vec<Event>, track: u64, o: &Open, end: u64) {
    let mut e = Event::begin(o.ts, track, o.state, vocab::SCHED);
    if let Some(r) = o.reason {
        e = e.arg(vocab::ARG_REASON, ArgValue::Str(r.to_owned()));
    }
    out.push(e);
    out.push(Event::end(end, track));
}

/// Whether `track` is a thread's CPU-state track.
pub(super) fn is_sched_track(track: u64) -> bool {
    track >> 32 == 3
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
