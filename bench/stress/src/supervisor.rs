//! The supervisor: runs this program again as the workload child and watches
//! it. A crash is the child killed by a signal or exiting non-zero; a hang is
//! no heartbeat for [`HANG_AFTER`], or a part of the workload making no
//! progress that long, or the child still running [`EXIT_GRACE`] after its
//! end: the child then gets SIGABRT. The child's RSS is read from
//! `/proc/PID/status` every 5 s.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::report::{Beat, End, Summary, progress_line};

/// glibc malloc arenas of the child unless `MALLOC_ARENA_MAX` is set: with
/// glibc's default (8 per core) each of the workload's 32 threads' arenas
/// keeps its own free memory, and RSS rises by tens of MB over minutes while
/// the program's live heap and rustprof's own memory stay flat (measured in
/// BENCHMARKS.md); with 2 the growth the run reports is memory someone holds.
/// `MALLOC_ARENA_MAX=0` keeps glibc's default.
const MALLOC_ARENAS: &str = "2";
pub(crate) const HANG_AFTER: Duration = Duration::from_secs(30);
const EXIT_GRACE: Duration = Duration::from_secs(120);
const RSS_EVERY: Duration = Duration::from_secs(5);
const PRINT_EVERY: Duration = Duration::from_secs(10);

/// Runs and watches a child for `d`; returns what happened.
pub(crate) fn supervise(d: Duration) -> Summary {
    let mut summary = Summary {
        duration: d,
        elapsed: Duration::ZERO,
        end: End::Clean,
        last: Beat::default(),
        rss: Vec::new(),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            summary.end = End::Lost(format!("finding this program's path: {e}"));
            return summary;
        }
    };
    let mut cmd = Command::new(&exe);
    cmd.args(["--child", &d.as_secs().to_string()]);
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        cmd.env("MALLOC_ARENA_MAX", MALLOC_ARENAS);
    }
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            summary.end = End::Lost(format!("starting {}: {e}", exe.display()));
            return summary;
        }
    };
    println!(
        "rustprof-stress: {} s, workload in child {} (MALLOC_ARENA_MAX={})",
        d.as_secs(),
        child.id(),
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| MALLOC_ARENAS.into())
    );
    let Some(out) = child.stdout.take() else {
        summary.end = End::Lost("no pipe from the child".into());
        return summary;
    };
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });

    let start = Instant::now();
    let mut last_beat = start;
    // Each part's progress and when it last moved.
    let mut moved: Vec<(String, u64, Instant)> = Vec::new();
    let mut next_rss = start;
    let mut next_print = start + PRINT_EVERY;
    let mut hang: Option<String> = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Some(line)) => {
                if let Some(b) = Beat::parse(&line) {
                    let now = Instant::now();
                    last_beat = now;
                    for (k, v) in &b.progress {
                        match moved.iter_mut().find(|(name, _, _)| name == k) {
                            Some(m) if m.1 != *v => (m.1, m.2) = (*v, now),
                            Some(_) => {}
                            None => moved.push((k.clone(), *v, now)),
                        }
                    }
                    summary.last = b;
                } else {
                    println!("child: {line}");
                }
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if now >= next_rss {
            if let Some(r) = rss_of(child.id()) {
                summary.rss.push((now - start, r));
            }
            next_rss += RSS_EVERY;
        }
        if now >= next_print {
            let rss = summary.rss.last().map_or(0, |&(_, r)| r);
            println!("{}", progress_line(now - start, rss, &summary.last));
            next_print += PRINT_EVERY;
        }
        if now - last_beat > HANG_AFTER {
            hang = Some(format!("no heartbeat for {} s", (now - last_beat).as_secs()));
        } else if !summary.last.stopping
            && let Some((k, _, t)) = moved.iter().find(|(_, _, t)| last_beat - *t > HANG_AFTER)
        {
            // Measured up to the last heartbeat: without heartbeats, the
            // check above names the hang.
            hang = Some(format!(
                "the workload's `{k}` part made no progress for {} s",
                (last_beat - *t).as_secs()
            ));
        } else if now - start > d + EXIT_GRACE {
            hang = Some(format!("still running {} s after its end", (now - start - d).as_secs()));
        }
        if hang.is_some() {
            break;
        }
    }
    summary.end = match hang {
        Some(why) => {
            eprintln!("rustprof-stress: hang: {why}; sending SIGABRT to {}", child.id());
            abort(&mut child);
            End::Hang(why)
        }
        None => match child.wait() {
            Ok(s) if s.signal().is_some() => End::Signal(s.signal().unwrap_or(0)),
            Ok(s) if s.code() != Some(0) => End::Exit(s.code().unwrap_or(-1)),
            Ok(_) if !summary.last.done => End::Lost("exited without its final heartbeat".into()),
            Ok(_) => End::Clean,
            Err(e) => End::Lost(format!("waiting for the child: {e}")),
        },
    };
    let _ = reader.join();
    summary.elapsed = start.elapsed();
    summary
}

/// SIGABRT (a core dump where enabled), then SIGKILL if it lingers.
fn abort(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on the child this process started and has not reaped.
    unsafe { libc::kill(pid, libc::SIGABRT) };
    // A stopped child (SIGSTOP, a debugger) takes it when it runs again.
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The resident set of process `pid`, in bytes.
fn rss_of(pid: u32) -> Option<u64> {
    parse_vm_rss(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// `VmRSS:` of a `/proc/PID/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss() {
        let s = "Name:\trustprof-stress\nVmPeak:\t  900000 kB\nVmRSS:\t   123456 kB\nThreads:\t40\n";
        assert_eq!(parse_vm_rss(s), Some(123456 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_of(std::process::id()).is_some_and(|r| r > 0));
    }
}
