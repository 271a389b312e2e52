//! Go's goroutine text forms for task dumps: `debug=1` (tasks with the same
//! stack and labels counted together) and `debug=2` (every task, with its id,
//! state and idle time).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{TaskStack, Unavailable, dump};

use crate::threads::TextFrame as Frame;

/// Every return address of the dump, symbolized (inlined frames innermost
/// first), by the address of its call (`ra - 1`).
fn symbolize(tasks: &[TaskStack]) -> BTreeMap<u64, Vec<Frame>> {
    let addrs = tasks
        .iter()
        .flat_map(|t| t.frames.iter().chain(t.more.iter().flatten()))
        .map(|a| a.wrapping_sub(1))
        .collect();
    crate::threads::symbolize_text(addrs)
}

fn frames_of<'a>(sym: &'a BTreeMap<u64, Vec<Frame>>, stack: &[u64]) -> Vec<&'a Frame> {
    stack.iter().flat_map(|a| sym.get(&a.wrapping_sub(1)).into_iter().flatten()).collect()
}

/// The task dump as text. `debug` 1: Go's goroutine `debug=1` layout
/// (`goroutine profile: total N`, then per distinct stack and labels its
/// count, `@` and the addresses, `# labels:` and `#\t0xPC\tfunction\tfile:line`
/// lines). `debug` 2 (or more): every task as Go prints a goroutine,
/// `goroutine <id> [idle<, time since its last poll>]:` then its frames,
/// innermost first, and the stacks of any other branch it waits in.
pub fn dump_text(debug: u32) -> Result<String, Unavailable> {
    let tasks = dump()?;
    Ok(crate::heap::hand_over(crate::heap::own(|| text_of(&tasks, debug))))
}

pub(crate) fn text_of(tasks: &[TaskStack], debug: u32) -> String {
    let sym = symbolize(tasks);
    let mut out = String::new();
    if debug >= 2 {
        for (i, t) in tasks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let idle = t.idle.map(|d| format!(", {:.3}s", d.as_secs_f64())).unwrap_or_default();
            let _ = writeln!(out, "goroutine {} [idle{idle}]:", t.id);
            let mut labels = vec![format!("runtime={}", t.runtime)];
            if let Some(at) = &t.spawned_at {
                labels.push(format!("task={at}"));
            }
            let _ = writeln!(out, "labels: {}", labels.join(", "));
            let stack = |out: &mut String, s: &[u64]| {
                for f in frames_of(&sym, s) {
                    let _ = writeln!(out, "{}(...)\n\t{}:{} pc={:#x}", f.function, f.file, f.line, f.pc);
                }
            };
            stack(&mut out, &t.frames);
            for s in &t.more {
                out.push_str("and waiting at the same time in:\n");
                stack(&mut out, s);
            }
            if let Some(at) = &t.spawned_at {
                let _ = writeln!(out, "created at {at}");
            }
        }
        return out;
    }
    type Key<'a> = (&'a [u64], &'a str, Option<&'a str>);
    let mut groups: BTreeMap<Key<'_>, usize> = BTreeMap::new();
    for t in tasks {
        *groups.entry((&t.frames, &t.runtime, t.spawned_at.as_deref())).or_default() += 1;
    }
    let mut groups: Vec<(Key<'_>, usize)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut tw = String::new();
    let _ = writeln!(tw, "goroutine profile: total {}", tasks.len());
    for ((frames, runtime, at), n) in groups {
        let addrs: Vec<String> = frames.iter().map(|a| format!("{a:#x}")).collect();
        let _ = writeln!(tw, "{n} @ {}", addrs.join(" "));
        let mut labels = vec![format!("\"runtime\":{runtime:?}")];
        if let Some(at) = at {
            labels.push(format!("\"task\":{at:?}"));
        }
        let _ = writeln!(tw, "# labels: {{{}}}", labels.join(", "));
        for f in frames_of(&sym, frames) {
            let _ = writeln!(tw, "#\t{:#x}\t{}\t{}:{}", f.pc, f.function, f.file, f.line);
        }
        tw.push('\n');
    }
    let mut w = rustprof_profile::tabwriter::TabWriter::new(1, 8, 1, '\t', false);
    w.write(&tw);
    out.push_str(&w.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u64, frames: Vec<u64>) -> TaskStack {
        TaskStack {
            id,
            runtime: "main".into(),
            frames,
            more: Vec::new(),
            spawned_at: None,
            idle: Some(std::time::Duration::from_millis(1500)),
        }
    }

    /// Tasks with the same stack are one group, counted; debug=2 lists each.
    #[test]
    fn text_forms() {
        let here = text_forms as fn() as usize as u64 + 1;
        let tasks = vec![task(3, vec![here]), task(1, vec![here]), task(2, vec![])];
        let t1 = text_of(&tasks, 1);
        assert!(t1.starts_with("goroutine profile: total 3\n2 @ 0x"), "{t1}");
        assert!(t1.contains("# labels: {\"runtime\":\"main\"}"), "{t1}");
        assert!(t1.contains("text_forms"), "{t1}");
        assert!(t1.contains("\n1 @ \n"), "{t1}");
        let t2 = text_of(&tasks, 2);
        assert!(t2.starts_with("goroutine 3 [idle, 1.500s]:\nlabels: runtime=main\n"), "{t2}");
        assert_eq!(t2.matches("goroutine ").count(), 3, "{t2}");
    }
}
