//! Writing Perfetto `TracePacket`s.

use hashbrown::HashMap;

use crate::wire::{LEN, put_bytes, put_fixed64, put_int, put_key, put_message, put_uint, put_varint};
use crate::{ArgValue, Event, EventKind, Trace, Track, TrackKind};

// Field numbers, from Perfetto's protos/perfetto/trace/*.proto.
pub(crate) mod f {
    pub(crate) const TRACE_PACKET: u32 = 1;
    // TracePacket
    pub(crate) const CLOCK_SNAPSHOT: u32 = 6;
    pub(crate) const TIMESTAMP: u32 = 8;
    pub(crate) const SEQUENCE_ID: u32 = 10;
    pub(crate) const TRACK_EVENT: u32 = 11;
    pub(crate) const INTERNED_DATA: u32 = 12;
    pub(crate) const SEQUENCE_FLAGS: u32 = 13;
    pub(crate) const TIMESTAMP_CLOCK_ID: u32 = 58;
    pub(crate) const PACKET_DEFAULTS: u32 = 59;
    pub(crate) const TRACK_DESCRIPTOR: u32 = 60;
    // TracePacketDefaults
    pub(crate) const DEFAULTS_CLOCK_ID: u32 = 58;
    pub(crate) const DEFAULTS_TRACK_EVENT: u32 = 11;
    // TrackEventDefaults
    pub(crate) const TED_TRACK_UUID: u32 = 11;
    // ClockSnapshot / Clock
    pub(crate) const SNAPSHOT_CLOCKS: u32 = 1;
    pub(crate) const CLOCK_ID: u32 = 1;
    pub(crate) const CLOCK_TS: u32 = 2;
    pub(crate) const CLOCK_INCREMENTAL: u32 = 3;
    // TrackDescriptor
    pub(crate) const TD_UUID: u32 = 1;
    pub(crate) const TD_NAME: u32 = 2;
    pub(crate) const TD_PROCESS: u32 = 3;
    pub(crate) const TD_THREAD: u32 = 4;
    pub(crate) const TD_PARENT: u32 = 5;
    pub(crate) const TD_COUNTER: u32 = 8;
    // ProcessDescriptor / ThreadDescriptor / CounterDescriptor
    pub(crate) const PD_PID: u32 = 1;
    pub(crate) const PD_NAME: u32 = 6;
    pub(crate) const THD_PID: u32 = 1;
    pub(crate) const THD_TID: u32 = 2;
    pub(crate) const THD_NAME: u32 = 5;
    pub(crate) const CD_UNIT: u32 = 3;
    // TrackEvent
    pub(crate) const TE_CATEGORY_IIDS: u32 = 3;
    pub(crate) const TE_ANNOTATIONS: u32 = 4;
    pub(crate) const TE_TYPE: u32 = 9;
    pub(crate) const TE_NAME_IID: u32 = 10;
    pub(crate) const TE_TRACK_UUID: u32 = 11;
    pub(crate) const TE_CATEGORIES: u32 = 22;
    pub(crate) const TE_NAME: u32 = 23;
    pub(crate) const TE_COUNTER_VALUE: u32 = 30;
    pub(crate) const TE_FLOW_IDS: u32 = 47;
    pub(crate) const TE_TERMINATING_FLOW_IDS: u32 = 48;
    // DebugAnnotation
    pub(crate) const DA_NAME_IID: u32 = 1;
    pub(crate) const DA_BOOL: u32 = 2;
    pub(crate) const DA_UINT: u32 = 3;
    pub(crate) const DA_INT: u32 = 4;
    pub(crate) const DA_DOUBLE: u32 = 5;
    pub(crate) const DA_STRING: u32 = 6;
    pub(crate) const DA_NAME: u32 = 10;
    // InternedData and its entries (EventCategory, EventName, DebugAnnotationName)
    pub(crate) const ID_CATEGORIES: u32 = 1;
    pub(crate) const ID_NAMES: u32 = 2;
    pub(crate) const ID_ANNOTATION_NAMES: u32 = 3;
    pub(crate) const ENTRY_IID: u32 = 1;
    pub(crate) const ENTRY_NAME: u32 = 2;
    // sequence_flags
    pub(crate) const SEQ_INCREMENTAL_STATE_CLEARED: u64 = 1;
    pub(crate) const SEQ_NEEDS_INCREMENTAL_STATE: u64 = 2;
    // TrackEvent.Type
    pub(crate) const TYPE_SLICE_BEGIN: u64 = 1;
    pub(crate) const TYPE_SLICE_END: u64 = 2;
    pub(crate) const TYPE_INSTANT: u64 = 3;
    pub(crate) const TYPE_COUNTER: u64 = 4;
}

