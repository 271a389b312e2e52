//! `/debug/pprof/tasks`, and `goroutine` when task dumps are available: the
//! tokio task dump ([`crate::tasks`]) as Go serves its goroutine profile.
//! Without feature `tokio`, or when a dump is unavailable (not built with
//! `--cfg tokio_unstable`, no runtime registered), `goroutine` is the thread
//! dump and `tasks` answers 501 with the reason in one line.

/// The task dump for `name` (`tasks` or `goroutine`): `None` sends
/// `goroutine` to the thread dump when no task dump can be taken; `tasks`
/// gets the reason.
pub(crate) fn take(name: &str, debug: i64) -> Option<Result<Taken, String>> {
    match imp::take(debug) {
        Ok(t) => Some(Ok(t)),
        Err(why) if name == "tasks" => Some(Err(why)),
        Err(_) => None,
    }
}

/// A dump as a profile (`debug=0`) or text.
pub(crate) enum Taken {
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Profile(Box<rustprof_profile::Profile>),
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Text(String),
}

/// The number of live tasks for the index (`None`: no task dumps).
pub(crate) fn count() -> Option<usize> {
    imp::count()
}

#[cfg(feature = "tokio")]
mod imp {
    use super::Taken;

    pub(super) fn take(debug: i64) -> Result<Taken, String> {
        if debug == 0 {
            crate::tasks::profile().map(|p| Taken::Profile(Box::new(p))).map_err(|e| e.0)
        } else {
            crate::tasks::dump_text(if debug >= 2 { 2 } else { 1 }).map(Taken::Text).map_err(|e| e.0)
        }
    }

    pub(super) fn count() -> Option<usize> {
        crate::tasks::alive()
    }
}

#[cfg(not(feature = "tokio"))]
mod imp {
    use super::Taken;

    pub(super) fn take(_debug: i64) -> Result<Taken, String> {
        Err("task dumps need rustprof's feature `tokio` (and RUSTFLAGS=\"--cfg tokio_unstable\"); threads are at /debug/pprof/threads".to_string())
    }

    pub(super) fn count() -> Option<usize> {
        None
    }
}
