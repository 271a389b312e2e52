//! Task dumps: where every tokio task is suspended right now — Go's
//! goroutine profile, for async tasks (feature `tokio`).
//!
//! Register each runtime with [`register`]; [`dump`] then asks each one for
//! tokio's own task dump (`Handle::dump`: the runtime pauses its workers and
//! polls every idle task once in a tracing mode, collecting the `async fn`
//! frames from the task's root future down to the resource it waits on), and
//! turns it into stacks of addresses symbolized in-process like every other
//! profile. [`profile`] aggregates tasks with the same stack (sample type
//! `goroutine/count`, labels `runtime` and, with [`hooks`], `task`, the spawn
//! location); [`dump_text`] writes Go's `debug=1` and `debug=2` texts.
//!
//! tokio's task dumps are an unstable API: they exist only when the program
//! is built with `RUSTFLAGS="--cfg tokio_unstable"` (rustprof turns on
//! tokio's `taskdump` feature), on Linux x86, x86-64 and aarch64. Without
//! it everything compiles, and [`dump`] returns [`Unavailable`] saying what is
//! missing. [`hooks`] (spawn locations, idle times, per-task CPU labels) needs
//! `tokio_unstable` too.
//!
//! Call [`dump`] from outside the runtime's worker threads (a plain thread,
//! `spawn_blocking`, the HTTP server): it waits for the runtime's answer,
//! up to [`DUMP_TIMEOUT`].

use std::fmt;
use std::time::Duration;

mod hooks;
pub(crate) mod registry;
mod take;
mod text;

pub use hooks::hooks;
pub use registry::register;
pub use take::{TaskStack, dump, profile};
pub use text::dump_text;

/// How long [`dump`] waits for a runtime's dump: tokio's dump never completes
/// while a worker is blocked (a deadlock, a long synchronous call).
pub const DUMP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why there is no task dump, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Whether task dumps were compiled in (`--cfg tokio_unstable` on a
/// supported target).
pub const SUPPORTED: bool = cfg!(all(
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
));

/// The one-line reason when task dumps were not compiled in.
#[cfg_attr(tokio_unstable, allow(dead_code))]
pub(crate) const NOT_BUILT: &str = "task dumps need tokio's unstable API: build with RUSTFLAGS=\"--cfg tokio_unstable\" (Linux x86/x86-64/aarch64); threads are at /debug/pprof/threads";

/// The number of live tasks of the registered runtimes (tokio's runtime
/// metrics, no dump); `None` when task dumps are unavailable or no runtime is
/// registered.
pub fn alive() -> Option<usize> {
    let runtimes = registry::list();
    if !SUPPORTED || runtimes.is_empty() {
        return None;
    }
    Some(runtimes.iter().map(|(_, h)| h.metrics().num_alive_tasks()).sum())
}
