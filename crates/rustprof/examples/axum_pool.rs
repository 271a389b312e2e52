//! An axum service whose handler waits for a connection pool (a
//! `rustprof::sync::tokio::Semaphore`) and then hands the query to a backend
//! task through a bounded channel: the block profile names the handler
//! waiting for the pool, and the task dump (`/debug/pprof/goroutine`) shows
//! the request tasks parked there.
//!
//! ```sh
//! RUSTFLAGS="--cfg tokio_unstable" cargo run -p rustprof --example axum_pool --features tokio,axum
//! # in another shell: load, then look
//! for i in $(seq 50); do curl -s localhost:8080/query >/dev/null & done
//! curl 'localhost:8080/debug/pprof/goroutine?debug=1'
//! curl 'localhost:8080/debug/pprof/block?debug=1'
//! ```
//! (Without `--cfg tokio_unstable` everything but the task dump works; the
//! `tasks` endpoint says what is missing.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use rustprof::sync::tokio::{Semaphore, mpsc, oneshot};

/// The pool: `permits` connections, and the channel to the backend.
pub struct Pool {
    permits: Semaphore,
    jobs: mpsc::Sender<oneshot::Sender<u64>>,
}

/// How long the backend takes per query.
pub const QUERY_TIME: Duration = Duration::from_millis(20);

/// A pool of `size` connections in front of a backend task that answers one
/// query at a time (spawned on the current runtime).
pub fn pool(size: usize) -> Arc<Pool> {
    let (jobs, mut rx) = mpsc::channel::<oneshot::Sender<u64>>(1);
    tokio::spawn(async move {
        let served = AtomicU64::new(0);
        while let Some(reply) = rx.recv().await {
            tokio::time::sleep(QUERY_TIME).await;
            let _ = reply.send(served.fetch_add(1, Ordering::Relaxed));
        }
    });
    Arc::new(Pool { permits: Semaphore::new(size), jobs })
}

/// The service, with rustprof's endpoints.
pub fn app(pool: Arc<Pool>) -> Router {
    Router::new().route("/query", get(query)).with_state(pool).merge(rustprof::http::axum::router())
}

async fn query(State(pool): State<Arc<Pool>>) -> String {
    handle_query(&pool).await
}

/// Takes a connection from the pool (tasks wait here under load), sends the
/// query to the backend and waits for its answer.
#[inline(never)]
pub async fn handle_query(pool: &Pool) -> String {
    let _conn = pool.permits.acquire().await.expect("the pool is never closed");
    let (tx, rx) = oneshot::channel();
    if pool.jobs.send(tx).await.is_err() {
        return "backend gone\n".to_string();
    }
    match rx.await {
        Ok(n) => format!("{n}\n"),
        Err(_) => "backend gone\n".to_string(),
    }
}

/// A multi-threaded runtime with rustprof's task hooks (spawn locations,
/// idle times, a `task` label on CPU samples).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    rustprof::tasks::hooks(&mut b).enable_all().build()
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    rustprof::sync::set_block_profile_rate(10_000); // waits of 10 µs and more, sampled below
    rustprof::sync::set_mutex_profile_fraction(10);
    let rt = runtime()?;
    rustprof::tasks::register("main", rt.handle());
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("listening on http://{addr}/query (profiles at /debug/pprof/)");
        axum::serve(listener, app(pool(4))).await
    })
}
