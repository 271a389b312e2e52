//! Reading execution traces (`rustprof::trace`'s Perfetto files): the
//! analyzer's side of Go's `go tool trace`.
//!
//! [`load`] recognizes a trace among the sources and decodes it (a cut file
//! up to its last complete packet, with a warning); [`index`] turns its events
//! into the [`model`]: lanes (one per thread, per async task, one for user
//! tasks) of paired, time-sorted slices, the index every reader uses; [`profiles`] derives pprof
//! profiles from the intervals (`-trace_profile=sync|syscall|sched|offcpu`),
//! which then go through the normal filter → graph → report path;
//! [`latency`] makes the user-task and region latency tables; [`summary`]
//! prints the text summary (`-trace_summary`). The web timeline is
//! `crate::web::timeline`.
//!
//! What the events mean is `rustprof_trace::vocab`, shared with the recorder.

pub mod index;
pub mod latency;
pub mod load;
pub mod model;
pub mod profiles;
pub mod summary;
