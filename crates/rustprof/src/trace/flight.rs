//! The flight recorder (Go 1.25's `trace.FlightRecorder`): the last seconds
//! of the trace kept in memory, written on demand.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hashbrown::{HashMap, HashSet};
use rustprof_trace::{ArgValue, Event, Track};

use super::TraceError;
use super::session::{self, Balance, Item, Sequences};

/// How much a [`FlightRecorder`] keeps (Go's `FlightRecorderConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlightRecorderConfig {
    /// Events younger than this are kept (default 10 s, as Go's), unless
    /// that would pass `max_bytes`; older ones are dropped.
    pub min_age: Duration,
    /// The most memory the window may hold (default 10 MiB, as Go's); past
    /// it, whole events are dropped, oldest first. Takes precedence over
    /// `min_age`.
    pub max_bytes: usize,
}

impl Default for FlightRecorderConfig {
    fn default() -> Self {
        FlightRecorderConfig { min_age: Duration::from_secs(10), max_bytes: 10 << 20 }
    }
}

/// Keeps the last [`FlightRecorderConfig::min_age`] of the trace (at most
/// [`FlightRecorderConfig::max_bytes`]) in memory, recording the same events
/// as [`super::start`]; [`FlightRecorder::write_to`] writes that window as a
/// trace whenever something interesting happened (a slow request, a failed
/// health check), and recording goes on.
///
/// As in Go, one flight recorder may run at a time, together with a
/// streaming trace ([`super::start`]) or not: both get the same events.
///
/// ```
/// use std::time::Duration;
/// use rustprof::trace::{FlightRecorder, FlightRecorderConfig};
///
/// let fr = FlightRecorder::new(FlightRecorderConfig {
///     min_age: Duration::from_secs(5),
///     max_bytes: 4 << 20,
/// });
/// fr.start()?;
/// let started = std::time::Instant::now();
/// {
///     let _r = rustprof::trace::region("handle request");
///     // ...
/// }
/// if started.elapsed() > Duration::from_millis(0) {
///     // Slow: keep the last seconds.
///     let mut out = Vec::new();
///     fr.write_to(&mut out)?;
///     assert!(!out.is_empty());
/// }
/// fr.stop();
/// # Ok::<(), rustprof::trace::TraceError>(())
/// ```
pub struct FlightRecorder {
    cfg: FlightRecorderConfig,
    ring: Mutex<Option<Arc<Ring>>>,
    writing: Mutex<()>,
}

impl std::fmt::Debug for FlightRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightRecorder").field("cfg", &self.cfg).field("enabled", &self.enabled()).finish()
    }
}

impl FlightRecorder {
    /// A flight recorder keeping what `cfg` says; [`FlightRecorder::start`]
    /// starts it.
    pub fn new(cfg: FlightRecorderConfig) -> FlightRecorder {
        FlightRecorder { cfg, ring: Mutex::new(None), writing: Mutex::new(()) }
    }

    fn ring(&self) -> MutexGuard<'_, Option<Arc<Ring>>> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts recording. Fails when this or another flight recorder runs
    /// ([`TraceError::FlightRecorderRunning`]).
    pub fn start(&self) -> Result<(), TraceError> {
        session::check_not_forked()?;
        let mut g = self.ring();
        if g.is_some() {
            return Err(TraceError::FlightRecorderRunning);
        }
        let ring = crate::heap::own(|| Arc::new(Ring::new(self.cfg)));
        session::start_ring(ring.clone())?;
        *g = Some(ring);
        Ok(())
    }

    /// Stops recording and frees the window (a no-op when not running).
    pub fn stop(&self) {
        if session::check_not_forked().is_err() {
            // Its locks may be held by a thread of the parent: leave it be.
            return;
        }
        let ring = self.ring().take();
        if let Some(r) = ring {
            session::stop_ring(&r);
            crate::heap::own(move || drop(r));
        }
    }

    /// Whether it is recording.
    pub fn enabled(&self) -> bool {
        session::check_not_forked().is_ok() && self.ring().is_some()
    }

    /// Writes the window (the events of the last `min_age`, up to now) to `w`
    /// as a whole trace, and goes on recording. Returns the bytes written.
    /// Fails when not running ([`TraceError::NotRunning`]), when another
    /// `write_to` of this recorder is under way
    /// ([`TraceError::WriteInProgress`], as Go's), or when `w` fails.
    pub fn write_to(&self, w: &mut dyn Write) -> Result<u64, TraceError> {
        session::check_not_forked()?;
        let Ok(_writing) = self.writing.try_lock() else {
            return Err(TraceError::WriteInProgress);
        };
        let Some(ring) = self.ring().clone() else {
            return Err(TraceError::NotRunning);
        };
        // What the threads recorded up to now goes in.
        session::pass();
        let bytes = crate::heap::own(|| {
            let (tracks, open) = session::writing_now();
            ring.encode(&tracks, &open)
        });
        let n = bytes.len() as u64;
        let r = w.write_all(&bytes).and_then(|()| w.flush());
        crate::heap::own(move || drop(bytes));
        r.map(|()| n).map_err(TraceError::Write)
    }

