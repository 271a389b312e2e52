//! The sample buffer between the signal handler and the collector thread:
//! preallocated slots claimed with one atomic add and one compare-and-swap, no
//! locks, no allocation. A full buffer drops the sample and counts it as lost,
//! like Go's profBuf overflow.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Deepest stack recorded: deeper ones keep the frames nearest the leaf.
pub(crate) const MAX_DEPTH: usize = 128;

const EMPTY: u32 = 0;
const WRITING: u32 = 1;
const READY: u32 = 2;

/// One recorded sample.
pub(crate) struct SampleData {
    /// Frames, leaf first: the interrupted PC, then return addresses; one
    /// more than is kept, to tell a cut stack.
    pub(crate) frames: [u64; MAX_DEPTH + 1],
    /// Number of valid frames.
    pub(crate) depth: u32,
    /// Sampling periods this sample stands for (1 + timer overruns).
    pub(crate) weight: u32,
    /// Label set of the thread when it was interrupted.
    pub(crate) labels: u32,
    /// Thread id.
    pub(crate) tid: i32,
    /// While an execution trace runs: the time on the trace's clock and the
    /// thread (0 otherwise), for [`crate::trace`].
    pub(crate) trace_ts: u64,
    pub(crate) trace_tid: i32,
    /// The thread's name (`PR_GET_NAME`, NUL-padded) with thread labels;
    /// empty otherwise.
    pub(crate) name: [u8; 16],
}

/// The buffer. Slot states live apart from the slot data so that the reader's
/// scan touches 4 bytes per slot, and a count of ready slots lets it skip the scan
/// when nothing was recorded.
pub(crate) struct Ring {
    states: Box<[AtomicU32]>,
    slots: Box<[UnsafeCell<SampleData>]>,
    head: AtomicUsize,
    ready: AtomicUsize,
    lost: AtomicU64,
}

// SAFETY: slot data is only touched by the holder of its state transition
// (EMPTY→WRITING by one writer, READY→EMPTY by the single reader).
unsafe impl Sync for Ring {}

impl Ring {
    /// A buffer of `n` slots (about 1 KiB each).
    pub(crate) fn new(n: usize) -> Ring {
        let n = n.max(1);
        let states = (0..n).map(|_| AtomicU32::new(EMPTY)).collect();
        let slots = (0..n)
            .map(|_| {
                UnsafeCell::new(SampleData {
                    frames: [0; MAX_DEPTH + 1],
                    depth: 0,
                    weight: 0,
                    labels: 0,
                    tid: 0,
                    trace_ts: 0,
                    trace_tid: 0,
                    name: [0; 16],
                })
            })
            .collect();
        Ring { states, slots, head: AtomicUsize::new(0), ready: AtomicUsize::new(0), lost: AtomicU64::new(0) }
    }

    /// Claims a free slot and lets `fill` write it; counts `weight` lost when the
    /// buffer is full. Async-signal-safe.
    #[inline]
    pub(crate) fn record(&self, weight: u32, fill: impl FnOnce(&mut SampleData)) {
        let n = self.slots.len();
        for _ in 0..4 {
            let i = self.head.fetch_add(1, Ordering::Relaxed) % n;
            let state = &self.states[i];
            if state.compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                // SAFETY: we own the slot between WRITING and READY.
                let d = unsafe { &mut *self.slots[i].get() };
                d.weight = weight;
                fill(d);
                state.store(READY, Ordering::Release);
                self.ready.fetch_add(1, Ordering::Release);
                return;
            }
        }
        self.lost.fetch_add(weight as u64, Ordering::Relaxed);
    }

    /// Hands every ready sample to `f` and frees its slot. One reader at a time.
    pub(crate) fn drain(&self, mut f: impl FnMut(&SampleData)) {
        if self.ready.load(Ordering::Acquire) == 0 {
            return;
        }
        for (state, slot) in self.states.iter().zip(self.slots.iter()) {
            if state.load(Ordering::Acquire) == READY {
                // SAFETY: a READY slot is not written until we set it EMPTY.
                f(unsafe { &*slot.get() });
                state.store(EMPTY, Ordering::Release);
                self.ready.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Samples dropped because the buffer was full.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_buffer_counts_lost_samples() {
        let r = Ring::new(4);
        for i in 0..6u64 {
            r.record(1, |d| {
                d.frames[0] = i;
                d.depth = 1;
            });
        }
        assert_eq!(r.lost(), 2);
        let mut seen = Vec::new();
        r.drain(|d| seen.push(d.frames[0]));
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        r.record(3, |d| d.depth = 0);
        let mut w = 0;
        r.drain(|d| w += d.weight);
        assert_eq!(w, 3);
    }
}
