//! Reading a trace without building it: [`scan`] hands each track and each
//! event to a [`Visitor`], the event as a borrowed [`EventRef`] (names and
//! strings point into the input or the sequence's interned strings), so an
//! analyzer that keeps its own index allocates nothing per event (flows and
//! arguments aside). [`crate::decode`] is this scan collecting what it is
//! handed, so both read the same packets (compact sequences' default tracks
//! and incremental timestamps included), with the same errors and the same
//! reading of a cut file; `decode` stays the way to get a whole
//! [`crate::Trace`].

use std::borrow::Cow;

use hashbrown::HashMap;

use crate::decode::{Sequence, interned_data, track_descriptor};
use crate::encode::f;
use crate::wire::{Reader, Value};
use crate::{DecodeError, EventKind, Track};

/// An argument's value, borrowed.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgRef<'a> {
    /// `bool_value`.
    Bool(bool),
    /// `uint_value`.
    Uint(u64),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `string_value` (lossy UTF-8).
    Str(Cow<'a, str>),
}

/// An event, borrowed from the input.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRef<'a> {
    /// Nanoseconds on the trace's clock.
    pub ts: u64,
    /// The track's uuid.
    pub track: u64,
    /// Begin, end, instant or counter value.
    pub kind: EventKind,
    /// Name (empty for slice ends and counters).
    pub name: Cow<'a, str>,
    /// Category (empty when none).
    pub category: Cow<'a, str>,
    /// Arguments, `(name, value)`.
    pub args: Vec<(Cow<'a, str>, ArgRef<'a>)>,
    /// Flows leaving or passing through the event.
    pub flows: Vec<u64>,
    /// Flows ending at the event.
    pub terminating_flows: Vec<u64>,
}

/// What [`scan`] hands its findings to.
pub trait Visitor {
    /// A track descriptor.
    fn track(&mut self, track: Track);
    /// An event.
    fn event(&mut self, event: EventRef<'_>);
}

/// What [`scan`] learned besides tracks and events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scanned {
    /// The clock of the timestamps ([`crate::clock::BOOTTIME`] unless said).
    pub clock_id: u32,
    /// Clock snapshot readings `(clock id, ns)`.
    pub clock_snapshot: Vec<(u32, u64)>,
    /// Where an incomplete last packet starts, if the input was cut.
    pub truncated_at: Option<usize>,
}

/// Reads a Perfetto trace, handing tracks and events to `v` in file order.
/// Never panics; an incomplete last packet ends the scan (see
/// [`Scanned::truncated_at`]), bad bytes inside a packet are an error.
pub fn scan(data: &[u8], v: &mut dyn Visitor) -> Result<Scanned, DecodeError> {
    let mut out = Scanned { clock_id: crate::clock::BOOTTIME, ..Scanned::default() };
    let mut seqs: HashMap<u32, Sequence> = HashMap::new();
    let mut r = Reader::new(data, 0);
    loop {
        let at = r.offset();
        let (num, value, start) = match r.next_field() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) if e.truncated => {
                out.truncated_at = Some(at);
                break;
            }
            Err(e) => return Err(e),
        };
        if num != f::TRACE_PACKET {
            continue;
        }
        packet(value.bytes(start, "Trace.packet")?, start, &mut out, &mut seqs, v)?;
    }
    Ok(out)
}

