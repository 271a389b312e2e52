//! The trace session: one collector thread, and the consumers it feeds — a
//! streaming trace ([`super::start`]) and a flight recorder's ring
//! ([`super::FlightRecorder`]), one or both at a time, as in Go 1.25.
//!
//! A session begins when the first consumer starts and ends when the last
//! stops. Every [`super::FLUSH_INTERVAL`] (or when a consumer asks), a pass
//! drains the threads' buffers (and the CPU samples handed over), orders the
//! events by time, holds back those newer than the pass's watermark (so that
//! events of one track, recorded on several threads, are written in order)
//! and gives the rest to each consumer. The collector is rustprof's own
//! thread: what it allocates is not the program's ([`crate::heap::own_stats`]).
//!
//! Context switches ([`super::switch`]) and async tasks' tracks
//! ([`super::async_tracks`]) are sources of the same passes, so every
//! consumer gets them; between passes the collector reads the context-switch
//! rings every [`super::switch::READ_INTERVAL`]. Each consumer writes a
//! thread's CPU-state track as a compact sequence of its own ([`Sequences`]).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use hashbrown::{HashMap, HashSet};
use rustprof_trace::{Encoder, Event, EventKind, Track};

use super::{ACTIVE, GENERATION, TraceError, buffer, extras};

/// An event, with the descriptor of its own track when it is the first on it
/// (a user task's, an async task's).
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) track: Option<Track>,
    pub(crate) event: Event,
}

/// Slice depth per track: a consumer drops the end of a slice whose begin it
/// never saw (it joined later, or the begin was dropped or left the window).
#[derive(Default)]
pub(super) struct Balance(HashMap<u64, u32>);

impl Balance {
    pub(super) fn admit(&mut self, e: &Event) -> bool {
        match e.kind {
            EventKind::SliceBegin => {
                *self.0.entry(e.track).or_insert(0) += 1;
                true
            }
            EventKind::SliceEnd => match self.0.get_mut(&e.track) {
                Some(d) if *d > 0 => {
                    *d -= 1;
                    true
                }
                _ => false,
            },
            _ => true,
        }
    }
}

/// A consumer's encoders: one sequence for most events, and a compact one
/// ([`Encoder::compact`]) per thread's CPU-state track, whose events then
/// name no track and carry timestamp deltas.
pub(super) struct Sequences {
    main: Encoder,
    sched: HashMap<u64, Encoder>,
    next_sequence: u32,
}

/// The first sequence id of the CPU-state tracks' compact sequences (ids
/// below 128 take one byte, and the id is in every packet; 1 to 15 are left
/// to the others).
const FIRST_SEQUENCE: u32 = 16;

impl Sequences {
    pub(super) fn new() -> Sequences {
        Sequences {
            main: Encoder::new(1, rustprof_trace::clock::MONOTONIC),
            sched: HashMap::new(),
            next_sequence: FIRST_SEQUENCE,
        }
    }

    pub(super) fn clock_snapshot(&mut self, clocks: &[(u32, u64)]) {
        self.main.clock_snapshot(clocks);
    }

    pub(super) fn track(&mut self, t: &Track) {
        self.main.track(t);
    }

    /// Encodes `e` on its track's sequence. A CPU-state track's events must
    /// come in time order (they do: one thread's slices, one after the other).
    pub(super) fn event(&mut self, e: &Event) {
        if !super::switch::is_sched_track(e.track) {
            self.main.event(e);
            return;
        }
        let next = &mut self.next_sequence;
        self.sched
            .entry(e.track)
            .or_insert_with(|| {
                let seq = *next;
                *next = next.wrapping_add(1).max(FIRST_SEQUENCE);
                Encoder::compact(seq, rustprof_trace::clock::MONOTONIC, e.track)
            })
            .event(e);
    }

    fn is_empty(&self) -> bool {
        self.main.is_empty() && self.sched.values().all(Encoder::is_empty)
    }

    /// The bytes encoded since the last take: the main sequence first (it
    /// describes the tracks), then the compact ones.
    pub(super) fn take(&mut self) -> Vec<u8> {
        let mut out = self.main.take();
        for enc in self.sched.values_mut() {
            if !enc.is_empty() {
                out.extend_from_slice(&enc.take());
            }
        }
        out
    }
}

