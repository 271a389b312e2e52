//! A decoded trace as the analyzer reads it: lanes of paired, time-sorted
//! slices, instants and counters, with names, stacks and arguments interned
//! ([`super::index`] builds it).
//!
//! - One lane per thread (every track of the thread, and tracks whose parent
//!   is the thread's, feed it), one per async task (a track with polls or
//!   scheduler states), and one for all user tasks (the tracks that hold only
//!   `task` slices, packed into rows).
//! - A lane's *states* are its scheduler states ([`vocab::RUNNING`],
//!   [`vocab::RUNNABLE`], [`vocab::BLOCKED`]; for an async task its polls too):
//!   one row, sorted, never overlapping. Its other slices (regions, sync waits,
//!   tasks) are in rows by nesting: `rows[d]` holds the slices at depth `d`,
//!   sorted by start and never overlapping, so their ends are sorted too and a
//!   time window is found by binary search ([`window`]).

use rustprof_trace::{CounterUnit, vocab};

/// No string, stack or arguments.
pub const NONE: u32 = u32::MAX;

/// What a slice is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// On a CPU.
    Running,
    /// Ready, not running (preempted thread, woken task not yet polled).
    Runnable,
    /// Off the CPU by its own doing.
    Blocked,
    /// Waiting for a lock.
    LockWait,
    /// Waiting on a condition variable.
    CondvarWait,
    /// A user region.
    Region,
    /// A user task.
    Task,
    /// An async task's poll.
    Poll,
    /// Anything else.
    Other,
}

impl Class {
    /// Every class, in the order of their numbers ([`Class::index`]).
    pub const ALL: [Class; 9] = [
        Class::Running,
        Class::Runnable,
        Class::Blocked,
        Class::LockWait,
        Class::CondvarWait,
        Class::Region,
        Class::Task,
        Class::Poll,
        Class::Other,
    ];

    /// The class's number (its place in [`Class::ALL`]).
    pub fn index(self) -> usize {
        Class::ALL.iter().position(|c| *c == self).unwrap_or(8)
    }

    /// The class's name, as the UI and the summary say it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Running => vocab::RUNNING,
            Class::Runnable => vocab::RUNNABLE,
            Class::Blocked => vocab::BLOCKED,
            Class::LockWait => vocab::LOCK_WAIT,
            Class::CondvarWait => vocab::CONDVAR_WAIT,
            Class::Region => "region",
            Class::Task => "task",
            Class::Poll => "poll",
            Class::Other => "other",
        }
    }

    /// A scheduler state.
    pub fn is_state(self) -> bool {
        matches!(self, Class::Running | Class::Runnable | Class::Blocked)
    }

    /// A wait in `rustprof::sync`.
    pub fn is_sync(self) -> bool {
        matches!(self, Class::LockWait | Class::CondvarWait)
    }

    /// The class of a slice of this category and name.
    pub fn of(category: &str, name: &str) -> Class {
        match category {
            vocab::SCHED => match name {
                vocab::RUNNING => Class::Running,
                vocab::RUNNABLE => Class::Runnable,
                vocab::BLOCKED => Class::Blocked,
                _ => Class::Other,
            },
            vocab::SYNC if name == vocab::CONDVAR_WAIT => Class::CondvarWait,
            vocab::SYNC => Class::LockWait,
            vocab::REGION => Class::Region,
            vocab::TASK => Class::Task,
            vocab::POLL => Class::Poll,
            _ => Class::Other,
        }
    }
}

/// An interval on a lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slice {
    /// Begin, ns on the trace clock.
    pub start: u64,
    /// End (≥ start).
    pub end: u64,
    /// Name (a string id).
    pub name: u32,
    /// Stack (a string id of a `vocab::format_stack` text), or [`NONE`].
    pub stack: u32,
    /// Other arguments (an index of [`Model::arg_lists`]), or [`NONE`].
    pub args: u32,
    /// What it is.
    pub class: Class,
}

impl Slice {
    /// Its length in ns.
    pub fn dur(&self) -> u64 {
        self.end - self.start
    }
}

/// What an instant marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A user log (its category is the log's category, its name the message).
    Log,
    /// A CPU profile sample.
    CpuSample,
    /// The recorder dropped events.
    Dropped,
}

/// A point event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instant {
    /// When.
    pub ts: u64,
    /// Name (a log's message).
    pub name: u32,
    /// Category (a log's category).
    pub category: u32,
    /// Stack, or [`NONE`].
    pub stack: u32,
    /// Other arguments, or [`NONE`].
    pub args: u32,
    /// What it marks.
    pub mark: Mark,
}

/// What a lane stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneKind {
    /// A thread.
    Thread {
        /// Process id.
        pid: i32,
        /// Thread id.
        tid: i32,
    },
    /// An async task (polls, wake-ups).
    Async,
    /// All user tasks, packed into rows.
    Tasks,
    /// Another track with events (a process's instants).
    Other,
}