use crate::clock::INCREMENTAL as INCREMENTAL_CLOCK;

/// Writes packets of one Perfetto sequence (one `trusted_packet_sequence_id`)
/// into a byte buffer. The bytes are always a valid `Trace` message (each
/// packet is a `Trace.packet` field), so buffers of several encoders, or of
/// one encoder taken at different times, concatenate into one file.
///
/// Event names, categories and argument names are interned: the first use
/// on the sequence writes the string in the packet's `InternedData`, later
/// uses only its id. [`Encoder::reset_interning`] starts over, so that what
/// follows decodes without what came before (a flight recorder's chunks).
///
/// A compact sequence ([`Encoder::compact`]) also says its events' track once
/// (`TrackEventDefaults`) and writes each timestamp as the difference from
/// the previous one (a sequence-scoped incremental clock), so a context
/// switch costs a dozen bytes rather than thirty.
#[derive(Debug)]
pub struct Encoder {
    sequence_id: u32,
    clock_id: u32,
    /// Compact sequences: the track of events that name none.
    default_track: Option<u64>,
    /// Compact sequences: the last timestamp written (deltas start from it).
    last_ts: u64,
    out: Vec<u8>,
    names: HashMap<String, u64>,
    categories: HashMap<String, u64>,
    annotation_names: HashMap<String, u64>,
    next_iid: u64,
    cleared: bool,
    packet: Vec<u8>,
    interned: Vec<u8>,
}

impl Encoder {
    /// An encoder for sequence `sequence_id` (non-zero) whose timestamps are
    /// on clock `clock_id` (a [`crate::clock`] id).
    pub fn new(sequence_id: u32, clock_id: u32) -> Self {
        Encoder {
            sequence_id: sequence_id.max(1),
            clock_id,
            default_track: None,
            last_ts: 0,
            out: Vec::new(),
            names: HashMap::new(),
            categories: HashMap::new(),
            annotation_names: HashMap::new(),
            next_iid: 1,
            cleared: false,
            packet: Vec::new(),
            interned: Vec::new(),
        }
    }

    /// A compact encoder for sequence `sequence_id` (non-zero; a sequence of
    /// its own, other encoders' events must not share it) whose events are
    /// mostly on `default_track`, with timestamps on clock `clock_id`: events
    /// on that track omit their track, and timestamps are written as deltas
    /// on [`crate::clock::INCREMENTAL`], related to `clock_id` by a `ClockSnapshot`
    /// written on the sequence. Timestamps must not go back (an earlier one
    /// is written as the previous one).
    pub fn compact(sequence_id: u32, clock_id: u32, default_track: u64) -> Self {
        let mut e = Encoder::new(sequence_id, clock_id);
        e.default_track = Some(default_track);
        e
    }

    /// Forget interned strings: the next event packet says the sequence's
    /// incremental state was cleared and interns again what it uses.
    pub fn reset_interning(&mut self) {
        self.names.clear();
        self.categories.clear();
        self.annotation_names.clear();
        self.next_iid = 1;
        self.cleared = false;
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// Takes the bytes written so far, leaving the buffer empty (interning
    /// continues: the bytes taken later need the ones taken before).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn finish_packet(&mut self) {
        put_bytes(&mut self.out, f::TRACE_PACKET, &self.packet);
        self.packet.clear();
    }

