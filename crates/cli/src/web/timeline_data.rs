//! The timeline's data, as JSON: what the page needs for one screen, built
//! from the trace's index so that the cost follows the screen's width, not
//! the trace's size.
//!
//! - [`lanes_json`]: the lanes (name, kind, rows) and counters, once.
//! - [`view_json`]: for `[start, end)` at `width` pixels, per lane and row,
//!   the slices one pixel wide or more as they are, and runs of narrower
//!   ones merged into one item per pixel (its class the one that took most
//!   of the time, its count how many it holds); instants bucketed per
//!   pixel; counters as min/max per pixel.
//! - [`slice_json`], [`instant_json`]: one item's details (arguments, stack,
//!   the regions it is in), loaded on demand.
//! - [`range_json`]: time per class inside a range, for all threads, all
//!   async tasks, and per lane.
//!
//! Times are ns from the trace's start; inside a screen ([`view_json`]),
//! from the screen's start (`start`), which keeps the numbers short.

use std::fmt::Write as _;

use rustprof_trace::vocab;

use crate::report::flame::push_json_str;
use crate::trace::latency::human;
use crate::trace::model::{Class, LaneKind, Mark, Model, NONE, Slice, window};

/// An item's fields: start, end (ns from the view's start, so possibly
/// negative), class, name id (-1 for merged), index in its row (-1 for
/// merged), count.
fn push_item(o: &mut String, base: u64, s: &Slice, index: i64, count: usize, names: &mut Vec<u32>) {
    let name = if index >= 0 {
        names.push(s.name);
        i64::from(s.name)
    } else {
        -1
    };
    let rel = |t: u64| t as i64 - base as i64;
    let _ = write!(o, "[{},{},{},{name},{index},{count}],", rel(s.start), rel(s.end), s.class.index());
}

/// The lanes and counters: `{"start","end","lanes":[{name,kind,tid,rows,states,marks}],"counters":[...]}`.
pub fn lanes_json(m: &Model) -> String {
    let mut o = String::from("{");
    let _ = write!(o, "\"duration\":{},\"events\":{},\"classes\":[", m.duration(), m.events);
    for (i, c) in Class::ALL.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        push_json_str(&mut o, c.name());
    }
    o.push_str("],\"lanes\":[");
    for (i, l) in m.lanes.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"name\":");
        push_json_str(&mut o, &l.name);
        let (kind, tid) = match l.kind {
            LaneKind::Thread { tid, .. } => ("thread", tid),
            LaneKind::Async => ("async", 0),
            LaneKind::Tasks => ("tasks", 0),
            LaneKind::Other => ("other", 0),
        };
        let _ = write!(
            o,
            ",\"kind\":\"{kind}\",\"tid\":{tid},\"states\":{},\"rows\":{},\"marks\":{}}}",
            !l.states.is_empty(),
            l.rows.len(),
            !l.instants.is_empty()
        );
    }
    o.push_str("],\"counters\":[");
    for (i, c) in m.counters.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let lo = c.points.iter().map(|p| p.1).min().unwrap_or(0);
        let hi = c.points.iter().map(|p| p.1).max().unwrap_or(0);
        o.push_str("{\"name\":");
        push_json_str(&mut o, &c.name);
        let _ = write!(o, ",\"unit\":\"{:?}\",\"min\":{lo},\"max\":{hi}}}", c.unit);
    }
    o.push_str("]}");
    o
}

/// Slices narrower than this many pixels are merged with their neighbours.
pub const MERGE_PIXELS: u64 = 2;

/// One row's items in `[a, b)` at `px` ns per pixel: slices
/// [`MERGE_PIXELS`] wide or more as they are; narrower ones starting within
/// that of each other merged, and merged items of one class that follow each
/// other as closely merged again (a busy row zoomed out is a few long items).
fn row_items(o: &mut String, row: &[Slice], a: u64, b: u64, px: u64, names: &mut Vec<u32>) {
    let w = window(row, a, b);
    let first = row.partition_point(|s| s.end <= a);
    // Below two pixels a slice can be neither read nor aimed at: merged.
    let px = px.saturating_mul(MERGE_PIXELS);
    let mut run: Option<(Slice, usize)> = None;
    let flush = |o: &mut String, run: &mut Option<(Slice, usize)>, names: &mut Vec<u32>| {
        if let Some((s, n)) = run.take() {
            push_item(o, a, &s, -1, n, names);
        }
    };
    let mut i = 0;
    while i < w.len() {
        let s = &w[i];
        if s.dur() >= px {
            flush(o, &mut run, names);
            push_item(o, a, s, (first + i) as i64, 1, names);
            i += 1;
            continue;
        }
        // Narrow slices starting within one pixel of this one: one item.
        let limit = s.start.saturating_add(px);
        let mut acc = [0u64; 9];
        let (mut end, mut n, j0) = (s.end, 0usize, i);
        while i < w.len() && w[i].start < limit && w[i].dur() < px {
            acc[w[i].class.index()] += w[i].dur().max(1);
            end = end.max(w[i].end);
            n += 1;
            i += 1;
        }
        if n == 1 {
            flush(o, &mut run, names);
            push_item(o, a, s, (first + j0) as i64, 1, names);
            continue;
        }
        let top = Class::ALL[(0..9).max_by_key(|&k| (acc[k], std::cmp::Reverse(k))).unwrap_or(0)];
        match &mut run {
            Some((r, count)) if r.class == top && s.start <= r.end.saturating_add(px) => {
                r.end = r.end.max(end);
                *count += n;
            }
            _ => {
                flush(o, &mut run, names);
                run = Some((Slice { start: s.start, end, class: top, ..*s }, n));
            }
        }
    }
    flush(o, &mut run, names);
}

