//! CPU profiler behaviour with real threads and real signals: the hot function is
//! the leaf of most samples, equal threads get equal shares, the achieved rate
//! matches the request, callbacks from C keep their callers, late threads are
//! sampled, one profile at a time, labels (also across async tasks), and the
//! thread dump.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustprof::Profile;
use rustprof::cpu::{self, CpuOptions, Mechanism};

mod common;

/// Profiling is process-wide: one test at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline(never)]
fn mix(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i;
    }
    x
}

#[inline(never)]
fn hot_80(n: u64) -> u64 {
    mix(black_box(n))
}

#[inline(never)]
fn cool_20(n: u64) -> u64 {
    let mut x = n;
    for i in 0..n {
        x = x.wrapping_add(i).rotate_left(5).wrapping_mul(3);
    }
    x
}

fn fn_name(p: &Profile, line: &rustprof_profile::Line) -> String {
    p.str(p.functions[line.function as usize].name).to_string()
}

/// cpu value per leaf-location function names (any inlined line), total cpu.
fn leaf_weights(p: &Profile) -> (HashMap<String, i64>, i64) {
    let cpu = p.sample_type_index("cpu").unwrap();
    let mut m = HashMap::new();
    let mut total = 0;
    for s in p.samples.iter() {
        total += s.values[cpu];
        if let Some(&leaf) = s.locations.first() {
            for line in p.location_lines(leaf) {
                *m.entry(fn_name(p, line)).or_insert(0) += s.values[cpu];
            }
        }
    }
    (m, total)
}

/// A stack (function names, leaf first, inlined frames expanded), its cpu, its labels.
type NamedStack = (Vec<String>, i64, Vec<(String, String)>);

/// Whole stacks with cpu and labels.
fn stacks(p: &Profile) -> Vec<NamedStack> {
    let cpu = p.sample_type_index("cpu").unwrap();
    p.samples
        .iter()
        .map(|s| {
            let names = s
                .locations
                .iter()
                .flat_map(|&l| p.location_lines(l).iter().map(|ln| fn_name(p, ln)))
                .collect();
            let labels = s
                .labels
                .iter()
                .filter(|l| l.is_str())
                .map(|l| (p.str(l.key).to_string(), p.str(l.str).to_string()))
                .collect();
            (names, s.values[cpu], labels)
        })
        .collect()
}

fn busy(d: Duration, f: impl Fn() -> u64) -> u64 {
    let start = Instant::now();
    let mut r = 0;
    while start.elapsed() < d {
        r ^= f();
    }
    r
}

#[test]
fn hot_function_is_the_leaf_of_most_samples() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    let r = busy(Duration::from_millis(1500), || hot_80(black_box(400_000)) ^ cool_20(black_box(100_000)));
    let p = g.stop().unwrap();
    let (w, total) = leaf_weights(&p);
    let hot = w.get("cpu::mix").copied().unwrap_or(0)
        + w.get("core::intrinsics::rotate_left").copied().unwrap_or(0);
    assert!(total > 0, "no samples (r={r})");
    let share = hot as f64 / total as f64;
    assert!(share >= 0.70, "hot function share {share:.2}; leaves: {w:?}");
    // Its callers are there too.
    let with_caller = stacks(&p)
        .iter()
        .filter(|(s, _, _)| {
            s.first().is_some_and(|f| f == "cpu::mix") && s.iter().any(|f| f == "cpu::hot_80")
        })
        .count();
    assert!(with_caller > 0, "mix is never seen under hot_80");
}

#[test]
fn equal_threads_get_equal_shares() {
    let _l = lock();
    let g = cpu::start(CpuOptions { thread_labels: true, ..CpuOptions::with_frequency(500) }).unwrap();
    let t: Vec<_> = ["equal-a", "equal-b"]
        .iter()
        .map(|name| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(|| {
                    // The same amount of work on each thread (about a second).
                    common::measure(|| (0..1000).fold(0, |r, _| r ^ mix(black_box(1_000_000)))).1
                })
                .unwrap()
        })
        .collect();
    let cpu: Vec<common::Cpu> = t.into_iter().map(|h| h.join().unwrap()).collect();
    let p = g.stop().unwrap();
    let mut per: HashMap<String, i64> = HashMap::new();
    for (_, v, labels) in stacks(&p) {
        if let Some((_, t)) = labels.iter().find(|(k, _)| k == "thread") {
            *per.entry(t.clone()).or_insert(0) += v;
        }
    }
    // Each thread's share is its CPU time's, measured by the thread itself
    // (the same work takes the same CPU time, unless the machine's load makes
    // one thread slower).
    for (name, cpu) in ["equal-a", "equal-b"].into_iter().zip(cpu) {
        let samples = per.get(name).copied().unwrap_or(0) / p.period;
        common::assert_samples_match(&format!("{name} {per:?}"), samples, p.period, cpu, 1);
    }
}