/// The clocks' readings for a `ClockSnapshot`.
pub(super) fn clocks() -> Vec<(u32, u64)> {
    vec![
        (rustprof_trace::clock::MONOTONIC, super::now()),
        (rustprof_trace::clock::BOOTTIME, super::clock_ns(libc::CLOCK_BOOTTIME)),
        (rustprof_trace::clock::REALTIME, super::clock_ns(libc::CLOCK_REALTIME)),
    ]
}

/// A trace being written to the program's writer.
struct Stream {
    id: u64,
    /// When it started: what was recorded before is not its own (events of
    /// a flight recorder's that were still in the threads' buffers).
    since: u64,
    enc: Sequences,
    w: Box<dyn Write + Send>,
    balance: Balance,
    /// Tracks described to this stream: events on others are not written.
    known: HashSet<u64>,
    error: Option<io::Error>,
}

impl Stream {
    fn new<'a>(id: u64, w: Box<dyn Write + Send>, tracks: impl Iterator<Item = &'a Track>) -> Stream {
        let mut s = Stream {
            id,
            since: super::now(),
            enc: Sequences::new(),
            w,
            balance: Balance::default(),
            known: HashSet::new(),
            error: None,
        };
        s.enc.clock_snapshot(&clocks());
        for t in tracks {
            s.track(t);
        }
        s
    }

    fn track(&mut self, t: &Track) {
        if self.known.insert(t.uuid) {
            self.enc.track(t);
        }
    }

    fn feed(&mut self, tracks: &[Track], items: &[Item]) {
        if self.error.is_some() {
            return;
        }
        for t in tracks {
            self.track(t);
        }
        for it in items {
            if let Some(t) = &it.track {
                self.track(t);
            }
            if it.event.ts >= self.since
                && self.known.contains(&it.event.track)
                && self.balance.admit(&it.event)
            {
                self.enc.event(&it.event);
            }
        }
        self.write();
    }

    fn write(&mut self) {
        if self.enc.is_empty() || self.error.is_some() {
            return;
        }
        let bytes = self.enc.take();
        // The writer is the program's: what it allocates is too.
        let w = &mut self.w;
        if let Err(e) = crate::heap::outside(|| w.write_all(&bytes)) {
            self.error = Some(e);
        }
    }
}

/// What the session feeds.
pub(super) struct Consumers {
    stream: Option<Stream>,
    pub(super) ring: Option<Arc<super::flight::Ring>>,
    /// The session's lasting tracks (process, threads, counters), for a
    /// consumer that joins or writes later.
    pub(super) tracks: Vec<Track>,
}

static CONSUMERS: Mutex<Consumers> = Mutex::new(Consumers { stream: None, ring: None, tracks: Vec::new() });

pub(super) fn consumers() -> MutexGuard<'static, Consumers> {
    CONSUMERS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_active(c: &Consumers) {
    let on = c.ring.is_some() || c.stream.as_ref().is_some_and(|s| s.error.is_none());
    ACTIVE.store(on, Ordering::Release);
}

/// The collector's state between passes; `None` between sessions.
static COLLECTOR: Mutex<Option<Pass>> = Mutex::new(None);

struct Pass {
    c: buffer::Collector,
    /// Events newer than a pass's watermark, for the next pass.
    held: Vec<Item>,
    extras: extras::Extras,
}

/// Starting and stopping consumers, one at a time.
struct Control {
    thread: Option<crate::heap::OwnThread<()>>,
    next_stream: u64,
}

static CONTROL: Mutex<Control> = Mutex::new(Control { thread: None, next_stream: 1 });

fn control() -> MutexGuard<'static, Control> {
    CONTROL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wakes the collector: `(stop, woken)`.
static WAKE: (Mutex<(bool, bool)>, Condvar) = (Mutex::new((false, false)), Condvar::new());

fn wake(stop: bool) {
    let mut g = WAKE.0.lock().unwrap_or_else(PoisonError::into_inner);
    g.0 |= stop;
    g.1 = true;
    WAKE.1.notify_all();
}

/// The collector thread's id (0 before it runs): the context-switch
/// recorder does not attach to it.
static COLLECTOR_TID: AtomicI32 = AtomicI32::new(0);

pub(super) fn collector_tid() -> i32 {
    COLLECTOR_TID.load(Ordering::Relaxed)
}

/// Whether a session runs (for the fork handler: atomics only).
static LIVE: AtomicBool = AtomicBool::new(false);
/// Set in a child forked while a session ran: the collector is gone and its
/// locks may be held for ever, so the child records nothing and starts
/// nothing (exec'ing is fine: the new program starts afresh).
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn in_child() {
    if LIVE.load(Ordering::Acquire) {
        FORKED.store(true, Ordering::Release);
        ACTIVE.store(false, Ordering::Release);
    }
}

