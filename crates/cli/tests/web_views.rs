#![allow(clippy::unwrap_used)]
//! The web UI's views as a person sees them on a Rust profile (issue 18):
//! this test process profiles itself (rustprof's CPU profiler, two labels),
//! serves the profile with `rustprof -http`, and drives headless Chromium at
//! 1400×900: the default view is legible (text of at least 9 screen pixels),
//! the runtime frames under the flame graph's root are folded into one frame
//! that expands on click (in the web UI and the `-flame` file), the graph
//! opens at a readable scale, the Tags menu filters and its chip removes the
//! filter, comments are shown and hot source lines keep readable numbers.
//!
//! Without Chromium or chromedriver the browser test is skipped with a
//! message, unless `CI` is set, in which case it fails.

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::json::{self, Json};
use common::webdriver::{self, Browser};
use common::{Server, html_unescape, require, rustprof, temp_dir, top_rows};

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[inline(never)]
fn spin(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i;
    }
    x
}

/// Burns `cpu` of CPU time.
#[inline(never)]
fn hot_login(cpu: Duration) -> u64 {
    let end = thread_cpu() + cpu;
    let mut r = 0;
    while thread_cpu() < end {
        r ^= spin(black_box(50_000));
    }
    r
}

/// Burns `cpu` of CPU time.
#[inline(never)]
fn hot_search(cpu: Duration) -> u64 {
    let end = thread_cpu() + cpu;
    let mut r = 0;
    while thread_cpu() < end {
        r ^= spin(black_box(50_000));
    }
    r
}

/// A CPU profile of this process: `hot_login` under `endpoint=login` (600 ms
/// of CPU), `hot_search` under `endpoint=search` (300 ms).
fn rust_profile() -> &'static str {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let g = rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(500)).unwrap();
        {
            let _l = rustprof::labels::scope(&[("endpoint", "login")]);
            black_box(hot_login(Duration::from_millis(600)));
        }
        {
            let _l = rustprof::labels::scope(&[("endpoint", "search")]);
            black_box(hot_search(Duration::from_millis(300)));
        }
        let p = g.stop().unwrap();
        let path = temp_dir("web-views").join("rust.cpu.pb.gz");
        rustprof::write_gzip(&p, std::fs::File::create(&path).unwrap()).unwrap();
        path
    })
    .to_str()
    .unwrap()
}

const LOGIN: &str = "web_views::hot_login";
const SEARCH: &str = "web_views::hot_search";

fn num(v: &Json) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

fn field(v: &Json, k: &str) -> f64 {
    num(v.get(k).unwrap_or_else(|| panic!("no {k} in {v:?}")))
}

fn args_json(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| json::quote(s)).collect::<Vec<_>>().join(","))
}

fn names_of_top(out: &str) -> Vec<String> {
    top_rows(out).into_iter().map(|r| r.name).collect()
}

