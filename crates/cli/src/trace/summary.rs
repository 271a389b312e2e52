//! `rustprof -trace_summary trace.pftrace`: a trace in text, for terminals
//! and CI logs. Threads with their running / runnable / blocked totals (and
//! the time in sync waits), async tasks with polled / runnable / idle, the
//! longest blocked intervals with their stacks, and the user-task and region
//! latency tables. Durations as [`latency::human`] writes them.

use std::fmt::Write as _;

use rustprof_trace::vocab;

use super::latency::{self, human};
use super::model::{Class, LaneKind, Model, NONE};

/// How many of the longest blocked intervals are listed.
pub const LONGEST: usize = 10;

/// The summary of `m`, read from `file`.
pub fn render(m: &Model, file: &str) -> String {
    let mut o = String::new();
    let threads: Vec<_> = m.lanes.iter().filter(|l| matches!(l.kind, LaneKind::Thread { .. })).collect();
    let tasks: Vec<_> = m.lanes.iter().filter(|l| l.kind == LaneKind::Async).collect();
    let user_tasks: usize =
        m.lanes.iter().filter(|l| l.kind == LaneKind::Tasks).map(|l| l.slices().count()).sum();
    let _ = writeln!(o, "Trace: {file}");
    let _ = writeln!(
        o,
        "Duration: {}, {} threads, {} async tasks, {} user tasks, {} events{}",
        human(m.duration()),
        threads.len(),
        tasks.len(),
        user_tasks,
        m.events,
        if m.dropped > 0 { format!(" ({} dropped by the recorder)", m.dropped) } else { String::new() }
    );

    let width = |names: &mut dyn Iterator<Item = usize>| names.max().unwrap_or(0).max(24);
    let thread_name = |l: &super::model::Lane| match l.kind {
        LaneKind::Thread { tid, .. } => format!("{} (tid {tid})", l.name),
        _ => l.name.clone(),
    };
    if !threads.is_empty() {
        let w = width(&mut threads.iter().map(|l| thread_name(l).chars().count() + 2));
        let _ = writeln!(
            o,
            "\n{:<w$}{:>11}{:>11}{:>11}{:>11}",
            "Threads", "running", "runnable", "blocked", "sync wait"
        );
        let mut all = [0u64; 4];
        for l in &threads {
            let t = l.totals_in(m.start, m.end.saturating_add(1));
            let v = [
                t[Class::Running.index()],
                t[Class::Runnable.index()],
                t[Class::Blocked.index()],
                t[Class::LockWait.index()] + t[Class::CondvarWait.index()],
            ];
            for (a, x) in all.iter_mut().zip(v) {
                *a += x;
            }
            row(&mut o, &format!("  {}", thread_name(l)), w, &v);
        }
        row(&mut o, "  all threads", w, &all);
    }
    if !tasks.is_empty() {
        let w = width(&mut tasks.iter().map(|l| l.name.chars().count() + 2));
        let _ = writeln!(o, "\n{:<w$}{:>11}{:>11}{:>11}", "Async tasks", "polled", "runnable", "idle");
        for l in &tasks {
            let polled = l.state_total(Class::Poll);
            let runnable = l.state_total(Class::Runnable);
            let idle = (l.span.1 - l.span.0.min(l.span.1)).saturating_sub(polled + runnable);
            row(&mut o, &format!("  {}", l.name), w, &[polled, runnable, idle]);
        }
    }

    // Longest blocked intervals: blocked states and sync waits.
    let mut blocked: Vec<(u64, u64, usize, Class, u32, u32)> = Vec::new();
    for (li, l) in m.lanes.iter().enumerate() {
        for s in l
            .states
            .iter()
            .filter(|s| s.class == Class::Blocked)
            .chain(l.slices().filter(|s| s.class.is_sync()))
        {
            blocked.push((s.dur(), s.start, li, s.class, s.stack, s.args));
        }
    }
    if !blocked.is_empty() {
        blocked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let _ =
            writeln!(o, "\nLongest blocked intervals ({} of {}):", blocked.len().min(LONGEST), blocked.len());
        for &(dur, start, li, class, stack, args) in blocked.iter().take(LONGEST) {
            let mut what = class.name().to_string();
            if let Some(v) = m.arg_text(args, vocab::ARG_REASON).or_else(|| m.arg_text(args, vocab::ARG_LOCK))
            {
                let _ = write!(what, " ({v})");
            }
            let _ = writeln!(
                o,
                "  {:>10}  {what} on {} at +{}",
                human(dur),
                thread_name(&m.lanes[li]),
                human(start - m.start)
            );
            if stack == NONE {
                let regions = super::profiles::enclosing(m, &m.lanes[li], start);
                if !regions.is_empty() {
                    let _ = writeln!(o, "        in {}", regions.join(" < "));
                }
            }
            for f in vocab::parse_stack(m.str(stack)) {
                let _ = writeln!(o, "        {}", vocab::format_stack(&[f]));
            }
        }
    }
    for (title, class) in [("User tasks", Class::Task), ("Regions", Class::Region)] {
        let rows = latency::table(m, class);
        if rows.is_empty() {
            continue;
        }
        let w = width(&mut rows.iter().map(|r| r.name.chars().count() + 2));
        let _ = writeln!(
            o,
            "\n{:<w$}{:>7}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}",
            title, "count", "total", "min", "p50", "p90", "p99", "max"
        );
        for r in rows {
            let _ = writeln!(
                o,
                "{:<w$}{:>7}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}",
                format!("  {}", r.name),
                r.count,
                human(r.total),
                human(r.min),
                human(r.p50),
                human(r.p90),
                human(r.p99),
                human(r.max)
            );
        }
    }
    o
}

fn row(o: &mut String, name: &str, w: usize, values: &[u64]) {
    let _ = write!(o, "{name:<w$}");
    for v in values {
        let _ = write!(o, "{:>11}", human(*v));
    }
    o.push('\n');
}
