//! `folded`: the samples as collapsed stacks (Brendan Gregg's folded format,
//! what `flamegraph.pl` and `inferno-flamegraph` read): one line per distinct
//! stack, frames root first separated by `;`, a space, then the stack's value as
//! an integer.
//!
//! The frames are those `traces` prints (inlined frames are frames of their
//! own, names at the report's granularity), after the same filters, in the
//! unit of the sample value chosen by `-sample_index` (or of `-unit` when it
//! names a unit). Frame names are escaped so that a line always splits back
//! into the same frames: `%` as `%25`, `;` as `%3B`, line feed as `%0A`,
//! carriage return as `%0D`. Lines are sorted by stack (bytewise), identical
//! stacks merged, stacks whose value rounds to 0 left out.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use super::Report;
use crate::graph::{GraphBuilder, GraphOptions};
use crate::measurement;

/// A frame name with the characters that would break a folded line escaped.
pub fn escape_frame(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['%', ';', '\n', '\r']) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut s = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '%' => s.push_str("%25"),
            ';' => s.push_str("%3B"),
            '\n' => s.push_str("%0A"),
            '\r' => s.push_str("%0D"),
            c => s.push(c),
        }
    }
    std::borrow::Cow::Owned(s)
}

/// How a sum of sample values becomes the integer of a line: `divide_by`
/// applied, then converted to `-unit` when it names a unit (`minimum` and
/// `auto`, the defaults, keep the sample type's unit), rounded to the nearest.
fn to_integer(rpt: &Report, v: i128) -> i64 {
    let o = &rpt.opts;
    let mut x = v as f64;
    if o.ratio > 0.0 && o.ratio != 1.0 {
        x *= o.ratio;
    }
    if o.output_unit != "minimum" && o.output_unit != "auto" && !o.sample_unit.is_empty() {
        // The factor between the two units (scale's conversion of one unit).
        let (factor, _) = measurement::scale(1_000_000_000, &o.sample_unit, &o.output_unit);
        x *= factor / 1e9;
    }
    let r = x.round();
    if r >= i64::MAX as f64 {
        i64::MAX
    } else if r <= i64::MIN as f64 {
        i64::MIN
    } else {
        r as i64
    }
}

/// Bytewise order of two stacks given as frame ids (`frames` their texts),
/// as their joined lines would sort, without joining them: frames contain no
/// `;`, so the first differing frame decides, and when one of the two frames
/// is a prefix of the other, what follows it (`;`, or the end of the line).
fn cmp_stacks(a: &[u32], b: &[u32], frames: &[String]) -> Ordering {
    let Some(k) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    let (fa, fb) = (frames[a[k] as usize].as_bytes(), frames[b[k] as usize].as_bytes());
    let n = fa.len().min(fb.len());
    match fa[..n].cmp(&fb[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    // One frame is a prefix of the other: the line of the shorter frame goes on
    // with `;` (or ends), the other's with its next byte.
    let next = |s: &[u32], f: &[u8], at: usize| {
        if at < f.len() {
            Some(f[at])
        } else if k + 1 < s.len() {
            Some(b';')
        } else {
            None
        }
    };
    next(a, fa, n).cmp(&next(b, fb, n))
}

/// Writes the folded stacks of the report's profile.
pub fn write_folded(w: &mut dyn Write, rpt: &Report) -> std::io::Result<()> {
    let prof = &rpt.prof;
    let builder = GraphBuilder::new(prof, GraphOptions::default());
    // Every distinct frame text once; per location its frame ids, root first
    // (the outermost inlined caller first).
    let mut frames: Vec<String> = Vec::new();
    let mut frame_ids: HashMap<String, u32> = HashMap::new();
    let loc_frames: Vec<Vec<u32>> = (0..prof.locations.len() as u32)
        .map(|l| {
            builder
                .location_infos(l)
                .iter()
                .rev()
                .map(|i| {
                    let name = escape_frame(&i.printable_name(&builder.strs)).into_owned();
                    *frame_ids.entry(name).or_insert_with_key(|t| {
                        frames.push(t.clone());
                        (frames.len() - 1) as u32
                    })
                })
                .collect()
        })
        .collect();
    // Values per distinct location sequence first (the common case: fewer
    // stacks than samples), then per distinct frame sequence, which is per
    // distinct line (no frame is empty or holds a `;`).
    let mut by_locs: HashMap<&[u32], i128> = HashMap::new();
    let (si, mean) = (rpt.opts.sample_index, rpt.opts.mean);
    for i in 0..prof.samples.len() {
        let locs = prof.samples.locations(i);
        if locs.is_empty() {
            continue;
        }
        let vals = prof.samples.values(i);
        let mut v = vals[si];
        if mean && vals[0] != 0 {
            v /= vals[0];
        }
        *by_locs.entry(locs).or_default() += i128::from(v);
    }
    let mut by_frames: HashMap<Vec<u32>, i128> = HashMap::with_capacity(by_locs.len());
    for (locs, v) in by_locs {
        let key: Vec<u32> = locs.iter().rev().flat_map(|&l| loc_frames[l as usize].iter().copied()).collect();
        *by_frames.entry(key).or_default() += v;
    }
    let mut stacks: Vec<(Vec<u32>, i128)> = by_frames.into_iter().collect();
    stacks.sort_unstable_by(|a, b| cmp_stacks(&a.0, &b.0, &frames));
    let mut line = String::new();
    for (key, v) in stacks {
        let n = to_integer(rpt, v);
        if n == 0 {
            continue;
        }
        line.clear();
        for (k, &f) in key.iter().enumerate() {
            if k > 0 {
                line.push(';');
            }
            line.push_str(&frames[f as usize]);
        }
        let _ = writeln!(line, " {n}");
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{cmp_stacks, escape_frame};

    /// The order of joined lines, for stacks of these frames.
    #[test]
    fn stacks_sort_as_their_lines() {
        let frames: Vec<String> =
            ["a", "ab", "a-", "a~", "b", "", "x y"].iter().map(|s| s.to_string()).collect();
        let mut stacks: Vec<Vec<u32>> = Vec::new();
        for a in 0..frames.len() as u32 {
            stacks.push(vec![a]);
            for b in 0..frames.len() as u32 {
                stacks.push(vec![a, b]);
                stacks.push(vec![a, b, 0]);
            }
        }
        // (An empty frame never occurs; it only makes lines that tie.)
        stacks.retain(|s| !s.contains(&5));
        let line =
            |s: &Vec<u32>| s.iter().map(|&f| frames[f as usize].as_str()).collect::<Vec<_>>().join(";");
        let mut by_cmp = stacks.clone();
        by_cmp.sort_by(|a, b| cmp_stacks(a, b, &frames));
        let mut by_line = stacks;
        by_line.sort_by_key(line);
        assert_eq!(by_cmp.iter().map(line).collect::<Vec<_>>(), by_line.iter().map(line).collect::<Vec<_>>());
    }

    #[test]
    fn escapes_only_what_breaks_a_line() {
        assert_eq!(escape_frame("main.f"), "main.f");
        assert_eq!(escape_frame("<[u8; 4] as Debug>::fmt"), "<[u8%3B 4] as Debug>::fmt");
        assert_eq!(escape_frame("a%3Bb"), "a%253Bb");
        assert_eq!(escape_frame("x\ny\rz"), "x%0Ay%0Dz");
        assert_eq!(escape_frame("with space 12"), "with space 12");
    }
}
