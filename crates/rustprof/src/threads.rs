//! Thread dump: the stack of every thread of the process right now — Go's
//! goroutine profile, for threads.
//!
//! Each thread is sent a queued SIGPROF carrying a request number
//! (`rt_tgsigqueueinfo`); the shared handler unwinds the interrupted thread
//! into a preallocated slot and marks it done, and the requester moves on to the
//! next thread. Threads that are blocked (parked, in a system call) are
//! interrupted just long enough to unwind; `SA_RESTART` resumes their call.
//!
//! The result is a profile (one sample per distinct stack and labels, sample type
//! `threads/count`, a `thread` label with the thread's name) or Go's text forms
//! ([`dump_text`] with `debug` 1 or 2).

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustprof_profile::Profile;

use crate::cpu::ring::MAX_DEPTH;
use crate::cpu::unwind;
use crate::pbuild::{LabelValue, Stack, StackProfile};
use crate::signal::Info;
use crate::sys;

/// A thread's stack.
#[derive(Clone, Debug)]
pub struct ThreadStack {
    /// Kernel thread id.
    pub tid: i32,
    /// Thread name (`/proc/self/task/TID/comm`).
    pub name: String,
    /// Addresses, leaf first: the interrupted PC, then return addresses. Empty when
    /// the thread did not answer (it blocks SIGPROF).
    pub frames: Vec<u64>,
    /// Its profiler labels.
    pub labels: Vec<(String, String)>,
}

const MAGIC: usize = 0x7275_7374; // "rust"

/// The one request slot (dumps are serialized by `DUMP_LOCK`).
struct Slot {
    seq: AtomicU64,
    state: AtomicU32,
    depth: AtomicU32,
    labels: AtomicU32,
    frames: std::cell::UnsafeCell<[u64; MAX_DEPTH]>,
}

// SAFETY: frames are written by the one handler whose sequence number matches,
// and read by the requester after it sees DONE.
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot {
    seq: AtomicU64::new(0),
    state: AtomicU32::new(0),
    depth: AtomicU32::new(0),
    labels: AtomicU32::new(0),
    frames: std::cell::UnsafeCell::new([0; MAX_DEPTH]),
};
const WAITING: u32 = 1;
const DONE: u32 = 2;
static DUMP_LOCK: Mutex<()> = Mutex::new(());

/// The handler's part: answers a dump request addressed to this thread.
///
/// # Safety
/// Called from the SIGPROF handler with its ucontext.
pub(crate) unsafe fn on_signal(info: &Info, ctx: *mut libc::c_void) -> bool {
    if info.signo != libc::SIGPROF || info.code != sys::SI_QUEUE || info.value & 0xffff_ffff != MAGIC {
        return false;
    }
    let seq = (info.value >> 32) as u64;
    if SLOT.seq.load(Ordering::Acquire) != seq
        || SLOT.state.compare_exchange(WAITING, WAITING + 10, Ordering::AcqRel, Ordering::Relaxed).is_err()
    {
        return true; // a late answer to an abandoned request
    }
    // SAFETY: ctx comes from the handler.
    let regs = unsafe { sys::regs_from_ucontext(ctx) };
    // SAFETY: we won the WAITING → writing transition for this request.
    let frames = unsafe { &mut *SLOT.frames.get() };
    let n = unwind::unwind(&regs, frames);
    SLOT.depth.store(n as u32, Ordering::Relaxed);
    SLOT.labels.store(crate::labels::current_id(), Ordering::Relaxed);
    SLOT.state.store(DONE, Ordering::Release);
    true
}

/// The stacks of every thread of the process.
pub fn dump() -> io::Result<Vec<ThreadStack>> {
    crate::heap::own(dump_own).map(crate::heap::hand_over)
}

