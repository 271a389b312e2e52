//! Go's `debug=1` text forms of the heap, block and mutex profiles, written from
//! the profiles themselves (the `#` frame lines are comments to tools; the
//! `@` lines carry the return addresses that pprof's legacy parser reads).

use std::fmt::Write as _;
use std::io::{self, Write};

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

/// Writes the text record by record: each record's `#` lines are one block
/// of aligned columns (the lines around them have no tabs, which ends a
/// block), so aligning each record alone gives the text aligned whole, and
/// only one record is in memory at a time.
struct Records<'a> {
    out: &'a mut dyn Write,
    record: String,
}

impl Records<'_> {
    fn flush_record(&mut self) -> io::Result<()> {
        let text =
            if self.record.contains('\t') { tabbed(&self.record) } else { std::mem::take(&mut self.record) };
        self.record.clear();
        self.out.write_all(text.as_bytes())
    }
}

/// `--- contention:` (block) or `--- mutex:` text: `<delay ns> <count> @ ...`
/// per stack, largest delay first, with `cycles/second=1000000000` since the
/// delays are nanoseconds. The mutex values are already scaled by the fraction
/// they were sampled with, so no `sampling period` line is needed.
pub(crate) fn contention(kind: &str, p: &Profile, out: &mut dyn Write) -> io::Result<()> {
    let mut rows: Vec<(i64, i64, usize)> =
        p.samples.iter().enumerate().map(|(i, s)| (s.values[1], s.values[0], i)).collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let mut w = Records { out, record: format!("--- {kind}:\ncycles/second=1000000000\n") };
    for (delay, count, i) in rows {
        let _ = write!(w.record, "{delay} {count}");
        stack_lines(p, p.samples.locations(i), &mut w.record);
        w.record.push('\n');
        w.flush_record()?;
    }
    w.flush_record()
}

/// Go's `heap profile:` text: raw (unscaled) counts per (stack, size), sorted
/// by in-use bytes, then the process's allocation counters.
pub(crate) fn heap(p: &Profile, stats: crate::heap::AllocStats, out: &mut dyn Write) -> io::Result<()> {
    let rate = p.period.max(1);
    let bytes_of = |s: &rustprof_profile::SampleRef<'_>| {
        s.labels.iter().find(|l| p.str(l.key) == "bytes").map_or(0, |l| l.num)
    };
    // Undo Go's scaling: raw = scaled × (1 − e^(−size/rate)), rounded, with
    // the average size of the objects counted.
    let raw = |v: i64, size: f64| -> i64 {
        if rate <= 1 || size <= 0.0 {
            return v;
        }
        (v as f64 * (1.0 - (-size / rate as f64).exp())).round() as i64
    };
    let mut rows: Vec<(i64, i64, i64, i64, usize)> = p
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let v = s.values;
            let avg = |n: i64, b: i64| if n > 0 { b as f64 / n as f64 } else { bytes_of(&s) as f64 };
            let (sa, si) = (avg(v[0], v[1]), avg(v[2], v[3]));
            (raw(v[2], si), raw(v[3], si), raw(v[0], sa), raw(v[1], sa), i)
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
    let mut w = Records {
        out,
        record: format!("heap profile: {t_io}: {t_ib} [{t_ao}: {t_ab}] @ heap/{}\n", 2 * rate),
    };
    for (io, ib, ao, ab, i) in rows {
        let _ = write!(w.record, "{io}: {ib} [{ao}: {ab}]");
        stack_lines(p, p.samples.locations(i), &mut w.record);
        w.record.push('\n');
        w.flush_record()?;
    }
    let t = &mut w.record;
    let _ = writeln!(t, "\n# rustprof heap counters (exact, every allocation of the program)");
    let _ = writeln!(t, "# Alloc = {}", stats.live_bytes());
    let _ = writeln!(t, "# TotalAlloc = {}", stats.alloc_bytes);
    let _ = writeln!(t, "# Mallocs = {}", stats.allocs);
    let _ = writeln!(t, "# Frees = {}", stats.frees);
    let _ = writeln!(t, "# HeapAlloc = {}", stats.live_bytes());
    let _ = writeln!(t, "# HeapObjects = {}", stats.live_objects());
    let max_rss_kib = unsafe_rusage().ru_maxrss.max(0);
    let _ = writeln!(t, "# MaxRSS = {}", max_rss_kib * 1024);
    w.flush_record()
}

fn unsafe_rusage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustprof_profile::{Line, ProfileBuilder};

    /// A block profile whose frames have names and files of many lengths.
    fn sample_profile() -> Profile {
        let mut b = ProfileBuilder::new(&[("contentions", "count"), ("delay", "nanoseconds")]);
        let mut locs = Vec::new();
        for i in 0..12u64 {
            let f = b.add_function(
                &"f".repeat(1 + (i as usize * 7) % 30),
                "",
                &format!("/src/{}.rs", "x".repeat(i as usize)),
                0,
            );
            let l = b.add_location(
                None,
                0x1000 + i * 0x10,
                &[Line { function: f, line: i as i64 * 37, column: 0 }],
                false,
            );
            locs.push(l);
        }
        for i in 0..6 {
            b.add_sample(&locs[i..i + 1 + i % 5], &[i as i64 + 1, 1000 * (i as i64 + 1)], &[]);
        }
        b.build()
    }

    #[test]
    fn streamed_text_is_the_whole_text_aligned_at_once() {
        let p = sample_profile();
        let mut streamed = Vec::new();
        contention("contention", &p, &mut streamed).unwrap();
        // The same text written in one piece and aligned as one.
        let mut whole = String::from("--- contention:\ncycles/second=1000000000\n");
        let mut rows: Vec<_> =
            p.samples.iter().enumerate().map(|(i, s)| (s.values[1], s.values[0], i)).collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        for (d, c, i) in rows {
            let _ = write!(whole, "{d} {c}");
            stack_lines(&p, p.samples.locations(i), &mut whole);
            whole.push('\n');
        }
        assert_eq!(String::from_utf8(streamed).unwrap(), tabbed(&whole));
    }
}