/// One timeline lane.
#[derive(Clone, Debug)]
pub struct Lane {
    /// Display name.
    pub name: String,
    /// What it stands for.
    pub kind: LaneKind,
    /// Scheduler states (for an async task: polls and runnable), sorted, not overlapping.
    pub states: Vec<Slice>,
    /// Other slices by depth, each row sorted and not overlapping.
    pub rows: Vec<Vec<Slice>>,
    /// Logs, CPU samples..., sorted by time.
    pub instants: Vec<Instant>,
    /// The first and last timestamps of the lane's events.
    pub span: (u64, u64),
}

impl Lane {
    /// An empty lane.
    pub fn new(name: String, kind: LaneKind) -> Lane {
        Lane { name, kind, states: Vec::new(), rows: Vec::new(), instants: Vec::new(), span: (u64::MAX, 0) }
    }

    /// Total ns of the states of `class`.
    pub fn state_total(&self, class: Class) -> u64 {
        self.states.iter().filter(|s| s.class == class).map(Slice::dur).sum()
    }

    /// Every slice of the rows (not the states).
    pub fn slices(&self) -> impl Iterator<Item = &Slice> {
        self.rows.iter().flatten()
    }

    /// Time per class ([`Class::index`]) of the states and slices inside
    /// `[a, b)`, each slice cut to the window (nested slices each count).
    pub fn totals_in(&self, a: u64, b: u64) -> [u64; 9] {
        let mut t = [0u64; 9];
        for row in std::iter::once(&self.states).chain(&self.rows) {
            for s in window(row, a, b) {
                t[s.class.index()] += s.end.min(b).saturating_sub(s.start.max(a));
            }
        }
        t
    }
}

/// The slices of a row (sorted, not overlapping) that overlap `[a, b)`.
pub fn window(row: &[Slice], a: u64, b: u64) -> &[Slice] {
    let i = row.partition_point(|s| s.end <= a);
    let j = row.partition_point(|s| s.start < b).max(i);
    &row[i..j]
}

/// A counter track's values.
#[derive(Clone, Debug)]
pub struct Counter {
    /// Track name (e.g. [`vocab::HEAP_COUNTER`]).
    pub name: String,
    /// Unit of the values.
    pub unit: CounterUnit,
    /// `(ts, value from ts on)`, sorted.
    pub points: Vec<(u64, i64)>,
}

/// An argument's value; strings are string ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// A string (id).
    Str(u32),
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

/// One argument of a slice or instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArgEntry {
    /// Its name (a string id).
    pub name: u32,
    /// Its value.
    pub value: Val,
}

/// The whole trace, indexed.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Interned names, categories, stacks and argument strings.
    pub strings: Vec<String>,
    /// Every argument (but stacks) of every slice and instant, list after list.
    pub arg_pool: Vec<ArgEntry>,
    /// The argument lists: ranges of `arg_pool`.
    pub arg_lists: Vec<(u32, u32)>,
    /// Lanes: the user tasks' first, then threads, async tasks, others.
    pub lanes: Vec<Lane>,
    /// Counter tracks.
    pub counters: Vec<Counter>,
    /// First and last timestamps of the trace.
    pub start: u64,
    /// See `start`.
    pub end: u64,
    /// Events in the file.
    pub events: usize,
    /// Events the recorder said it dropped.
    pub dropped: u64,
    /// Where the file was cut, if it was.
    pub truncated_at: Option<usize>,
    /// Wall-clock time (ns since the epoch) of `start`, when the trace has a clock snapshot.
    pub wall_start: Option<i64>,
}

impl Model {
    /// The string with this id ("" for [`NONE`]).
    pub fn str(&self, id: u32) -> &str {
        self.strings.get(id as usize).map(String::as_str).unwrap_or("")
    }

    /// The trace's length in ns.
    pub fn duration(&self) -> u64 {
        self.end - self.start
    }

    /// The arguments of a slice or instant.
    pub fn args_of(&self, id: u32) -> &[ArgEntry] {
        match self.arg_lists.get(id as usize) {
            Some(&(a, b)) => self.arg_pool.get(a as usize..b as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    /// A value as text.
    pub fn val_text(&self, v: Val) -> String {
        match v {
            Val::Str(id) => self.str(id).to_string(),
            Val::Uint(x) => x.to_string(),
            Val::Int(x) => x.to_string(),
            Val::Double(x) => x.to_string(),
            Val::Bool(x) => x.to_string(),
        }
    }

    /// The value of argument `name` in list `args`, as text.
    pub fn arg_text(&self, args: u32, name: &str) -> Option<String> {
        self.args_of(args).iter().find(|a| self.str(a.name) == name).map(|a| self.val_text(a.value))
    }
}
