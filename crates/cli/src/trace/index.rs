//! Building the [`Model`] of a trace: [`from_bytes`] reads the file with
//! `rustprof_trace::scan` (borrowed events: names, stacks and arguments are
//! interned, nothing is allocated per event), [`build`] indexes a decoded
//! `Trace` the same way.
//!
//! - A slice still open when the trace ends ends with the trace; an end with
//!   no open slice is ignored. Events of a track are taken in time order
//!   (stable), since a task may begin on one thread and end on another.
//! - States are cut where they overlap (`flatten`), other slices are nested
//!   (`nest`), user tasks packed (`pack`).

use std::borrow::Cow;

use hashbrown::HashMap;
use rustprof_trace::scan::{ArgRef, EventRef, Scanned, Visitor, scan};
use rustprof_trace::{ArgValue, EventKind, Trace, TrackKind, vocab};

use super::model::{ArgEntry, Class, Counter, Instant, Lane, LaneKind, Mark, Model, NONE, Slice, Val};

/// An event reduced to what the model keeps.
struct Rec {
    ts: u64,
    kind: EventKind,
    name: u32,
    category: u32,
    stack: u32,
    args: u32,
}

#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    strings: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }
}

/// Collects what [`scan`] reads: tracks, and events reduced per track.
#[derive(Default)]
struct Collect {
    strings: Interner,
    tracks: Vec<rustprof_trace::Track>,
    per_track: HashMap<u64, Vec<Rec>>,
    arg_pool: Vec<ArgEntry>,
    arg_lists: Vec<(u32, u32)>,
    events: usize,
    dropped: u64,
    start: u64,
    end: u64,
}

impl Visitor for Collect {
    fn track(&mut self, t: rustprof_trace::Track) {
        self.tracks.push(t);
    }

    fn event(&mut self, e: EventRef<'_>) {
        if self.events == 0 {
            self.start = e.ts;
        }
        self.events += 1;
        self.start = self.start.min(e.ts);
        self.end = self.end.max(e.ts);
        let mut stack = NONE;
        let first = self.arg_pool.len() as u32;
        for (name, value) in &e.args {
            if let (ArgRef::Str(st), true) = (value, name == vocab::ARG_STACK) {
                stack = self.strings.id(st);
                continue;
            }
            if name == "count" && e.category == rustprof_trace::DROPPED_CATEGORY {
                self.dropped += match value {
                    ArgRef::Uint(v) => *v,
                    ArgRef::Int(v) => (*v).max(0) as u64,
                    _ => 0,
                };
            }
            let value = match value {
                ArgRef::Str(v) => Val::Str(self.strings.id(v)),
                ArgRef::Uint(v) => Val::Uint(*v),
                ArgRef::Int(v) => Val::Int(*v),
                ArgRef::Double(v) => Val::Double(*v),
                ArgRef::Bool(v) => Val::Bool(*v),
            };
            self.arg_pool.push(ArgEntry { name: self.strings.id(name), value });
        }
        let last = self.arg_pool.len() as u32;
        let args = if last == first {
            NONE
        } else {
            self.arg_lists.push((first, last));
            self.arg_lists.len() as u32 - 1
        };
        let rec = Rec {
            ts: e.ts,
            kind: e.kind,
            name: self.strings.id(&e.name),
            category: self.strings.id(&e.category),
            stack,
            args,
        };
        self.per_track.entry(e.track).or_default().push(rec);
    }
}

/// Indexes the bytes of a trace, reading them with [`scan`].
pub fn from_bytes(data: &[u8]) -> Result<Model, rustprof_trace::DecodeError> {
    let mut c = Collect::default();
    c.strings.id("");
    let scanned = scan(data, &mut c)?;
    Ok(finish(c, scanned))
}

