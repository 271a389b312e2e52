//! The README's latency example: what its timeline must show.

#![allow(clippy::unwrap_used)]

#[path = "../examples/trace_latency.rs"]
mod example;

#[test]
fn the_request_splits_into_running_lock_wait_and_waiting_to_be_polled() {
    let bytes = example::run().unwrap();
    let t = rustprof_trace::decode(&bytes).unwrap();
    let s = example::split(&t, "request").expect("the request's task track");
    // Woken by the hog, which then keeps the only worker for 25 ms.
    assert!(s.waiting_to_be_polled >= 25_000_000, "{s:?}");
    // The background job holds the lock 30 ms from just before the request takes it.
    assert!(s.lock_wait >= 15_000_000, "{s:?}");
    // 20 ms of computing: on the CPU or preempted from it.
    assert!(s.running > 0 && s.running + s.preempted >= 20_000_000, "{s:?}");
    assert!(s.total >= s.running + s.preempted + s.lock_wait + s.waiting_to_be_polled, "{s:?}");
    assert_eq!(t.dropped_events(), 0);
}
