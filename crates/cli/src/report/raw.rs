//! `raw`: pprof's `Profile.String()` dump of the profile.

use std::fmt::Write as _;

use rustprof_profile::Profile;

use crate::gofmt;
use crate::labels::views;

/// The text of `Profile.String()`.
pub fn profile_string(p: &Profile) -> String {
    let mut ss: Vec<String> = Vec::new();
    for &c in &p.comments {
        ss.push(format!("Comment: {}", p.str(c)));
    }
    ss.push(format!("PeriodType: {} {}", p.str(p.period_type.ty), p.str(p.period_type.unit)));
    ss.push(format!("Period: {}", p.period));
    if p.time_nanos != 0 {
        ss.push(format!("Time: {}", gofmt::go_time_string(p.time_nanos)));
    }
    if p.duration_nanos != 0 {
        ss.push(format!("Duration: {}", gofmt::truncate_chars(&gofmt::duration_string(p.duration_nanos), 4)));
    }
    ss.push("Samples:".into());
    let dflt = p.str(p.default_sample_type);
    let mut sh1 = String::new();
    for vt in &p.sample_types {
        let ty = p.str(vt.ty);
        let mark = if ty == dflt { "[dflt]" } else { "" };
        let _ = write!(sh1, "{}/{}{} ", ty, p.str(vt.unit), mark);
    }
    ss.push(sh1.trim().to_string());
    let label_views = views(p);
    let label_lines: Vec<(String, String)> = label_views
        .iter()
        .map(|v| {
            let mut ls: Vec<String> =
                v.strs.iter().map(|(k, vals)| format!("{}:[{}]", k, vals.join(" "))).collect();
            ls.sort();
            let mut ns: Vec<String> = v
                .nums
                .iter()
                .map(|(k, vals, units)| {
                    if units.len() == vals.len() {
                        let parts: Vec<String> =
                            vals.iter().zip(units).map(|(v, u)| format!("{v} {u}")).collect();
                        format!("{}:[{}]", k, parts.join(" "))
                    } else {
                        let parts: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
                        format!("{}:[{}]", k, parts.join(" "))
                    }
                })
                .collect();
            ns.sort();
            (ls.join(" "), ns.join(" "))
        })
        .collect();
    const LABEL_HEADER: &str = "                ";
    for i in 0..p.samples.len() {
        let mut sv = String::new();
        for v in p.samples.values(i) {
            let _ = write!(sv, " {v:>10}");
        }
        sv.push_str(": ");
        for &l in p.samples.locations(i) {
            let _ = write!(sv, "{} ", p.locations[l as usize].id);
        }
        ss.push(sv);
        let (ls, ns) = &label_lines[p.samples.label_set_id(i) as usize];
        if !ls.is_empty() {
            ss.push(format!("{LABEL_HEADER}{ls}"));
        }
        if !ns.is_empty() {
            ss.push(format!("{LABEL_HEADER}{ns}"));
        }
    }
    ss.push("Locations".into());
    for (li, l) in p.locations.iter().enumerate() {
        let mut loc_str = format!("{:>6}: {:#x} ", l.id, l.address);
        if let Some(m) = l.mapping {
            let _ = write!(loc_str, "M={} ", p.mappings[m as usize].id);
        }
        if l.is_folded {
            loc_str.push_str("[F] ");
        }
        let lines = p.location_lines(li as u32);
        if lines.is_empty() {
            ss.push(loc_str.clone());
        }
        for ln in lines {
            let f = &p.functions[ln.function as usize];
            // Go 1.27's pprof prints `file:line:column`; 1.19's `file:line`.
            let mut s = if gofmt::compat_go119() {
                format!("{} {}:{} s={}", p.str(f.name), p.str(f.filename), ln.line, f.start_line)
            } else {
                format!(
                    "{} {}:{}:{} s={}",
                    p.str(f.name),
                    p.str(f.filename),
                    ln.line,
                    ln.column,
                    f.start_line
                )
            };
            if p.str(f.name) != p.str(f.system_name) {
                let _ = write!(s, "({})", p.str(f.system_name));
            }
            ss.push(format!("{loc_str}{s}"));
            loc_str = "             ".to_string();
        }
    }
    ss.push("Mappings".into());
    for m in &p.mappings {
        let mut bits = String::new();
        if m.has_functions {
            bits.push_str("[FN]");
        }
        if m.has_filenames {
            bits.push_str("[FL]");
        }
        if m.has_line_numbers {
            bits.push_str("[LN]");
        }
        if m.has_inline_frames {
            bits.push_str("[IN]");
        }
        ss.push(format!(
            "{}: {:#x}/{:#x}/{:#x} {} {} {}",
            m.id,
            m.memory_start,
            m.memory_limit,
            m.file_offset,
            p.str(m.filename),
            p.str(m.build_id),
            bits
        ));
    }
    ss.join("\n") + "\n"
}
