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

/// Symbolizes stacks for one collector pass (the mappings read once).
#[derive(Default)]
pub(super) struct Symbolizer {
    maps: Option<Vec<rustprof_symbolize::MapEntry>>,
}

impl Symbolizer {
    /// Forget the mappings: the next stack reads them again.
    pub(super) fn reset(&mut self) {
        self.maps = None;
    }

    /// The stack argument of `addrs`: rustprof's own frames (the capture,
    /// the lock's wait loop) dropped from the top.
    pub(super) fn format(&mut self, addrs: &[u64]) -> String {
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
