//! Per-thread event buffers, and the collector's pass that turns what they
//! hold into events for the consumers ([`super::session`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustprof_trace::{ArgValue, Event, Track, TrackKind};

use super::GENERATION;
use super::session::Item;

/// Events a thread buffers between two collector passes; past this, events
/// are dropped (whole) and counted.
pub(super) const CAPACITY: usize = 1 << 15;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum RawKind {
    Begin,
    End,
    Log,
    TaskBegin,
    TaskEnd,
    /// An event of an async task's track ([`super::async_tracks`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Async(super::async_tracks::AsyncOp),
}

/// An event as the hot path records it: no encoding, names borrowed when static.
#[derive(Debug)]
pub(super) struct Raw {
    pub(super) ts: u64,
    pub(super) kind: RawKind,
    pub(super) name: Cow<'static, str>,
    pub(super) category: Cow<'static, str>,
    /// The task id for task events.
    pub(super) track: u64,
    /// The region's task, the wait's lock address.
    pub(super) arg: u64,
    /// More arguments (a `tracing` span's or event's fields).
    pub(super) args: Option<Box<[(&'static str, ArgValue)]>>,
    /// A `sync` wait's stack (return addresses, see [`super::stacks`]).
    pub(super) stack: Option<Box<[u64]>>,
}

pub(super) struct ThreadBuf {
    tid: i32,
    name: String,
    events: Mutex<Vec<Raw>>,
    dropped: AtomicU64,
}

static REGISTRY: Mutex<Vec<Arc<ThreadBuf>>> = Mutex::new(Vec::new());

pub(super) fn reset_registry() {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

thread_local! {
    static LOCAL: RefCell<Option<(u64, Arc<ThreadBuf>)>> = const { RefCell::new(None) };
}

fn register() -> Arc<ThreadBuf> {
    let tid = crate::sys::gettid();
    let name =
        std::thread::current().name().map(str::to_owned).unwrap_or_else(|| crate::sys::thread_name(tid));
    let buf = Arc::new(ThreadBuf {
        tid,
        name,
        events: Mutex::new(Vec::with_capacity(1024)),
        dropped: AtomicU64::new(0),
    });
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).push(buf.clone());
    buf
}

/// Appends one event to the current thread's buffer.
pub(super) fn push(ev: Raw) {
    let generation = GENERATION.load(Ordering::Relaxed);
    // try_with: a thread being torn down records nothing.
    let _ = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else { return };
        let buf = match &*l {
            Some((g, b)) if *g == generation => b.clone(),
            _ => {
                let b = register();
                *l = Some((generation, b.clone()));
                b
            }
        };
        drop(l);
        let mut events = buf.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() >= CAPACITY {
            buf.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            events.push(ev);
        }
    });
}

pub(super) fn thread_uuid(tid: i32) -> u64 {
    0x1_0000_0000 | tid as u32 as u64
}

fn task_uuid(id: u64) -> u64 {
    0x2_0000_0000_0000 | id
}

pub(super) const PROCESS_UUID: u64 = 1;

/// What the collector keeps between passes; its passes append to `tracks`
/// (tracks every consumer needs, even one that joins later: the process,
/// threads, counters) and `items` (events, with the descriptor of a track
/// of their own when they begin one).
pub(super) struct Collector {
    known_threads: hashbrown::HashSet<i32>,
    pub(super) pid: i32,
    pub(super) tracks: Vec<Track>,
    pub(super) items: Vec<Item>,
    /// Context switches of the session's threads (every consumer gets them).
    pub(super) switches: super::switch::Switches,
    tasks: super::async_tracks::AsyncTracks,
    stacks: super::stacks::Symbolizer,
}

impl Collector {
    pub(super) fn new() -> Collector {
        let pid = crate::sys::getpid();
        Collector {
            known_threads: hashbrown::HashSet::new(),
            pid,
            tracks: Vec::new(),
            items: Vec::new(),
            switches: super::switch::Switches::new(),
            tasks: super::async_tracks::AsyncTracks::default(),
            stacks: super::stacks::Symbolizer::default(),
        }
    }

    /// The process's track.
    pub(super) fn process_track(&self) -> Track {
        Track {
            uuid: PROCESS_UUID,
            parent: None,
            name: crate::sys::thread_name(self.pid),
            kind: TrackKind::Process { pid: self.pid },
        }
    }