    /// Writes a `ClockSnapshot`: readings `(clock id, ns)` of several clocks
    /// at one instant.
    pub fn clock_snapshot(&mut self, clocks: &[(u32, u64)]) {
        let p = &mut self.packet;
        put_message(p, f::CLOCK_SNAPSHOT, |s| {
            for &(id, ts) in clocks {
                put_message(s, f::SNAPSHOT_CLOCKS, |c| {
                    put_uint(c, f::CLOCK_ID, u64::from(id));
                    put_uint(c, f::CLOCK_TS, ts);
                });
            }
        });
        put_uint(p, f::SEQUENCE_ID, u64::from(self.sequence_id));
        self.finish_packet();
    }

    /// The snapshot a compact sequence's deltas start from: the incremental
    /// clock reads `ts` when the trace clock reads `ts`.
    fn clock_snapshot_incremental(&mut self, ts: u64) {
        let p = &mut self.packet;
        let clock_id = self.clock_id;
        put_message(p, f::CLOCK_SNAPSHOT, |s| {
            put_message(s, f::SNAPSHOT_CLOCKS, |c| {
                put_uint(c, f::CLOCK_ID, u64::from(clock_id));
                put_uint(c, f::CLOCK_TS, ts);
            });
            put_message(s, f::SNAPSHOT_CLOCKS, |c| {
                put_uint(c, f::CLOCK_ID, u64::from(INCREMENTAL_CLOCK));
                put_uint(c, f::CLOCK_TS, ts);
                put_uint(c, f::CLOCK_INCREMENTAL, 1);
            });
        });
        put_uint(p, f::SEQUENCE_ID, u64::from(self.sequence_id));
        self.finish_packet();
    }

    /// Writes a `TrackDescriptor`.
    pub fn track(&mut self, t: &Track) {
        let p = &mut self.packet;
        put_message(p, f::TRACK_DESCRIPTOR, |d| {
            put_uint(d, f::TD_UUID, t.uuid);
            if let Some(parent) = t.parent {
                put_uint(d, f::TD_PARENT, parent);
            }
            match t.kind {
                TrackKind::Process { pid } => put_message(d, f::TD_PROCESS, |m| {
                    put_int(m, f::PD_PID, i64::from(pid));
                    put_bytes(m, f::PD_NAME, t.name.as_bytes());
                }),
                TrackKind::Thread { pid, tid } => put_message(d, f::TD_THREAD, |m| {
                    put_int(m, f::THD_PID, i64::from(pid));
                    put_int(m, f::THD_TID, i64::from(tid));
                    put_bytes(m, f::THD_NAME, t.name.as_bytes());
                }),
                TrackKind::Async => put_bytes(d, f::TD_NAME, t.name.as_bytes()),
                TrackKind::Counter { unit } => {
                    put_bytes(d, f::TD_NAME, t.name.as_bytes());
                    put_message(d, f::TD_COUNTER, |m| put_uint(m, f::CD_UNIT, unit.to_proto()));
                }
            }
        });
        put_uint(p, f::SEQUENCE_ID, u64::from(self.sequence_id));
        self.finish_packet();
    }

    fn intern(
        table: &mut HashMap<String, u64>,
        next: &mut u64,
        interned: &mut Vec<u8>,
        field: u32,
        s: &str,
    ) -> u64 {
        if let Some(&iid) = table.get(s) {
            return iid;
        }
        let iid = *next;
        *next += 1;
        table.insert(s.to_owned(), iid);
        put_message(interned, field, |e| {
            put_uint(e, f::ENTRY_IID, iid);
            put_bytes(e, f::ENTRY_NAME, s.as_bytes());
        });
        iid
    }

