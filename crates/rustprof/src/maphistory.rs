//! The executable mappings this process has had, so that samples taken in a
//! library that was unloaded (`dlclose`) before the profile was built keep
//! that library's name and symbols instead of being charged to nothing.
//!
//! Every refresh of the unwind tables records the mappings it saw; building a
//! profile adds the recorded ones that no longer exist and that overlap nothing
//! mapped now. An address reused by a library loaded later is charged to the
//! newer one (the profile has one mapping per address).

use std::sync::Mutex;

use rustprof_symbolize::MapEntry;

/// Bound on what is remembered: the oldest entries go first.
const MAX_ENTRIES: usize = 1024;

static HISTORY: Mutex<Vec<MapEntry>> = Mutex::new(Vec::new());

fn same(a: &MapEntry, b: &MapEntry) -> bool {
    a.start == b.start && a.limit == b.limit && a.offset == b.offset && a.path == b.path
}

/// Records the executable, file-backed mappings of a `/proc/self/maps` text.
pub(crate) fn record(maps_text: &str) {
    let seen = rustprof_symbolize::parse_proc_maps(maps_text);
    let mut h = HISTORY.lock().unwrap_or_else(|e| e.into_inner());
    for m in seen.into_iter().filter(|m| m.path.starts_with('/')) {
        if let Some(i) = h.iter().position(|o| same(o, &m)) {
            // Most recent last: it wins when old entries overlap.
            let e = h.remove(i);
            h.push(e);
        } else {
            if h.len() >= MAX_ENTRIES {
                h.remove(0);
            }
            h.push(m);
        }
    }
}

/// `current` plus the recorded mappings that are gone and overlap nothing in
/// it (nor each other: the most recently seen wins).
pub(crate) fn with_unloaded(mut current: Vec<MapEntry>) -> Vec<MapEntry> {
    let h = HISTORY.lock().unwrap_or_else(|e| e.into_inner());
    let now = current.len();
    for m in h.iter().rev() {
        let overlaps = current.iter().any(|c| c.start < m.limit && m.start < c.limit);
        if !overlaps {
            current.push(m.clone());
        }
    }
    // Gone mappings last, in address order.
    current[now..].sort_by_key(|m| m.start);
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_mappings_come_back_unless_something_overlaps_them() {
        record(
            "7f0000000000-7f0000010000 r-xp 00001000 08:01 11 /usr/lib/libgone-test.so\n\
             7f0000100000-7f0000110000 r-xp 00001000 08:01 12 /usr/lib/libreused-test.so\n",
        );
        let now = rustprof_symbolize::parse_proc_maps(
            "7f0000108000-7f0000118000 r-xp 00001000 08:01 13 /usr/lib/libnew-test.so\n",
        );
        let all = with_unloaded(now);
        assert!(all.iter().any(|m| m.path == "/usr/lib/libgone-test.so"));
        assert!(!all.iter().any(|m| m.path == "/usr/lib/libreused-test.so"));
        assert_eq!(all[0].path, "/usr/lib/libnew-test.so");
    }
}