/// Samples carrying the label `key` (any value), and their cpu value.
fn labelled(p: &Profile, key: &str) -> (i64, i64) {
    stacks(p)
        .iter()
        .filter(|(_, _, l)| l.iter().any(|(k, _)| k == key))
        .fold((0, 0), |(n, c), (_, v, _)| (n + *v / p.period, c + *v))
}

/// Two busy threads, existing when the profile starts, measure their own CPU
/// time; the samples of their work must match it (what the mechanism
/// guarantees, whatever the machine's load), and each sample's cpu value is
/// the profile's period.
fn check_rate(hz: u32, mechanism: Mechanism) {
    let go = std::sync::Arc::new(std::sync::Barrier::new(3));
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|job| {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                rustprof::labels::with_labels(&[("rate", job)], || {
                    common::measure(|| busy(Duration::from_millis(700), || mix(black_box(100_000)))).1
                })
            })
        })
        .collect();
    let g = cpu::start(CpuOptions { mechanism, ..CpuOptions::with_frequency(hz) });
    go.wait();
    let mut cpu = common::Cpu::default();
    for w in workers {
        cpu += w.join().unwrap();
    }
    let g = match g {
        Ok(g) => g,
        Err(e @ cpu::CpuError::Unavailable(..)) => return eprintln!("skipping {mechanism:?}: {e}"),
        Err(e) => panic!("{e}"),
    };
    let mech = g.mechanism();
    let p = g.stop().unwrap();
    let (samples, cpu_value) = labelled(&p, "rate");
    let comment = p.str(p.comments[0]).to_string();
    assert_eq!(cpu_value, samples * p.period, "{comment}");
    if mechanism != Mechanism::ProcessTimer {
        assert_eq!(p.comments.len(), 1, "a warning where the rate is met: {:?}", p.comments);
    }
    common::assert_samples_match(&format!("{hz} Hz, {mech:?} ({comment})"), samples, p.period, cpu, 2);
}

#[test]
fn achieved_rate_matches_the_request() {
    let _l = lock();
    check_rate(100, Mechanism::Auto);
    check_rate(1000, Mechanism::Auto);
}

#[test]
fn thread_timers_match_the_threads_cpu_time() {
    let _l = lock();
    check_rate(100, Mechanism::ThreadTimer);
    check_rate(1000, Mechanism::ThreadTimer);
}

#[test]
fn process_timer_matches_the_threads_cpu_time() {
    let _l = lock();
    check_rate(100, Mechanism::ProcessTimer);
}

extern "C" fn compare_u64(a: *const libc::c_void, b: *const libc::c_void) -> libc::c_int {
    let (a, b) = unsafe { (*(a as *const u64), *(b as *const u64)) };
    // Burn some time in the callback so that it is sampled.
    let w = mix(black_box(2_000));
    (a.cmp(&b) as libc::c_int) + (w == 42) as libc::c_int
}

#[inline(never)]
fn sort_with_qsort(v: &mut [u64]) {
    unsafe {
        libc::qsort(v.as_mut_ptr() as *mut libc::c_void, v.len(), 8, Some(compare_u64));
    }
}

