//! Taking a dump: asking each registered runtime for tokio's task dump, and
//! turning its traces into stacks of addresses.

use rustprof_profile::Profile;

use super::Unavailable;
use crate::pbuild::{LabelValue, Stack, StackProfile};

/// One task of a dump.
#[derive(Clone, Debug)]
pub struct TaskStack {
    /// tokio's task id.
    pub id: u64,
    /// The name its runtime was [registered](super::register) under.
    pub runtime: String,
    /// Return addresses, innermost first, of its deepest suspension point
    /// (see [`TaskStack::more`]): from the call that found the resource not ready (a lock, a channel, a timer, I/O) out to the task's
    /// root future. Empty for a task that was not waiting on any of tokio's
    /// resources (a future of its own returned `Pending`).
    pub frames: Vec<u64>,
    /// The stacks of its other suspension points (branches of a `join!` or
    /// `select!` waiting at once: a shutdown signal, a timer), innermost first.
    pub more: Vec<Vec<u64>>,
    /// Where it was spawned (`file:line:column`), with [`super::hooks`].
    pub spawned_at: Option<String>,
    /// How long since its last poll ended, with [`super::hooks`].
    pub idle: Option<std::time::Duration>,
}

/// The tasks of every [registered](super::register) runtime, suspended where
/// they wait. Each runtime pauses for as long as tokio's dump takes (its
/// workers stop and every task is polled once in tracing mode); the stacks
/// are taken apart afterwards.
///
/// Errors name what is missing: task dumps not compiled in
/// (`--cfg tokio_unstable`), no runtime registered, or a runtime that did
/// not answer within [`super::DUMP_TIMEOUT`].
pub fn dump() -> Result<Vec<TaskStack>, Unavailable> {
    crate::heap::own(imp::dump).map(crate::heap::hand_over)
}

/// The dump as a profile, as Go's goroutine profile: sample type
/// `goroutine/count`, one sample per distinct stack and labels (`runtime`,
/// and `task` with the spawn location when [`super::hooks`] are installed),
/// symbolized in-process.
pub fn profile() -> Result<Profile, Unavailable> {
    let tasks = dump()?;
    Ok(crate::heap::hand_over(crate::heap::own(|| profile_of(&tasks))))
}

pub(crate) fn profile_of(tasks: &[TaskStack]) -> Profile {
    let mut sp = StackProfile::new(&[("goroutine", "count")], ("goroutine", "count"), 1);
    sp.time_nanos = crate::sys::now_ns();
    sp.comments.push(format!("rustprof task dump: {} tokio tasks", tasks.len()));
    for t in tasks {
        let mut labels = vec![("runtime".to_string(), LabelValue::Str(t.runtime.clone()))];
        if let Some(at) = &t.spawned_at {
            labels.push(("task".to_string(), LabelValue::Str(at.clone())));
        }
        sp.add(Stack { frames: &t.frames, exact_leaf: false }, &[1], labels);
    }
    sp.build()
}

/// The return addresses of each backtrace of a trace, from its `Debug` form
/// (tokio exposes the addresses only through `resolve_backtraces`, which
/// symbolizes every frame: far too slow for thousands of tasks). `None` when
/// the form is not the expected one.
#[cfg_attr(not(tokio_unstable), allow(dead_code))]
pub(crate) fn addresses_of_debug(debug: &str) -> Option<Vec<Vec<u64>>> {
    let start = debug.find("backtraces: [")? + "backtraces: [".len();
    let mut out = Vec::new();
    let mut current: Option<Vec<u64>> = None;
    let mut rest = &debug[start..];
    loop {
        let next = rest.find(['[', ']', 'i'])?;
        let c = rest.as_bytes()[next];
        rest = &rest[next..];
        match c {
            b'[' => {
                if current.is_some() {
                    return None; // deeper than expected
                }
                current = Some(Vec::new());
                rest = &rest[1..];
            }
            b']' => match current.take() {
                Some(bt) => {
                    out.push(bt);
                    rest = &rest[1..];
                }
                None => return Some(out), // the end of the list
            },
            _ => {
                if let Some(hex) = rest.strip_prefix("ip: 0x") {
                    let end = hex.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(hex.len());
                    let ip = u64::from_str_radix(&hex[..end], 16).ok()?;
                    current.as_mut()?.push(ip);
                    rest = &hex[end..];
                } else {
                    rest = &rest[1..];
                }
            }
        }
    }
}

