//! Reading Perfetto `TracePacket`s into a [`Trace`]: [`crate::scan::scan`]
//! does the reading, [`decode`] keeps what it is handed.

use hashbrown::HashMap;

use crate::encode::f;
use crate::scan::{ArgRef, EventRef, Visitor};
use crate::wire::Reader;
use crate::{Arg, ArgValue, CounterUnit, DecodeError, Event, Trace, Track, TrackKind};

/// What a sequence's packets said for those that follow.
#[derive(Default)]
pub(crate) struct Sequence {
    pub(crate) names: HashMap<u64, String>,
    pub(crate) categories: HashMap<u64, String>,
    pub(crate) annotation_names: HashMap<u64, String>,
    pub(crate) clock_id: Option<u32>,
    /// `TrackEventDefaults.track_uuid`.
    pub(crate) default_track: Option<u64>,
    /// Incremental clocks of the sequence: id → (current value, the trace
    /// clock it maps to, that clock's reading minus this one's at the snapshot).
    pub(crate) incremental: HashMap<u32, (u64, u32, i128)>,
}

/// Reads a Perfetto trace (the bytes of a `Trace` message, uncompressed).
///
/// Packets other than track descriptors, track events and clock snapshots
/// are skipped. An incomplete last packet (the file was cut) is not an
/// error: what precedes it is returned, with [`Trace::truncated_at`] set.
/// Bad bytes inside a complete packet are a [`DecodeError`]. Never panics.
pub fn decode(data: &[u8]) -> Result<Trace, DecodeError> {
    let mut c = Collect(Trace::default());
    let s = crate::scan::scan(data, &mut c)?;
    let mut trace = c.0;
    trace.clock_id = s.clock_id;
    trace.clock_snapshot = s.clock_snapshot;
    trace.truncated_at = s.truncated_at;
    Ok(trace)
}

/// Builds a [`Trace`] of what a scan hands over.
struct Collect(Trace);

impl Visitor for Collect {
    fn track(&mut self, track: Track) {
        self.0.tracks.push(track);
    }

    fn event(&mut self, e: EventRef<'_>) {
        let args = e
            .args
            .into_iter()
            .map(|(name, v)| Arg {
                name: name.into_owned(),
                value: match v {
                    ArgRef::Bool(b) => ArgValue::Bool(b),
                    ArgRef::Uint(u) => ArgValue::Uint(u),
                    ArgRef::Int(i) => ArgValue::Int(i),
                    ArgRef::Double(d) => ArgValue::Double(d),
                    ArgRef::Str(s) => ArgValue::Str(s.into_owned()),
                },
            })
            .collect();
        let mut ev = Event::instant(e.ts, e.track, &e.name, &e.category);
        ev.kind = e.kind;
        ev.args = args;
        ev.flows = e.flows;
        ev.terminating_flows = e.terminating_flows;
        self.0.events.push(ev);
    }
}

pub(crate) fn interned_data(bytes: &[u8], base: usize, seq: &mut Sequence) -> Result<(), DecodeError> {
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

pub(crate) fn track_descriptor(bytes: &[u8], base: usize) -> Result<Track, DecodeError> {
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
