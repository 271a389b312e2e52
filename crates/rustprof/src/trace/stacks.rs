//! The waiting stack of a `rustprof::sync` wait in a trace
//! ([`vocab::ARG_STACK`] of its `lock wait` / `condvar wait` slice): captured
//! by the waiting thread with the profilers' unwinder (outside any signal
//! handler, before it sleeps), symbolized by the collector.

use rustprof_trace::vocab;

/// Frames kept per stack.
const DEPTH: usize = 48;

/// The calling thread's stack, return addresses innermost first (without
/// this function's frame).
#[inline(never)]
pub(super) fn capture() -> Option<Box<[u64]>> {
    let mut buf = [0u64; DEPTH];
    let n = crate::stack::capture(0, &mut buf, true);
    (n > 0).then(|| buf[..n].into())
}

/// Stacks kept symbolized per session, at most; past it the cache starts
/// afresh.
const CACHED: usize = 1024;

/// Symbolizes stacks for the collector's passes (the mappings read once per
/// pass). A stack seen before in the session is formatted once: waits on a
/// lock repeat a few stacks, and each wait's lookups and formatting were
/// the largest part of a pass in a profile (the binary itself is opened once
/// per process, by the shared symbol cache).
#[derive(Default)]
pub(super) struct Symbolizer {
    maps: Option<Vec<rustprof_symbolize::MapEntry>>,
    /// The mappings `formatted` was made against: when a pass reads others
    /// (a library loaded or unloaded), the cache is dropped.
    formatted_against: Vec<rustprof_symbolize::MapEntry>,
    formatted: hashbrown::HashMap<Box<[u64]>, String>,
}

impl Symbolizer {
    /// Forget the mappings: the next stack reads them again.
    pub(super) fn reset(&mut self) {
        self.maps = None;
    }

    /// The stack argument of `addrs`: rustprof's own frames (the capture,
    /// the lock's wait loop) dropped from the top.
    pub(super) fn format(&mut self, addrs: &[u64]) -> String {
        if self.maps.is_none() {
            let maps = rustprof_symbolize::read_proc_maps(None).unwrap_or_default();
            if maps != self.formatted_against {
                self.formatted.clear();
                self.formatted_against = maps.clone();
            }
            self.maps = Some(maps);
        }
        if let Some(s) = self.formatted.get(addrs) {
            return s.clone();
        }
        let s = self.symbolize(addrs);
        if self.formatted.len() >= CACHED {
            self.formatted.clear();
        }
        self.formatted.insert(addrs.into(), s.clone());
        s
    }

    fn symbolize(&mut self, addrs: &[u64]) -> String {
        let maps =
            self.maps.get_or_insert_with(|| rustprof_symbolize::read_proc_maps(None).unwrap_or_default());
        // Return addresses: the call instruction is the byte before.
        let pcs: Vec<u64> = addrs.iter().map(|a| a.saturating_sub(1)).collect();
        let found = crate::symbols::symbolize(maps, &pcs);
        let mut frames = Vec::new();
        for (a, f) in addrs.iter().zip(found) {
            if f.frames.is_empty() {
                frames.push(vocab::Frame { function: format!("{a:#x}"), file: String::new(), line: 0 });
            }
            for fr in f.frames {
                frames.push(vocab::Frame { function: fr.function, file: fr.file, line: fr.line });
            }
        }
        let own = |f: &vocab::Frame| {
            f.function.starts_with("rustprof::sync::")
                || f.function.starts_with("rustprof::trace::")
                || f.function.starts_with("rustprof::stack::")
                || f.function.starts_with("<rustprof::sync::")
        };
        let skip = frames.iter().take_while(|f| own(f)).count();
        let frames = if skip < frames.len() { &frames[skip..] } else { &frames[..] };
        vocab::format_stack(frames)
    }
}