#[cfg(not(all(
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    use super::{TaskStack, Unavailable};

    pub(super) fn dump() -> Result<Vec<TaskStack>, Unavailable> {
        Err(Unavailable(super::super::NOT_BUILT.to_string()))
    }
}

#[cfg(all(
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::cmp::Reverse;
    use std::sync::mpsc::{RecvTimeoutError, sync_channel};

    use super::super::{DUMP_TIMEOUT, hooks, registry};
    use super::{TaskStack, Unavailable, addresses_of_debug};

    pub(super) fn dump() -> Result<Vec<TaskStack>, Unavailable> {
        let runtimes = registry::list();
        if runtimes.is_empty() {
            return Err(Unavailable(
                "no tokio runtime registered for task dumps: call rustprof::tasks::register(\"main\", &handle)"
                    .to_string(),
            ));
        }
        let mut out = Vec::new();
        for (name, handle) in runtimes {
            let (tx, rx) = sync_channel(1);
            let h = handle.clone();
            // A task of the runtime asks for the dump: a current-thread
            // runtime only dumps from inside, and a multi-thread one is as
            // happy. A runtime that has shut down drops the task (and `tx`).
            drop(handle.spawn(async move {
                let me = tokio::task::id();
                let d = h.dump().await;
                let _ = tx.send((me, d));
            }));
            let (me, d) = match rx.recv_timeout(DUMP_TIMEOUT) {
                Ok(r) => r,
                Err(RecvTimeoutError::Disconnected) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Unavailable(format!(
                        "runtime {name:?} did not answer the task dump within {} s (a worker blocked?)",
                        DUMP_TIMEOUT.as_secs()
                    )));
                }
            };
            let now = crate::sys::now_ns();
            for task in d.tasks().iter() {
                let id = task.id();
                if id == me {
                    continue;
                }
                let trace = task.trace();
                let mut stacks = addresses_of_debug(&format!("{trace:?}")).unwrap_or_else(|| {
                    // The slow way, should tokio's Debug form change.
                    trace
                        .resolve_backtraces()
                        .iter()
                        .map(|b| b.frames().map(|f| f.ip() as u64).collect())
                        .collect()
                });
                stacks.retain(|s: &Vec<u64>| !s.is_empty());
                // The deepest is the task's stack: a `select!` or `join!`
                // also waits in short side branches (a shutdown signal, a
                // timer) next to the chain of calls doing the work.
                let deepest =
                    stacks.iter().enumerate().max_by_key(|(i, s)| (s.len(), Reverse(*i))).map(|(i, _)| i);
                let frames = deepest.map(|i| stacks.remove(i)).unwrap_or_default();
                let info = hooks::info(id);
                out.push(TaskStack {
                    id: id.to_string().parse().unwrap_or(0),
                    runtime: name.clone(),
                    frames,
                    more: stacks,
                    spawned_at: info.as_ref().map(|i| i.spawned_at.clone()),
                    idle: info.and_then(|i| i.idle(now)),
                });
            }
        }
        out.sort_by_key(|t| t.id);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_form_addresses() {
        let d = "Trace { inner: Trace { backtraces: [[BacktraceFrame { ip: 0x55aa01, symbol_address: 0x55aa00 }, BacktraceFrame { ip: 0x55bb02, symbol_address: 0x55bb00 }], [], [BacktraceFrame { ip: 0x1f, symbol_address: 0x10 }]] } }";
        assert_eq!(addresses_of_debug(d), Some(vec![vec![0x55aa01, 0x55bb02], vec![], vec![0x1f]]));
        assert_eq!(addresses_of_debug("Trace { inner: Trace { backtraces: [] } }"), Some(vec![]));
        assert_eq!(addresses_of_debug("Trace { something else }"), None);
        assert_eq!(addresses_of_debug("backtraces: [[[ip: 0x1]]]"), None);
    }
}
