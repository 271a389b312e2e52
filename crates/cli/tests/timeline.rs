#![allow(clippy::unwrap_used)]
//! The timeline of `rustprof -http trace.pftrace`: its JSON endpoints on a
//! real server (aggregation below a pixel keeps every slice counted, details
//! and range totals are the trace's), the derived profiles in the normal
//! views, and the page driven in headless Chromium: lanes, zoom, a click that
//! shows a stack, a range selection whose totals are the summary's.
//!
//! Without Chromium or chromedriver the browser test is skipped with a
//! message, unless `CI` is set (`.ci/run` installs them).

mod common;

use std::time::Duration;

use common::json::{self, Json};
use common::trace::{self, MS};
use common::webdriver::{self, Browser};
use common::{Server, rustprof, temp_dir, top_rows};

fn get_json(server: &Server, path: &str) -> Json {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    json::parse(&r.text()).unwrap()
}

fn num(v: &Json) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

fn arr(v: &Json) -> &Vec<Json> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v:?}"))
}

#[test]
fn endpoints_serve_the_trace() {
    let dir = temp_dir("timeline-endpoints");
    let path = trace::write(&dir, "sample.pftrace", &trace::sample());
    let server = Server::start(&[&path]);

    let lanes = get_json(&server, "/ui/timeline/lanes.json");
    let names: Vec<&str> =
        arr(lanes.get("lanes").unwrap()).iter().map(|l| l.get("name").unwrap().as_str().unwrap()).collect();
    assert_eq!(names, ["user tasks", "main", "worker", "conn 1"]);
    assert_eq!(num(lanes.get("duration").unwrap()), (10 * MS) as f64);

    // The whole trace at 1000 px: every slice is wider than a pixel.
    let v = get_json(&server, &format!("/ui/timeline/view.json?start=0&end={}&width=1000", 10 * MS));
    let main = &arr(v.get("lanes").unwrap())[1];
    let states: Vec<(f64, f64)> =
        arr(main.get("states").unwrap()).iter().map(|s| (num(&arr(s)[0]), num(&arr(s)[1]))).collect();
    let ms = MS as f64;
    assert_eq!(
        states,
        [
            (0.0, 2.0 * ms),
            (2.0 * ms, 3.0 * ms),
            (3.0 * ms, 4.0 * ms),
            (4.0 * ms, 8.0 * ms),
            (8.0 * ms, 10.0 * ms)
        ]
    );
    // The lock wait's details: its stack, lock and region.
    let d = get_json(&server, "/ui/timeline/slice.json?lane=1&row=1&i=0");
    assert_eq!(d.get("name").unwrap().as_str(), Some("lock wait"));
    assert_eq!(d.get("dur").unwrap().as_str(), Some("3.00ms"));
    let stack: Vec<&str> = arr(d.get("stack").unwrap()).iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(stack, trace::LOCK_STACK.lines().collect::<Vec<_>>());
    assert_eq!(d.get("args").unwrap().get("lock").unwrap().as_str(), Some("0x7f00"));
    assert_eq!(arr(d.get("in").unwrap())[0].as_str(), Some("handle"));
    let log = get_json(&server, "/ui/timeline/instant.json?lane=1&i=2");
    assert_eq!(
        (log.get("name").unwrap().as_str(), log.get("category").unwrap().as_str()),
        (Some("GET /login"), Some("http"))
    );
    // A range: the threads' totals inside it, cut at its edges.
    let r = get_json(&server, &format!("/ui/timeline/range.json?start={}&end={}", 3 * MS, 6 * MS));
    let ns: Vec<f64> = arr(r.get("threads").unwrap().get("ns").unwrap()).iter().map(num).collect();
    // main: running 3-4, blocked 4-6, lock wait 4-6; worker: running 3-5, blocked 5-6.
    assert_eq!(ns, [3.0 * ms, 0.0, 3.0 * ms, 2.0 * ms]);
    // Bad parameters: 400 with a message; unknown slices 404.
    for bad in [
        "/ui/timeline/view.json?start=x&end=1&width=10",
        "/ui/timeline/view.json?start=5&end=1&width=10",
        "/ui/timeline/range.json?start=-1&end=3",
    ] {
        let r = server.get(bad);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains("\"error\""), "{bad}");
    }
    assert_eq!(server.get("/ui/timeline/slice.json?lane=9&row=0&i=0").status, 404);
    // User tasks and regions by name.
    let tasks = server.get("/ui/tasks").text();
    assert!(
        tasks.contains("<tr><td>request</td><td class=\"num\">2</td><td class=\"num\">11.00ms</td>"),
        "{tasks}"
    );
    assert!(
        tasks.contains("<tr><td>io</td><td class=\"num\">1</td><td class=\"num\">4.50ms</td>"),
        "{tasks}"
    );
    // The derived profiles in the normal views: Top is `-top -trace_profile`.
    let (_, top, _) = rustprof(&["-top", "-trace_profile=sync", "-nodecount=500", &path]);
    let want = top_rows(&top);
    let page = server.get("/ui/sync/top").text();
    let got: Vec<&str> = page.split("<tr data-name=\"").skip(1).map(|p| &p[..p.find('"').unwrap()]).collect();
    let html_name = |n: &str| n.replace('<', "&lt;").replace('>', "&gt;");
    assert_eq!(got, want.iter().map(|r| html_name(&r.name)).collect::<Vec<_>>());
    assert_eq!(server.get("/ui/offcpu/flamegraph").status, 200);
    assert_eq!(server.get("/ui/sched").status, 307);
    assert_eq!(server.get("/ui/nosuch").status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn narrow_slices_are_merged_and_counted() {
    let dir = temp_dir("timeline-merge");
    let big = trace::random(7, 3, 3000);
    let path = trace::write(&dir, "random.pftrace", &big);
    let server = Server::start(&[&path]);
    let lanes = get_json(&server, "/ui/timeline/lanes.json");
    let duration = num(lanes.get("duration").unwrap()) as u64;
    for width in [50u64, 400, 5000] {
        let v = get_json(&server, &format!("/ui/timeline/view.json?start=0&end={duration}&width={width}"));
        let px = num(v.get("px").unwrap());
        let kinds = arr(lanes.get("lanes").unwrap());
        for (l, kind) in arr(v.get("lanes").unwrap()).iter().zip(kinds) {
            let states = arr(l.get("states").unwrap());
            // A thread has 3000 states, an async task 750 wake-ups and 750 polls.
            let want = if kind.get("kind").unwrap().as_str() == Some("thread") { 3000.0 } else { 1500.0 };
            if states.is_empty() {
                continue;
            }
            // At most ~2 items per pixel, and the counts add up to every state.
            assert!(states.len() as u64 <= 2 * width + 2, "{} items at {width} px", states.len());
            let count: f64 = states.iter().map(|s| num(&arr(s)[5])).sum();
            assert_eq!(count, want, "width {width}");
            for s in states {
                let s = arr(s);
                let merged = num(&s[4]) < 0.0;
                assert_eq!(merged, num(&s[5]) > 1.0);
                if merged {
                    // Merged items start within a pixel of each other's slices.
                    assert!(num(&s[1]) - num(&s[0]) < 2.0 * px + 1.0 || num(&s[5]) > 1.0);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn args_json(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| json::quote(s)).collect::<Vec<_>>().join(","))
}

#[test]
fn timeline_in_headless_chromium() {
    if !webdriver::available() {
        return;
    }
    let dir = temp_dir("timeline-chromium");
    let path = trace::write(&dir, "sample.pftrace", &trace::sample());
    let server = Server::start(&[&path]);
    let b = Browser::start(1280, 900);
    let timeout = Duration::from_secs(20);
    b.goto(&format!("{}/ui/", server.url));
    b.wait_for("return !!(window.rustprofTimeline && rustprofTimeline.loaded())", "the timeline", timeout);

    // One lane per thread, per async task, the user tasks and the heap counter.
    let lanes = b.exec(
        "return Array.from(document.querySelectorAll('#tl-lanes .tl-lane')).map(e => e.textContent)",
        "[]",
    );
    let lanes: Vec<&str> = arr(&lanes).iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lanes, ["user tasks", "main (10)", "worker (11)", "conn 1", "heap in-use bytes"]);
    let span =
        |b: &Browser| num(&b.exec("return rustprofTimeline.view.end - rustprofTimeline.view.start", "[]"));
    assert_eq!(span(&b), (10 * MS) as f64);

    // Zoom: W, then the wheel; the server's data follows the visible range.
    b.keys("w");
    b.wait_for(
        "const d = rustprofTimeline.loaded(); return !!d && d.end - d.start < 9000000",
        "zoomed data",
        timeout,
    );
    let after_w = span(&b);
    assert!((after_w - 8.0 * MS as f64).abs() < 2.0, "{after_w}");
    let axis = b.exec("return rustprofTimeline.axis()", "[]");
    let (left, top, width) =
        (num(axis.get("left").unwrap()), num(axis.get("top").unwrap()), num(axis.get("width").unwrap()));
    b.wheel(left + width / 2.0, top + 100.0, -300.0);
    b.wait_for(
        "return rustprofTimeline.view.end - rustprofTimeline.view.start < 7000000",
        "the wheel zoom",
        timeout,
    );
    b.wait_for(
        "const d = rustprofTimeline.loaded(), v = rustprofTimeline.view; return !!d && Math.abs(d.end - d.start - (v.end - v.start)) <= 2",
        "data for the wheel zoom",
        timeout,
    );
    // S zooms back out; D pans right.
    let start_before = num(&b.exec("return rustprofTimeline.view.start", "[]"));
    b.keys("d");
    b.wait_for(&format!("return rustprofTimeline.view.start > {start_before}"), "the pan", timeout);
    b.keys("ssssssss");
    b.wait_for(
        "return rustprofTimeline.view.end - rustprofTimeline.view.start >= 10000000",
        "zoomed out",
        timeout,
    );
    b.wait_for(
        "const d = rustprofTimeline.loaded(); return !!d && d.end - d.start >= 10000000",
        "all data",
        timeout,
    );

    // Click the lock wait: its details and stack.
    let r = b.exec("return rustprofTimeline.find(arguments[0])", &args_json(&["lock wait"]));
    let r = &arr(&r)[0];
    b.click_at(
        num(r.get("x").unwrap()) + num(r.get("w").unwrap()) / 2.0,
        num(r.get("y").unwrap()) + num(r.get("h").unwrap()) / 2.0,
    );
    b.wait_for("return !!document.getElementById('tl-stack')", "the stack", timeout);
    assert_eq!(b.exec_str("return document.getElementById('tl-stack').textContent"), trace::LOCK_STACK);
    let fields = b.exec_str("return document.getElementById('tl-fields').textContent");
    assert!(
        fields.contains("duration3.00ms") && fields.contains("lock0x7f00") && fields.contains("inhandle"),
        "{fields}"
    );

    // Select the whole trace on the time axis: the totals of the summary.
    b.drag((left + 1.0, top + 10.0), (left + width - 1.0, top + 10.0));
    b.wait_for("return !!document.getElementById('tl-range-threads')", "the range totals", timeout);
    let cells = b.exec(
        "return Array.from(document.querySelectorAll('#tl-range-threads tr')[1].children).map(c => c.textContent)",
        "[]",
    );
    let cells: Vec<&str> = arr(&cells).iter().map(|c| c.as_str().unwrap()).collect();
    let (ok, summary, err) = rustprof(&["-trace_summary", &path]);
    assert!(ok, "{err}");
    let all: Vec<&str> =
        summary.lines().find(|l| l.starts_with("  all threads")).unwrap().split_whitespace().collect();
    assert_eq!(cells[1..], all[2..], "range {cells:?} vs summary {all:?}");
    // A smaller range: the server's numbers, cut at its edges.
    let sel = b.exec("return rustprofTimeline.selection()", "[]");
    assert_eq!((num(sel.get("start").unwrap()), num(sel.get("end").unwrap())), (0.0, (10 * MS) as f64));

    // The profiles' links open the normal views.
    b.click(&b.find("#rp-profiles .rp-menu-name"));
    b.click(&b.find("#tl-profile-sync"));
    b.wait_for("return location.pathname.indexOf('/ui/sync/') === 0", "the sync profile", timeout);
    b.goto(&format!("{}/ui/sync/top", server.url));
    let first = b.exec_str("return document.querySelector('#rp-top tbody tr').dataset.name");
    assert_eq!(first, "std::sync::Mutex<T>::lock");
    let _ = std::fs::remove_dir_all(&dir);
}
