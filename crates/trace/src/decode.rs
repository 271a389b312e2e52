//! Reading Perfetto `TracePacket`s into a [`Trace`].

use hashbrown::HashMap;

use crate::encode::f;
use crate::wire::{Reader, Value};
use crate::{Arg, ArgValue, CounterUnit, DecodeError, Event, EventKind, Trace, Track, TrackKind};

#[derive(Default)]
struct Sequence {
    names: HashMap<u64, String>,
    categories: HashMap<u64, String>,
    annotation_names: HashMap<u64, String>,
    clock_id: Option<u32>,
    /// `TrackEventDefaults.track_uuid`.
    default_track: Option<u64>,
    /// Incremental clocks of the sequence: id → (current value, the trace
    /// clock it maps to, that clock's reading minus this one's at the snapshot).
    incremental: HashMap<u32, (u64, u32, i128)>,
}

/// Reads a Perfetto trace (the bytes of a `Trace` message, uncompressed).
///
/// Packets other than track descriptors, track events and clock snapshots
/// are skipped. An incomplete last packet (the file was cut) is not an
/// error: what precedes it is returned, with [`Trace::truncated_at`] set.
/// Bad bytes inside a complete packet are a [`DecodeError`]. Never panics.
pub fn decode(data: &[u8]) -> Result<Trace, DecodeError> {
    let mut trace = Trace { clock_id: crate::clock::BOOTTIME, ..Trace::default() };
    let mut seqs: HashMap<u32, Sequence> = HashMap::new();
    let mut r = Reader::new(data, 0);
    loop {
        let at = r.offset();
        let field = match r.next_field() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) if e.truncated => {
                trace.truncated_at = Some(at);
                break;
            }
            Err(e) => return Err(e),
        };
        let (num, value, start) = field;
        if num != f::TRACE_PACKET {
            continue;
        }
        let body = value.bytes(start, "Trace.packet")?;
        packet(body, start, &mut trace, &mut seqs)?;
    }
    Ok(trace)
}

