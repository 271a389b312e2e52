//! `/debug/pprof/trace?seconds=N`: Go's `Trace` handler, with rustprof's
//! execution trace (Perfetto's format) as the body.
//!
//! As Go's: `seconds` is a float, 1 when absent, invalid or not positive; the
//! body streams while the trace runs (`Content-Disposition: attachment;
//! filename="trace"`). One trace at a time in the process: while one runs
//! (another request's, or the program's own [`crate::trace::start`]) the
//! answer is a 503 with `Retry-After` and Go's text `Could not enable
//! tracing: tracing is already enabled`. The trace goes to the connection
//! through a channel of a few chunks: a client that reads slowly makes the
//! threads' buffers fill and drop events (counted in the trace), never the
//! program's memory grow; a client that leaves ends the trace.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use super::handlers::{Body, BodyWriter, Ctx, Response, error};
use crate::trace::TraceError;

/// Chunks (one per collector pass) waiting for the connection.
const CHUNKS: usize = 8;

/// Go's `seconds` of `Trace`: a float; invalid, ≤ 0 or not finite means 1.
pub(crate) fn seconds(v: Option<&str>) -> f64 {
    v.and_then(|s| s.trim().parse::<f64>().ok()).filter(|n| n.is_finite() && *n > 0.0).unwrap_or(1.0)
}

/// The collector's writer: each write is a chunk for the connection.
struct Chunks(SyncSender<Vec<u8>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // rustprof's own memory, freed by the connection's thread.
        let chunk = crate::heap::own(|| buf.to_vec());
        self.0.send(chunk).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn handle(ctx: &Ctx, secs: Option<&str>) -> Response {
    let secs = seconds(secs);
    if secs >= ctx.max_seconds() as f64 {
        return super::handlers::limit_error(ctx);
    }
    let (tx, rx) = sync_channel(CHUNKS);
    let id = match crate::trace::start_id(Chunks(tx)) {
        Ok(id) => id,
        Err(TraceError::AlreadyRunning) => {
            return error(503, "Could not enable tracing: tracing is already enabled")
                .with("Retry-After", "5");
        }
        Err(e) => return error(500, &format!("Could not enable tracing: {e}")),
    };
    let duration = Duration::from_secs_f64(secs);
    let body: BodyWriter = Box::new(move |w| stream(id, rx, duration, w));
    Response::with_body(200, "application/octet-stream", Body::Stream(body))
        .with("Content-Disposition", "attachment; filename=\"trace\"")
}

/// Writes the chunks as they come for `duration`, then stops the trace (on a
/// thread of its own, since stopping writes the last chunks into the channel
/// this thread empties) and writes the rest.
fn stream(id: u64, rx: Receiver<Vec<u8>>, duration: Duration, w: &mut dyn Write) -> io::Result<()> {
    let end = Instant::now() + duration;
    let mut result = Ok(());
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(chunk) => {
                if let Err(e) = w.write_all(&chunk).and_then(|()| w.flush()) {
                    result = Err(e);
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The trace was stopped by someone else (the program's stop()).
            Err(RecvTimeoutError::Disconnected) => return result,
        }
    }
    match crate::heap::spawn_own("rustprof-trace-s", move || crate::trace::stop_id(id)) {
        Ok(stopper) => {
            // Ends when the stopped trace drops its writer.
            for chunk in rx {
                if result.is_ok() {
                    result = w.write_all(&chunk);
                }
            }
            if let Ok(Err(TraceError::Write(e))) = stopper.join()
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        Err(e) => {
            // No thread to stop it: the trace loses its reader, and stops.
            drop(rx);
            let _ = crate::trace::stop_id(id);
            result = result.and(Err(e));
        }
    }
    result.and_then(|()| w.flush())
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_like_go() {
        assert_eq!(super::seconds(None), 1.0);
        assert_eq!(super::seconds(Some("0.5")), 0.5);
        assert_eq!(super::seconds(Some("x")), 1.0);
        assert_eq!(super::seconds(Some("-2")), 1.0);
        assert_eq!(super::seconds(Some("inf")), 1.0);
        assert_eq!(super::seconds(Some("3")), 3.0);
    }
}