/// Indexes a decoded trace.
pub fn build(trace: Trace) -> Model {
    let mut c = Collect::default();
    c.strings.id("");
    for t in trace.tracks {
        c.track(t);
    }
    for e in &trace.events {
        let args = e
            .args
            .iter()
            .map(|a| {
                let v = match &a.value {
                    ArgValue::Str(s) => ArgRef::Str(Cow::Borrowed(s.as_str())),
                    ArgValue::Uint(v) => ArgRef::Uint(*v),
                    ArgValue::Int(v) => ArgRef::Int(*v),
                    ArgValue::Double(v) => ArgRef::Double(*v),
                    ArgValue::Bool(v) => ArgRef::Bool(*v),
                };
                (Cow::Borrowed(a.name.as_str()), v)
            })
            .collect();
        c.event(EventRef {
            ts: e.ts,
            track: e.track,
            kind: e.kind,
            name: Cow::Borrowed(&e.name),
            category: Cow::Borrowed(&e.category),
            args,
            flows: Vec::new(),
            terminating_flows: Vec::new(),
        });
    }
    let scanned = Scanned {
        clock_id: trace.clock_id,
        clock_snapshot: trace.clock_snapshot,
        truncated_at: trace.truncated_at,
    };
    finish(c, scanned)
}

/// Where a track's events go.
#[derive(Clone, Copy)]
enum Dest {
    Lane(usize),
    Counter(usize),
}

fn finish(c: Collect, scanned: Scanned) -> Model {
    let mut m = Model {
        truncated_at: scanned.truncated_at,
        dropped: c.dropped,
        events: c.events,
        start: c.start,
        end: c.end,
        arg_pool: c.arg_pool,
        arg_lists: c.arg_lists,
        ..Model::default()
    };
    let snap = &scanned.clock_snapshot;
    let trace_clock = snap.iter().find(|(k, _)| *k == scanned.clock_id).map(|x| x.1);
    let real = snap.iter().find(|(k, _)| *k == rustprof_trace::clock::REALTIME).map(|x| x.1);
    if let (Some(t), Some(r)) = (trace_clock, real) {
        m.wall_start = Some(r as i64 + (m.start as i64 - t as i64));
    }
    let (mut strings, per_track, all_tracks) = (c.strings, c.per_track, c.tracks);
    // Tracks → lanes: threads by (pid, tid), children of threads into them.
    let mut lanes: Vec<Lane> = vec![Lane::new("user tasks".into(), LaneKind::Tasks)];
    let mut dest: HashMap<u64, Dest> = HashMap::new();
    let mut by_thread: HashMap<(i32, i32), usize> = HashMap::new();
    for t in &all_tracks {
        if let TrackKind::Thread { pid, tid } = t.kind {
            let i = *by_thread.entry((pid, tid)).or_insert_with(|| {
                let name = if t.name.is_empty() { format!("thread {tid}") } else { t.name.clone() };
                lanes.push(Lane::new(name, LaneKind::Thread { pid, tid }));
                lanes.len() - 1
            });
            dest.insert(t.uuid, Dest::Lane(i));
        }
    }
    for t in &all_tracks {
        match t.kind {
            TrackKind::Thread { .. } => {}
            TrackKind::Counter { unit } => {
                m.counters.push(Counter { name: t.name.clone(), unit, points: Vec::new() });
                dest.insert(t.uuid, Dest::Counter(m.counters.len() - 1));
            }
            TrackKind::Async | TrackKind::Process { .. } => {
                let parent = t.parent.and_then(|p| dest.get(&p).copied());
                if let (TrackKind::Async, Some(Dest::Lane(i))) = (&t.kind, parent)
                    && matches!(lanes[i].kind, LaneKind::Thread { .. })
                {
                    dest.insert(t.uuid, Dest::Lane(i));
                    continue;
                }
                let kind = if t.kind == TrackKind::Async { LaneKind::Async } else { LaneKind::Other };
                lanes.push(Lane::new(t.name.clone(), kind));
                dest.insert(t.uuid, Dest::Lane(lanes.len() - 1));
            }
        }
    }

    // Pair slices per track, in time order.
    let mut pending: Vec<Vec<Slice>> = vec![Vec::new(); lanes.len()];
    let mut tracks: Vec<(u64, Vec<Rec>)> = per_track.into_iter().collect();
    tracks.sort_by_key(|(uuid, _)| *uuid);
    for (uuid, mut recs) in tracks {
        recs.sort_by_key(|r| r.ts);
        let d = match dest.get(&uuid) {
            Some(d) => *d,
            None => {
                // Events on a track never described: a lane of its own.
                lanes.push(Lane::new(format!("track {uuid}"), LaneKind::Other));
                pending.push(Vec::new());
                Dest::Lane(lanes.len() - 1)
            }
        };
        let li = match d {
            Dest::Counter(c) => {
                let points = &mut m.counters[c].points;
                points.extend(recs.iter().filter_map(|r| match r.kind {
                    EventKind::Counter(v) => Some((r.ts, v)),
                    _ => None,
                }));
                continue;
            }
            Dest::Lane(i) => i,
        };
        let lane = &mut lanes[li];
        if let (Some(a), Some(b)) = (recs.first(), recs.last()) {
            lane.span = (lane.span.0.min(a.ts), lane.span.1.max(b.ts));
        }
        let mut open: Vec<&Rec> = Vec::new();
        let close = |b: &Rec, end: u64, strings: &Interner, out: &mut Vec<Slice>| {
            let class = Class::of(&strings.strings[b.category as usize], &strings.strings[b.name as usize]);
            out.push(Slice { start: b.ts, end, name: b.name, stack: b.stack, args: b.args, class });
        };
        for r in &recs {
            match r.kind {
                EventKind::SliceBegin => open.push(r),
                EventKind::SliceEnd => {
                    if let Some(b) = open.pop() {
                        close(b, r.ts, &strings, &mut pending[li]);
                    }
                }
                EventKind::Instant => {
                    let cat = &strings.strings[r.category as usize];
                    let mark = if cat == rustprof_trace::DROPPED_CATEGORY {
                        Mark::Dropped
                    } else if cat == vocab::CPU {
                        Mark::CpuSample
                    } else {
                        Mark::Log
                    };
                    lane.instants.push(Instant {
                        ts: r.ts,
                        name: r.name,
                        category: r.category,
                        stack: r.stack,
                        args: r.args,
                        mark,
                    });
                }
                EventKind::Counter(_) => {}
            }
        }
        while let Some(b) = open.pop() {
            close(b, m.end, &strings, &mut pending[li]);
        }
    }
    m.strings = std::mem::take(&mut strings.strings);

    // Pure user-task tracks move to the tasks lane; the rest is laid out.
    let mut tasks = Vec::new();
    for (i, slices) in pending.into_iter().enumerate() {
        let lane = &mut lanes[i];
        if lane.kind == LaneKind::Async
            && lane.instants.is_empty()
            && !slices.is_empty()
            && slices.iter().all(|s| s.class == Class::Task)
        {
            tasks.extend(slices);
            lane.span = (u64::MAX, 0);
            continue;
        }
        let is_async = lane.kind == LaneKind::Async;
        let (mut states, other): (Vec<Slice>, Vec<Slice>) =
            slices.into_iter().partition(|s| s.class.is_state() || (is_async && s.class == Class::Poll));
        lane.states = flatten(&mut states);
        lane.rows = nest(other);
        lane.instants.sort_by_key(|x| x.ts);
    }
    lanes[0].rows = pack(tasks);
    for l in &mut m.counters {
        l.points.sort_by_key(|p| p.0);
    }
    // Lanes with nothing in them (a task lane emptied, a process without instants) go.
    lanes.retain(|l| !l.states.is_empty() || !l.rows.is_empty() || !l.instants.is_empty());
    for l in &mut lanes {
        if l.span.0 > l.span.1 {
            l.span = l.rows.iter().flatten().fold((u64::MAX, 0), |(a, b), s| (a.min(s.start), b.max(s.end)));
        }
    }
    let order = |k: &LaneKind| match k {
        LaneKind::Tasks => 0,
        LaneKind::Thread { .. } => 1,
        LaneKind::Async => 2,
        LaneKind::Other => 3,
    };
    lanes.sort_by_key(|l| order(&l.kind));
    m.lanes = lanes;
    m
}

