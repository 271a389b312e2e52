//! Tracks of their own for async tasks: what a task did, whichever worker
//! thread did it. Recorders (the tokio hooks and wrapper) push events through
//! the current thread's buffer; the collector gathers a pass's events of all
//! threads, sorts them by time and hands them to the session (every
//! consumer gets them), so that each task's track is in time order although
//! its polls ran on several threads.

#![cfg_attr(not(feature = "tokio"), allow(dead_code))]

use std::borrow::Cow;

use hashbrown::{HashMap, HashSet};
use rustprof_trace::{ArgValue, Event, EventKind, Track, TrackKind, vocab};

use super::buffer::{Raw, RawKind};
use super::session::Item;

/// What an async-track event is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AsyncOp {
    /// Describe the track (its name in `name`).
    Describe,
    /// A slice begins (`arg`: the worker's tid for a poll, else 0).
    Begin,
    /// The innermost slice ends.
    End,
    /// An instant.
    Instant,
}

/// The uuid of async task `id`'s track.
pub(crate) fn task_track(id: u64) -> u64 {
    0x4_0000_0000_0000 | (id & 0xffff_ffff_ffff)
}

/// Records `op` on async track `track` (a [`task_track`]), now, from the
/// current thread. Nothing when no trace runs.
#[inline]
pub(crate) fn record(op: AsyncOp, track: u64, name: Cow<'static, str>, category: &'static str, worker: u64) {
    if super::is_enabled() {
        record_at(super::now(), op, track, name, category, worker);
    }
}

/// [`record`] with a timestamp taken earlier (a wake-up's).
pub(crate) fn record_at(
    ts: u64,
    op: AsyncOp,
    track: u64,
    name: Cow<'static, str>,
    category: &'static str,
    worker: u64,
) {
    if super::is_enabled() {
        super::buffer::push(Raw {
            ts,
            kind: RawKind::Async(op),
            name,
            category: Cow::Borrowed(category),
            track,
            arg: worker,
            args: None,
            stack: None,
        });
    }
}

/// The collector's side: one pass's events, then handed over in time order
/// per track (the session orders them with the others).
#[derive(Default)]
pub(super) struct AsyncTracks {
    pending: Vec<Event>,
    /// The last timestamp handed over per track (a later pass's event that
    /// raced the previous drain is moved no earlier).
    last: HashMap<u64, u64>,
    /// Tasks described and not done: their tracks, for a consumer that
    /// joins or writes later ([`AsyncTracks::live`]).
    live: HashMap<u64, Track>,
    /// Tracks whose descriptor went with an event already.
    announced: HashSet<u64>,
}

impl AsyncTracks {
    /// Takes one raw event of a thread's buffer: a track's description is
    /// kept for the first event on it, events kept for [`AsyncTracks::flush`].
    pub(super) fn take(&mut self, r: &Raw, op: AsyncOp) {
        let e = match op {
            AsyncOp::Describe => {
                self.live.insert(
                    r.track,
                    Track {
                        uuid: r.track,
                        parent: Some(super::buffer::PROCESS_UUID),
                        name: r.name.to_string(),
                        kind: TrackKind::Async,
                    },
                );
                self.announced.remove(&r.track);
                return;
            }
            AsyncOp::Begin => {
                let e = Event::begin(r.ts, r.track, &r.name, &r.category);
                if r.arg != 0 { e.arg(vocab::ARG_WORKER, ArgValue::Uint(r.arg)) } else { e }
            }
            AsyncOp::End => Event::end(r.ts, r.track),
            AsyncOp::Instant => Event::instant(r.ts, r.track, &r.name, &r.category),
        };
        self.pending.push(e);
    }

    /// Hands over the pass's events, in time order per track, the first on
    /// a track with its descriptor. A task's [`vocab::TASK_DONE`] ends its
    /// track.
    pub(super) fn flush(&mut self, items: &mut Vec<Item>) {
        // Stable: a track's events recorded by one thread keep their order.
        self.pending.sort_by_key(|e| e.ts);
        for mut e in self.pending.drain(..) {
            let last = self.last.entry(e.track).or_insert(0);
            e.ts = e.ts.max(*last);
            *last = e.ts;
            let track = if self.announced.insert(e.track) { self.live.get(&e.track).cloned() } else { None };
            if e.kind == EventKind::Instant && e.name == vocab::TASK_DONE {
                self.live.remove(&e.track);
                self.announced.remove(&e.track);
                self.last.remove(&e.track);
            }
            items.push(Item { track, event: e });
        }
    }

    /// The tracks of the tasks described and not done.
    pub(super) fn live(&self) -> impl Iterator<Item = &Track> {
        self.live.values()
    }
}