    /// The track of thread `tid` (described in `tracks` the first time).
    pub(super) fn thread_track(&mut self, tid: i32, name: impl FnOnce() -> String) -> u64 {
        let track = thread_uuid(tid);
        if self.known_threads.insert(tid) {
            self.tracks.push(Track {
                uuid: track,
                parent: Some(PROCESS_UUID),
                name: name(),
                kind: TrackKind::Thread { pid: self.pid, tid },
            });
        }
        track
    }

    fn push(&mut self, event: Event) {
        self.items.push(Item { track: None, event });
    }

    /// The tracks of async tasks described and not done (a consumer that
    /// joins or writes later needs them).
    pub(super) fn live_tracks(&self) -> impl Iterator<Item = &Track> {
        self.tasks.live()
    }

    /// One pass over the sources: context-switch rings, then the threads'
    /// buffers, then the slices the switch records make (they need the
    /// waits drained meanwhile to say why a thread blocked).
    pub(super) fn drain(&mut self, now: u64) {
        // Context-switch rings first: the waits their records follow are
        // then in the buffers drained below.
        self.switches.poll();
        self.stacks.reset();
        let bufs: Vec<Arc<ThreadBuf>> = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for b in &bufs {
            let events = {
                let mut g = b.events.lock().unwrap_or_else(PoisonError::into_inner);
                if g.is_empty() && b.dropped.load(Ordering::Relaxed) == 0 {
                    continue;
                }
                std::mem::replace(&mut *g, Vec::with_capacity(1024))
            };
            let track = self.thread_track(b.tid, || b.name.clone());
            for r in &events {
                match r.kind {
                    RawKind::Begin => self.switches.note_begin(b.tid, r.ts, &r.category, &r.name),
                    RawKind::End => self.switches.note_end(b.tid, r.ts),
                    _ => {}
                }
                self.event(track, r);
            }
            let dropped = b.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let ts = events.last().map(|e| e.ts).unwrap_or_else(super::now);
                self.push(
                    Event::instant(ts, track, "events dropped", rustprof_trace::DROPPED_CATEGORY)
                        .arg("count", ArgValue::Uint(dropped)),
                );
            }
        }
        self.tasks.flush(&mut self.items);
        self.emit_switches(now);
        // Exited threads whose events are all written leave the registry.
        let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        reg.retain(|b| {
            Arc::strong_count(b) > 2 || !b.events.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
        });
    }

    fn event(&mut self, thread: u64, r: &Raw) {
        let e = match r.kind {
            RawKind::Async(op) => return self.tasks.take(r, op),
            RawKind::Begin => {
                let mut e = Event::begin(r.ts, thread, &r.name, &r.category);
                if r.arg != 0 {
                    if r.category == "sync" {
                        e = e.arg("lock", ArgValue::Str(format!("{:#x}", r.arg)));
                    } else {
                        e = e.arg("task", ArgValue::Uint(r.arg));
                    }
                }
                e
            }
            RawKind::End => Event::end(r.ts, thread),
            RawKind::Log => Event::instant(r.ts, thread, &r.name, &r.category),
            RawKind::TaskBegin => {
                let uuid = task_uuid(r.track);
                let track = Track {
                    uuid,
                    parent: Some(PROCESS_UUID),
                    name: format!("task {} {}", r.track, r.name),
                    kind: TrackKind::Async,
                };
                let event = Event::begin(r.ts, uuid, &r.name, "task").arg("task", ArgValue::Uint(r.track));
                self.items.push(Item { track: Some(track), event });
                return;
            }
            RawKind::TaskEnd => Event::end(r.ts, task_uuid(r.track)),
        };
        let e = match &r.stack {
            Some(stack) => e.arg(rustprof_trace::vocab::ARG_STACK, ArgValue::Str(self.stacks.format(stack))),
            None => e,
        };
        let e = match &r.args {
            Some(args) => args.iter().fold(e, |e, (n, v)| e.arg(n, v.clone())),
            None => e,
        };
        self.push(e);
    }

    /// Turns the records the context-switch rings gave into slices on the
    /// threads' CPU-state tracks (described in `tracks`, under their
    /// thread's), and notes on the process track.
    fn emit_switches(&mut self, now: u64) {
        let mut out = super::switch::Emitted::default();
        self.switches.emit(now, &mut out);
        for tid in out.threads {
            self.thread_track(tid, || {
                Some(crate::sys::thread_name(tid))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| tid.to_string())
            });
        }
        self.tracks.extend(out.tracks);
        for e in out.events {
            self.push(e);
        }
    }
}
