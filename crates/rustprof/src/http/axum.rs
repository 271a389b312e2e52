//! The `/debug/pprof` endpoints as an axum [`Router`], for services that already
//! run axum: `app.merge(rustprof::http::axum::router())`.
//!
//! The handlers are the std server's; each runs on tokio's blocking pool, since
//! a CPU profile holds its request for `seconds`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::any;

use super::Options;
use super::handlers::{self, Ctx, Request};

/// A router serving `/debug/pprof/...` with the default [`Options`] (its address
/// and remote settings do not apply: axum's listener decides who connects).
pub fn router() -> Router {
    router_with(&Options::new("127.0.0.1:0"))
}

/// A router with these options (token, `seconds` limit, CPU rate).
pub fn router_with(options: &Options) -> Router {
    let ctx = Arc::new(Ctx::new(options));
    Router::new()
        .route("/debug/pprof", any(handle))
        .route("/debug/pprof/", any(handle))
        .route("/debug/pprof/{*rest}", any(handle))
        .with_state(ctx)
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b.to_vec(),
        Err(_) => return convert(handlers::error(413, "request body too large (limit 1048576 bytes)")),
    };
    let Some(path) = super::request::percent_decode_with(parts.uri.path(), false) else {
        return convert(handlers::error(400, "malformed request: bad percent-encoding in path"));
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
    };
    let head = req.method == "HEAD";
    let resp = tokio::task::spawn_blocking(move || handlers::handle(&req, &ctx, &|| false)).await;
    match resp {
        Ok(mut r) => {
            if head {
                r.body.clear();
            }
            convert(r)
        }
        Err(e) => convert(handlers::error(500, &format!("handler failed: {e}"))),
    }
}

fn convert(r: handlers::Response) -> axum::response::Response {
    let mut out = axum::response::Response::new(Body::from(r.body));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers_mut().append(k, v);
        }
    }
    out
}