/// The screen `[a, b)` (ns from the start) at `width` pixels.
pub fn view_json(m: &Model, a: u64, b: u64, width: u32) -> String {
    let (a, b) = (m.start.saturating_add(a), m.start.saturating_add(b.max(a + 1)));
    let px = ((b - a) / u64::from(width.clamp(1, 20_000))).max(1);
    let mut names: Vec<u32> = Vec::new();
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(o, "{{\"start\":{},\"end\":{},\"px\":{px},\"lanes\":[", a - m.start, b - m.start);
    for (li, l) in m.lanes.iter().enumerate() {
        if li > 0 {
            o.push(',');
        }
        o.push_str("{\"states\":[");
        row_items(&mut o, &l.states, a, b, px, &mut names);
        trim_comma(&mut o);
        o.push_str("],\"rows\":[");
        for (ri, row) in l.rows.iter().enumerate() {
            if ri > 0 {
                o.push(',');
            }
            o.push('[');
            row_items(&mut o, row, a, b, px, &mut names);
            trim_comma(&mut o);
            o.push(']');
        }
        o.push_str("],\"marks\":[");
        // Instants: per pixel and kind, the first one and how many; buckets
        // of one kind less than two pixels apart become one run
        // `[start, kind, index or -1, count, name, end]`.
        let i0 = l.instants.partition_point(|x| x.ts < a);
        let i1 = l.instants.partition_point(|x| x.ts < b);
        for (code, mark) in [(0, Mark::Log), (1, Mark::CpuSample), (2, Mark::Dropped)] {
            let mut run: Option<(usize, u64, u64, usize)> = None; // first index, start, last ts, count
            let emit = |o: &mut String, run: (usize, u64, u64, usize), names: &mut Vec<u32>| {
                let (q, start, last, n) = run;
                let x = &l.instants[q];
                names.push(x.name);
                let idx = if n == 1 { q as i64 } else { -1 };
                let _ = write!(o, "[{},{code},{idx},{n},{},{}],", start - a, x.name, last - a);
            };
            for q in i0..i1 {
                let x = &l.instants[q];
                if x.mark != mark {
                    continue;
                }
                match &mut run {
                    Some(r) if x.ts < r.2.saturating_add(2 * px) => {
                        r.2 = x.ts;
                        r.3 += 1;
                    }
                    _ => {
                        if let Some(r) = run.take() {
                            emit(&mut o, r, &mut names);
                        }
                        run = Some((q, x.ts, x.ts, 1));
                    }
                }
            }
            if let Some(r) = run {
                emit(&mut o, r, &mut names);
            }
        }
        trim_comma(&mut o);
        o.push_str("]}");
    }
    o.push_str("],\"counters\":[");
    for (ci, c) in m.counters.iter().enumerate() {
        if ci > 0 {
            o.push(',');
        }
        o.push('[');
        // The value at `a` (the last point before it), then min/max per pixel.
        let p0 = c.points.partition_point(|p| p.0 < a);
        let p1 = c.points.partition_point(|p| p.0 < b);
        if p0 > 0 {
            let v = c.points[p0 - 1].1;
            let _ = write!(o, "[0,{v},{v},{v}],");
        }
        let mut i = p0;
        while i < p1 {
            let t = c.points[i].0;
            let limit = t.saturating_add(px);
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            let mut last = 0;
            while i < p1 && c.points[i].0 < limit {
                let v = c.points[i].1;
                lo = lo.min(v);
                hi = hi.max(v);
                last = v;
                i += 1;
            }
            let _ = write!(o, "[{},{lo},{hi},{last}],", t - a);
        }
        trim_comma(&mut o);
        o.push(']');
    }
    o.push_str("],\"names\":{");
    names.sort_unstable();
    names.dedup();
    for (i, id) in names.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(o, "\"{id}\":");
        push_json_str(&mut o, m.str(*id));
    }
    o.push_str("}}");
    o
}

fn trim_comma(o: &mut String) {
    if o.ends_with(',') {
        o.pop();
    }
}

fn push_args(o: &mut String, m: &Model, args: u32) {
    o.push('{');
    for (i, a) in m.args_of(args).iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        push_json_str(o, m.str(a.name));
        o.push(':');
        push_json_str(o, &m.val_text(a.value));
    }
    o.push('}');
}

