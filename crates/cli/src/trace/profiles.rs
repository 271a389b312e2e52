//! Profiles derived from a trace, as `go tool trace -pprof=TYPE` makes them:
//! where time went while threads and tasks were not running, by stack.
//!
//! | kind | intervals |
//! |---|---|
//! | `sync` | waits in `rustprof::sync` (lock and condvar waits) |
//! | `syscall` | blocked intervals of threads, less the parts inside a sync wait |
//! | `sched` | runnable intervals: threads preempted, async tasks woken and not yet polled |
//! | `offcpu` | every off-CPU interval of threads: blocked and runnable |
//!
//! Each interval is one sample: `contentions/count` 1 and `delay/nanoseconds`
//! its length (Go's block profile types, delay the default). The stack is
//! the interval's `stack` argument (leaf first, `vocab::parse_stack`); an
//! interval without one gets a frame naming it (`lock wait`, `blocked`,
//! `runnable`) under the regions it was in, innermost first (for an async
//! task: under the task's name). Samples carry labels `thread` or `task`,
//! and `reason` for a blocked interval that says why.

use rustprof_profile::{Label, Line, MappingInfo, Profile, ProfileBuilder};
use rustprof_trace::vocab;

use super::model::{Class, Lane, LaneKind, Model, NONE, Slice};

/// A trace-derived profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Lock and condvar waits.
    Sync,
    /// Blocked, not in a sync wait.
    Syscall,
    /// Runnable, not running.
    Sched,
    /// Blocked or runnable.
    Offcpu,
}

impl Kind {
    /// Every kind, in the order of `-trace_profile`'s help.
    pub const ALL: [Kind; 4] = [Kind::Sync, Kind::Syscall, Kind::Sched, Kind::Offcpu];

    /// The name `-trace_profile` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sync => "sync",
            Kind::Syscall => "syscall",
            Kind::Sched => "sched",
            Kind::Offcpu => "offcpu",
        }
    }

    /// What the profile measures, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Sync => "time waiting for locks and condition variables",
            Kind::Syscall => "time blocked outside sync waits (syscalls, sleeps, I/O)",
            Kind::Sched => "time runnable but not running (scheduling latency)",
            Kind::Offcpu => "all time off the CPU (blocked or runnable)",
        }
    }

    /// The kind named `s`, or the flag's error.
    pub fn parse(s: &str) -> Result<Kind, String> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            format!(
                "invalid value {} for flag -trace_profile: one of sync, syscall, sched, offcpu",
                crate::gofmt::quote(s)
            )
        })
    }
}

/// One interval of a derived profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// The lane (index in [`Model::lanes`]).
    pub lane: usize,
    /// Where it began.
    pub start: u64,
    /// Its weight in ns (for `syscall`, less the sync waits inside it).
    pub value: u64,
    /// Its stack (a string id), or [`NONE`].
    pub stack: u32,
    /// What it is: a frame's name when there is no stack.
    pub what: &'static str,
    /// Why a thread blocked, when said.
    pub reason: Option<String>,
}

/// The intervals of profile `kind`, lane by lane, in time order.
pub fn intervals(m: &Model, kind: Kind) -> Vec<Interval> {
    let mut out = Vec::new();
    for (li, lane) in m.lanes.iter().enumerate() {
        let thread = matches!(lane.kind, LaneKind::Thread { .. });
        let mut push = |s: &Slice, value: u64| {
            if value > 0 || s.dur() == 0 {
                out.push(Interval {
                    lane: li,
                    start: s.start,
                    value,
                    stack: s.stack,
                    what: s.class.name(),
                    reason: reason(m, s),
                });
            }
        };
        match kind {
            Kind::Sync => {
                let mut waits: Vec<&Slice> = lane.slices().filter(|s| s.class.is_sync()).collect();
                waits.sort_by_key(|s| s.start);
                for s in waits {
                    push(s, s.dur());
                }
            }
            Kind::Syscall if thread => {
                let waits = sync_union(lane);
                for s in lane.states.iter().filter(|s| s.class == Class::Blocked) {
                    let inside = overlap(&waits, s.start, s.end);
                    if s.dur() > inside {
                        push(s, s.dur() - inside);
                    }
                }
            }
            Kind::Sched => {
                for s in lane.states.iter().filter(|s| s.class == Class::Runnable) {
                    push(s, s.dur());
                }
            }
            Kind::Offcpu if thread => {
                for s in lane.states.iter().filter(|s| matches!(s.class, Class::Blocked | Class::Runnable)) {
                    push(s, s.dur());
                }
            }
            Kind::Syscall | Kind::Offcpu => {}
        }
    }
    out
}

