//! Profiler labels: key/value pairs attached to the samples a thread (or an
//! async task) takes while they are set — Go's `pprof.Do` / `pprof.Labels`.
//!
//! A label set is interned once and named by a small id; each thread holds the
//! id of its current set in a thread-local cell that the signal handler reads
//! without locks. [`scope`] sets labels for the rest of a block (nested scopes
//! add to and override their parent's keys, as `pprof.Do` does); [`WithLabels`]
//! carries labels with a future, setting them around each poll, so they follow an
//! async task across worker threads.
//!
//! Interned sets are kept for the life of the process: use labels with a bounded
//! number of values (endpoints, tenants, job kinds), not request ids.
//!
//! ```
//! let _g = rustprof::labels::scope(&[("endpoint", "login")]);
//! assert_eq!(rustprof::labels::current(), vec![("endpoint".to_string(), "login".to_string())]);
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

/// An interned label set, sorted by key.
type Set = Arc<[(String, String)]>;

struct Registry {
    sets: Vec<Set>,
    index: HashMap<Set, u32>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(|| {
        let empty: Set = Arc::from(Vec::new());
        let mut index = HashMap::new();
        index.insert(empty.clone(), 0);
        Mutex::new(Registry { sets: vec![empty], index })
    })
}

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

/// Interns a set of pairs (later keys override earlier equal keys) and returns
/// its id.
pub(crate) fn intern(pairs: impl IntoIterator<Item = (String, String)>) -> u32 {
    let mut v: Vec<(String, String)> = Vec::new();
    for (k, val) in pairs {
        match v.iter_mut().find(|(kk, _)| *kk == k) {
            Some(e) => e.1 = val,
            None => v.push((k, val)),
        }
    }
    v.sort();
    let set: Set = Arc::from(v);
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&id) = r.index.get(&set) {
        return id;
    }
    let id = r.sets.len() as u32;
    r.sets.push(set.clone());
    r.index.insert(set, id);
    id
}

/// The pairs of label set `id`.
pub(crate) fn resolve(id: u32) -> Vec<(String, String)> {
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.sets.get(id as usize).map(|s| s.to_vec()).unwrap_or_default()
}

/// The current thread's label set id (async-signal-safe: one thread-local read).
#[inline]
pub(crate) fn current_id() -> u32 {
    CURRENT.with(|c| c.get())
}

/// Sets the current thread's label set id, returning the previous one.
pub(crate) fn set_current_id(id: u32) -> u32 {
    CURRENT.with(|c| c.replace(id))
}

/// The current thread's labels, sorted by key.
pub fn current() -> Vec<(String, String)> {
    resolve(current_id())
}

/// Restores the labels that were current before a [`scope`] when dropped.
#[must_use = "the labels are unset when the guard is dropped"]
pub struct LabelGuard {
    prev: u32,
}

impl Drop for LabelGuard {
    fn drop(&mut self) {
        set_current_id(self.prev);
    }
}

/// Adds `pairs` to the current thread's labels until the guard is dropped (keys
/// already set are overridden, as with `pprof.Do`).
pub fn scope(pairs: &[(&str, &str)]) -> LabelGuard {
    let cur = current();
    let id = intern(cur.into_iter().chain(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))));
    LabelGuard { prev: set_current_id(id) }
}

/// Runs `f` with `pairs` added to the current thread's labels.
pub fn with_labels<R>(pairs: &[(&str, &str)], f: impl FnOnce() -> R) -> R {
    let _g = scope(pairs);
    f()
}

/// A future whose polls run with a label set: labels follow an async task across
/// the threads of a multi-threaded runtime. Made by [`LabelsExt::with_labels`].
pub struct WithLabels<F> {
    inner: F,
    id: u32,
}

impl<F: Future> Future for WithLabels<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`.
        #[allow(unsafe_code)]
        let this = unsafe { self.get_unchecked_mut() };
        let prev = set_current_id(this.id);
        // SAFETY: as above.
        #[allow(unsafe_code)]
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let r = inner.poll(cx);
        set_current_id(prev);
        r
    }
}

/// Attaching labels to futures.
pub trait LabelsExt: Future + Sized {
    /// Runs this future with `pairs` added to the labels current when this is
    /// called (the spawning context's labels are inherited, like Go's goroutines).
    fn with_labels(self, pairs: &[(&str, &str)]) -> WithLabels<Self> {
        let cur = current();
        let id = intern(cur.into_iter().chain(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))));
        WithLabels { inner: self, id }
    }
}

impl<F: Future> LabelsExt for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        assert!(current().is_empty());
        {
            let _a = scope(&[("endpoint", "login"), ("tenant", "1")]);
            {
                let _b = scope(&[("tenant", "2")]);
                assert_eq!(
                    current(),
                    vec![("endpoint".into(), "login".into()), ("tenant".into(), "2".into())]
                );
            }
            assert_eq!(current(), vec![("endpoint".into(), "login".into()), ("tenant".into(), "1".into())]);
        }
        assert!(current().is_empty());
        let id1 = intern([("a".to_string(), "b".to_string())]);
        let id2 = intern([("a".to_string(), "b".to_string())]);
        assert_eq!(id1, id2);
    }
}
