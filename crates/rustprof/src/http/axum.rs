//! The `/debug/pprof` endpoints as an axum [`Router`], for services that already
//! run axum: `app.merge(rustprof::http::axum::router())`.
//!
//! The handlers are the std server's; each runs on tokio's blocking pool, since
//! a CPU profile holds its request for `seconds`. Bodies are streamed as the
//! std server streams them (in 64 KiB chunks through a channel of four), and a
//! request whose client left (axum dropped its future) stops.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::any;
use tokio::sync::mpsc;

use super::Options;
use super::handlers::{self, Ctx, Request};
use crate::heap;

/// A router serving `/debug/pprof/...` with the default [`Options`] (its address
/// and remote settings do not apply: axum's listener decides who connects).
pub fn router() -> Router {
    router_with(&Options::new("127.0.0.1:0"))
}

/// A router with these options (token, `seconds` limit, CPU rate, profile
/// limits).
pub fn router_with(options: &Options) -> Router {
    let ctx = Arc::new(heap::own(|| Ctx::new(options)));
    Router::new()
        .route("/debug/pprof", any(handle))
        .route("/debug/pprof/", any(handle))
        .route("/debug/pprof/{*rest}", any(handle))
        .with_state(ctx)
}

/// Sets its flag when dropped: axum drops the handler's future when the
/// client goes.
struct Gone(Arc<AtomicBool>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the blocking task hands back: status, headers, and the body (bytes,
/// or the receiving end of its chunks). All of it the program's memory.
type Parts = (u16, Vec<(String, String)>, Result<Vec<u8>, mpsc::Receiver<Vec<u8>>>);

async fn handle(State(ctx): State<Arc<Ctx>>, req: axum::extract::Request) -> axum::response::Response {
    // Task dumps list the runtime serving the endpoints, unless the program
    // registered its runtimes itself.
    #[cfg(feature = "tokio")]
    crate::tasks::registry::register_default("axum");
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b.to_vec(),
        Err(_) => return error(413, "request body too large (limit 1048576 bytes)"),
    };
    let Some(path) = super::request::percent_decode_with(parts.uri.path(), false) else {
        return error(400, "malformed request: bad percent-encoding in path");
    };
    let req = Request {
        method: parts.method.as_str().to_string(),
        path,
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            })
            .collect(),
        body,
        http10: false,
    };
    let head = req.method == "HEAD";
    let flag = Arc::new(AtomicBool::new(false));
    let _gone = Gone(flag.clone());
    let parts = tokio::task::spawn_blocking(move || respond(&req, &ctx, flag, head)).await;
    match parts {
        Ok((status, headers, body)) => {
            let body = match body {
                Ok(b) => Body::from(b),
                Err(rx) => Body::from_stream(Chunks(rx)),
            };
            let mut out = axum::response::Response::new(body);
            *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                    out.headers_mut().append(k, v);
                }
            }
            out
        }
        Err(e) => error(500, &format!("handler failed: {e}")),
    }
}

/// Runs the handler (rustprof's own work) and hands its response over.
fn respond(req: &Request, ctx: &Ctx, flag: Arc<AtomicBool>, head: bool) -> Parts {
    let _inside = heap::Own::enter();
    let gone = {
        let flag = flag.clone();
        move || flag.load(Ordering::Relaxed)
    };
    let r = handlers::handle(req, ctx, &gone);
    let headers = heap::outside(|| r.headers.clone());
    let body = match r.body {
        _ if head => Ok(heap::outside(Vec::new)),
        handlers::Body::Bytes(b) => Ok(heap::outside(|| b.clone())),
        handlers::Body::Stream(write) => {
            let (tx, rx) = heap::outside(|| mpsc::channel(4));
            // The body is written on the blocking pool as the client takes it
            // (the task is tokio's: the program's memory).
            let task = move || {
                let _inside = heap::Own::enter();
                let mut w = io::BufWriter::with_capacity(64 * 1024, Sender(tx));
                if write(&mut w).is_ok() {
                    let _ = w.flush();
                }
            };
            heap::outside(move || drop(tokio::task::spawn_blocking(task)));
            Err(rx)
        }
    };
    (r.status, headers, body)
}

/// Sends what it is given as chunks (allocated as the program's: the framework
/// frees them).
struct Sender(mpsc::Sender<Vec<u8>>);

impl Write for Sender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = heap::outside(|| buf.to_vec());
        self.0.blocking_send(chunk).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The receiving end as a body stream.
struct Chunks(mpsc::Receiver<Vec<u8>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Vec<u8>, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

fn error(status: u16, msg: &str) -> axum::response::Response {
    let r = heap::own(|| handlers::error(status, msg));
    let mut out = axum::response::Response::new(Body::from(format!("{msg}\n")));
    *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            out.headers_mut().append(k, v);
        }
    }
    heap::own(move || drop(r));
    out
}