/// States in one row: sorted by start, each starting no earlier than the
/// previous one's end (an overlapping state is cut; an empty one dropped).
fn flatten(states: &mut [Slice]) -> Vec<Slice> {
    states.sort_by_key(|s| s.start);
    let mut out: Vec<Slice> = Vec::with_capacity(states.len());
    for s in states.iter() {
        let mut s = *s;
        if let Some(p) = out.last() {
            s.start = s.start.max(p.end);
        }
        if s.end > s.start || (s.end == s.start && out.last().is_none_or(|p| p.end <= s.start)) {
            out.push(s);
        }
    }
    out
}

/// Rows by nesting depth: a slice goes one row below every slice still open
/// at its start, so each row is sorted and never overlaps.
fn nest(mut slices: Vec<Slice>) -> Vec<Vec<Slice>> {
    slices.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut rows: Vec<Vec<Slice>> = Vec::new();
    let mut open: Vec<u64> = Vec::new();
    for s in slices {
        while open.last().is_some_and(|&end| end <= s.start && !(end == s.start && s.end == s.start)) {
            open.pop();
        }
        let depth = open.len();
        if rows.len() <= depth {
            rows.push(Vec::new());
        }
        rows[depth].push(s);
        open.push(s.end);
    }
    rows
}

/// Rows of concurrent slices: each goes into a row whose last slice has
/// ended (the one that ended first), else a new row.
fn pack(mut slices: Vec<Slice>) -> Vec<Vec<Slice>> {
    use std::cmp::Reverse;
    slices.sort_by_key(|s| (s.start, Reverse(s.end)));
    let mut rows: Vec<Vec<Slice>> = Vec::new();
    let mut free: std::collections::BinaryHeap<Reverse<(u64, usize)>> = Default::default();
    for s in slices {
        let row = match free.peek() {
            Some(Reverse((end, row))) if *end <= s.start => {
                let row = *row;
                free.pop();
                row
            }
            _ => {
                rows.push(Vec::new());
                rows.len() - 1
            }
        };
        rows[row].push(s);
        free.push(Reverse((s.end, row)));
    }
    rows
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rustprof_trace::{Event, Track};

    fn thread(uuid: u64, tid: i32, name: &str) -> Track {
        Track { uuid, parent: None, name: name.into(), kind: TrackKind::Thread { pid: 1, tid } }
    }

    #[test]
    fn pairs_nests_and_packs() {
        let mut t = Trace::default();
        t.tracks.push(thread(10, 5, "main"));
        t.tracks.push(Track { uuid: 20, parent: None, name: "task 1 req".into(), kind: TrackKind::Async });
        t.tracks.push(Track { uuid: 21, parent: None, name: "task 2 req".into(), kind: TrackKind::Async });
        let e = &mut t.events;
        e.push(Event::begin(100, 10, "outer", vocab::REGION));
        e.push(
            Event::begin(110, 10, vocab::LOCK_WAIT, vocab::SYNC)
                .arg(vocab::ARG_STACK, ArgValue::Str("f\ng".into())),
        );
        e.push(Event::end(150, 10));
        e.push(Event::end(200, 10));
        e.push(Event::begin(300, 10, vocab::BLOCKED, vocab::SCHED));
        e.push(Event::end(400, 10));
        e.push(Event::end(450, 10)); // no open slice: ignored
        // A task that ends (on another thread) before its begin is written.
        e.push(Event::end(500, 20));
        e.push(Event::begin(120, 20, "req", vocab::TASK));
        e.push(Event::begin(130, 21, "req", vocab::TASK));
        e.push(Event::instant(140, 10, "hello", "http"));
        e.push(Event::begin(600, 10, "unclosed", vocab::REGION));
        e.push(Event::end(700, 21));
        let m = build(t);
        assert_eq!((m.start, m.end), (100, 700));
        assert_eq!(m.lanes.len(), 2);
        let tasks = &m.lanes[0];
        assert_eq!(tasks.kind, LaneKind::Tasks);
        assert_eq!(tasks.rows.len(), 2);
        assert_eq!((tasks.rows[0][0].start, tasks.rows[0][0].end), (120, 500));
        assert_eq!((tasks.rows[1][0].start, tasks.rows[1][0].end), (130, 700));
        let main = &m.lanes[1];
        assert_eq!(main.name, "main");
        assert_eq!(main.states.len(), 1);
        assert_eq!((main.states[0].class, main.states[0].dur()), (Class::Blocked, 100));
        assert_eq!(main.rows.len(), 2);
        assert_eq!(
            main.rows[0].iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            [(100, 200), (600, 700)]
        );
        let w = main.rows[1][0];
        assert_eq!((w.class, w.start, w.end, m.str(w.stack)), (Class::LockWait, 110, 150, "f\ng"));
        assert_eq!(main.instants.len(), 1);
        assert_eq!(m.str(main.instants[0].name), "hello");
    }

    #[test]
    fn overlapping_states_are_cut() {
        let s = |a, b| Slice { start: a, end: b, name: 0, stack: NONE, args: NONE, class: Class::Running };
        let mut v = vec![s(0, 10), s(5, 20), s(30, 40), s(32, 35)];
        let out = flatten(&mut v);
        assert_eq!(out.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(), [(0, 10), (10, 20), (30, 40)]);
    }
}
