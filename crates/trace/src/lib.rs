//! `rustprof-trace`: execution traces in Perfetto's protobuf format
//! (`.pftrace`, opened by ui.perfetto.dev and `trace_processor`).
//!
//! The crate holds a trace in memory ([`Trace`]: [`Track`]s and [`Event`]s)
//! and converts it to and from the bytes of Perfetto's `Trace` message, using
//! only the messages a profiler's timeline needs:
//!
//! - `TrackDescriptor` for process, thread, async (task) and counter tracks;
//! - `TrackEvent` slice begin/end, instants and counters, with names and
//!   categories interned per sequence (`InternedData`, `sequence_flags`),
//!   debug annotations as arguments and flows between events;
//! - a `ClockSnapshot` and `TracePacketDefaults` naming the clock of the
//!   timestamps.
//!
//! [`Encoder`] writes packets incrementally (a recorder streams them),
//! [`encode`] writes a whole [`Trace`]; [`decode`] reads any Perfetto trace made
//! of these messages (other packets are skipped), never panics on bad input,
//! and reads a truncated file up to its last complete packet
//! ([`Trace::truncated_at`]); [`scan::scan`] reads the same without building a
//! [`Trace`], handing borrowed events to a visitor (an analyzer's index of a
//! million events allocates nothing per event). The crate does no I/O and has
//! no OS code.
//!
//! ```
//! use rustprof_trace::{Trace, Track, TrackKind, Event, EventKind, Arg, ArgValue};
//!
//! let mut t = Trace::default();
//! t.tracks.push(Track { uuid: 1, parent: None, name: "app".into(), kind: TrackKind::Process { pid: 42 } });
//! t.tracks.push(Track { uuid: 2, parent: Some(1), name: "main".into(), kind: TrackKind::Thread { pid: 42, tid: 42 } });
//! t.events.push(Event::begin(1_000, 2, "request", "task").arg("id", ArgValue::Uint(7)));
//! t.events.push(Event::end(5_000, 2));
//! let bytes = rustprof_trace::encode(&t);
//! let back = rustprof_trace::decode(&bytes).unwrap();
//! assert_eq!(back.events, t.events);
//! assert_eq!(back.tracks, t.tracks);
//! ```

mod decode;
mod encode;
pub mod scan;
pub mod vocab;
mod wire;

pub use decode::decode;
pub use encode::{Encoder, encode};

/// Perfetto's built-in clock ids (`BuiltinClock` in `clock_snapshot.proto`).
pub mod clock {
    /// `CLOCK_REALTIME`.
    pub const REALTIME: u32 = 1;
    /// `CLOCK_MONOTONIC`.
    pub const MONOTONIC: u32 = 3;
    /// `CLOCK_BOOTTIME`: Perfetto's default trace clock.
    pub const BOOTTIME: u32 = 6;
    /// The sequence-scoped incremental clock of a compact
    /// [`Encoder`](crate::Encoder::compact): each timestamp is the delta from
    /// the sequence's previous one (Perfetto scopes ids 64 to 127 to their
    /// sequence). [`decode`](crate::decode) turns them back into the trace
    /// clock's.
    pub const INCREMENTAL: u32 = 64;
}

/// Category of the instant event a recorder writes when it had to drop events
/// (a full buffer); its `count` argument says how many. See
/// [`Trace::dropped_events`].
pub const DROPPED_CATEGORY: &str = "rustprof.dropped";

/// A whole trace in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The clock of every timestamp (a [`clock`] id); [`clock::BOOTTIME`] when
    /// the file does not say.
    pub clock_id: u32,
    /// Readings of several clocks at one instant (`ClockSnapshot`), so a
    /// viewer can relate the trace clock to wall time: `(clock id, ns)`.
    pub clock_snapshot: Vec<(u32, u64)>,
    /// Every track, in the order they were described.
    pub tracks: Vec<Track>,
    /// Every event, in file order (per track, in time order when the writer
    /// kept it).
    pub events: Vec<Event>,
    /// When decoding: the byte offset where an incomplete last packet starts
    /// (a file cut by a crash or a closed socket), else `None`.
    pub truncated_at: Option<usize>,
}

impl Trace {
    /// The track with this uuid.
    pub fn track(&self, uuid: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.uuid == uuid)
    }

    /// Events the recorder said it dropped (the `count` arguments of
    /// [`DROPPED_CATEGORY`] instants).
    pub fn dropped_events(&self) -> u64 {
        self.events
            .iter()
            .filter(|e| e.category == DROPPED_CATEGORY)
            .filter_map(|e| e.args.iter().find(|a| a.name == "count"))
            .map(|a| match a.value {
                ArgValue::Uint(v) => v,
                ArgValue::Int(v) => v.max(0) as u64,
                _ => 0,
            })
            .sum()
    }
}

/// A timeline lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Unique id of the track in the trace (Perfetto's track uuid).
    pub uuid: u64,
    /// The enclosing track (a thread's process), if any.
    pub parent: Option<u64>,
    /// Display name (a thread's name, a task's name).
    pub name: String,
    /// What the track stands for.
    pub kind: TrackKind,
}