/// Fails in a child forked while a session ran.
pub(super) fn check_not_forked() -> Result<(), TraceError> {
    if FORKED.load(Ordering::Acquire) { Err(TraceError::ForkedChild) } else { Ok(()) }
}

/// Begins a session if none runs: new thread buffers, a collector.
fn ensure_session(ctl: &mut Control) -> io::Result<()> {
    if ctl.thread.is_some() {
        return Ok(());
    }
    static AT_FORK: std::sync::Once = std::sync::Once::new();
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores atomics, which is
        // async-signal-safe as a fork child handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    LIVE.store(true, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::Relaxed);
    buffer::reset_registry();
    let c = crate::heap::own(|| {
        let c = buffer::Collector::new();
        let process = c.process_track();
        consumers().tracks = vec![process];
        c
    });
    *COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(Pass { c, held: Vec::new(), extras: extras::Extras::default() });
    *WAKE.0.lock().unwrap_or_else(PoisonError::into_inner) = (false, false);
    ctl.thread = Some(crate::heap::spawn_own("rustprof-trace", collector_loop)?);
    Ok(())
}

/// Ends the session when no consumer is left.
fn end_if_idle(ctl: &mut Control) {
    {
        let c = consumers();
        if c.stream.is_some() || c.ring.is_some() {
            return;
        }
    }
    ACTIVE.store(false, Ordering::Release);
    if let Some(t) = ctl.thread.take() {
        wake(true);
        let _ = t.join();
    }
    LIVE.store(false, Ordering::Release);
    crate::heap::own(|| {
        *COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner) = None;
        consumers().tracks = Vec::new();
    });
}

fn collector_loop() {
    COLLECTOR_TID.store(crate::sys::gettid(), Ordering::Relaxed);
    loop {
        let next = std::time::Instant::now() + super::FLUSH_INTERVAL;
        let stop = loop {
            let mut g = WAKE.0.lock().unwrap_or_else(PoisonError::into_inner);
            let left = next.saturating_duration_since(std::time::Instant::now());
            if !g.0 && !g.1 && !left.is_zero() {
                // Between passes, the context-switch rings are read more
                // often than the buffers: they are small (the kernel's
                // locked-memory limit).
                g = WAKE
                    .1
                    .wait_timeout(g, left.min(super::switch::READ_INTERVAL))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if g.0 || g.1 || std::time::Instant::now() >= next {
                g.1 = false;
                break g.0;
            }
            drop(g);
            read_switches();
        };
        if stop {
            return;
        }
        pass();
    }
}

/// Reads the context-switch rings (between passes).
fn read_switches() {
    let _own = crate::heap::Own::enter();
    if let Some(p) = COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        p.c.switches.read();
    }
}

/// One pass: drain, order, hold back what is newer than the watermark,
/// feed the consumers.
pub(super) fn pass() {
    let _ = pass_inner(false);
}

/// [`pass`]; when `last` (the stream stops), the stream also gets what is
/// held back, and is taken out in the same step (a pass of the collector's
/// cannot feed it twice).
fn pass_inner(last: bool) -> Option<Stream> {
    if check_not_forked().is_err() {
        return None;
    }
    let _own = crate::heap::Own::enter();
    let mut guard = COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner);
    let p = guard.as_mut()?;
    let now = super::now();
    let watermark = extras::watermark(now);
    p.c.drain(now);
    p.extras.collect(&mut p.c);
    // Taken, not appended from: a flood's capacity is not kept. What was
    // held back goes first: the stable sort below then keeps a track's
    // events in the order they were handed over even at equal times (a
    // CPU state's end, held, and the next state's begin at that time).
    let mut items = std::mem::take(&mut p.held);
    if items.is_empty() {
        items = std::mem::take(&mut p.c.items);
    } else {
        items.append(&mut p.c.items);
    }
    let mut items = by_time(items);
    let cut = items.partition_point(|it| it.event.ts <= watermark);
    p.held = items.split_off(cut);
    let tracks = std::mem::take(&mut p.c.tracks);
    let mut c = consumers();
    c.tracks.extend(tracks.iter().cloned());
    if let Some(s) = c.stream.as_mut() {
        s.feed(&tracks, &items);
        if last {
            s.feed(&[], &p.held);
            // The states the threads are in now end with the stream.
            let open: Vec<Item> =
                p.c.switches.open_states(now).into_iter().map(|event| Item { track: None, event }).collect();
            s.feed(&[], &open);
        }
    }
    if let Some(r) = c.ring.as_ref() {
        r.push(items);
    }
    let stream = if last { c.stream.take() } else { None };
    set_active(&c);
    stream
}

