//! The `tracing` layer with a real subscriber: spans are regions per enter
//! (an async span's polls, with its waits as gaps), events are logs, fields
//! are arguments.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustprof::trace;
use rustprof_trace::{ArgValue, EventKind, TrackKind, vocab};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Pending on its first poll, ready on the second.
struct Twice(bool);
impl Future for Twice {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

fn arg<'a>(e: &'a rustprof_trace::Event, name: &str) -> Option<&'a ArgValue> {
    e.args.iter().find(|a| a.name == name).map(|a| &a.value)
}

#[test]
fn spans_are_regions_per_enter_and_events_are_logs() {
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let subscriber = tracing_subscriber::registry().with(trace::TracingLayer::new());
    let tid = tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("handle", request = 7u64, path = "/login");
        let _g = outer.enter();
        tracing::info!(user = "ann", attempts = 2i64, "logged in");
        // An async span: entered for each poll.
        let mut fut = Box::pin(Twice(false).instrument(tracing::info_span!("query", table = "users")));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(20));
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        std::thread::current().name().map(str::to_owned)
    });
    trace::stop().unwrap();

    let t = rustprof_trace::decode(&out.0.lock().unwrap()).unwrap();
    let me = t
        .tracks
        .iter()
        .find(|tr| matches!(tr.kind, TrackKind::Thread { .. }) && Some(&tr.name) == tid.as_ref())
        .unwrap()
        .uuid;
    let ev: Vec<_> = t.events.iter().filter(|e| e.track == me).collect();
    let handle: Vec<_> = ev.iter().filter(|e| e.name == "handle").collect();
    assert_eq!(handle.len(), 1);
    assert_eq!(handle[0].kind, EventKind::SliceBegin);
    assert_eq!(handle[0].category, vocab::REGION);
    assert_eq!(arg(handle[0], "request"), Some(&ArgValue::Uint(7)));
    assert_eq!(arg(handle[0], "path"), Some(&ArgValue::Str("/login".into())));

    let log = ev.iter().find(|e| e.kind == EventKind::Instant).unwrap();
    assert_eq!(log.name, "logged in");
    assert_eq!(log.category, module_path!());
    assert_eq!(arg(log, "user"), Some(&ArgValue::Str("ann".into())));
    assert_eq!(arg(log, "attempts"), Some(&ArgValue::Int(2)));
    assert_eq!(arg(log, "level"), Some(&ArgValue::Str("INFO".into())));

    // Two polls, two regions, a gap of the wait between them; all nested in "handle".
    let mut open = Vec::new();
    let mut query = Vec::new();
    for e in &ev {
        match e.kind {
            EventKind::SliceBegin => open.push((e.ts, e.name.clone(), open.len())),
            EventKind::SliceEnd => {
                let (b, n, depth) = open.pop().unwrap();
                if n == "query" {
                    assert_eq!(depth, 1, "query inside handle");
                    query.push((b, e.ts));
                }
            }
            _ => {}
        }
    }
    assert!(open.is_empty());
    // (tracing's Instrumented also enters the span to drop the future: a third.)
    assert!(query.len() >= 2, "{query:?}");
    assert!(query[1].0 - query[0].1 >= 20_000_000, "{query:?}");
    let q = ev.iter().find(|e| e.name == "query").unwrap();
    assert_eq!(arg(q, "table"), Some(&ArgValue::Str("users".into())));
}