/// What a [`Track`] stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackKind {
    /// A process (`ProcessDescriptor`).
    Process {
        /// Process id.
        pid: i32,
    },
    /// A thread (`ThreadDescriptor`).
    Thread {
        /// Process id.
        pid: i32,
        /// Thread id.
        tid: i32,
    },
    /// A track of its own, e.g. an async task or a user task, whose slices
    /// may move between threads.
    Async,
    /// A counter track (`CounterDescriptor`): its events are
    /// [`EventKind::Counter`].
    Counter {
        /// The unit of the values.
        unit: CounterUnit,
    },
}

/// Units of a counter track (`CounterDescriptor.Unit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterUnit {
    /// Not said.
    Unspecified,
    /// Nanoseconds.
    TimeNs,
    /// A count.
    Count,
    /// Bytes.
    SizeBytes,
}

impl CounterUnit {
    pub(crate) fn to_proto(self) -> u64 {
        match self {
            CounterUnit::Unspecified => 0,
            CounterUnit::TimeNs => 1,
            CounterUnit::Count => 2,
            CounterUnit::SizeBytes => 3,
        }
    }

    pub(crate) fn from_proto(v: u64) -> Self {
        match v {
            1 => CounterUnit::TimeNs,
            2 => CounterUnit::Count,
            3 => CounterUnit::SizeBytes,
            _ => CounterUnit::Unspecified,
        }
    }
}

/// One event on a track.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Nanoseconds on the trace's clock.
    pub ts: u64,
    /// The track's uuid.
    pub track: u64,
    /// Begin, end, instant or counter value.
    pub kind: EventKind,
    /// Name (empty for slice ends and counters).
    pub name: String,
    /// Category (empty when none).
    pub category: String,
    /// Arguments (debug annotations).
    pub args: Vec<Arg>,
    /// Flow ids this event continues or starts (arrows between events).
    pub flows: Vec<u64>,
    /// Flow ids this event ends.
    pub terminating_flows: Vec<u64>,
}

impl Event {
    fn new(ts: u64, track: u64, kind: EventKind, name: &str, category: &str) -> Self {
        Event {
            ts,
            track,
            kind,
            name: name.to_owned(),
            category: category.to_owned(),
            args: Vec::new(),
            flows: Vec::new(),
            terminating_flows: Vec::new(),
        }
    }

    /// A slice begins.
    pub fn begin(ts: u64, track: u64, name: &str, category: &str) -> Self {
        Event::new(ts, track, EventKind::SliceBegin, name, category)
    }

    /// The innermost open slice of the track ends.
    pub fn end(ts: u64, track: u64) -> Self {
        Event::new(ts, track, EventKind::SliceEnd, "", "")
    }

    /// A point in time (a log, a sample).
    pub fn instant(ts: u64, track: u64, name: &str, category: &str) -> Self {
        Event::new(ts, track, EventKind::Instant, name, category)
    }

    /// A counter track's value from `ts` on.
    pub fn counter(ts: u64, track: u64, value: i64) -> Self {
        Event::new(ts, track, EventKind::Counter(value), "", "")
    }

    /// The same event with one more argument.
    pub fn arg(mut self, name: &str, value: ArgValue) -> Self {
        self.args.push(Arg { name: name.to_owned(), value });
        self
    }

    /// The same event with one more flow id.
    pub fn flow(mut self, id: u64) -> Self {
        self.flows.push(id);
        self
    }

    /// The same event ending one more flow.
    pub fn terminating_flow(mut self, id: u64) -> Self {
        self.terminating_flows.push(id);
        self
    }
}

/// The kind of an [`Event`] (`TrackEvent.Type`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventKind {
    /// `TYPE_SLICE_BEGIN`.
    SliceBegin,
    /// `TYPE_SLICE_END`.
    SliceEnd,
    /// `TYPE_INSTANT`.
    Instant,
    /// `TYPE_COUNTER` with its value.
    Counter(i64),
}

/// A named argument of an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// Argument name.
    pub name: String,
    /// Its value.
    pub value: ArgValue,
}

/// A debug annotation's value.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// `bool_value`.
    Bool(bool),
    /// `uint_value`.
    Uint(u64),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `string_value`.
    Str(String),
}

/// Why bytes are not a trace: what was wrong and at which byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Perfetto trace: {what} (at byte {offset})")]
pub struct DecodeError {
    /// Absolute byte offset in the input.
    pub offset: usize,
    /// What was wrong.
    pub what: String,
    /// The input ended inside this element (rather than holding bad bytes).
    pub truncated: bool,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, what: String) -> Self {
        DecodeError { offset, what, truncated: false }
    }

    pub(crate) fn truncated(offset: usize, what: &str) -> Self {
        DecodeError { offset, what: format!("input ends inside a {what}"), truncated: true }
    }
}