    /// Writes a `TrackEvent` packet.
    pub fn event(&mut self, e: &Event) {
        if self.default_track.is_some() && !self.cleared {
            // A compact sequence's deltas start from a snapshot on the sequence.
            self.last_ts = e.ts;
            self.clock_snapshot_incremental(e.ts);
        }
        self.interned.clear();
        let mut body = Vec::with_capacity(32);
        let ty = match e.kind {
            EventKind::SliceBegin => f::TYPE_SLICE_BEGIN,
            EventKind::SliceEnd => f::TYPE_SLICE_END,
            EventKind::Instant => f::TYPE_INSTANT,
            EventKind::Counter(_) => f::TYPE_COUNTER,
        };
        put_uint(&mut body, f::TE_TYPE, ty);
        if self.default_track != Some(e.track) {
            put_uint(&mut body, f::TE_TRACK_UUID, e.track);
        }
        if !e.category.is_empty() {
            let iid = Self::intern(
                &mut self.categories,
                &mut self.next_iid,
                &mut self.interned,
                f::ID_CATEGORIES,
                &e.category,
            );
            put_uint(&mut body, f::TE_CATEGORY_IIDS, iid);
        }
        if !e.name.is_empty() {
            let iid =
                Self::intern(&mut self.names, &mut self.next_iid, &mut self.interned, f::ID_NAMES, &e.name);
            put_uint(&mut body, f::TE_NAME_IID, iid);
        }
        if let EventKind::Counter(v) = e.kind {
            put_int(&mut body, f::TE_COUNTER_VALUE, v);
        }
        for a in &e.args {
            let iid = Self::intern(
                &mut self.annotation_names,
                &mut self.next_iid,
                &mut self.interned,
                f::ID_ANNOTATION_NAMES,
                &a.name,
            );
            put_message(&mut body, f::TE_ANNOTATIONS, |d| {
                put_uint(d, f::DA_NAME_IID, iid);
                match &a.value {
                    ArgValue::Bool(b) => put_uint(d, f::DA_BOOL, u64::from(*b)),
                    ArgValue::Uint(v) => put_uint(d, f::DA_UINT, *v),
                    ArgValue::Int(v) => put_int(d, f::DA_INT, *v),
                    ArgValue::Double(v) => put_fixed64(d, f::DA_DOUBLE, v.to_bits()),
                    ArgValue::Str(s) => put_bytes(d, f::DA_STRING, s.as_bytes()),
                }
            });
        }
        for &id in &e.flows {
            put_fixed64(&mut body, f::TE_FLOW_IDS, id);
        }
        for &id in &e.terminating_flows {
            put_fixed64(&mut body, f::TE_TERMINATING_FLOW_IDS, id);
        }

        let p = &mut self.packet;
        let (ts, clock_id) = match self.default_track {
            Some(_) => {
                let ts = e.ts.max(self.last_ts);
                let delta = ts - self.last_ts;
                self.last_ts = ts;
                (delta, INCREMENTAL_CLOCK)
            }
            None => (e.ts, self.clock_id),
        };
        put_uint(p, f::TIMESTAMP, ts);
        put_bytes(p, f::TRACK_EVENT, &body);
        put_uint(p, f::SEQUENCE_ID, u64::from(self.sequence_id));
        let mut flags = f::SEQ_NEEDS_INCREMENTAL_STATE;
        if !self.cleared {
            flags |= f::SEQ_INCREMENTAL_STATE_CLEARED;
            self.cleared = true;
            // The sequence's first event packet also says the clock (and,
            // compact, the default track).
            let track = self.default_track;
            put_message(p, f::PACKET_DEFAULTS, |d| {
                put_uint(d, f::DEFAULTS_CLOCK_ID, u64::from(clock_id));
                if let Some(t) = track {
                    put_message(d, f::DEFAULTS_TRACK_EVENT, |m| put_uint(m, f::TED_TRACK_UUID, t));
                }
            });
            put_uint(p, f::TIMESTAMP_CLOCK_ID, u64::from(clock_id));
        }
        put_uint(p, f::SEQUENCE_FLAGS, flags);
        if !self.interned.is_empty() {
            put_key(p, f::INTERNED_DATA, LEN);
            put_varint(p, self.interned.len() as u64);
            p.extend_from_slice(&self.interned);
        }
        self.finish_packet();
    }
}

/// The bytes of a whole trace: its clock snapshot, tracks, then events, on
/// one sequence.
pub fn encode(trace: &Trace) -> Vec<u8> {
    let clock_id = if trace.clock_id == 0 { crate::clock::BOOTTIME } else { trace.clock_id };
    let mut e = Encoder::new(1, clock_id);
    if !trace.clock_snapshot.is_empty() {
        e.clock_snapshot(&trace.clock_snapshot);
    }
    for t in &trace.tracks {
        e.track(t);
    }
    for ev in &trace.events {
        e.event(ev);
    }
    e.take()
}
