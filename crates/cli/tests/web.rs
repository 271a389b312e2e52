#![allow(clippy::unwrap_used)]
//! The web UI (`-http`): a real server process on a real socket, its pages
//! compared with the command line's reports, bad requests answered with error
//! pages, and the views driven in a real headless Chromium (through
//! chromedriver): each view shows the hot function, a click on a flame graph
//! frame zooms, a refine action changes the URL and the report, and a
//! screenshot is not blank.
//!
//! Without Chromium, chromedriver or graphviz the browser test is skipped with
//! a message, unless `CI` is set (`.ci/run` installs them), in which case it
//! fails.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::flame::Flame;
use common::json::{self, Json};
use common::webdriver::{self, Browser};
use common::{
    Server, html_unescape, percentage, profile, quote_meta, require, rustprof, source_path, temp_dir,
    top_rows,
};

/// A query parameter value, encoded.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// The rows of the Top view: the text of each cell.
fn web_top_rows(html: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for part in html.split("<tr data-name=").skip(1) {
        let row = &part[..part.find("</tr>").unwrap()];
        let cells: Vec<String> = row
            .split("<td")
            .skip(1)
            .map(|c| {
                let c = &c[c.find('>').unwrap() + 1..];
                html_unescape(&c[..c.find("</td>").unwrap()])
            })
            .collect();
        rows.push(cells);
    }
    rows
}

/// The text between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    &s[i..i + s[i..].find(end).unwrap()]
}

fn cpu() -> String {
    profile("go-bench.cpu.pb.gz")
}