#[test]
fn callback_from_c_keeps_its_callers() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        let mut v: Vec<u64> = (0..2000u64).map(|i| i.wrapping_mul(0x9e37_79b9) % 1013).collect();
        sort_with_qsort(&mut v);
    }
    let p = g.stop().unwrap();
    let full = stacks(&p).into_iter().filter(|(s, _, _)| {
        let cb = s.iter().position(|f| f == "cpu::compare_u64");
        // The Rust caller of qsort (sort_with_qsort may be inlined into the test).
        let caller = s
            .iter()
            .position(|f| f == "cpu::sort_with_qsort" || f == "cpu::callback_from_c_keeps_its_callers");
        let libc_frame = s.iter().any(|f| f.contains("qsort") || f.contains("msort"));
        let libc_pos = s.iter().position(|f| f.contains("qsort") || f.contains("msort"));
        matches!((cb, libc_pos, caller), (Some(a), Some(q), Some(b)) if a < q && q < b) && libc_frame
    });
    assert!(
        full.count() > 0,
        "no stack goes compare_u64 ← qsort (libc) ← sort_with_qsort: {:?}",
        stacks(&p).first()
    );
}

#[test]
fn threads_started_later_are_sampled() {
    let _l = lock();
    let g = cpu::start(CpuOptions { thread_labels: true, ..CpuOptions::with_frequency(500) }).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let h = std::thread::Builder::new()
        .name("late-thread".into())
        .spawn(|| busy(Duration::from_millis(600), || mix(black_box(100_000))))
        .unwrap();
    h.join().unwrap();
    let p = g.stop().unwrap();
    let late: i64 = stacks(&p)
        .iter()
        .filter(|(_, _, l)| l.iter().any(|(k, v)| k == "thread" && v == "late-thread"))
        .map(|(_, v, _)| *v)
        .sum();
    assert!(late > 0, "the thread started after the profile is not in it");
}

/// Burns `ns` of the calling thread's CPU time.
fn burn_cpu(ns: u64) -> u64 {
    let t0 = common::thread_cpu_ns();
    let mut r = 0;
    while common::thread_cpu_ns() - t0 < ns {
        r ^= mix(black_box(20_000));
    }
    r
}

/// Runs `threads` threads, two at a time, each burning the CPU time `ns(i)`
/// under the label `short`; returns the CPU time they measured.
fn short_threads(threads: usize, ns: impl Fn(usize) -> u64) -> common::Cpu {
    let mut cpu = common::Cpu::default();
    for pair in (0..threads).collect::<Vec<_>>().chunks(2) {
        let hs: Vec<_> = pair
            .iter()
            .map(|&i| {
                let ns = ns(i);
                std::thread::spawn(move || {
                    rustprof::labels::with_labels(&[("short", "yes")], || common::measure(|| burn_cpu(ns)).1)
                })
            })
            .collect();
        for h in hs {
            cpu += h.join().unwrap();
        }
    }
    cpu
}

/// Threads of 8 to 64 ms of CPU time, created during a 100 Hz profile, get
/// their CPU time's share: each is sampled from its first instant (the
/// process-wide timer until its own event is attached), and its own event
/// starts with a random first period, so no thread loses its last partial
/// period.
#[test]
fn short_threads_get_their_cpu_times_share() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(100)).unwrap();
    let cpu = short_threads(100, |i| (8 + (i * 37) % 57) as u64 * 1_000_000);
    let p = g.stop().unwrap();
    let (samples, _) = labelled(&p, "short");
    let comment = p.str(p.comments[0]).to_string();
    eprintln!("short threads: {samples} samples for {:.3} CPU-s: {comment}", cpu.total_ns as f64 / 1e9);
    common::assert_samples_match(&format!("100 threads of 8-64 ms ({comment})"), samples, p.period, cpu, 0);
}

/// A thread that runs less than one period (2 ms of CPU at 100 Hz) is sampled
/// with the probability its CPU time gives it: over 200 such threads, about
/// 2/10 of a sample each.
#[test]
fn threads_shorter_than_a_period_are_sampled() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(100)).unwrap();
    let cpu = short_threads(200, |_| 2_000_000);
    let p = g.stop().unwrap();
    let (samples, _) = labelled(&p, "short");
    let comment = p.str(p.comments[0]).to_string();
    eprintln!("2 ms threads: {samples} samples for {:.3} CPU-s: {comment}", cpu.total_ns as f64 / 1e9);
    common::assert_samples_match(&format!("200 threads of 2 ms ({comment})"), samples, p.period, cpu, 0);
}

