//! Go's `debug=1` text forms of the heap, block and mutex profiles, written from
//! the profiles themselves (the `#` frame lines are comments to tools; the
//! `@` lines carry the return addresses that pprof's legacy parser reads).

use std::fmt::Write;

use rustprof_profile::Profile;
use rustprof_profile::tabwriter::TabWriter;

/// The `@ 0x.. 0x..` addresses and `#` frame lines of a sample's stack.
fn stack_lines(p: &Profile, locations: &[u32], out: &mut String) {
    out.push_str(" @");
    for &l in locations {
        // Locations hold the call instruction (return address − 1).
        let _ = write!(out, " {:#x}", p.locations[l as usize].address + 1);
    }
    out.push('\n');
    for &l in locations {
        let addr = p.locations[l as usize].address;
        for line in p.location_lines(l) {
            let f = &p.functions[line.function as usize];
            let _ = writeln!(out, "#\t{:#x}\t{}\t{}:{}", addr, p.str(f.name), p.str(f.filename), line.line);
        }
    }
}

fn tabbed(text: &str) -> String {
    let mut w = TabWriter::new(1, 8, 1, '\t', false);
    w.write(text);
    w.finish()
}

/// `--- contention:` (block) or `--- mutex:` text: `<delay ns> <count> @ ...`
/// per stack, largest delay first, with `cycles/second=1000000000` since the
/// delays are nanoseconds. The mutex values are already scaled by the fraction
/// they were sampled with, so no `sampling period` line is needed.
pub(crate) fn contention(kind: &str, p: &Profile) -> String {
    let mut rows: Vec<(i64, i64, Vec<u32>)> =
        p.samples.iter().map(|s| (s.values[1], s.values[0], s.locations.to_vec())).collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let mut t = format!("--- {kind}:\ncycles/second=1000000000\n");
    for (delay, count, locs) in rows {
        let _ = write!(t, "{delay} {count}");
        stack_lines(p, &locs, &mut t);
        t.push('\n');
    }
    tabbed(&t)
}

/// Go's `heap profile:` text: raw (unscaled) counts per (stack, size), sorted
/// by in-use bytes, then the process's allocation counters.
pub(crate) fn heap(p: &Profile, stats: crate::heap::AllocStats) -> String {
    let rate = p.period.max(1);
    let bytes_of = |s: &rustprof_profile::SampleRef<'_>| {
        s.labels.iter().find(|l| p.str(l.key) == "bytes").map_or(0, |l| l.num)
    };
    // Undo Go's scaling: raw = scaled × (1 − e^(−size/rate)), rounded.
    let raw = |v: i64, size: i64| -> i64 {
        if rate <= 1 || size == 0 {
            return v;
        }
        (v as f64 * (1.0 - (-(size as f64) / rate as f64).exp())).round() as i64
    };
    let mut rows: Vec<(i64, i64, i64, i64, Vec<u32>)> = p
        .samples
        .iter()
        .map(|s| {
            let size = bytes_of(&s);
            let (ao, io) = (raw(s.values[0], size), raw(s.values[2], size));
            (io, io * size, ao, ao * size, s.locations.to_vec())
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.3.cmp(&a.3)));
    let (mut t_io, mut t_ib, mut t_ao, mut t_ab) = (0, 0, 0, 0);
    for r in &rows {
        t_io += r.0;
        t_ib += r.1;
        t_ao += r.2;
        t_ab += r.3;
    }
    if t_ib == t_ab {
        // Go ≥ 1.22 does this so that pprof does not read it as 2-column.
        t_ab += 1;
    }
    let mut t = format!("heap profile: {t_io}: {t_ib} [{t_ao}: {t_ab}] @ heap/{}\n", 2 * rate);
    for (io, ib, ao, ab, locs) in rows {
        let _ = write!(t, "{io}: {ib} [{ao}: {ab}]");
        stack_lines(p, &locs, &mut t);
        t.push('\n');
    }
    let _ = writeln!(t, "\n# rustprof heap counters (exact, every allocation)");
    let _ = writeln!(t, "# Alloc = {}", stats.live_bytes());
    let _ = writeln!(t, "# TotalAlloc = {}", stats.alloc_bytes);
    let _ = writeln!(t, "# Mallocs = {}", stats.allocs);
    let _ = writeln!(t, "# Frees = {}", stats.frees);
    let _ = writeln!(t, "# HeapAlloc = {}", stats.live_bytes());
    let _ = writeln!(t, "# HeapObjects = {}", stats.live_objects());
    let max_rss_kib = unsafe_rusage().ru_maxrss.max(0);
    let _ = writeln!(t, "# MaxRSS = {}", max_rss_kib * 1024);
    tabbed(&t)
}

fn unsafe_rusage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    }
}
