//! The vocabulary of rustprof's traces: which categories, names and
//! arguments mean what. The recorder (`rustprof::trace`) writes these and the
//! analyzer (`rustprof` timeline, trace-derived profiles, summaries) reads
//! them, so both sides use the constants here rather than string literals.
//!
//! | What | Track | Event | Category | Name | Arguments |
//! |---|---|---|---|---|---|
//! | thread on CPU | thread's CPU state ([`SCHED_TRACK`]) | slice | [`SCHED`] | [`RUNNING`] | |
//! | thread preempted, ready to run | thread's CPU state | slice | [`SCHED`] | [`RUNNABLE`] | [`ARG_STACK`] |
//! | thread blocked (gave up the CPU) | thread's CPU state | slice | [`SCHED`] | [`BLOCKED`] | [`ARG_REASON`], [`ARG_STACK`] |
//! | context switches not recorded (perf denied) | process | instant | [`SCHED`] | why | [`ARG_REASON`] |
//! | wait on a `rustprof::sync` lock | thread | slice | [`SYNC`] | [`LOCK_WAIT`] / [`CONDVAR_WAIT`] | [`ARG_LOCK`], [`ARG_STACK`] |
//! | user region | thread | slice | [`REGION`] | user's | [`ARG_TASK`] when in a task |
//! | user task | async | slice | [`TASK`] | user's | [`ARG_TASK`] |
//! | user log | thread | instant | user's | message | |
//! | CPU profile sample | thread | instant | [`CPU`] | [`CPU_SAMPLE`] | [`ARG_STACK`] |
//! | async task poll | async (one per task) | slice | [`POLL`] | [`POLL`] | [`ARG_WORKER`] |
//! | async task woken, not yet polled | async | slice | [`SCHED`] | [`RUNNABLE`] | |
//! | async task completed | async | instant | [`POLL`] | [`TASK_DONE`] | |
//! | heap in use | counter ([`HEAP_COUNTER`]) | counter | | | |
//! | dropped events | any | instant | [`crate::DROPPED_CATEGORY`] | | `count` |
//!
//! Slices on one track must nest (an end closes the innermost open slice),
//! and scheduler states do not nest with regions and waits: write them on a
//! track of their own whose parent is the thread's track (kind `Async`, named
//! [`SCHED_TRACK`]). The analyzer reads every track whose parent is a thread
//! as part of that thread's lane.
//!
//! Stacks ([`ARG_STACK`]) are strings, one frame per line, leaf first, each
//! `function` or `function (file:line)`; see [`format_stack`] and
//! [`parse_stack`].

/// Category of scheduler states: [`RUNNING`], [`RUNNABLE`], [`BLOCKED`].
pub const SCHED: &str = "rustprof.sched";
/// A thread on a CPU.
pub const RUNNING: &str = "running";
/// Ready to run but not running: a preempted thread, or a woken async task
/// not yet polled (scheduling latency).
pub const RUNNABLE: &str = "runnable";
/// Off the CPU by its own doing (a blocking syscall, a futex, a sleep).
pub const BLOCKED: &str = "blocked";

/// Name of a thread's CPU-state track: an async track whose parent is the
/// thread's track, holding only [`SCHED`] slices, one after the other (they
/// cannot share the thread's track, where regions and waits nest: a region
/// spans many switches).
pub const SCHED_TRACK: &str = "cpu state";

/// Category of waits in `rustprof::sync`.
pub const SYNC: &str = "sync";
/// A wait to acquire a lock.
pub const LOCK_WAIT: &str = "lock wait";
/// A wait on a condition variable.
pub const CONDVAR_WAIT: &str = "condvar wait";

/// Category of user regions (`trace::region`).
pub const REGION: &str = "region";
/// Category of user tasks (`trace::task`).
pub const TASK: &str = "task";
/// Category (and name) of an async task's poll.
pub const POLL: &str = "poll";
/// Name of the instant an async task's track ends with: it completed.
pub const TASK_DONE: &str = "done";
/// Category of CPU profile samples.
pub const CPU: &str = "rustprof.cpu";
/// Name of a CPU profile sample.
pub const CPU_SAMPLE: &str = "cpu sample";
/// Name of the heap in-use counter track.
pub const HEAP_COUNTER: &str = "heap in-use bytes";

/// Argument: the stack, see [`format_stack`].
pub const ARG_STACK: &str = "stack";
/// Argument: why a thread blocked, when known (e.g. `futex`, `read`,
/// `nanosleep`, `lock`, `condvar`).
pub const ARG_REASON: &str = "reason";
/// Argument: the lock's address (hex string).
pub const ARG_LOCK: &str = "lock";
/// Argument: a user task's id.
pub const ARG_TASK: &str = "task";
/// Argument: the worker thread's tid that polled an async task.
pub const ARG_WORKER: &str = "worker";

/// One frame of a stack argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Function name (demangled).
    pub function: String,
    /// Source file, empty when unknown.
    pub file: String,
    /// Line, 0 when unknown.
    pub line: u32,
}

/// Writes frames (leaf first) as a stack argument.
pub fn format_stack(frames: &[Frame]) -> String {
    let mut s = String::new();
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&f.function);
        if !f.file.is_empty() {
            s.push_str(" (");
            s.push_str(&f.file);
            if f.line != 0 {
                s.push(':');
                s.push_str(&f.line.to_string());
            }
            s.push(')');
        }
    }
    s
}

/// Reads a stack argument back (leaf first). Never fails: a line that does
/// not end in `(file:line)` is a bare function name.
pub fn parse_stack(s: &str) -> Vec<Frame> {
    s.lines().filter(|l| !l.is_empty()).map(parse_frame).collect()
}

fn parse_frame(l: &str) -> Frame {
    let bare = || Frame { function: l.to_string(), file: String::new(), line: 0 };
    let Some(body) = l.strip_suffix(')') else { return bare() };
    let Some(open) = body.rfind(" (") else { return bare() };
    let (function, loc) = (&body[..open], &body[open + 2..]);
    if function.is_empty() || loc.is_empty() {
        return bare();
    }
    let (file, line) = match loc.rsplit_once(':') {
        Some((file, n)) if !file.is_empty() => match n.parse::<u32>() {
            Ok(line) => (file, line),
            Err(_) => (loc, 0),
        },
        _ => (loc, 0),
    };
    Frame { function: function.to_string(), file: file.to_string(), line }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(function: &str, file: &str, line: u32) -> Frame {
        Frame { function: function.into(), file: file.into(), line }
    }

    #[test]
    fn stacks_round_trip() {
        let frames = vec![
            f("std::sync::Mutex<T>::lock", "/rustc/library/std/src/sync/mutex.rs", 317),
            f("app::handle::{{closure}}", "src/main.rs", 0),
            f("<F as core::ops::FnOnce<()>>::call_once", "", 0),
            f("weird (name)", "a:b.rs", 7),
        ];
        let s = format_stack(&frames);
        assert_eq!(parse_stack(&s), frames);
    }

    #[test]
    fn lines_without_locations_are_bare_names() {
        assert_eq!(parse_stack("main\n\nfoo (x"), vec![f("main", "", 0), f("foo (x", "", 0)]);
        assert_eq!(parse_stack("g ()"), vec![f("g ()", "", 0)]);
    }
}
