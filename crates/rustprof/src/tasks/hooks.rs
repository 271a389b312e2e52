//! tokio's task hooks (unstable): each task's spawn location, as a `task`
//! label on the samples its polls take (CPU, heap, block...) and in task
//! dumps, and when its last poll ended (a dumped task's idle time).
//!
//! Off unless [`hooks`] installs them on a runtime builder: they cost two
//! short lock-protected table lookups per poll (BENCHMARKS.md).

use tokio::runtime::Builder;

/// Installs rustprof's task hooks on `builder` (spawn, terminate, before and
/// after each poll): with them every task's polls carry a `task` label with
/// its spawn location (`file:line:column`) — per-task CPU attribution
/// without code changes — and task dumps show spawn locations and idle times.
/// Labels set inside the task ([`crate::labels`]) replace the `task` label
/// for what they cover.
///
/// Needs `--cfg tokio_unstable` (tokio's hooks are unstable); without it this
/// installs nothing. Installing other `on_task_*` hooks on the same builder
/// afterwards replaces these (tokio keeps one of each). They include what
/// [`crate::trace::tokio::instrument`] installs: while a trace runs, each task
/// gets its track of polls too.
///
/// ```
/// let mut b = tokio::runtime::Builder::new_multi_thread();
/// rustprof::tasks::hooks(&mut b);
/// let rt = b.build().unwrap();
/// rustprof::tasks::register("main", rt.handle());
/// ```
pub fn hooks(builder: &mut Builder) -> &mut Builder {
    imp::install(builder)
}

#[cfg(not(tokio_unstable))]
mod imp {
    use super::Builder;

    pub(super) fn install(builder: &mut Builder) -> &mut Builder {
        builder
    }
}

/// What the hooks know of a task.
#[allow(dead_code)]
pub(crate) struct Info {
    pub(crate) spawned_at: String,
    /// When its last poll ended (ns, [`crate::sys::now_ns`]), 0: never polled.
    last_poll_end: i64,
}

impl Info {
    /// How long since its last poll ended.
    #[allow(dead_code)]
    pub(crate) fn idle(&self, now: i64) -> Option<std::time::Duration> {
        (self.last_poll_end > 0)
            .then(|| std::time::Duration::from_nanos((now - self.last_poll_end).max(0) as u64))
    }
}

#[cfg(tokio_unstable)]
pub(crate) use imp::info;

#[cfg(tokio_unstable)]
mod imp {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::panic::Location;
    use std::sync::Mutex;

    use tokio::runtime::{Builder, TaskMeta};
    use tokio::task::Id;

    use super::Info;
    use crate::labels;

    /// A live task: its spawn location, the label set of its polls, when its
    /// last poll ended.
    #[derive(Clone, Copy)]
    struct Task {
        at: &'static Location<'static>,
        labels: u32,
        last_poll_end: i64,
    }

    /// A multiplicative hash for task ids (tokio hashes an `Id` as one u64).
    #[derive(Default)]
    struct IdHasher(u64);

    impl std::hash::Hasher for IdHasher {
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.write_u64(u64::from(b));
            }
        }

        fn write_u64(&mut self, w: u64) {
            self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }

        fn finish(&self) -> u64 {
            self.0
        }
    }

    type Map = HashMap<Id, Task, std::hash::BuildHasherDefault<IdHasher>>;
    const STRIPES: usize = 64;
    type Stripe = Mutex<Option<Map>>;
    static TASKS: [Stripe; STRIPES] = [const { Mutex::new(None) }; STRIPES];
    /// Label set ids by spawn location, interned once per location.
    static LOCATIONS: Mutex<Option<HashMap<&'static Location<'static>, u32>>> = Mutex::new(None);

    thread_local! {
        /// The label set before the current poll.
        static BEFORE: Cell<u32> = const { Cell::new(0) };
    }

    fn stripe(id: Id) -> std::sync::MutexGuard<'static, Option<Map>> {
        let i = (hash(id) >> 58) as usize % STRIPES;
        TASKS[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hash(id: Id) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<IdHasher>::default().hash_one(id)
    }

    fn label_of(at: &'static Location<'static>) -> u32 {
        let mut l = LOCATIONS.lock().unwrap_or_else(|e| e.into_inner());
        *l.get_or_insert_with(HashMap::new).entry(at).or_insert_with(|| {
            labels::intern([("task".to_string(), format!("{}:{}:{}", at.file(), at.line(), at.column()))])
        })
    }

    fn spawned(meta: &TaskMeta<'_>) {
        crate::trace::tokio::hook_spawn(meta);
        crate::heap::own(|| {
            let at = meta.spawned_at();
            let t = Task { at, labels: label_of(at), last_poll_end: 0 };
            stripe(meta.id()).get_or_insert_with(Map::default).insert(meta.id(), t);
        })
    }

    fn terminated(meta: &TaskMeta<'_>) {
        crate::trace::tokio::hook_terminate(meta);
        if let Some(m) = stripe(meta.id()).as_mut() {
            m.remove(&meta.id());
        }
    }

    fn before_poll(meta: &TaskMeta<'_>) {
        crate::trace::tokio::hook_before_poll(meta);
        let id = stripe(meta.id()).as_ref().and_then(|m| m.get(&meta.id()).map(|t| t.labels));
        if let Some(id) = id {
            BEFORE.with(|b| b.set(labels::set_current_id(id)));
        }
    }

    fn after_poll(meta: &TaskMeta<'_>) {
        crate::trace::tokio::hook_after_poll(meta);
        let now = crate::sys::now_ns();
        let known = match stripe(meta.id()).as_mut().and_then(|m| m.get_mut(&meta.id())) {
            Some(t) => {
                t.last_poll_end = now;
                true
            }
            None => false,
        };
        if known {
            labels::set_current_id(BEFORE.with(|b| b.get()));
        }
    }

    pub(super) fn install(builder: &mut Builder) -> &mut Builder {
        builder
            .on_task_spawn(spawned)
            .on_task_terminate(terminated)
            .on_before_task_poll(before_poll)
            .on_after_task_poll(after_poll)
    }

    /// What the hooks know of task `id`.
    pub(crate) fn info(id: Id) -> Option<Info> {
        let t = stripe(id).as_ref().and_then(|m| m.get(&id).copied())?;
        Some(Info {
            spawned_at: format!("{}:{}:{}", t.at.file(), t.at.line(), t.at.column()),
            last_poll_end: t.last_poll_end,
        })
    }
}