#[test]
fn views_agree_with_the_command_line() {
    let p = cpu();
    let server = Server::start(&[&source_path(), &p]);

    // Top: rows of `-top -nodecount=500` (the view's default), with filters.
    for (query, flags) in [
        ("", vec!["-nodecount=500"]),
        (
            "?f=HashPassword&si=samples",
            vec!["-nodecount=500", "-focus=HashPassword", "-sample_index=samples"],
        ),
        ("?n=7&sort=cum&h=runtime", vec!["-nodecount=7", "-cum", "-hide=runtime"]),
        ("?g=lines&i=sha256", vec!["-nodecount=500", "-lines", "-ignore=sha256"]),
    ] {
        let r = server.get(&format!("/ui/top{query}"));
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        let got = web_top_rows(&r.text());
        let mut args: Vec<&str> = vec!["-top"];
        args.extend(flags.iter().copied());
        args.push(&p);
        let (ok, out, err) = rustprof(&args);
        assert!(ok, "{err}");
        let want: Vec<Vec<String>> = top_rows(&out)
            .into_iter()
            .map(|r| vec![r.flat, r.flat_pct, r.sum_pct, r.cum, r.cum_pct, r.name, r.inline])
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "/ui/top{query} differs from rustprof {}", flags.join(" "));
    }

    // Peek: the text of `-peek RE -lines` (the view's granularity); `f` is
    // also the focus, as in pprof's web UI.
    let r = server.get("/ui/peek?f=HashPassword");
    assert_eq!(r.status, 200);
    let text = html_unescape(between(&r.text(), "<pre id=\"rp-peek\" class=\"rp-text\">", "</pre>"));
    let (_, want, _) = rustprof(&["-peek", "HashPassword", "-focus=HashPassword", "-lines", &p]);
    assert_eq!(text, want);
    // More matches than the view shows: the first 50 blocks of the same text.
    let r = server.get("/ui/peek?f=.");
    let page = r.text();
    assert!(page.contains("Showing the 50 heaviest of"), "no note about the limit");
    let text = html_unescape(between(&page, "<pre id=\"rp-peek\" class=\"rp-text\">", "</pre>"));
    let (_, all, _) = rustprof(&["-peek", ".", "-focus=.", "-lines", &p]);
    let body = text.trim_end_matches('\n');
    let last_separator = body.rfind('\n').unwrap();
    assert!(all.starts_with(&body[..last_separator]), "the first blocks differ from -peek");
    let blocks = |t: &str| t.lines().filter(|l| l.ends_with('|') || l.contains("                | ")).count();
    assert_eq!(blocks(&text), 50);

    // Source: the routines of `-list`.
    let r = server.get("/ui/source?f=HashPassword");
    assert_eq!(r.status, 200);
    let page = r.text();
    let (_, list, _) = rustprof(&["-list", "HashPassword", &source_path(), &p]);
    let want_sums: Vec<String> = list
        .lines()
        .filter(|l| l.ends_with("of Total") && l.contains("(flat, cum)"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let got_sums: Vec<String> = page
        .split("<div class=\"rp-routine-sum\">")
        .skip(1)
        .map(|s| html_unescape(&s[..s.find("</div>").unwrap()]))
        .collect();
    assert_eq!(got_sums, want_sums);
    assert!(page.contains("h.Write([]byte(password))"), "the source lines");

    // Flame graph data: every function's frames add up to -top's values.
    let r = server.get("/ui/flamegraph.json");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let flame = Flame::from_json(&r.text());
    let (_, top, _) = rustprof(&["-top", "-nodefraction=0", "-nodecount=0", "-unit=ns", &p]);
    let per_name = flame.per_name();
    for row in top_rows(&top) {
        let ns = |s: &str| s.trim_end_matches("ns").parse::<i64>().unwrap();
        assert_eq!(per_name[&row.name], (ns(&row.flat), ns(&row.cum)), "{}", row.name);
    }
    // The page embeds the same data.
    let page = server.get("/ui/flamegraph").text();
    let embedded = Flame::from_html(&page);
    assert_eq!(embedded.frames.len(), flame.frames.len());
    // A subtree by its path, and an exact search.
    let ids: Vec<i64> = flame
        .data
        .get("nameIds")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as i64)
        .collect();
    let names: Vec<&str> =
        flame.data.get("names").unwrap().as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let first = flame.frames[0].kids[0];
    let kid = &flame.frames[first];
    let gid = ids[names.iter().position(|n| *n == kid.name).unwrap()];
    let sub = Flame::from_json(&server.get(&format!("/ui/flamegraph.json?path={gid}")).text());
    assert_eq!((sub.frames[0].name.as_str(), sub.frames[0].pos), (kid.name.as_str(), kid.pos));
    let (_, top, _) = rustprof(&["-top", &p]);
    let hot = &top_rows(&top)[0];
    let m = json::parse(&server.get(&format!("/ui/flamegraph.json?match={}", enc(&exact(&hot.name)))).text())
        .unwrap();
    let total = flame.total();
    let value = m.get("value").and_then(Json::as_f64).unwrap() as i64;
    assert_eq!(percentage(value, total), hot.cum_pct);
    assert!(m.get("text").and_then(Json::as_str).unwrap().ends_with(&format!("({})", hot.cum_pct)));

    // Graph: graphviz's SVG of the same nodes as -dot.
    if require("dot", &["-V"], "graphviz") {
        let page = server.get("/ui/graph").text();
        let data =
            json::parse(between(&page, "<script type=\"application/json\" id=\"rp-data\">", "</script>"))
                .unwrap();
        let nodes = data.get("nodes").unwrap().as_array().unwrap();
        let (_, dot, _) = rustprof(&["-dot", &p]);
        let dot_nodes =
            dot.lines().filter(|l| l.starts_with('N') && l.contains(" [label=") && !l.contains("->")).count();
        assert_eq!(nodes.len(), dot_nodes);
        assert_eq!(page.matches("class=\"node\"").count(), dot_nodes);
        assert!(nodes.iter().any(|n| n.as_str() == Some(hot.name.as_str())));
        assert!(page.contains("Showing nodes accounting for"), "the legend is in the details");
    }

    // Download: the profile, which reads back to the same reports.
    let r = server.get("/ui/download");
    assert_eq!(r.header("content-type"), Some("application/vnd.google.protobuf+gzip"));
    assert!(r.body.starts_with(&[0x1f, 0x8b]));
    let dir = temp_dir("web-download");
    let file = dir.join("p.pb.gz");
    std::fs::write(&file, &r.body).unwrap();
    let (_, again, _) = rustprof(&["-top", file.to_str().unwrap()]);
    let (_, orig, _) = rustprof(&["-top", &p]);
    assert_eq!(again, orig);
    let _ = std::fs::remove_dir_all(&dir);

    // Sample types: a menu entry per type, the current one marked.
    let page = server.get("/ui/top?si=samples").text();
    assert!(page.contains("<div>Type: samples</div>"));
    assert!(page.contains("data-si=\"samples\" class=\"rp-current\""));
    assert!(page.contains("data-si=\"cpu\""));
}