    /// The bytes the window holds now (as counted against `max_bytes`) and
    /// the events dropped from it so far to stay under `max_bytes`.
    pub fn window(&self) -> (usize, u64) {
        if session::check_not_forked().is_err() {
            return (0, 0);
        }
        self.ring().as_ref().map_or((0, 0), |r| {
            let g = r.lock();
            (g.bytes, g.evicted_for_size)
        })
    }
}

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Entry {
    seq: u64,
    bytes: usize,
    event: Event,
}

/// The window: events oldest first, and the descriptors of the tracks of
/// their own (tasks) that events in it use.
pub(crate) struct Ring {
    cfg: FlightRecorderConfig,
    inner: Mutex<Inner>,
}

struct Inner {
    entries: VecDeque<Entry>,
    /// Track uuid → its descriptor and the last entry on it.
    tracks: HashMap<u64, (Track, u64)>,
    next_seq: u64,
    bytes: usize,
    evicted_for_size: u64,
}

impl Inner {
    /// Drops the oldest event (and its track's descriptor when it was the
    /// last event on it); false when there is none.
    fn evict(&mut self) -> bool {
        let Some(e) = self.entries.pop_front() else { return false };
        self.bytes -= e.bytes;
        if let Some((t, last)) = self.tracks.get(&e.event.track)
            && *last == e.seq
        {
            self.bytes -= track_bytes(t);
            self.tracks.remove(&e.event.track);
        }
        true
    }
}

fn event_bytes(e: &Event) -> usize {
    std::mem::size_of::<Entry>()
        + e.name.capacity()
        + e.category.capacity()
        + e.args.capacity() * std::mem::size_of::<rustprof_trace::Arg>()
        + e.args
            .iter()
            .map(|a| a.name.capacity() + if let ArgValue::Str(s) = &a.value { s.capacity() } else { 0 })
            .sum::<usize>()
        + (e.flows.capacity() + e.terminating_flows.capacity()) * 8
}

fn track_bytes(t: &Track) -> usize {
    std::mem::size_of::<(u64, (Track, u64))>() + t.name.capacity()
}

impl Ring {
    fn new(cfg: FlightRecorderConfig) -> Ring {
        Ring {
            cfg,
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                tracks: HashMap::new(),
                next_seq: 0,
                bytes: 0,
                evicted_for_size: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a pass's events (time ordered), dropping whole events, oldest
    /// first, past `max_bytes` as it goes (so the window never holds more),
    /// then those older than `min_age`.
    pub(crate) fn push(&self, items: Vec<Item>) {
        let mut g = self.lock();
        let g = &mut *g;
        for it in items {
            let seq = g.next_seq;
            g.next_seq += 1;
            if let Some(t) = it.track {
                g.bytes += track_bytes(&t);
                if let Some((old, _)) = g.tracks.insert(t.uuid, (t, seq)) {
                    g.bytes -= track_bytes(&old);
                }
            } else if let Some(t) = g.tracks.get_mut(&it.event.track) {
                t.1 = seq;
            }
            let bytes = event_bytes(&it.event);
            g.bytes += bytes;
            g.entries.push_back(Entry { seq, bytes, event: it.event });
            while g.bytes > self.cfg.max_bytes && g.evict() {
                g.evicted_for_size += 1;
            }
        }
        let newest = g.entries.back().map_or(0, |e| e.event.ts);
        let oldest_kept = newest.saturating_sub(self.cfg.min_age.as_nanos() as u64);
        while g.entries.front().is_some_and(|e| e.event.ts < oldest_kept) && g.evict() {}
    }

    /// The window as a trace: the session's tracks, the window's own tracks,
    /// then its events (a slice's end whose begin left the window is left
    /// out), then `open` (the CPU states the threads are in, ending now).
    /// CPU-state tracks are written as compact sequences
    /// ([`session::Sequences`]), as a streaming trace writes them.
    fn encode(&self, tracks: &[Track], open: &[Event]) -> Vec<u8> {
        let mut enc = Sequences::new();
        enc.clock_snapshot(&session::clocks());
        let mut described = HashSet::new();
        let g = self.lock();
        for t in tracks.iter().chain(g.tracks.values().map(|(t, _)| t)) {
            if described.insert(t.uuid) {
                enc.track(t);
            }
        }
        let mut balance = Balance::default();
        for e in g.entries.iter().map(|e| &e.event).chain(open) {
            if balance.admit(e) {
                enc.event(e);
            }
        }
        drop(g);
        enc.take()
    }
}
