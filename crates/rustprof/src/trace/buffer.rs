//! Per-thread event buffers and the collector that encodes and writes them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustprof_trace::{ArgValue, Encoder, Event, Track, TrackKind};

use super::GENERATION;

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

struct Collector {
    enc: Encoder,
    known_threads: hashbrown::HashSet<i32>,
    pid: i32,
    switches: super::switch::Switches,
    tasks: super::async_tracks::AsyncTracks,
    stacks: super::stacks::Symbolizer,
}

impl Collector {
    fn drain(&mut self) {
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
            let track = thread_uuid(b.tid);
            if self.known_threads.insert(b.tid) {
                self.enc.track(&Track {
                    uuid: track,
                    parent: Some(PROCESS_UUID),
                    name: b.name.clone(),
                    kind: TrackKind::Thread { pid: self.pid, tid: b.tid },
                });
            }
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
                self.enc.event(
                    &Event::instant(ts, track, "events dropped", rustprof_trace::DROPPED_CATEGORY)
                        .arg("count", ArgValue::Uint(dropped)),
                );
            }
        }
        self.tasks.flush(&mut self.enc);
        self.switches.emit(&mut self.enc, &mut self.known_threads, self.pid, super::now());
        // Exited threads whose events are all written leave the registry.
        let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        reg.retain(|b| {
            Arc::strong_count(b) > 2 || !b.events.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
        });
    }

    fn event(&mut self, thread: u64, r: &Raw) {
        let e = match r.kind {
            RawKind::Async(op) => return self.tasks.take(r, op, &mut self.enc),
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
                self.enc.track(&Track {
                    uuid,
                    parent: Some(PROCESS_UUID),
                    name: format!("task {} {}", r.track, r.name),
                    kind: TrackKind::Async,
                });
                Event::begin(r.ts, uuid, &r.name, "task").arg("task", ArgValue::Uint(r.track))
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
        self.enc.event(&e);
    }
}

/// The collector thread: every flush interval (or when stopped), drains the
/// buffers and writes their packets. A write error stops the trace.
pub(super) fn collect<W: Write>(
    mut w: W,
    stop: Arc<AtomicBool>,
    clocks: Vec<(u32, u64)>,
) -> std::io::Result<()> {
    let pid = crate::sys::getpid();
    let mut c = Collector {
        enc: Encoder::new(1, rustprof_trace::clock::MONOTONIC),
        known_threads: hashbrown::HashSet::new(),
        pid,
        switches: super::switch::Switches::new(),
        tasks: super::async_tracks::AsyncTracks::default(),
        stacks: super::stacks::Symbolizer::default(),
    };
    c.enc.clock_snapshot(&clocks);
    c.enc.track(&Track {
        uuid: PROCESS_UUID,
        parent: None,
        name: crate::sys::thread_name(pid),
        kind: TrackKind::Process { pid },
    });
    loop {
        let last = stop.load(Ordering::Acquire);
        c.drain();
        if last {
            c.switches.finish(super::now());
        }
        let mut bytes = c.enc.take();
        c.switches.take(&mut bytes);
        if !bytes.is_empty()
            && let Err(e) = w.write_all(&bytes)
        {
            super::ACTIVE.store(false, Ordering::Release);
            return Err(e);
        }
        if last {
            return w.flush();
        }
        // Between passes, the context-switch rings are read more often than
        // the buffers: they are small (the kernel's locked-memory limit).
        let next = std::time::Instant::now() + super::FLUSH_INTERVAL;
        while let Some(left) = next.checked_duration_since(std::time::Instant::now()) {
            if stop.load(Ordering::Acquire) {
                break;
            }
            std::thread::park_timeout(left.min(super::switch::READ_INTERVAL));
            c.switches.read();
        }
    }
}
