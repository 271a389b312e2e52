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

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

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

/// The folded stacks of the report's profile.
pub fn print_folded(w: &mut String, rpt: &Report) {
    let prof = &rpt.prof;
    let builder = GraphBuilder::new(prof, GraphOptions::default());
    // Per location: its frames root first (the outermost inlined caller first).
    let frames: Vec<String> = (0..prof.locations.len() as u32)
        .map(|l| {
            let infos = builder.location_infos(l);
            let names: Vec<String> = infos
                .iter()
                .rev()
                .map(|i| escape_frame(&i.printable_name(&builder.strs)).into_owned())
                .collect();
            names.join(";")
        })
        .collect();
    // Values per distinct location sequence first (the common case: few
    // distinct stacks, many samples), then per distinct text.
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
    let mut by_text: BTreeMap<String, i128> = BTreeMap::new();
    for (locs, v) in by_locs {
        let mut text = String::new();
        for &l in locs.iter().rev() {
            if !text.is_empty() {
                text.push(';');
            }
            text.push_str(&frames[l as usize]);
        }
        *by_text.entry(text).or_default() += v;
    }
    for (text, v) in by_text {
        let n = to_integer(rpt, v);
        if n != 0 {
            let _ = writeln!(w, "{text} {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_frame;

    #[test]
    fn escapes_only_what_breaks_a_line() {
        assert_eq!(escape_frame("main.f"), "main.f");
        assert_eq!(escape_frame("<[u8; 4] as Debug>::fmt"), "<[u8%3B 4] as Debug>::fmt");
        assert_eq!(escape_frame("a%3Bb"), "a%253Bb");
        assert_eq!(escape_frame("x\ny\rz"), "x%0Ay%0Dz");
        assert_eq!(escape_frame("with space 12"), "with space 12");
    }
}