/// `^name$` with the name's metacharacters escaped.
fn exact(name: &str) -> String {
    format!("^{}$", quote_meta(name))
}

#[test]
fn bad_requests_get_error_pages() {
    let p = cpu();
    let mut server = Server::start(&[&p]);
    for (path, status, needle) in [
        ("/ui/nope", 404, "no such page"),
        ("/ui/top/deeper", 404, "no such page"),
        ("/ui/top?f=(", 400, "missing closing )"),
        ("/ui/graph?i=a%5B", 400, "parsing ignore regexp"),
        ("/ui/flamegraph?h=*", 400, "parsing hide regexp"),
        ("/ui/top?n=abc", 400, "strconv.Atoi: parsing &quot;abc&quot;: invalid syntax"),
        ("/ui/top?nf=x", 400, "nodefraction"),
        ("/ui/top?si=bogus", 400, "sample_index &quot;bogus&quot; must be one of: [samples cpu]"),
        ("/ui/top?g=bytes", 400, "invalid &quot;granularity&quot; value"),
        ("/ui/top?calltree=maybe", 400, "illegal value"),
        ("/ui/peek?f=NoSuchFunction", 400, "no matches found for regexp: NoSuchFunction"),
        ("/ui/source?f=%28", 400, "parsing argument regexp"),
        ("/ui/source?f=NoSuchFunction", 400, "no matches found"),
        ("/ui/disasm?f=NoSuchFunction", 400, "no matches found for regexp NoSuchFunction"),
        ("/ui/top?f=%zz", 400, "malformed query encoding"),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        let page = r.text();
        assert!(page.contains(needle), "{path}: no {needle:?} in {page}");
        assert!(page.contains("<html"), "{path}: not a page");
    }
    // A view's error page keeps the menus, to get out of it.
    let page = server.get("/ui/top?f=(").text();
    assert!(page.contains("id=\"rp-view\"") && page.contains("Remove the filters"));
    // Warnings of a report are shown on the page.
    let page = server.get("/ui/top?tf=nosuchtag%3Dx").text();
    assert!(page.contains("TagFocus expression matched no samples"), "{page}");
    // The flame graph's data requests answer JSON errors.
    for path in
        ["/ui/flamegraph.json?path=abc", "/ui/flamegraph.json?path=999999", "/ui/flamegraph.json?path=1.2.3"]
    {
        let r = server.get(path);
        assert_eq!((r.status, r.header("content-type")), (400, Some("application/json")), "{path}");
        assert!(json::parse(&r.text()).unwrap().get("error").is_some());
    }
    let r = server.get("/ui/flamegraph.json?match=(");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("parsing match regexp"));
    // Protocol errors.
    let raw = |req: &[u8]| common::HttpResponse::parse(&server.raw(req));
    assert_eq!(raw(b"\x00\x01garbage\r\n\r\n").status, 400);
    assert_eq!(raw(b"GET ui/top HTTP/1.1\r\n\r\n").status, 400);
    assert_eq!(raw(b"GET /ui/top HTTP/9.9\r\n\r\n").status, 400);
    let huge = format!("GET /ui/top?f={} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    assert_eq!(raw(huge.as_bytes()).status, 431);
    let r = server.request("POST", "/ui/top");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    let r = server.request("HEAD", "/ui/top");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.header("content-length").unwrap().parse::<usize>().unwrap() > 1000);
    // Clients that leave: saying nothing, in the middle of a request, without
    // reading the answer.
    server.send_and_leave(b"");
    server.send_and_leave(b"GET /ui/top HTTP/1.1\r\nHost: x");
    server.send_and_leave(b"GET /ui/flamegraph HTTP/1.1\r\n\r\n");
    // Redirects and assets.
    let r = server.get("/");
    assert_eq!((r.status, r.header("location")), (307, Some("/ui/")));
    let r = server.get("/ui?f=main");
    assert_eq!((r.status, r.header("location")), (307, Some("/ui/?f=main")));
    for (path, kind) in [
        ("/ui/static/ui.js", "text/javascript; charset=utf-8"),
        ("/ui/static/flame.js", "text/javascript; charset=utf-8"),
        ("/ui/static/ui.css", "text/css; charset=utf-8"),
        ("/ui/static/flame.css", "text/css; charset=utf-8"),
    ] {
        let r = server.get(path);
        assert_eq!((r.status, r.header("content-type")), (200, Some(kind)), "{path}");
    }
    // Pages allow nothing from elsewhere.
    let r = server.get("/ui/top");
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!r.text().contains("http://") && !r.text().contains("https://"), "no external links");
    // Still serving.
    assert!(server.alive());
    assert_eq!(server.get("/ui/top").status, 200);
}

