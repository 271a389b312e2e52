//! What requests may hold together: a number of profiles being built or sent
//! at once, and the bytes those profiles take. A request over either limit
//! waits a little for room (leaving at once if its client goes), then is
//! answered 503 with a `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a request waits for room before its 503.
const WAIT: Duration = Duration::from_secs(5);

/// The limits, and what is held now.
pub(crate) struct Gate {
    max_profiles: usize,
    max_bytes: usize,
    held: Mutex<(usize, usize)>,
    freed: Condvar,
}

/// Why a request was turned away.
pub(crate) enum Full {
    /// Too many profiles at once (the limit).
    Profiles(usize),
    /// Their bytes would pass the limit (held, wanted, limit).
    Bytes(usize, usize, usize),
    /// The client left while waiting.
    Gone,
}

impl Full {
    /// The 503's message.
    pub(crate) fn message(&self) -> String {
        match self {
            Full::Profiles(n) => {
                format!("server busy: {n} profiles are being served (Options::max_profiles); retry later")
            }
            Full::Bytes(held, want, max) => format!(
                "server busy: profiles being served hold {} MiB, this one needs {} MiB, limit {} MiB \
                 (Options::max_profile_memory); retry later",
                held >> 20,
                want.div_ceil(1 << 20),
                max >> 20
            ),
            Full::Gone => "client gone".into(),
        }
    }
}

/// One request's place: released when dropped.
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    bytes: usize,
}

/// Server-wide counters, for [`super::Server::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) served: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) too_many_connections: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) canceled: AtomicU64,
    pub(crate) bad: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

impl Gate {
    pub(crate) fn new(max_profiles: usize, max_bytes: usize) -> Gate {
        Gate { max_profiles: max_profiles.max(1), max_bytes, held: Mutex::new((0, 0)), freed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room until `pred` holds, at most [`WAIT`], checking `gone`.
    fn wait_for(
        &self,
        gone: &dyn Fn() -> bool,
        mut pred: impl FnMut(&(usize, usize)) -> bool,
    ) -> Result<std::sync::MutexGuard<'_, (usize, usize)>, ()> {
        let end = Instant::now() + WAIT;
        let mut g = self.lock();
        loop {
            if pred(&g) {
                return Ok(g);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() || gone() {
                return Err(());
            }
            g = self
                .freed
                .wait_timeout(g, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A place for one more profile.
    pub(crate) fn enter(self: &Arc<Self>, gone: &dyn Fn() -> bool) -> Result<Ticket, Full> {
        let max = self.max_profiles;
        match self.wait_for(gone, |h| h.0 < max) {
            Ok(mut g) => {
                g.0 += 1;
                Ok(Ticket { gate: self.clone(), bytes: 0 })
            }
            Err(()) if gone() => Err(Full::Gone),
            Err(()) => Err(Full::Profiles(max)),
        }
    }
}

impl Ticket {
    /// Counts `bytes` more held by this request. A profile is always let
    /// through when nothing else is held (the limit bounds what requests hold
    /// together, it never makes a profile unservable).
    pub(crate) fn hold(&mut self, bytes: usize, gone: &dyn Fn() -> bool) -> Result<(), Full> {
        let (max, mine) = (self.gate.max_bytes, self.bytes);
        let fits = |h: &(usize, usize)| h.1 == mine || h.1 + bytes <= max;
        match self.gate.wait_for(gone, fits) {
            Ok(mut g) => {
                g.1 += bytes;
                self.bytes += bytes;
                Ok(())
            }
            Err(()) if gone() => Err(Full::Gone),
            Err(()) => Err(Full::Bytes(self.gate.lock().1, bytes, max)),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut g = self.gate.lock();
        g.0 -= 1;
        g.1 -= self.bytes;
        drop(g);
        self.gate.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_bytes_are_bounded() {
        let g = Arc::new(Gate::new(2, 100));
        let no = || true; // a gone client does not wait
        let mut a = g.enter(&|| false).ok().unwrap();
        let b = g.enter(&|| false).ok().unwrap();
        assert!(matches!(g.enter(&no), Err(Full::Gone)));
        // Alone over the limit: served.
        a.hold(150, &|| false).ok().unwrap();
        drop(b);
        let mut c = g.enter(&|| false).ok().unwrap();
        assert!(matches!(c.hold(10, &no), Err(Full::Gone)));
        drop(a);
        c.hold(60, &|| false).ok().unwrap();
        assert_eq!(*g.lock(), (1, 60));
        drop(c);
        assert_eq!(*g.lock(), (0, 0));
    }
}
