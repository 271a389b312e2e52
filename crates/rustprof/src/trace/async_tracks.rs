//! Tracks of their own for async tasks: what a task did, whichever worker
//! thread did it. Recorders (the tokio hooks and wrapper) push events through
//! the current thread's buffer; the collector gathers a pass's events of all
//! threads, sorts them by time and writes them, so that each task's track is
//! in time order in the file although its polls ran on several threads.

#![cfg_attr(not(feature = "tokio"), allow(dead_code))]

use std::borrow::Cow;

use hashbrown::HashMap;
use rustprof_trace::{ArgValue, Encoder, Event};

use super::buffer::{Raw, RawKind};

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

/// The collector's side: one pass's events, then written in time order.
#[derive(Default)]
pub(super) struct AsyncTracks {
    pending: Vec<Event>,
    /// The last timestamp written per track (a later pass's event that raced
    /// the previous drain is written no earlier).
    last: HashMap<u64, u64>,
}

impl AsyncTracks {
    /// Takes one raw event of a thread's buffer: track descriptions are
    /// written at once (before any event of the pass), events kept.
    pub(super) fn take(&mut self, r: &Raw, op: AsyncOp, enc: &mut Encoder) {
        let e = match op {
            AsyncOp::Describe => {
                enc.track(&rustprof_trace::Track {
                    uuid: r.track,
                    parent: Some(super::buffer::PROCESS_UUID),
                    name: r.name.to_string(),
                    kind: rustprof_trace::TrackKind::Async,
                });
                return;
            }
            AsyncOp::Begin => {
                let e = Event::begin(r.ts, r.track, &r.name, &r.category);
                if r.arg != 0 { e.arg(rustprof_trace::vocab::ARG_WORKER, ArgValue::Uint(r.arg)) } else { e }
            }
            AsyncOp::End => Event::end(r.ts, r.track),
            AsyncOp::Instant => Event::instant(r.ts, r.track, &r.name, &r.category),
        };
        self.pending.push(e);
    }

    /// Writes the pass's events, in time order per track.
    pub(super) fn flush(&mut self, enc: &mut Encoder) {
        // Stable: a track's events recorded by one thread keep their order.
        self.pending.sort_by_key(|e| e.ts);
        for mut e in self.pending.drain(..) {
            let last = self.last.entry(e.track).or_insert(0);
            e.ts = e.ts.max(*last);
            *last = e.ts;
            enc.event(&e);
        }
    }
}