#[test]
fn http_flag_errors() {
    let p = cpu();
    for (args, want) in [
        (vec!["-http=8080"], "could not split http address: address 8080: missing port in address"),
        (vec!["-http=:notaport"], "invalid port number: \"notaport\""),
        (vec!["-no_browser", "-top"], "-no_browser only makes sense with -http"),
        (vec!["-http=:0", "-top"], "-http is not compatible with an output format on the command line"),
    ] {
        let mut all = args.clone();
        all.push(&p);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustprof"))
            .args(&all)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
        assert!(err.contains(want), "{all:?}: {err}");
    }
    // A port in use.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args([&format!("-http=127.0.0.1:{port}"), "-no_browser", &p])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), format!("listen tcp 127.0.0.1:{port}: address already in use"));
}

#[test]
fn diff_base_in_the_web_ui() {
    let server = Server::start(&[
        &format!("-diff_base={}", profile("go-labels.cpu.pb.gz")),
        &profile("go-bench.cpu.pb.gz"),
    ]);
    let page = server.get("/ui/flamegraph").text();
    assert!(page.contains("class=\"fg-grew\"") && page.contains("class=\"fg-shrank\""));
    let flame = Flame::from_html(&page);
    assert_eq!(flame.data.get("diffBase").and_then(Json::as_bool), Some(true));
    assert!(flame.frames[0].pos > 0 && flame.frames[0].neg > 0);
    let r = server.get("/ui/top");
    assert_eq!(r.status, 200);
    let (_, top, _) = rustprof(&[
        "-top",
        "-nodecount=500",
        &format!("-diff_base={}", profile("go-labels.cpu.pb.gz")),
        &profile("go-bench.cpu.pb.gz"),
    ]);
    let want: Vec<String> = top_rows(&top).into_iter().map(|r| r.cum).collect();
    let got: Vec<String> = web_top_rows(&r.text()).into_iter().map(|r| r[3].clone()).collect();
    assert_eq!(got, want);
}

/// The JSON text of a list of strings, for script arguments.
fn args_json(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| json::quote(s)).collect::<Vec<_>>().join(","))
}

fn num(v: &Json) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