/// Orders events by time, stably (each thread's stay in their order),
/// moving each event once.
fn by_time(items: Vec<Item>) -> Vec<Item> {
    if items.is_sorted_by_key(|it| it.event.ts) {
        return items;
    }
    let mut order: Vec<(u64, usize)> = items.iter().enumerate().map(|(i, it)| (it.event.ts, i)).collect();
    order.sort_unstable();
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    order.iter().filter_map(|&(_, i)| slots[i].take()).collect()
}

/// Starts a streaming trace into `w`; its id for [`stop_stream`].
pub(super) fn start_stream(w: Box<dyn Write + Send>) -> Result<u64, TraceError> {
    check_not_forked()?;
    let mut ctl = control();
    if consumers().stream.is_some() {
        return Err(TraceError::AlreadyRunning);
    }
    ensure_session(&mut ctl)?;
    let id = ctl.next_stream;
    ctl.next_stream += 1;
    // The collector held while the stream joins: no pass in between
    // announces an async task's track to the others only.
    let guard = COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner);
    let mut c = consumers();
    let live = guard.as_ref().into_iter().flat_map(|p| p.c.live_tracks());
    let s = crate::heap::own(|| Stream::new(id, w, c.tracks.iter().chain(live)));
    c.stream = Some(s);
    set_active(&c);
    Ok(id)
}

/// Stops the streaming trace (only the one with this id, when given): the
/// last events are written and the writer flushed; the first write error.
pub(super) fn stop_stream(id: Option<u64>) -> Result<(), TraceError> {
    check_not_forked()?;
    let mut ctl = control();
    {
        let c = consumers();
        match &c.stream {
            Some(s) if id.is_none_or(|id| id == s.id) => {}
            _ => return Err(TraceError::NotRunning),
        }
        if c.ring.is_none() {
            ACTIVE.store(false, Ordering::Release);
        }
    }
    let stream = pass_inner(true).or_else(|| consumers().stream.take());
    {
        let c = consumers();
        set_active(&c);
    }
    end_if_idle(&mut ctl);
    drop(ctl);
    let Some(mut s) = stream else { return Err(TraceError::NotRunning) };
    let result = match s.error.take() {
        Some(e) => Err(TraceError::Write(e)),
        None => {
            let w = &mut s.w;
            crate::heap::outside(|| w.flush()).map_err(TraceError::Write)
        }
    };
    // The writer is the program's; the encoder's tables are rustprof's.
    let Stream { w, enc, balance, known, .. } = s;
    crate::heap::outside(move || drop(w));
    crate::heap::own(move || drop((enc, balance, known)));
    result
}

/// What a trace written now needs besides its events: every track a
/// consumer may need (the session's lasting tracks, live async tasks') and
/// the CPU states the threads are in now, as slices ending now.
pub(super) fn writing_now() -> (Vec<Track>, Vec<Event>) {
    let guard = COLLECTOR.lock().unwrap_or_else(PoisonError::into_inner);
    let mut tracks = consumers().tracks.clone();
    let Some(p) = guard.as_ref() else { return (tracks, Vec::new()) };
    tracks.extend(p.c.live_tracks().cloned());
    (tracks, p.c.switches.open_states(super::now()))
}

/// Attaches a flight recorder's ring.
pub(super) fn start_ring(ring: Arc<super::flight::Ring>) -> Result<(), TraceError> {
    check_not_forked()?;
    let mut ctl = control();
    if consumers().ring.is_some() {
        return Err(TraceError::FlightRecorderRunning);
    }
    ensure_session(&mut ctl)?;
    let mut c = consumers();
    c.ring = Some(ring);
    set_active(&c);
    Ok(())
}

/// Detaches the flight recorder's ring (if it is this one).
pub(super) fn stop_ring(ring: &Arc<super::flight::Ring>) {
    if check_not_forked().is_err() {
        return;
    }
    let mut ctl = control();
    {
        let mut c = consumers();
        if !c.ring.as_ref().is_some_and(|r| Arc::ptr_eq(r, ring)) {
            return;
        }
        let r = c.ring.take();
        set_active(&c);
        drop(c);
        crate::heap::own(move || drop(r));
    }
    end_if_idle(&mut ctl);
}