fn packet(
    body: &[u8],
    base: usize,
    trace: &mut Trace,
    seqs: &mut HashMap<u32, Sequence>,
) -> Result<(), DecodeError> {
    let mut ts = None;
    let mut clock_id = None;
    let mut seq_id = 0u32;
    let mut flags = 0u64;
    let mut interned = Vec::new();
    let mut event = None;
    let mut track = None;
    let mut snapshot = None;
    let mut defaults_clock = None;
    let mut defaults_track = None;
    let mut r = Reader::new(body, base);
    while let Some((num, v, start)) = r.next_field()? {
        match num {
            f::TIMESTAMP => ts = Some(v.uint(start, "TracePacket.timestamp")?),
            f::TIMESTAMP_CLOCK_ID => clock_id = Some(v.uint(start, "TracePacket.timestamp_clock_id")? as u32),
            f::SEQUENCE_ID => seq_id = v.uint(start, "TracePacket.trusted_packet_sequence_id")? as u32,
            f::SEQUENCE_FLAGS => flags = v.uint(start, "TracePacket.sequence_flags")?,
            f::INTERNED_DATA => interned.push((v.bytes(start, "TracePacket.interned_data")?, start)),
            f::TRACK_EVENT => event = Some((v.bytes(start, "TracePacket.track_event")?, start)),
            f::TRACK_DESCRIPTOR => track = Some((v.bytes(start, "TracePacket.track_descriptor")?, start)),
            f::CLOCK_SNAPSHOT => snapshot = Some((v.bytes(start, "TracePacket.clock_snapshot")?, start)),
            f::PACKET_DEFAULTS => {
                let mut d = Reader::new(v.bytes(start, "TracePacket.trace_packet_defaults")?, start);
                while let Some((n, v, s)) = d.next_field()? {
                    if n == f::DEFAULTS_CLOCK_ID {
                        defaults_clock = Some(v.uint(s, "TracePacketDefaults.timestamp_clock_id")? as u32);
                    } else if n == f::DEFAULTS_TRACK_EVENT {
                        let mut t = Reader::new(v.bytes(s, "TracePacketDefaults.track_event_defaults")?, s);
                        while let Some((n, v, s)) = t.next_field()? {
                            if n == f::TED_TRACK_UUID {
                                defaults_track = Some(v.uint(s, "TrackEventDefaults.track_uuid")?);
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
        while let Some((n, v, s)) = r.next_field()? {
            if n == f::SNAPSHOT_CLOCKS {
                let mut c = Reader::new(v.bytes(s, "ClockSnapshot.clocks")?, s);
                let (mut id, mut t, mut inc) = (0u32, 0u64, false);
                while let Some((n, v, s)) = c.next_field()? {
                    match n {
                        f::CLOCK_ID => id = v.uint(s, "Clock.clock_id")? as u32,
                        f::CLOCK_TS => t = v.uint(s, "Clock.timestamp")?,
                        f::CLOCK_INCREMENTAL => inc = v.uint(s, "Clock.is_incremental")? != 0,
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
            trace.clock_snapshot.extend(clocks.iter().map(|&(id, t, _)| (id, t)));
        }
    }
    if let Some((bytes, start)) = track {
        trace.tracks.push(track_descriptor(bytes, start)?);
    }
    if let Some((bytes, start)) = event {
        let mut ts = ts.unwrap_or(0);
        if let Some(c) = clock_id.or(seq.clock_id) {
            match seq.incremental.get_mut(&c) {
                Some((value, base, offset)) => {
                    *value = value.wrapping_add(ts);
                    ts = (i128::from(*value) + *offset).clamp(0, i128::from(u64::MAX)) as u64;
                    trace.clock_id = *base;
                }
                None => trace.clock_id = c,
            }
        }
        let mut e = track_event(bytes, start, ts, seq)?;
        if !e.has_track {
            e.event.track = seq.default_track.unwrap_or(0);
        }
        trace.events.push(e.event);
    }
    Ok(())
}

fn interned_data(bytes: &[u8], base: usize, seq: &mut Sequence) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes, base);
    while let Some((n, v, s)) = r.next_field()? {
        let table = match n {
            f::ID_CATEGORIES => &mut seq.categories,
            f::ID_NAMES => &mut seq.names,
            f::ID_ANNOTATION_NAMES => &mut seq.annotation_names,
            _ => continue,
        };
        let mut e = Reader::new(v.bytes(s, "InternedData entry")?, s);
        let (mut iid, mut name) = (0u64, String::new());
        while let Some((n, v, s)) = e.next_field()? {
            match n {
                f::ENTRY_IID => iid = v.uint(s, "interned iid")?,
                f::ENTRY_NAME => name = v.string(s, "interned name")?,
                _ => {}
            }
        }
        table.insert(iid, name);
    }
    Ok(())
}

fn track_descriptor(bytes: &[u8], base: usize) -> Result<Track, DecodeError> {
    let mut t = Track { uuid: 0, parent: None, name: String::new(), kind: TrackKind::Async };
    let mut named = None;
    let mut r = Reader::new(bytes, base);
    while let Some((n, v, s)) = r.next_field()? {
        match n {
            f::TD_UUID => t.uuid = v.uint(s, "TrackDescriptor.uuid")?,
            f::TD_PARENT => t.parent = Some(v.uint(s, "TrackDescriptor.parent_uuid")?),
            f::TD_NAME => named = Some(v.string(s, "TrackDescriptor.name")?),
            f::TD_PROCESS => {
                let mut pid = 0;
                let mut m = Reader::new(v.bytes(s, "TrackDescriptor.process")?, s);
                while let Some((n, v, s)) = m.next_field()? {
                    match n {
                        f::PD_PID => pid = v.uint(s, "ProcessDescriptor.pid")? as i32,
                        f::PD_NAME => t.name = v.string(s, "ProcessDescriptor.process_name")?,
                        _ => {}
                    }
                }
                t.kind = TrackKind::Process { pid };
            }
            f::TD_THREAD => {
                let (mut pid, mut tid) = (0, 0);
                let mut m = Reader::new(v.bytes(s, "TrackDescriptor.thread")?, s);
                while let Some((n, v, s)) = m.next_field()? {
                    match n {
                        f::THD_PID => pid = v.uint(s, "ThreadDescriptor.pid")? as i32,
                        f::THD_TID => tid = v.uint(s, "ThreadDescriptor.tid")? as i32,
                        f::THD_NAME => t.name = v.string(s, "ThreadDescriptor.thread_name")?,
                        _ => {}
                    }
                }
                t.kind = TrackKind::Thread { pid, tid };
            }
            f::TD_COUNTER => {
                let mut unit = CounterUnit::Unspecified;
                let mut m = Reader::new(v.bytes(s, "TrackDescriptor.counter")?, s);
                while let Some((n, v, s)) = m.next_field()? {
                    if n == f::CD_UNIT {
                        unit = CounterUnit::from_proto(v.uint(s, "CounterDescriptor.unit")?);
                    }
                }
                t.kind = TrackKind::Counter { unit };
            }
            _ => {}
        }
    }
    if let Some(name) = named {
        t.name = name;
    }
    Ok(t)
}

fn lookup(table: &HashMap<u64, String>, iid: u64, what: &str, at: usize) -> Result<String, DecodeError> {
    table
        .get(&iid)
        .cloned()
        .ok_or_else(|| DecodeError::new(at, format!("{what} {iid} was not interned on this sequence")))
}

struct Decoded {
    event: Event,
    has_track: bool,
}

fn track_event(bytes: &[u8], base: usize, ts: u64, seq: &Sequence) -> Result<Decoded, DecodeError> {
    let mut e = Event::instant(ts, 0, "", "");
    let mut has_track = false;
    let mut r = Reader::new(bytes, base);
    let mut counter = 0i64;
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
            f::TE_CATEGORIES => e.category = v.string(s, "TrackEvent.categories")?,
            f::TE_NAME_IID => {
                e.name = lookup(&seq.names, v.uint(s, "TrackEvent.name_iid")?, "event name iid", s)?
            }
            f::TE_NAME => e.name = v.string(s, "TrackEvent.name")?,
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
    Ok(Decoded { event: e, has_track })
}

fn annotation(bytes: &[u8], base: usize, seq: &Sequence) -> Result<Arg, DecodeError> {
    let mut a = Arg { name: String::new(), value: ArgValue::Bool(false) };
    let mut r = Reader::new(bytes, base);
    while let Some((n, v, s)) = r.next_field()? {
        match n {
            f::DA_NAME_IID => {
                a.name = lookup(
                    &seq.annotation_names,
                    v.uint(s, "DebugAnnotation.name_iid")?,
                    "annotation name iid",
                    s,
                )?
            }
            f::DA_NAME => a.name = v.string(s, "DebugAnnotation.name")?,
            f::DA_BOOL => a.value = ArgValue::Bool(v.uint(s, "DebugAnnotation.bool_value")? != 0),
            f::DA_UINT => a.value = ArgValue::Uint(v.uint(s, "DebugAnnotation.uint_value")?),
            f::DA_INT => a.value = ArgValue::Int(v.uint(s, "DebugAnnotation.int_value")? as i64),
            f::DA_DOUBLE => {
                let bits = match v {
                    Value::Fixed64(b) => b,
                    _ => {
                        return Err(DecodeError::new(
                            s,
                            "DebugAnnotation.double_value: not a fixed64".into(),
                        ));
                    }
                };
                a.value = ArgValue::Double(f64::from_bits(bits));
            }
            f::DA_STRING => a.value = ArgValue::Str(v.string(s, "DebugAnnotation.string_value")?),
            _ => {}
        }
    }
    Ok(a)
}