fn packet(
    body: &[u8],
    base: usize,
    out: &mut Scanned,
    seqs: &mut HashMap<u32, Sequence>,
    v: &mut dyn Visitor,
) -> Result<(), DecodeError> {
    let (mut ts, mut clock_id, mut seq_id, mut flags) = (None, None, 0u32, 0u64);
    let (mut event, mut track, mut snapshot) = (None, None, None);
    let (mut defaults_clock, mut defaults_track) = (None, None);
    let mut interned = Vec::new();
    let mut r = Reader::new(body, base);
    while let Some((num, val, start)) = r.next_field()? {
        match num {
            f::TIMESTAMP => ts = Some(val.uint(start, "TracePacket.timestamp")?),
            f::TIMESTAMP_CLOCK_ID => {
                clock_id = Some(val.uint(start, "TracePacket.timestamp_clock_id")? as u32)
            }
            f::SEQUENCE_ID => seq_id = val.uint(start, "TracePacket.trusted_packet_sequence_id")? as u32,
            f::SEQUENCE_FLAGS => flags = val.uint(start, "TracePacket.sequence_flags")?,
            f::INTERNED_DATA => interned.push((val.bytes(start, "TracePacket.interned_data")?, start)),
            f::TRACK_EVENT => event = Some((val.bytes(start, "TracePacket.track_event")?, start)),
            f::TRACK_DESCRIPTOR => track = Some((val.bytes(start, "TracePacket.track_descriptor")?, start)),
            f::CLOCK_SNAPSHOT => snapshot = Some((val.bytes(start, "TracePacket.clock_snapshot")?, start)),
            f::PACKET_DEFAULTS => {
                let mut d = Reader::new(val.bytes(start, "TracePacket.trace_packet_defaults")?, start);
                while let Some((n, dv, s)) = d.next_field()? {
                    if n == f::DEFAULTS_CLOCK_ID {
                        defaults_clock = Some(dv.uint(s, "TracePacketDefaults.timestamp_clock_id")? as u32);
                    } else if n == f::DEFAULTS_TRACK_EVENT {
                        let mut t = Reader::new(dv.bytes(s, "TracePacketDefaults.track_event_defaults")?, s);
                        while let Some((n, tv, s)) = t.next_field()? {
                            if n == f::TED_TRACK_UUID {
                                defaults_track = Some(tv.uint(s, "TrackEventDefaults.track_uuid")?);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let seq = seqs.entry(seq_id).or_default();
    if flags & f::SEQ_INCREMENTAL_STATE_CLEARED != 0 {
        // Interned data and defaults go; clocks are not incremental state.
        let incremental = std::mem::take(&mut seq.incremental);
        *seq = Sequence { incremental, ..Sequence::default() };
    }
    if defaults_clock.is_some() {
        seq.clock_id = defaults_clock;
    }
    if defaults_track.is_some() {
        seq.default_track = defaults_track;
    }
    for (bytes, start) in interned {
        interned_data(bytes, start, seq)?;
    }
    if let Some((bytes, start)) = snapshot {
        let mut r = Reader::new(bytes, start);
        let mut clocks = Vec::new();
        while let Some((n, sv, s)) = r.next_field()? {
            if n == f::SNAPSHOT_CLOCKS {
                let mut c = Reader::new(sv.bytes(s, "ClockSnapshot.clocks")?, s);
                let (mut id, mut t, mut inc) = (0u32, 0u64, false);
                while let Some((n, cv, s)) = c.next_field()? {
                    match n {
                        f::CLOCK_ID => id = cv.uint(s, "Clock.clock_id")? as u32,
                        f::CLOCK_TS => t = cv.uint(s, "Clock.timestamp")?,
                        f::CLOCK_INCREMENTAL => inc = cv.uint(s, "Clock.is_incremental")? != 0,
                        _ => {}
                    }
                }
                clocks.push((id, t, inc));
            }
        }
        if clocks.iter().any(|c| c.2) {
            // A sequence's own incremental clock, related to the first clock
            // of the snapshot that is not incremental.
            if let Some(&(base, bt, _)) = clocks.iter().find(|c| !c.2) {
                for &(id, t, _) in clocks.iter().filter(|c| c.2) {
                    seq.incremental.insert(id, (t, base, i128::from(bt) - i128::from(t)));
                }
            }
        } else {
            out.clock_snapshot.extend(clocks.iter().map(|&(id, t, _)| (id, t)));
        }
    }
    if let Some((bytes, start)) = track {
        v.track(track_descriptor(bytes, start)?);
    }
    if let Some((bytes, start)) = event {
        let mut ts = ts.unwrap_or(0);
        if let Some(c) = clock_id.or(seq.clock_id) {
            match seq.incremental.get_mut(&c) {
                Some((value, base, offset)) => {
                    *value = value.wrapping_add(ts);
                    ts = (i128::from(*value) + *offset).clamp(0, i128::from(u64::MAX)) as u64;
                    out.clock_id = *base;
                }
                None => out.clock_id = c,
            }
        }
        let seq = &*seq;
        let (mut e, has_track) = track_event(bytes, start, ts, seq)?;
        if !has_track {
            e.track = seq.default_track.unwrap_or(0);
        }
        v.event(e);
    }
    Ok(())
}

fn text<'a>(val: Value<'a>, at: usize, what: &'static str) -> Result<Cow<'a, str>, DecodeError> {
    Ok(String::from_utf8_lossy(val.bytes(at, what)?))
}

fn lookup<'a>(
    table: &'a HashMap<u64, String>,
    iid: u64,
    what: &str,
    at: usize,
) -> Result<Cow<'a, str>, DecodeError> {
    table
        .get(&iid)
        .map(|s| Cow::Borrowed(s.as_str()))
        .ok_or_else(|| DecodeError::new(at, format!("{what} {iid} was not interned on this sequence")))
}

/// The event, and whether it named its track (else it is on the sequence's
/// default track).
fn track_event<'a>(
    bytes: &'a [u8],
    base: usize,
    ts: u64,
    seq: &'a Sequence,
) -> Result<(EventRef<'a>, bool), DecodeError> {
    let mut e = EventRef {
        ts,
        track: 0,
        kind: EventKind::Instant,
        name: Cow::Borrowed(""),
        category: Cow::Borrowed(""),
        args: Vec::new(),
        flows: Vec::new(),
        terminating_flows: Vec::new(),
    };
    let mut has_track = false;
    let mut counter = 0i64;
    let mut r = Reader::new(bytes, base);
    while let Some((n, v, s)) = r.next_field()? {
        match n {
            f::TE_TYPE => {
                e.kind = match v.uint(s, "TrackEvent.type")? {
                    f::TYPE_SLICE_BEGIN => EventKind::SliceBegin,
                    f::TYPE_SLICE_END => EventKind::SliceEnd,
                    f::TYPE_COUNTER => EventKind::Counter(0),
                    _ => EventKind::Instant,
                }
            }
            f::TE_TRACK_UUID => {
                e.track = v.uint(s, "TrackEvent.track_uuid")?;
                has_track = true;
            }
            f::TE_CATEGORY_IIDS => {
                e.category =
                    lookup(&seq.categories, v.uint(s, "TrackEvent.category_iids")?, "category iid", s)?
            }
            f::TE_CATEGORIES => e.category = text(v, s, "TrackEvent.categories")?,
            f::TE_NAME_IID => {
                e.name = lookup(&seq.names, v.uint(s, "TrackEvent.name_iid")?, "event name iid", s)?
            }
            f::TE_NAME => e.name = text(v, s, "TrackEvent.name")?,
            f::TE_COUNTER_VALUE => counter = v.uint(s, "TrackEvent.counter_value")? as i64,
            f::TE_FLOW_IDS => e.flows.push(v.uint(s, "TrackEvent.flow_ids")?),
            f::TE_TERMINATING_FLOW_IDS => {
                e.terminating_flows.push(v.uint(s, "TrackEvent.terminating_flow_ids")?)
            }
            f::TE_ANNOTATIONS => {
                e.args.push(annotation(v.bytes(s, "TrackEvent.debug_annotations")?, s, seq)?)
            }
            _ => {}
        }
    }
    if let EventKind::Counter(_) = e.kind {
        e.kind = EventKind::Counter(counter);
    }
    Ok((e, has_track))
}

fn annotation<'a>(
    bytes: &'a [u8],
    base: usize,
    seq: &'a Sequence,
) -> Result<(Cow<'a, str>, ArgRef<'a>), DecodeError> {
    let (mut name, mut value) = (Cow::Borrowed(""), ArgRef::Bool(false));
    let mut r = Reader::new(bytes, base);
    while let Some((n, v, s)) = r.next_field()? {
        match n {
            f::DA_NAME_IID => {
                name = lookup(
                    &seq.annotation_names,
                    v.uint(s, "DebugAnnotation.name_iid")?,
                    "annotation name iid",
                    s,
                )?
            }
            f::DA_NAME => name = text(v, s, "DebugAnnotation.name")?,
            f::DA_BOOL => value = ArgRef::Bool(v.uint(s, "DebugAnnotation.bool_value")? != 0),
            f::DA_UINT => value = ArgRef::Uint(v.uint(s, "DebugAnnotation.uint_value")?),
            f::DA_INT => value = ArgRef::Int(v.uint(s, "DebugAnnotation.int_value")? as i64),
            f::DA_DOUBLE => match v {
                Value::Fixed64(b) => value = ArgRef::Double(f64::from_bits(b)),
                _ => return Err(DecodeError::new(s, "DebugAnnotation.double_value: not a fixed64".into())),
            },
            f::DA_STRING => value = ArgRef::Str(text(v, s, "DebugAnnotation.string_value")?),
            _ => {}
        }
    }
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{ArgValue, Event, Trace, TrackKind};

    #[derive(Default)]
    struct Collect(Vec<Track>, Vec<Event>);

    impl Visitor for Collect {
        fn track(&mut self, t: Track) {
            self.0.push(t);
        }
        fn event(&mut self, e: EventRef<'_>) {
            let mut ev = Event::instant(e.ts, e.track, &e.name, &e.category);
            ev.kind = e.kind;
            for (k, v) in e.args {
                let v = match v {
                    ArgRef::Bool(b) => ArgValue::Bool(b),
                    ArgRef::Uint(u) => ArgValue::Uint(u),
                    ArgRef::Int(i) => ArgValue::Int(i),
                    ArgRef::Double(d) => ArgValue::Double(d),
                    ArgRef::Str(s) => ArgValue::Str(s.into_owned()),
                };
                ev = ev.arg(&k, v);
            }
            ev.flows = e.flows;
            ev.terminating_flows = e.terminating_flows;
            self.1.push(ev);
        }
    }

    #[test]
    fn scan_sees_what_decode_sees() {
        let mut t = Trace::default();
        t.tracks.push(Track {
            uuid: 2,
            parent: None,
            name: "main".into(),
            kind: TrackKind::Thread { pid: 1, tid: 1 },
        });
        t.events.push(
            Event::begin(10, 2, "a", "c")
                .arg("stack", ArgValue::Str("f\ng".into()))
                .arg("n", ArgValue::Uint(3)),
        );
        t.events.push(Event::end(20, 2));
        t.events.push(
            Event::instant(15, 2, "a", "c").arg("x", ArgValue::Double(1.5)).arg("b", ArgValue::Bool(true)),
        );
        t.events.push(Event::counter(16, 2, -4));
        let bytes = crate::encode(&t);
        let want = crate::decode(&bytes).unwrap();
        let mut c = Collect::default();
        let s = scan(&bytes, &mut c).unwrap();
        assert_eq!((c.0, c.1), (want.tracks, want.events));
        assert_eq!((s.clock_id, s.truncated_at), (want.clock_id, None));
        // A cut file: the same events up to the cut.
        let cut = &bytes[..bytes.len() - 3];
        let want = crate::decode(cut).unwrap();
        let mut c = Collect::default();
        let s = scan(cut, &mut c).unwrap();
        assert_eq!(c.1, want.events);
        assert_eq!(s.truncated_at, want.truncated_at);
    }

    #[test]
    fn scan_reads_compact_sequences() {
        // A compact sequence (default track, delta timestamps on the
        // sequence's incremental clock) next to a plain one.
        let track = Track { uuid: 7, parent: Some(2), name: vocab_track(), kind: TrackKind::Async };
        let mut plain = crate::Encoder::new(1, crate::clock::MONOTONIC);
        plain.track(&track);
        plain.event(&Event::begin(1_000, 2, "region", "c"));
        let mut compact = crate::Encoder::compact(16, crate::clock::MONOTONIC, 7);
        compact.event(&Event::begin(1_500, 7, crate::vocab::RUNNING, crate::vocab::SCHED));
        compact.event(&Event::end(1_900, 7));
        compact.event(&Event::begin(1_900, 7, crate::vocab::BLOCKED, crate::vocab::SCHED));
        compact.event(&Event::end(5_000, 7));
        compact.event(&Event::instant(5_000, 2, "elsewhere", "c"));
        let mut bytes = plain.take();
        bytes.extend(compact.take());
        let mut c = Collect::default();
        let s = scan(&bytes, &mut c).unwrap();
        let got: Vec<(u64, u64, &str)> = c.1.iter().map(|e| (e.ts, e.track, e.name.as_str())).collect();
        assert_eq!(
            got,
            [
                (1_000, 2, "region"),
                (1_500, 7, crate::vocab::RUNNING),
                (1_900, 7, ""),
                (1_900, 7, crate::vocab::BLOCKED),
                (5_000, 7, ""),
                (5_000, 2, "elsewhere"),
            ]
        );
        assert_eq!(s.clock_id, crate::clock::MONOTONIC);
        let want = crate::decode(&bytes).unwrap();
        assert_eq!((c.0, c.1), (want.tracks, want.events));
    }

    fn vocab_track() -> String {
        crate::vocab::SCHED_TRACK.to_owned()
    }
}
