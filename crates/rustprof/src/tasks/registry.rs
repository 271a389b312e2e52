//! The runtimes whose tasks a dump lists.

use std::sync::Mutex;

use tokio::runtime::Handle;

static RUNTIMES: Mutex<Vec<(String, Handle)>> = Mutex::new(Vec::new());

/// Lists the tasks of the runtime behind `handle` in task dumps, under
/// `name` (the `runtime` label). Registering a name again replaces its handle.
/// The axum router ([`crate::http::axum`]) registers the runtime serving it
/// as `"axum"` if none is registered.
///
/// ```
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// rustprof::tasks::register("main", rt.handle());
/// ```
pub fn register(name: &str, handle: &Handle) {
    let mut r = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    match r.iter_mut().find(|(n, _)| n == name) {
        Some(e) => e.1 = handle.clone(),
        None => r.push((name.to_string(), handle.clone())),
    }
}

/// Registers the current runtime as `name` if no runtime is registered.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn register_default(name: &str) {
    let mut r = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    if r.is_empty()
        && let Ok(h) = Handle::try_current()
    {
        r.push((name.to_string(), h));
    }
}

/// The registered runtimes.
pub(crate) fn list() -> Vec<(String, Handle)> {
    RUNTIMES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