/// A rate far below the request is said in the profile's comments, with
/// its cause: here the process timer, which the kernel's tick caps, asked
/// for 20 kHz.
#[test]
fn a_rate_far_below_the_request_is_said_in_the_comments() {
    let _l = lock();
    let g =
        cpu::start(CpuOptions { mechanism: Mechanism::ProcessTimer, ..CpuOptions::with_frequency(20_000) })
            .unwrap();
    burn_cpu(300_000_000);
    let p = g.stop().unwrap();
    let comments: Vec<&str> = p.comments.iter().map(|&c| p.str(c)).collect();
    let warning = comments.iter().find(|c| c.contains("warning")).unwrap_or_else(|| panic!("{comments:?}"));
    assert!(warning.contains("far below the requested 20000 Hz"), "{warning}");
    assert!(warning.contains("kernel tick"), "{warning}");
}

/// A thread that exits before the profile stops keeps its name: it is read
/// when the thread is attached, not when its samples are drained (after it
/// has gone from /proc).
#[test]
fn exited_threads_keep_their_names() {
    let _l = lock();
    let go = std::sync::Arc::new(std::sync::Barrier::new(9));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let go = go.clone();
            std::thread::Builder::new()
                .name(format!("exits-{i}"))
                .spawn(move || {
                    go.wait();
                    rustprof::labels::with_labels(&[("exits", "yes")], || burn_cpu(15_000_000))
                })
                .unwrap()
        })
        .collect();
    let g = cpu::start(CpuOptions { thread_labels: true, ..CpuOptions::with_frequency(1000) }).unwrap();
    go.wait();
    for t in threads {
        t.join().unwrap();
    }
    // Gone before the collector's next drain.
    std::thread::sleep(Duration::from_millis(10));
    let p = g.stop().unwrap();
    let names: Vec<String> = stacks(&p)
        .into_iter()
        .filter(|(_, _, l)| l.iter().any(|(k, _)| k == "exits"))
        .filter_map(|(_, _, l)| l.into_iter().find(|(k, _)| k == "thread").map(|(_, v)| v))
        .collect();
    assert!(!names.is_empty(), "no samples of the exiting threads");
    assert!(names.iter().all(|n| n.starts_with("exits-")), "{names:?}");
}

/// Recurses `depth` calls deep, then burns `ns` of CPU time.
#[inline(never)]
fn recurse(depth: u32, ns: u64) -> u64 {
    if depth == 0 {
        return burn_cpu(ns);
    }
    let r = recurse(black_box(depth - 1), ns);
    black_box(r).rotate_left(depth % 63)
}

/// A stack 300 calls deep keeps its 128 frames nearest the leaf, under a
/// `[truncated]` root frame, and the profile's comments say how many samples
/// were cut.
#[test]
fn deep_stacks_are_cut_with_a_marker() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    recurse(300, 200_000_000);
    let p = g.stop().unwrap();
    let cut: Vec<_> = p
        .samples
        .iter()
        .filter(|s| {
            s.locations
                .last()
                .is_some_and(|&l| p.location_lines(l).iter().any(|ln| fn_name(&p, ln) == "[truncated]"))
        })
        .collect();
    assert!(!cut.is_empty(), "no stack marked [truncated]: {:?}", stacks(&p).first());
    for s in &cut {
        // 128 frames (PCs, inlined frames expanded separately) and the marker.
        assert_eq!(s.locations.len(), 129);
        let names: Vec<String> =
            s.locations.iter().flat_map(|&l| p.location_lines(l).iter().map(|ln| fn_name(&p, ln))).collect();
        assert!(names.iter().filter(|n| *n == "cpu::recurse").count() >= 100, "{names:?}");
    }
    let comments: Vec<&str> = p.comments.iter().map(|&c| p.str(c)).collect();
    let n: i64 = cut.iter().map(|s| s.values[0]).sum();
    assert!(
        comments.iter().any(|c| c.contains(&format!("{n} samples had stacks deeper than 128 frames"))),
        "{comments:?}"
    );
}