fn push_stack(o: &mut String, m: &Model, stack: u32) {
    o.push('[');
    if stack != NONE {
        for (i, f) in vocab::parse_stack(m.str(stack)).iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            push_json_str(o, &vocab::format_stack(std::slice::from_ref(f)));
        }
    }
    o.push(']');
}

/// One slice: `row` -1 for the states row. `None` when there is no such slice.
pub fn slice_json(m: &Model, lane: usize, row: i64, index: usize) -> Option<String> {
    let l = m.lanes.get(lane)?;
    let s = if row < 0 { l.states.get(index)? } else { l.rows.get(row as usize)?.get(index)? };
    let mut o = String::from("{\"lane\":");
    push_json_str(&mut o, &l.name);
    o.push_str(",\"name\":");
    push_json_str(&mut o, m.str(s.name));
    let _ = write!(
        o,
        ",\"class\":\"{}\",\"start\":{},\"end\":{},\"dur\":\"{}\",\"at\":\"+{}\",\"args\":",
        s.class.name(),
        s.start - m.start,
        s.end - m.start,
        human(s.dur()),
        human(s.start - m.start)
    );
    push_args(&mut o, m, s.args);
    o.push_str(",\"stack\":");
    push_stack(&mut o, m, s.stack);
    o.push_str(",\"in\":[");
    for (i, n) in crate::trace::profiles::enclosing(m, l, s.start)
        .iter()
        .filter(|n| *n != m.str(s.name) || s.class.is_state())
        .enumerate()
    {
        if i > 0 {
            o.push(',');
        }
        push_json_str(&mut o, n);
    }
    o.push_str("]}");
    Some(o)
}

/// One instant (a log, a CPU sample).
pub fn instant_json(m: &Model, lane: usize, index: usize) -> Option<String> {
    let l = m.lanes.get(lane)?;
    let x = l.instants.get(index)?;
    let mut o = String::from("{\"lane\":");
    push_json_str(&mut o, &l.name);
    o.push_str(",\"name\":");
    push_json_str(&mut o, m.str(x.name));
    o.push_str(",\"category\":");
    push_json_str(&mut o, m.str(x.category));
    let _ = write!(o, ",\"start\":{},\"at\":\"+{}\",\"args\":", x.ts - m.start, human(x.ts - m.start));
    push_args(&mut o, m, x.args);
    o.push_str(",\"stack\":");
    push_stack(&mut o, m, x.stack);
    o.push('}');
    Some(o)
}

/// Time per class in `[a, b)` (ns from the start): `threads` sums the
/// thread lanes (the summary's "all threads" row: running, runnable,
/// blocked, sync wait), `tasks` the async tasks, `lanes` each lane's
/// non-zero classes. Each value as ns and as the summary writes it.
pub fn range_json(m: &Model, a: u64, b: u64) -> String {
    let (a, b) = (m.start.saturating_add(a), m.start.saturating_add(b));
    let mut threads = [0u64; 9];
    let mut tasks = [0u64; 9];
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"start\":{},\"end\":{},\"dur\":\"{}\",\"lanes\":[",
        a - m.start,
        b - m.start,
        human(b - a)
    );
    let mut first = true;
    for (li, l) in m.lanes.iter().enumerate() {
        let t = l.totals_in(a, b);
        let into = match l.kind {
            LaneKind::Thread { .. } => &mut threads,
            LaneKind::Async => &mut tasks,
            _ => &mut [0u64; 9],
        };
        for (x, y) in into.iter_mut().zip(t) {
            *x += y;
        }
        if t.iter().all(|&v| v == 0) {
            continue;
        }
        if !first {
            o.push(',');
        }
        first = false;
        let _ = write!(o, "{{\"lane\":{li},\"name\":");
        push_json_str(&mut o, &l.name);
        o.push_str(",\"totals\":");
        push_totals(&mut o, &t);
        o.push('}');
    }
    o.push_str("],\"threads\":");
    let sync = threads[Class::LockWait.index()] + threads[Class::CondvarWait.index()];
    let _ = write!(
        o,
        "{{\"running\":\"{}\",\"runnable\":\"{}\",\"blocked\":\"{}\",\"sync wait\":\"{}\",\"ns\":[{},{},{},{}]}}",
        human(threads[0]),
        human(threads[1]),
        human(threads[2]),
        human(sync),
        threads[0],
        threads[1],
        threads[2],
        sync
    );
    o.push_str(",\"tasks\":");
    push_totals(&mut o, &tasks);
    o.push('}');
    o
}

fn push_totals(o: &mut String, t: &[u64; 9]) {
    o.push('{');
    let mut first = true;
    for (i, v) in t.iter().enumerate() {
        if *v == 0 {
            continue;
        }
        if !first {
            o.push(',');
        }
        first = false;
        let _ = write!(o, "\"{}\":[{v},\"{}\"]", Class::ALL[i].name(), human(*v));
    }
    o.push('}');
}
