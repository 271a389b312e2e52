//! `traces`: every sample with its labels and its stack, leaf first.

use std::io::Write;

use super::Report;
use crate::graph::{GraphBuilder, GraphOptions};
use crate::labels::views;
use crate::measurement;

const SEPARATOR: &str = "-----------+-------------------------------------------------------\n";

/// `traces`, written as it is produced (a million samples make a large text).
pub fn write_traces(out: &mut dyn Write, rpt: &mut Report) -> std::io::Result<()> {
    // Pieces of a few bytes each, gathered before they reach the output's
    // writer (which scans each write for escaped bytes): a third of the time
    // went to that scan on small slices.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let w = &mut w;
    writeln!(w, "{}", rpt.profile_labels().join("\n"))?;
    let prof = &rpt.prof;
    let builder = GraphBuilder::new(prof, GraphOptions::default());
    // Per location: the text after the value column of its first frame, and the
    // complete lines of its other frames.
    let blocks: Vec<(String, String)> = (0..prof.locations.len() as u32)
        .map(|l| {
            let infos = builder.location_infos(l);
            let n = infos.len();
            let line = |k: usize| {
                let inl = if k != n - 1 { " (inline)" } else { "" };
                format!("   {}{}\n", infos[k].printable_name(&builder.strs), inl)
            };
            let first = line(0);
            let rest: String = (1..n).map(|k| format!("{:>10}{}", "", line(k))).collect();
            (first, rest)
        })
        .collect();
    let label_lines: Vec<String> = views(prof)
        .iter()
        .map(|v| {
            let mut labels: Vec<String> =
                v.strs.iter().map(|(k, vals)| format!("{:>10}:  {}\n", k, vals.join(" "))).collect();
            labels.sort();
            let mut nums: Vec<String> = v
                .nums
                .iter()
                .map(|(k, vals, _)| {
                    let unit = rpt.opts.num_label_units.get(k).map(String::as_str).unwrap_or("");
                    let vs: Vec<String> = vals.iter().map(|&x| measurement::label(x, unit)).collect();
                    format!("{:>10}:  {}\n", k, vs.join(" "))
                })
                .collect();
            nums.sort();
            labels.concat() + &nums.concat()
        })
        .collect();
    let blank = format!("{:>10}", "");
    for i in 0..prof.samples.len() {
        let locs = prof.samples.locations(i);
        if locs.is_empty() {
            continue;
        }
        w.write_all(SEPARATOR.as_bytes())?;
        w.write_all(label_lines[prof.samples.label_set_id(i) as usize].as_bytes())?;
        let vals = prof.samples.values(i);
        let mut v = vals[rpt.opts.sample_index];
        let d = if rpt.opts.mean { vals[0] } else { 0 };
        if d != 0 {
            v /= d;
        }
        for (k, &l) in locs.iter().enumerate() {
            let (first, rest) = &blocks[l as usize];
            if k == 0 {
                write!(w, "{:>10}", rpt.format_value(v))?;
            } else {
                w.write_all(blank.as_bytes())?;
            }
            w.write_all(first.as_bytes())?;
            w.write_all(rest.as_bytes())?;
        }
    }
    w.write_all(SEPARATOR.as_bytes())?;
    w.flush()
}