#[test]
fn one_profile_at_a_time() {
    let _l = lock();
    let g = cpu::start(CpuOptions::default()).unwrap();
    let e = cpu::start(CpuOptions::default()).err().unwrap();
    assert_eq!(e.to_string(), "cpu profiling already in use");
    let _ = g.stop().unwrap();
    let g = cpu::start(CpuOptions::default()).unwrap();
    drop(g);
    let g = cpu::start(CpuOptions::default()).unwrap();
    let _ = g.stop().unwrap();
    // Stopping never leaves the default (fatal) SIGPROF action behind.
    assert_ne!(rustprof::signal::sigprof_disposition(), None);
    assert!(cpu::start(CpuOptions::with_frequency(0)).is_err());
}

#[test]
fn labels_mark_samples() {
    let _l = lock();
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    // CPU time, not wall time: on a loaded machine 400 ms of wall may hold
    // less CPU than 200 ms did (seen: login 23 ms, search 47 ms).
    rustprof::labels::with_labels(&[("endpoint", "login")], || burn_cpu(400_000_000));
    let _s = rustprof::labels::scope(&[("endpoint", "search")]);
    burn_cpu(200_000_000);
    drop(_s);
    let p = g.stop().unwrap();
    let mut per: HashMap<String, i64> = HashMap::new();
    for (_, v, labels) in stacks(&p) {
        for (k, val) in labels {
            if k == "endpoint" {
                *per.entry(val).or_insert(0) += v;
            }
        }
    }
    let (login, search) = (per.get("login").copied().unwrap_or(0), per.get("search").copied().unwrap_or(0));
    assert!(login > search && search > 0, "{per:?}");
}

#[test]
fn labels_follow_async_tasks_across_threads() {
    use rustprof::labels::LabelsExt;
    let _l = lock();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|job| {
                tokio::spawn(
                    async move {
                        let start = Instant::now();
                        let mut r = 0;
                        while start.elapsed() < Duration::from_millis(500) {
                            r ^= mix(black_box(50_000));
                            // Let the task move between worker threads.
                            tokio::task::yield_now().await;
                        }
                        r
                    }
                    .with_labels(&[("job", job)]),
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let p = g.stop().unwrap();
    let mut per: HashMap<String, i64> = HashMap::new();
    for (s, v, labels) in stacks(&p) {
        if s.first().is_some_and(|f| f == "cpu::mix") {
            let job = labels.iter().find(|(k, _)| k == "job").map(|(_, v)| v.clone()).unwrap_or_default();
            *per.entry(job).or_insert(0) += v;
        }
    }
    let unlabeled = per.get("").copied().unwrap_or(0);
    let labeled = per.get("a").copied().unwrap_or(0) + per.get("b").copied().unwrap_or(0);
    assert!(per.contains_key("a") && per.contains_key("b"), "{per:?}");
    assert!(unlabeled * 20 < labeled, "samples of the tasks' work without their labels: {per:?}");
}

#[test]
fn thread_dump_lists_parked_threads() {
    let _l = lock();
    let stop = std::sync::Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let mut hs = Vec::new();
    for i in 0..8 {
        let s = stop.clone();
        hs.push(
            std::thread::Builder::new()
                .name(format!("parked-{i}"))
                .spawn(move || {
                    let (m, cv) = &*s;
                    let mut g = m.lock().unwrap();
                    while !*g {
                        g = cv.wait(g).unwrap();
                    }
                })
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    let dump = rustprof::threads::dump().unwrap();
    let text = rustprof::threads::dump_text(2).unwrap();
    let profile = rustprof::threads::profile().unwrap();
    {
        let (m, cv) = &*stop;
        *m.lock().unwrap() = true;
        cv.notify_all();
    }
    for h in hs {
        h.join().unwrap();
    }
    for i in 0..8 {
        let name = format!("parked-{i}");
        let t = dump.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(t.frames.len() >= 3, "{name}: {} frames", t.frames.len());
        assert!(text.contains(&format!("[{name}]")), "{text}");
    }
    // The parked threads wait in the futex of the condition variable.
    assert!(text.contains("thread_dump_lists_parked_threads"), "{text}");
    let parked: i64 = profile
        .samples
        .iter()
        .filter(|s| {
            s.labels
                .iter()
                .any(|l| profile.str(l.key) == "thread" && profile.str(l.str).starts_with("parked-"))
        })
        .map(|s| s.values[0])
        .sum();
    assert_eq!(parked, 8);
    let text1 = rustprof::threads::dump_text(1).unwrap();
    assert!(text1.starts_with("threads profile: total "), "{text1}");
}