/// Pages as served: the Tags menu, the comments, the chips, the redirect.
#[test]
fn tags_comments_and_chips_on_the_pages() {
    let p = rust_profile();
    let server = Server::start(&[p]);
    let r = server.get("/ui/");
    assert_eq!((r.status, r.header("location")), (301, Some("flamegraph")));
    let r = server.get("/ui/?f=main&si=cpu");
    assert_eq!(r.header("location"), Some("flamegraph?f=main&si=cpu"));

    let page = server.get("/ui/top").text();
    for v in ["login", "search"] {
        assert!(
            page.contains(&format!("data-key=\"endpoint\" data-value=\"{v}\"")),
            "no {v} in the Tags menu"
        );
    }
    assert!(page.contains("<details id=\"rp-comments\" class=\"rp-comments\" open>"));
    let (_, comments, _) = rustprof(&["-comments", p]);
    let first = comments.lines().next().unwrap();
    assert!(first.starts_with("rustprof cpu:") && first.contains("requested 500 Hz"), "{comments}");
    assert!(html_unescape(&page).contains(first), "the comment is not on the page");
    assert!(!page.contains("id=\"rp-chips\""), "chips without filters");

    // Each tag link is the command line's option.
    for (query, flag) in [
        ("tf=endpoint%3D%5Elogin%24", "-tagfocus=endpoint=^login$"),
        ("ti=endpoint%3D%5Elogin%24", "-tagignore=endpoint=^login$"),
        ("tagroot=endpoint", "-tagroot=endpoint"),
        ("tagleaf=endpoint", "-tagleaf=endpoint"),
    ] {
        let page = server.get(&format!("/ui/top?{query}")).text();
        let got: Vec<String> = page
            .split("<tr data-name=\"")
            .skip(1)
            .map(|s| html_unescape(&s[..s.find('"').unwrap()]))
            .collect();
        let (ok, out, err) = rustprof(&["-top", "-nodecount=500", flag, p]);
        assert!(ok, "{err}");
        assert_eq!(got, names_of_top(&out), "{query}");
        let param = query.split('=').next().unwrap();
        assert!(page.contains(&format!("class=\"rp-chip\" data-param=\"{param}\"")), "{query}: no chip");
    }
    // tagroot: a frame per value; tagfocus keeps one value's function.
    let (_, rooted, _) = rustprof(&["-top", "-nodecount=500", "-tagroot=endpoint", p]);
    assert!(names_of_top(&rooted).contains(&"login".to_string()), "{rooted}");
    let (_, focused, _) = rustprof(&["-top", "-nodecount=500", "-tagfocus=endpoint=^login$", p]);
    let focused = names_of_top(&focused);
    assert!(focused.iter().any(|n| n == LOGIN) && !focused.iter().any(|n| n == SEARCH), "{focused:?}");

    // Numeric labels (a Go heap profile's `bytes`): shown scaled, their
    // filter carries the unit, and selects the samples of that size.
    let heap = common::profile("go-heap.pb.gz");
    let server = Server::start(&[&heap]);
    let page = server.get("/ui/top").text();
    assert!(page.contains("data-value=\"1MB\""), "no 1MB value");
    let tf = page.split("href=\"./top?tf=").nth(1).unwrap();
    let tf = &tf[..tf.find('"').unwrap()];
    assert_eq!(tf, "bytes%3D1048576bytes");
    let shown = server.get(&format!("/ui/top?tf={tf}")).text();
    let (_, want, _) = rustprof(&["-top", "-tagfocus=bytes=1048576bytes", &heap]);
    let line = |t: &str| t.lines().find(|l| l.contains("Showing nodes accounting")).unwrap_or("").to_string();
    assert!(line(&want).contains("46.88%"), "{want}");
    assert!(shown.contains(line(&want).trim()), "{}", line(&want));
}

/// Screen font sizes of the graph's text inside its box: (visible texts, smallest).
const GRAPH_TEXT: &str = "const box = document.getElementById('rp-graph').getBoundingClientRect();\
     let n = 0, min = Infinity;\
     document.querySelectorAll('#rp-graph svg text').forEach(t => {\
       const r = t.getBoundingClientRect();\
       if (r.right < box.left || r.left > box.right || r.bottom < box.top || r.top > box.bottom) return;\
       const px = parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a;\
       n++; min = Math.min(min, px);\
     });\
     return [n, min];";