#[test]
fn views_in_headless_chromium() {
    if !webdriver::available() || !require("dot", &["-V"], "graphviz") {
        return;
    }
    let p = cpu();
    let server = Server::start(&[&source_path(), &p]);
    let ui = format!("{}/ui", server.url);
    let (_, top, _) = rustprof(&["-top", "-nodecount=500", &p]);
    let rows = top_rows(&top);
    let hot = rows[0].clone();
    let b = Browser::start(1280, 900);
    let timeout = Duration::from_secs(20);

    // Top: the rows of the command line, the hot function first.
    b.goto(&format!("{ui}/top"));
    let first = b.exec(
        "return Array.from(document.querySelectorAll('#rp-top tbody tr')[0].cells).map(c => c.textContent)",
        "[]",
    );
    let first: Vec<String> =
        first.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(
        first[..6],
        [
            hot.flat.clone(),
            hot.flat_pct.clone(),
            hot.sum_pct.clone(),
            hot.cum.clone(),
            hot.cum_pct.clone(),
            hot.name.clone()
        ]
    );
    assert_eq!(b.exec_str("return document.title"), "skeletor.test cpu — rustprof");
    let row_count =
        |b: &Browser| num(&b.exec("return document.querySelectorAll('#rp-top tbody tr').length", "[]"));
    let all_rows = row_count(&b);
    assert_eq!(all_rows as usize, rows.len());

    // Refine: select the hot row, then Refine > Focus.
    b.click(&b.find(&format!("#rp-top tbody tr[data-name=\"{}\"]", hot.name)));
    assert_eq!(b.exec("return rustprofUI.selected()", "[]"), Json::Arr(vec![Json::Str(hot.name.clone())]));
    b.click(&b.find("#rp-refine .rp-menu-name"));
    b.click(&b.find("#rp-refine-f"));
    b.wait_for(
        "return location.search.indexOf('f=') >= 0 && !!document.getElementById('rp-top')",
        "the focused page",
        timeout,
    );
    let url = b.url();
    let focus = b.exec_str("return new URLSearchParams(location.search).get('f')");
    assert_eq!(focus, exact(&hot.name), "{url}");
    let focused_rows = row_count(&b);
    let (_, want, _) = rustprof(&["-top", "-nodecount=500", &format!("-focus={focus}"), &p]);
    assert_eq!(focused_rows as usize, top_rows(&want).len());
    assert!(focused_rows < all_rows, "focusing changed nothing");
    let details = b.exec_str("return document.getElementById('rp-details').textContent");
    assert!(details.contains("Active filters:") && details.contains(&format!("focus={focus}")), "{details}");
    // Reset goes back to everything.
    b.click(&b.find("#rp-refine .rp-menu-name"));
    b.click(&b.find("#rp-reset"));
    b.wait_for(
        "return location.search.indexOf('f=') < 0 && !!document.getElementById('rp-top')",
        "reset",
        timeout,
    );
    assert_eq!(row_count(&b), all_rows);

    // Graph: graphviz's drawing, the hot function a node; clicking selects it.
    b.goto(&format!("{ui}/graph"));
    let nodes = num(&b.exec("return document.querySelectorAll('#rp-graph svg g.node').length", "[]"));
    assert!(nodes > 10.0);
    let short = hot.name.rsplit('.').next().unwrap();
    assert!(b.exec_str("return document.querySelector('#rp-graph svg').textContent").contains(short));
    let rect = b.exec(
        "const names = JSON.parse(document.getElementById('rp-data').textContent).nodes;\
         const i = names.indexOf(arguments[0]);\
         const r = document.getElementById('node' + (i + 1)).querySelector('polygon').getBoundingClientRect();\
         return [r.left + r.width / 2, r.top + r.height / 2];",
        &args_json(&[&hot.name]),
    );
    let rect = rect.as_array().unwrap();
    b.click_at(num(&rect[0]), num(&rect[1]));
    assert_eq!(b.exec("return rustprofUI.selected()", "[]"), Json::Arr(vec![Json::Str(hot.name.clone())]));
    // View > Peek carries the selection.
    b.click(&b.find("#rp-view .rp-menu-name"));
    b.click(&b.find("#rp-view-peek"));
    b.wait_for("return !!document.getElementById('rp-peek')", "the peek page", timeout);
    let peek = b.exec_str("return document.getElementById('rp-peek').textContent");
    assert!(peek.contains(&format!("| {}", hot.name)), "{peek}");
    assert!(b.url().contains("/ui/peek?"));

    // Source.
    b.goto(&format!("{ui}/source?f=HashPassword"));
    let text = b.exec_str("return document.getElementById('rp-main').textContent");
    assert!(text.contains("skeletor/utils.HashPassword") && text.contains("h.Write([]byte(password))"));

    // Flame graph: hover, click to zoom, search.
    b.goto(&format!("{ui}/flamegraph"));
    b.wait_for("return !!(window.rustprofFlame && rustprofFlame.current)", "the flame graph", timeout);
    let frames =
        |name: &str| b.exec("return rustprofFlame.current.framesNamed(arguments[0])", &args_json(&[name]));
    let hot_frames = frames(&hot.name);
    let hot_frames = hot_frames.as_array().unwrap();
    assert!(!hot_frames.is_empty(), "no frame for {} on screen", hot.name);
    // The widest frame of the hot function: hover shows its name and share.
    let widest = hot_frames
        .iter()
        .max_by(|a, c| num(a.get("w").unwrap()).total_cmp(&num(c.get("w").unwrap())))
        .unwrap();
    let (x, y, w, h) = (
        num(widest.get("x").unwrap()),
        num(widest.get("y").unwrap()),
        num(widest.get("w").unwrap()),
        num(widest.get("h").unwrap()),
    );
    b.move_to(x + w / 2.0, y + h / 2.0);
    b.wait_for("return !document.querySelector('.fg-tip').hidden", "the tooltip", timeout);
    let tip = b.exec_str("return document.querySelector('.fg-tip').textContent");
    assert!(tip.starts_with(&hot.name) && tip.contains('%'), "{tip}");
    // Click a frame below the root: it becomes the zoom root, in the URL too.
    let target = b.exec_str("return rustprofFlame.current.root.kids[0].name");
    let r = frames(&target);
    let r = &r.as_array().unwrap()[0];
    let before = num(r.get("w").unwrap());
    let canvas_width =
        num(&b.exec("return document.querySelector('.fg-canvas').getBoundingClientRect().width", "[]"));
    assert!(before < canvas_width - 5.0, "the frame is already full width");
    b.click_at(num(r.get("x").unwrap()) + before / 2.0, num(r.get("y").unwrap()) + 5.0);
    assert_eq!(b.exec_str("return rustprofFlame.current.zoom.name"), target);
    assert!(b.url().contains("fz=0"), "{}", b.url());
    let after = frames(&target);
    let after =
        after.as_array().unwrap().iter().find(|f| f.get("ancestor").and_then(Json::as_bool) == Some(false));
    assert!(
        (num(after.unwrap().get("w").unwrap()) - canvas_width).abs() < 2.0,
        "the zoomed frame is not full width"
    );
    // The zoom is in the URL: loading it again shows the same.
    let zoomed_url = b.url();
    b.goto(&zoomed_url);
    b.wait_for("return !!(window.rustprofFlame && rustprofFlame.current)", "the flame graph", timeout);
    assert_eq!(b.exec_str("return rustprofFlame.current.zoom.name"), target);
    // Search: matches are highlighted and their share of the total shown,
    // the share -top prints for the function.
    b.goto(&format!("{ui}/flamegraph"));
    b.wait_for("return !!(window.rustprofFlame && rustprofFlame.current)", "the flame graph", timeout);
    b.type_into(&b.find("#search"), &exact(&hot.name));
    b.wait_for(
        "return document.getElementById('rp-matched').textContent.indexOf('Matched') === 0",
        "the search",
        timeout,
    );
    let matched = b.exec_str("return document.getElementById('rp-matched').textContent");
    assert!(matched.ends_with(&format!("({})", hot.cum_pct)), "{matched} vs {}", hot.cum_pct);
    assert!(b.url().contains("q="));
    let highlighted =
        num(&b.exec("let n = 0; (function walk(f) { if (f.hit) n++; f.kids.forEach(walk); })(rustprofFlame.current.root); return n;", "[]"));
    assert!(highlighted >= 1.0);
    // A screenshot: the flame graph is drawn, not blank.
    let img = common::png_decode(&b.screenshot());
    assert!(img.width >= 1000 && img.height >= 700);
    let colors: std::collections::HashSet<[u8; 4]> = img.rgba.iter().copied().collect();
    let white = img.rgba.iter().filter(|p| p[0] > 245 && p[1] > 245 && p[2] > 245).count();
    assert!(colors.len() > 50, "only {} colours", colors.len());
    assert!(white < img.rgba.len() * 9 / 10, "the screenshot is almost blank");

    // Bad parameters in the browser: an error page, and the server goes on.
    b.goto(&format!("{ui}/top?f=("));
    let error = b.exec_str("return document.getElementById('rp-error').textContent");
    assert!(error.contains("missing closing )"), "{error}");
    b.goto(&format!("{ui}/top"));
    assert_eq!(row_count(&b), all_rows);

    // The standalone flame graph file, opened from disk.
    let dir = temp_dir("web-flame-file");
    let file = dir.join("flame.html");
    let (ok, _, err) = rustprof(&["-flame", &format!("-output={}", file.display()), &p]);
    assert!(ok, "{err}");
    b.goto(&format!("file://{}", file.display()));
    b.wait_for("return !!(window.rustprofFlame && rustprofFlame.current)", "the flame file", timeout);
    b.type_into(&b.find("#search"), &exact(&hot.name));
    b.wait_for(
        "return document.getElementById('fg-matched').textContent.indexOf('Matched') === 0",
        "the search in the file",
        timeout,
    );
    let matched = b.exec_str("return document.getElementById('fg-matched').textContent");
    assert!(matched.ends_with(&format!("({})", hot.cum_pct)), "{matched}");
    let r = frames(&target);
    let r = &r.as_array().unwrap()[0];
    b.click_at(num(r.get("x").unwrap()) + num(r.get("w").unwrap()) / 2.0, num(r.get("y").unwrap()) + 5.0);
    assert_eq!(b.exec_str("return rustprofFlame.current.zoom.name"), target);
    assert!(b.exec_str("return location.hash").contains("fz=0"));
    let _ = std::fs::remove_dir_all(&dir);
}