fn reason(m: &Model, s: &Slice) -> Option<String> {
    m.arg_text(s.args, vocab::ARG_REASON)
}

/// The lane's sync waits as sorted, disjoint intervals.
fn sync_union(lane: &Lane) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> =
        lane.slices().filter(|s| s.class.is_sync()).map(|s| (s.start, s.end)).collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// How much of `[a, b)` the disjoint sorted intervals cover.
fn overlap(union: &[(u64, u64)], a: u64, b: u64) -> u64 {
    let first = union.partition_point(|x| x.1 <= a);
    union[first..].iter().take_while(|x| x.0 < b).map(|x| x.1.min(b).saturating_sub(x.0.max(a))).sum()
}

/// The names of the regions and tasks of `lane` open at `t`, innermost first.
pub fn enclosing(m: &Model, lane: &Lane, t: u64) -> Vec<String> {
    let mut names = Vec::new();
    for row in &lane.rows {
        let i = row.partition_point(|s| s.end < t);
        if let Some(s) = row.get(i)
            && s.start <= t
            && matches!(s.class, Class::Region | Class::Task | Class::Other)
        {
            names.push(m.str(s.name).to_string());
        }
    }
    names.reverse();
    names
}

/// Builds the profile of `kind`; `file` names the trace (the mapping's file,
/// shown as the report's `File:`).
pub fn profile(m: &Model, kind: Kind, file: &str) -> Profile {
    let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
    b.period("contentions", "count", 1);
    b.default_sample_type("delay");
    if let Some(w) = m.wall_start {
        b.time_nanos(w);
    }
    b.duration_nanos(m.duration() as i64);
    b.comment(&format!("from trace {file}: {} ({})", kind.name(), kind.describe()));
    let base = file.rsplit('/').next().unwrap_or(file);
    let mapping = b.add_mapping(&MappingInfo {
        filename: base,
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        ..Default::default()
    });
    let mut locs = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    for iv in intervals(m, kind) {
        let lane = &m.lanes[iv.lane];
        locs.clear();
        let frame = |b: &mut ProfileBuilder, function: &str, file: &str, line: u32| {
            let f = b.add_function(function, "", file, 0);
            let l = Line { function: f, line: i64::from(line), column: 0 };
            b.add_location(Some(mapping), 0, &[l], false)
        };
        if iv.stack != NONE {
            for fr in vocab::parse_stack(m.str(iv.stack)) {
                locs.push(frame(&mut b, &fr.function, &fr.file, fr.line));
            }
        }
        if locs.is_empty() {
            locs.push(frame(&mut b, iv.what, "", 0));
            let outer = if lane.kind == LaneKind::Async {
                vec![lane.name.clone()]
            } else {
                enclosing(m, lane, iv.start)
            };
            for name in outer {
                locs.push(frame(&mut b, &name, "", 0));
            }
        }
        labels.clear();
        let key = if lane.kind == LaneKind::Async { "task" } else { "thread" };
        labels.push(b.label_str(key, &lane.name));
        if let Some(r) = &iv.reason {
            labels.push(b.label_str("reason", r));
        }
        b.merge_sample(&locs, &[1, iv.value as i64], &labels);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn overlaps() {
        let u = [(10, 20), (30, 40)];
        assert_eq!(overlap(&u, 0, 100), 20);
        assert_eq!(overlap(&u, 15, 35), 10);
        assert_eq!(overlap(&u, 20, 30), 0);
        assert_eq!(overlap(&[], 0, 5), 0);
        assert!(Kind::parse("net").unwrap_err().contains("-trace_profile"));
    }
}