/// WCAG contrast ratio of two `rgb(...)` colours.
fn contrast(a: &str, b: &str) -> f64 {
    let lum = |c: &str| {
        let v: Vec<f64> = c
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|x| x.trim().parse::<f64>().unwrap() / 255.0)
            .map(|x| if x <= 0.03928 { x / 12.92 } else { ((x + 0.055) / 1.055).powf(2.4) })
            .collect();
        0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn what_a_person_sees_in_headless_chromium() {
    if !webdriver::available() || !require("dot", &["-V"], "graphviz") {
        return;
    }
    let p = rust_profile();
    let server = Server::start(&[p]);
    let b = Browser::start(1400, 900);
    let timeout = Duration::from_secs(30);
    let flame_ready = "return !!(window.rustprofFlame && rustprofFlame.current)";

    // The default view: the flame graph, every label at least 9 screen pixels.
    b.goto(&format!("{}/ui/", server.url));
    b.wait_for(flame_ready, "the flame graph", timeout);
    assert!(b.url().ends_with("/ui/flamegraph"), "{}", b.url());
    let labels = b.exec(
        "const c = document.querySelector('.fg-canvas');\
         const k = c.getBoundingClientRect().width / parseFloat(c.style.width);\
         return rustprofFlame.current.labels().map(l => [l.text, l.px * k]);",
        "[]",
    );
    let labels = labels.as_array().unwrap();
    assert!(labels.len() >= 5, "{labels:?}");
    for l in labels {
        let l = l.as_array().unwrap();
        assert!(num(&l[1]) >= 9.0, "label {:?} is {} px", l[0], num(&l[1]));
    }
    // The runtime frames are one frame under the root: the hot function is
    // near the top, and the folded frame holds std's and libtest's frames.
    let frames =
        |name: &str| b.exec("return rustprofFlame.current.framesNamed(arguments[0])", &args_json(&[name]));
    let folds = |b: &Browser| b.exec("return rustprofFlame.current.folds()", "[]");
    let login = frames(LOGIN);
    let login = &login.as_array().unwrap()[0];
    let folded = folds(&b);
    let folded = folded.as_array().unwrap();
    assert!(!folded.is_empty(), "nothing folded");
    let fold = &folded[0];
    let members: Vec<String> =
        fold.get("members").unwrap().as_array().unwrap().iter().map(|m| m.as_str().unwrap().into()).collect();
    assert!(members.len() >= 5, "{members:?}");
    assert!(members.iter().any(|m| m.starts_with("std::")), "{members:?}");
    assert!(members.iter().any(|m| m.starts_with("test::")), "{members:?}");
    assert!(!members.iter().any(|m| m.starts_with("web_views::")), "user code folded: {members:?}");
    // Under the root: the folded frame, the test's closure, the test, then
    // the function that profiled.
    let maker = frames("web_views::rust_profile");
    let maker_depth = field(&maker.as_array().unwrap()[0], "depth");
    assert!(maker_depth <= 4.0, "user code starts at depth {maker_depth} in the flame graph");
    assert_eq!(field(fold, "depth"), 1.0);
    let depth = field(login, "depth");
    // The main thread's frames of a Rust program (legacy and v0 names) are
    // plumbing; the program's own are not.
    for (name, want) in [
        ("_start", true),
        ("__libc_start_main_impl", true),
        ("__libc_start_call_main", true),
        ("std::rt::lang_start::<()>", true),
        ("std::rt::lang_start::{{closure}}", true),
        ("std::rt::lang_start_internal::{closure#0}", true),
        ("std::panicking::try::do_call", true),
        ("core::ops::function::impls::<impl core::ops::function::FnOnce<A> for &F>::call_once", true),
        ("core::ops::function::FnOnce::call_once{{vtable.shim}}", true),
        ("std::sys_common::backtrace::__rust_begin_short_backtrace", true),
        ("test::bench::Bencher::iter", true),
        ("rustprof::bench::B::run1", true),
        ("rustprof::bench::B::iter", false),
        ("hash_password::main", false),
        ("mycrate::work::{{closure}}", false),
        ("std::thread::scope", false),
        ("runtime.goexit", false),
    ] {
        let got = b.exec("return rustprofFlame.plumbingName(arguments[0])", &args_json(&[name]));
        assert_eq!(got.as_bool(), Some(want), "{name}");
    }
    // Clicking the folded frame expands it: its frames are drawn, values unchanged.
    let width = field(login, "w");
    b.click_at(field(fold, "x") + field(fold, "w") / 2.0, field(fold, "y") + 6.0);
    let after = frames(LOGIN);
    let after = &after.as_array().unwrap()[0];
    assert!(field(after, "depth") >= depth + members.len() as f64 - 1.0, "not expanded: {after:?}");
    assert!((field(after, "w") - width).abs() < 0.5, "the width changed");
    for m in &members {
        assert!(!frames(m).as_array().unwrap().is_empty(), "{m} not drawn after expanding");
    }
    // The toggle: off draws everything and is kept in the URL; on folds again.
    let toggle = b.find("#fg-fold");
    b.click(&toggle);
    assert!(folds(&b).as_array().unwrap().is_empty());
    assert!(b.url().contains("fold=0"), "{}", b.url());
    let url = b.url();
    b.goto(&url);
    b.wait_for(flame_ready, "the flame graph", timeout);
    assert!(folds(&b).as_array().unwrap().is_empty(), "fold=0 not applied");
    b.click(&b.find("#fg-fold"));
    assert_eq!(folds(&b).as_array().unwrap().len(), folded.len());
    assert!(!b.url().contains("fold=0"));

    // With tagroot's label frames on top, the runs below them fold.
    b.goto(&format!("{}/ui/flamegraph?tagroot=endpoint", server.url));
    b.wait_for(flame_ready, "the flame graph", timeout);
    let labelled = folds(&b);
    let labelled = labelled.as_array().unwrap();
    // One under `login`, one under `search` (samples without the label keep
    // their run under the root).
    assert!(labelled.iter().filter(|f| field(f, "depth") == 2.0).count() >= 2, "{labelled:?}");
    assert_eq!(frames("login").as_array().unwrap().len(), 1);

    // The -flame file folds the same way, with the same toggle.
    let dir = temp_dir("web-views-flame");
    let file = dir.join("flame.html");
    let (ok, _, err) = rustprof(&["-flame", &format!("-output={}", file.display()), p]);
    assert!(ok, "{err}");
    b.goto(&format!("file://{}", file.display()));
    b.wait_for(flame_ready, "the flame file", timeout);
    let file_folds = folds(&b);
    let f0 = &file_folds.as_array().unwrap()[0];
    assert_eq!(f0.get("members"), fold.get("members"));
    b.click_at(field(f0, "x") + field(f0, "w") / 2.0, field(f0, "y") + 6.0);
    assert!(!frames(&members[0]).as_array().unwrap().is_empty(), "the file's folded frame did not expand");
    b.click(&b.find("#fg-fold"));
    assert!(b.exec_str("return location.hash").contains("fold=0"));
    let _ = std::fs::remove_dir_all(&dir);

    // The graph opens readable, centred on the hottest node; `f` fits it.
    b.goto(&format!("{}/ui/graph", server.url));
    let seen = b.exec(GRAPH_TEXT, "[]");
    let seen = seen.as_array().unwrap();
    assert!(num(&seen[0]) >= 3.0, "{seen:?}");
    assert!(num(&seen[1]) >= 9.0, "graph text of {} px", num(&seen[1]));
    let hot_visible = "const names = JSON.parse(document.getElementById('rp-data').textContent).nodes;\
         const box = document.getElementById('rp-graph').getBoundingClientRect();\
         const r = document.getElementById('node' + (names.indexOf(arguments[0]) + 1)).getBoundingClientRect();\
         return r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;";
    let (_, top, _) = rustprof(&["-top", p]);
    let hottest = top_rows(&top)[0].name.clone();
    assert_eq!(b.exec(hot_visible, &args_json(&[&hottest])).as_bool(), Some(true), "{hottest} not on screen");
    let fitted = "const box = document.querySelector('#rp-graph svg').getBoundingClientRect();\
         const g = document.querySelector('#rp-graph svg g').getBoundingClientRect();\
         return g.left >= box.left - 1 && g.right <= box.right + 1 && g.top >= box.top - 1 && g.bottom <= box.bottom + 1;";
    b.keys("f");
    assert_eq!(b.exec(fitted, "[]").as_bool(), Some(true), "f did not fit the graph");
    // Fitted, this profile's graph is unreadable (under a pixel): why it
    // does not open so.
    let fit_text = b.exec(GRAPH_TEXT, "[]");
    assert!(num(&fit_text.as_array().unwrap()[1]) < 9.0, "{fit_text:?}");
    b.keys("f");
    let again = b.exec(GRAPH_TEXT, "[]");
    assert!(num(&again.as_array().unwrap()[1]) >= 9.0, "not readable again: {again:?}");

    // Tags: the menu lists the values; focus on one, a chip shows it, the
    // chip removes it.
    b.goto(&format!("{}/ui/top", server.url));
    let rows = |b: &Browser| -> Vec<String> {
        let v = b.exec(
            "return Array.from(document.querySelectorAll('#rp-top tbody tr')).map(r => r.getAttribute('data-name'))",
            "[]",
        );
        v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
    };
    assert!(rows(&b).iter().any(|n| n == SEARCH));
    b.click(&b.find("#rp-tags .rp-menu-name"));
    let values = b.exec_str(
        "return Array.from(document.querySelectorAll('#rp-tags .rp-tag-value')).filter(e => e.offsetHeight > 0)\
         .map(e => e.getAttribute('data-value')).join(',')",
    );
    assert_eq!(values, "login,search");
    b.click(&b.find("#rp-tags .rp-tag-value[data-value=\"login\"] a[data-act=\"tf\"]"));
    b.wait_for(
        "return location.search.indexOf('tf=') >= 0 && !!document.getElementById('rp-top')",
        "tagfocus",
        timeout,
    );
    let chip = b.exec_str(
        "const c = document.querySelector('.rp-chip[data-param=\"tf\"]'); return c && c.offsetHeight > 0 ? c.textContent : ''",
    );
    assert!(chip.contains("tagfocus") && chip.contains("login"), "{chip:?}");
    let focused = rows(&b);
    assert!(focused.iter().any(|n| n == LOGIN) && !focused.iter().any(|n| n == SEARCH), "{focused:?}");
    b.click(&b.find(".rp-chip[data-param=\"tf\"]"));
    b.wait_for(
        "return location.search.indexOf('tf=') < 0 && !!document.getElementById('rp-top')",
        "no tagfocus",
        timeout,
    );
    assert!(b.exec_str("return String(document.querySelectorAll('.rp-chip').length)") == "0");
    assert!(rows(&b).iter().any(|n| n == SEARCH));

    // A search applied with Enter becomes a chip too.
    b.type_into(&b.find("#search"), "hot_login\u{E007}");
    b.wait_for("return !!document.querySelector('.rp-chip[data-param=\"f\"]')", "the focus chip", timeout);
    assert!(
        b.exec_str("return document.querySelector('.rp-chip[data-param=\"f\"]').textContent")
            .contains("focus")
    );

    // Comments: visible without clicking anything.
    let shown = b.exec_str(
        "const c = document.getElementById('rp-comments'); return c && c.open && c.offsetHeight > 0 ? c.textContent : ''",
    );
    assert!(shown.contains("rustprof cpu:") && shown.contains("requested 500 Hz"), "{shown:?}");

    // Source: the hottest line's number is readable on its shade.
    b.goto(&format!("{}/ui/source?f=hot_login", server.url));
    let colors = b.exec(
        "const rows = Array.from(document.querySelectorAll('.rp-src tr')).filter(r => /^h[5-9]$/.test(r.className));\
         return rows.map(r => [getComputedStyle(r.querySelector('.rp-ln')).color, getComputedStyle(r).backgroundColor]);",
        "[]",
    );
    let colors = colors.as_array().unwrap();
    assert!(!colors.is_empty(), "no hot source lines");
    for c in colors {
        let c = c.as_array().unwrap();
        let (fg, bg) = (c[0].as_str().unwrap(), c[1].as_str().unwrap());
        assert!(contrast(fg, bg) >= 4.5, "line number {fg} on {bg}: contrast {}", contrast(fg, bg));
    }
}

/// A CPU profile of the given stacks (root first), one sample of `ms` each.
fn stacks_profile(stacks: &[(&[&str], i64)]) -> PathBuf {
    let mut b = rustprof_profile::ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    for (frames, ms) in stacks {
        let locs: Vec<_> = frames
            .iter()
            .rev()
            .map(|name| {
                let f = b.add_function(name, name, "", 0);
                b.add_location(None, 0, &[rustprof_profile::Line { function: f, line: 0, column: 0 }], false)
            })
            .collect();
        b.add_sample(&locs, &[*ms, ms * 1_000_000], &[]);
    }
    let path = temp_dir("web-views-stacks").join("stacks.pb.gz");
    std::fs::write(&path, rustprof_profile::encode(&b.build())).unwrap();
    path
}

/// What is folded in the flame graph file of some real-shaped stacks: a Rust
/// program's main thread (v0 names), a C program, a rustprof benchmark.
#[test]
fn main_threads_c_programs_and_benchmarks_fold_in_chromium() {
    if !webdriver::available() {
        return;
    }
    const RUST_MAIN: &[&str] = &[
        "_start",
        "__libc_start_main_impl",
        "__libc_start_call_main",
        "main",
        "std::rt::lang_start::<()>",
        "std::rt::lang_start_internal",
        "std::panic::catch_unwind::<std::rt::lang_start_internal::{closure#0}, isize>",
        "std::panicking::catch_unwind::<isize, std::rt::lang_start_internal::{closure#0}>",
        "std::panicking::catch_unwind::do_call::<std::rt::lang_start_internal::{closure#0}, isize>",
        "std::rt::lang_start_internal::{closure#0}",
        "core::ops::function::impls::<impl core::ops::function::FnOnce<A> for &F>::call_once",
        "std::rt::lang_start::<()>::{closure#0}",
        "std::sys::backtrace::__rust_begin_short_backtrace::<fn(), ()>",
        "core::ops::function::FnOnce::call_once",
        "myapp::main",
        "myapp::work",
    ];
    const C_MAIN: &[&str] = &["_start", "__libc_start_main", "main", "compute"];
    const BENCH: &[&str] = &[
        "_start",
        "__libc_start_call_main",
        "main",
        "std::rt::lang_start::<()>",
        "std::rt::lang_start_internal",
        "std::rt::lang_start::<()>::{closure#0}",
        "std::sys::backtrace::__rust_begin_short_backtrace::<fn(), ()>",
        "core::ops::function::FnOnce::call_once",
        "hash_bench::main",
        "rustprof::bench::main",
        "rustprof::bench::run",
        "rustprof::bench::Harness::run_all",
        "rustprof::bench::B::run1",
        "rustprof::bench::B::run_n",
        "hash_bench::bench_hash",
        "rustprof::bench::B::iter::<u64, hash_bench::bench_hash::{closure#0}>",
        "hash_bench::hash",
    ];
    let b = Browser::start(1400, 900);
    let timeout = Duration::from_secs(30);
    for (stack, folded, first_user) in
        [(RUST_MAIN, 14, "myapp::main"), (C_MAIN, 2, "main"), (BENCH, 14, "hash_bench::bench_hash")]
    {
        let prof = stacks_profile(&[(stack, 10)]);
        let file = prof.with_file_name("flame.html");
        let (ok, _, err) =
            rustprof(&["-flame", &format!("-output={}", file.display()), prof.to_str().unwrap()]);
        assert!(ok, "{err}");
        b.goto(&format!("file://{}", file.display()));
        b.wait_for("return !!(window.rustprofFlame && rustprofFlame.current)", "the flame file", timeout);
        let folds = b.exec("return rustprofFlame.current.folds()", "[]");
        let folds = folds.as_array().unwrap();
        assert_eq!(folds.len(), 1, "{first_user}: {folds:?}");
        let members: Vec<&str> = folds[0]
            .get("members")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        // (The analyzer cuts generic arguments out of these names.)
        assert_eq!(members.len(), folded, "{first_user}: {members:?}");
        assert_eq!(members[0], "_start");
        let user =
            b.exec("return rustprofFlame.current.framesNamed(arguments[0])", &args_json(&[first_user]));
        assert_eq!(field(&user.as_array().unwrap()[0], "depth"), 2.0, "{first_user}");
        let _ = std::fs::remove_dir_all(prof.parent().unwrap());
    }
}
