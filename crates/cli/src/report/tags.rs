//! `tags`: for each label key, the total and the share of each value.

use std::fmt::Write as _;

use super::Report;
use crate::labels::views;
use crate::measurement;
use rustprof_profile::tabwriter::TabWriter;

struct Tag {
    name: String,
    flat: i64,
}

fn sort_tags(tags: &mut [Tag]) {
    tags.sort_by(|a, b| b.flat.abs().cmp(&a.flat.abs()).then_with(|| a.name.cmp(&b.name)));
}

/// `tags`.
pub fn print_tags(w: &mut String, rpt: &mut Report) {
    let p = &rpt.prof;
    let o = &rpt.opts;
    let label_views = views(p);
    // key -> value -> weight, in first-seen order.
    let mut tag_map: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    let mut add = |key: &str, val: String, v: i64| {
        let i = match tag_map.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                tag_map.push((key.to_string(), Vec::new()));
                tag_map.len() - 1
            }
        };
        let m = &mut tag_map[i].1;
        match m.iter_mut().find(|(n, _)| *n == val) {
            Some((_, x)) => *x += v,
            None => m.push((val, v)),
        }
    };
    // Aggregate values per label set first.
    let mut per_set = vec![0i64; label_views.len()];
    let mut used = vec![false; label_views.len()];
    for i in 0..p.samples.len() {
        let id = p.samples.label_set_id(i) as usize;
        per_set[id] += p.samples.values(i)[o.sample_index];
        used[id] = true;
    }
    for (id, v) in label_views.iter().enumerate() {
        if !used[id] {
            continue;
        }
        let value = per_set[id];
        for (key, vals) in &v.strs {
            for val in vals {
                add(key, val.clone(), value);
            }
        }
        for (key, nums, _) in &v.nums {
            let unit = o.num_label_units.get(key).map(String::as_str).unwrap_or("");
            for &n in nums {
                add(key, measurement::scaled_label(n, unit, &o.output_unit), value);
            }
        }
    }
    let mut keys: Vec<Tag> = tag_map.iter().map(|(k, _)| Tag { name: k.clone(), flat: 0 }).collect();
    sort_tags(&mut keys);
    let mut tw = TabWriter::new(0, 0, 1, ' ', true);
    for key in keys {
        let vals = &tag_map.iter().find(|(k, _)| *k == key.name).map(|(_, v)| v).cloned().unwrap_or_default();
        let total: i64 = vals.iter().map(|(_, c)| *c).sum();
        let mut tags: Vec<Tag> = vals.iter().map(|(n, c)| Tag { name: n.clone(), flat: *c }).collect();
        let mut s = String::new();
        if crate::gofmt::compat_go119() {
            print_tag_go119(&mut s, &key.name, total, tags, o);
            s.push('\n');
            tw.write(&s);
            continue;
        }
        // Go 1.27's pprof: each key's total and every value as a share of the
        // report's total, values formatted as in the other reports.
        let _ = writeln!(
            s,
            "{}:\t Total {} of {} ({})",
            key.name,
            rpt.format_value(total),
            rpt.format_value(rpt.total),
            measurement::percentage(total, rpt.total)
        );
        sort_tags(&mut tags);
        for t in tags {
            let _ = writeln!(
                s,
                " \t{} ({}):\t {}",
                rpt.format_value(t.flat),
                measurement::percentage(t.flat, rpt.total),
                t.name
            );
        }
        s.push('\n');
        tw.write(&s);
    }
    w.push_str(&tw.finish());
}

/// Go 1.19.8's layout: values scaled with one decimal, shares of the key's total.
fn print_tag_go119(s: &mut String, key: &str, total: i64, mut tags: Vec<Tag>, o: &super::Options) {
    let (f, u) = measurement::scale(total, &o.sample_unit, &o.output_unit);
    let _ = writeln!(s, "{key}:\t Total {f:.1}{u}");
    sort_tags(&mut tags);
    for t in tags {
        let (f, u) = measurement::scale(t.flat, &o.sample_unit, &o.output_unit);
        if total > 0 {
            let _ = writeln!(s, " \t{f:.1}{u} ({}):\t {}", measurement::percentage(t.flat, total), t.name);
        } else {
            let _ = writeln!(s, " \t{f:.1}{u}:\t {}", t.name);
        }
    }
}