/// [`dump`], inside rustprof.
fn dump_own() -> io::Result<Vec<ThreadStack>> {
    let _g = DUMP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unwind::init_caches();
    unwind::acquire();
    if let Err(e) = crate::signal::acquire() {
        unwind::release();
        return Err(e);
    }
    let mut out = Vec::new();
    for tid in sys::thread_ids() {
        let name = sys::thread_name(tid);
        if name.is_empty() && std::fs::metadata(format!("/proc/self/task/{tid}")).is_err() {
            continue; // exited meanwhile
        }
        let seq = SLOT.seq.fetch_add(1, Ordering::AcqRel) + 1;
        SLOT.state.store(WAITING, Ordering::Release);
        let mut frames = Vec::new();
        let mut labels = Vec::new();
        if sys::tgsigqueue(tid, libc::SIGPROF, MAGIC | ((seq as usize) << 32)).is_ok() {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(500) {
                if SLOT.state.load(Ordering::Acquire) == DONE {
                    let n = SLOT.depth.load(Ordering::Relaxed) as usize;
                    // SAFETY: DONE was published after the frames were written.
                    frames = unsafe { (&(*SLOT.frames.get()))[..n.min(MAX_DEPTH)].to_vec() };
                    labels = crate::labels::resolve(SLOT.labels.load(Ordering::Relaxed));
                    break;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        // Abandon the request (a late handler sees another sequence number).
        SLOT.seq.fetch_add(1, Ordering::AcqRel);
        SLOT.state.store(0, Ordering::Release);
        out.push(ThreadStack { tid, name, frames, labels });
    }
    crate::signal::release();
    unwind::release();
    Ok(out)
}

/// The thread dump as a profile: `threads/count`, one sample per distinct stack,
/// thread name and labels.
pub fn profile() -> io::Result<Profile> {
    crate::heap::own(|| Ok(profile_of(&dump_own()?))).map(crate::heap::hand_over)
}

fn profile_of(stacks: &[ThreadStack]) -> Profile {
    let mut sp = StackProfile::new(&[("threads", "count")], ("threads", "count"), 1);
    sp.time_nanos = sys::now_ns();
    for t in stacks {
        let mut labels: Vec<(String, LabelValue)> =
            t.labels.iter().map(|(k, v)| (k.clone(), LabelValue::Str(v.clone()))).collect();
        labels.push((
            "thread".into(),
            LabelValue::Str(if t.name.is_empty() { t.tid.to_string() } else { t.name.clone() }),
        ));
        sp.add(Stack { frames: &t.frames, exact_leaf: true }, &[1], labels);
    }
    sp.build()
}

/// One symbolized frame for the text forms (thread and task dumps).
pub(crate) struct TextFrame {
    pub(crate) pc: u64,
    pub(crate) function: String,
    pub(crate) file: String,
    pub(crate) line: u32,
}

fn symbolize(stacks: &[ThreadStack]) -> BTreeMap<u64, Vec<TextFrame>> {
    let mut addrs: Vec<u64> = Vec::new();
    for t in stacks {
        for (i, &a) in t.frames.iter().enumerate() {
            addrs.push(if i == 0 { a } else { a.wrapping_sub(1) });
        }
    }
    symbolize_text(addrs)
}

/// `addrs` symbolized against this process's mappings now, each to its frames
/// (inlined frames innermost first).
pub(crate) fn symbolize_text(mut addrs: Vec<u64>) -> BTreeMap<u64, Vec<TextFrame>> {
    let maps = rustprof_symbolize::read_proc_maps(None).unwrap_or_default();
    addrs.sort_unstable();
    addrs.dedup();
    let frames = crate::symbols::symbolize(&maps, &addrs);
    addrs
        .into_iter()
        .zip(frames)
        .map(|(a, f)| {
            let v = f
                .frames
                .into_iter()
                .map(|fr| TextFrame { pc: a, function: fr.function, file: fr.file, line: fr.line })
                .collect();
            (a, v)
        })
        .collect()
}

/// The thread dump as text: `debug` 1 is Go's goroutine `debug=1` layout (counts
/// of identical stacks, `# labels:` and `#\t0xPC\tfunction\tfile:line` frames);
/// `debug` 2 (or more) lists every thread like a panic traceback.
pub fn dump_text(debug: u32) -> io::Result<String> {
    crate::heap::own(|| Ok(text_of(&dump_own()?, debug))).map(crate::heap::hand_over)
}

fn text_of(stacks: &[ThreadStack], debug: u32) -> String {
    let sym = symbolize(stacks);
    let frames_of = |t: &ThreadStack| -> Vec<&TextFrame> {
        t.frames
            .iter()
            .enumerate()
            .flat_map(|(i, &a)| sym.get(&if i == 0 { a } else { a.wrapping_sub(1) }).into_iter().flatten())
            .collect()
    };
    let mut out = String::new();
    if debug >= 2 {
        for (i, t) in stacks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let name = if t.name.is_empty() { "?" } else { &t.name };
            let _ = writeln!(out, "thread {} [{}]:", t.tid, name);
            if !t.labels.is_empty() {
                let l: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(out, "labels: {}", l.join(", "));
            }
            for f in frames_of(t) {
                let _ = writeln!(out, "{}(...)\n\t{}:{} pc={:#x}", f.function, f.file, f.line, f.pc);
            }
        }
        return out;
    }
    // debug=1: group identical (stack, labels), most frequent first.
    type Key = (Vec<u64>, Vec<(String, String)>);
    let mut groups: Vec<(Key, usize)> = Vec::new();
    for t in stacks {
        let key = (t.frames.clone(), t.labels.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => groups.push((key, 1)),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut tw = String::new();
    let _ = writeln!(tw, "threads profile: total {}", stacks.len());
    for ((frames, labels), n) in &groups {
        let addrs: Vec<String> = frames.iter().map(|a| format!("{a:#x}")).collect();
        let _ = writeln!(tw, "{} @ {}", n, addrs.join(" "));
        if !labels.is_empty() {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            let _ = writeln!(tw, "# labels: {{{}}}", l.join(", "));
        }
        let t = ThreadStack { tid: 0, name: String::new(), frames: frames.clone(), labels: Vec::new() };
        for f in frames_of(&t) {
            let _ = writeln!(tw, "#\t{:#x}\t{}\t{}:{}", f.pc, f.function, f.file, f.line);
        }
        tw.push('\n');
    }
    let mut w = rustprof_profile::tabwriter::TabWriter::new(1, 8, 1, '\t', false);
    w.write(&tw);
    out.push_str(&w.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_sees_this_thread() {
        let _l = crate::TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let stacks = dump().unwrap();
        let me = sys::gettid();
        let t = stacks.iter().find(|t| t.tid == me).expect("own thread listed");
        assert!(!t.frames.is_empty());
    }
}
