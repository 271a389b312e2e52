#![allow(clippy::unwrap_used)]
//! `-list_recursion` (issue 18.6, pprof #707): on a recursive profile, `-list`
//! prints go tool pprof's numbers by default (byte-identical with the
//! reference, a routine above 100% of the total), and with
//! `-list_recursion=once` each sample counts once per routine and per line (at
//! most 100%), on the command line, in the shell and in the web UI's Source
//! view.

mod common;

use std::path::{Path, PathBuf};

use common::{Server, run_tool, rustprof, temp_dir};
use rustprof_profile::{Line, MappingInfo, ProfileBuilder};

const SOURCE: &str = "fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib(n - 1) + fib(n - 2)
}

fn main() {
    let n = 30;
    println!(\"{}\", fib(n));
    other();
}

fn other() {
    std::thread::yield_now();
}
";

const MS: i64 = 1_000_000;

/// A CPU profile of `SOURCE`: fib recursing through both calls of line 5
/// (columns 5 and 18), 100ms in all, 90ms of it in fib.
fn recursive_profile(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("rec.rs"), SOURCE).unwrap();
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.period("cpu", "nanoseconds", 10 * MS);
    let m = Some(b.add_mapping(&MappingInfo {
        memory_start: 0x1000,
        memory_limit: 0x2000,
        file_offset: 0,
        filename: "/usr/local/bin/rec",
        build_id: "",
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        has_inline_frames: true,
    }));
    let fib = b.add_function("rec::fib", "rec::fib", "rec.rs", 1);
    let main = b.add_function("rec::main", "rec::main", "rec.rs", 8);
    let other = b.add_function("rec::other", "rec::other", "rec.rs", 14);
    let at = |function, line, column| [Line { function, line, column }];
    let leaf = b.add_location(m, 0x1100, &at(fib, 3, 16), false);
    let call_a = b.add_location(m, 0x1110, &at(fib, 5, 5), false);
    let call_b = b.add_location(m, 0x1120, &at(fib, 5, 18), false);
    let in_main = b.add_location(m, 0x1200, &at(main, 10, 20), false);
    let in_other = b.add_location(m, 0x1300, &at(other, 15, 5), false);
    b.add_sample(&[leaf, call_b, call_a, call_a, in_main], &[6, 60 * MS], &[]);
    b.add_sample(&[leaf, call_a, in_main], &[3, 30 * MS], &[]);
    b.add_sample(&[in_other, in_main], &[1, 10 * MS], &[]);
    let path = dir.join("rec.pb.gz");
    std::fs::write(&path, rustprof_profile::encode_as_pprof(&b.build())).unwrap();
    path
}

/// The `(flat, cum) N% of Total` line of routine `name`.
fn routine_sum<'a>(list: &'a str, name: &str) -> &'a str {
    let mut lines = list.lines();
    while let Some(l) = lines.next() {
        if l.starts_with(&format!("ROUTINE ======================== {name} in ")) {
            return lines.next().unwrap();
        }
    }
    panic!("no routine {name} in {list}");
}

/// The `flat cum` columns of line `lineno` of the listing.
fn line_values(list: &str, lineno: i64, text: &str) -> String {
    let want = format!("{lineno}:{text}");
    let l = list.lines().find(|l| l.trim_start().split_once(' ').is_some() && l.ends_with(&want)).unwrap();
    l[..l.len() - want.len()].split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn default_is_pprof_and_once_counts_each_sample_once() {
    let dir = temp_dir("list-recursion");
    let prof = recursive_profile(&dir);
    let p = prof.to_str().unwrap();
    let src = format!("-source_path={}", dir.display());
    for extra in [&[][..], &["-showcolumns"][..]] {
        let args = [&["-list", "rec::"], extra, &[src.as_str(), p]].concat();
        let (ok, pprof_numbers, err) = rustprof(&args);
        assert!(ok, "{err}");
        // The reference prints the same bytes (under CI Go must be there).
        if let Some(want) = run_tool("go", &["tool", "pprof"], &args) {
            assert_eq!(pprof_numbers, want, "-list {extra:?} differs from go tool pprof");
        }
        let explicit = rustprof(&[&args[..], &["-list_recursion=pprof"]].concat());
        assert_eq!(explicit.1, pprof_numbers, "-list_recursion=pprof is the default");
        let (ok, once, err) = rustprof(&[&args[..], &["-list_recursion=once"]].concat());
        assert!(ok, "{err}");
        assert!(once.starts_with("Total: 100ms\n"), "{once}");
        // pprof: fib's lines summed, 90ms (line 3) + 90ms (line 5) or, by
        // columns, + 90ms and 60ms: above the total.
        let (pprof_cum, pprof_line5) =
            if extra.is_empty() { ("180ms 180.00%", "90ms") } else { ("240ms 240.00%", "150ms") };
        assert_eq!(
            routine_sum(&pprof_numbers, "rec::fib").split_whitespace().collect::<Vec<_>>().join(" "),
            format!("90ms {} (flat, cum) {} of Total", &pprof_cum[..5], &pprof_cum[6..])
        );
        assert_eq!(line_values(&pprof_numbers, 5, "    fib(n - 1) + fib(n - 2)"), format!(". {pprof_line5}"));
        // once: every sample of fib once, 90ms, 90% of the total.
        assert_eq!(
            routine_sum(&once, "rec::fib").split_whitespace().collect::<Vec<_>>().join(" "),
            "90ms 90ms (flat, cum) 90.00% of Total"
        );
        assert_eq!(line_values(&once, 5, "    fib(n - 1) + fib(n - 2)"), ". 90ms");
        assert_eq!(line_values(&once, 3, "        return n;"), "90ms 90ms");
        // Nothing recursive, nothing changes.
        assert_eq!(routine_sum(&once, "rec::main"), routine_sum(&pprof_numbers, "rec::main"));
        assert_eq!(routine_sum(&once, "rec::other"), routine_sum(&pprof_numbers, "rec::other"));
        // No routine and no line above the total.
        for l in once.lines().filter(|l| l.ends_with("of Total")) {
            let pct: f64 = l.split_whitespace().rev().nth(2).unwrap().trim_end_matches('%').parse().unwrap();
            assert!(pct <= 100.0, "{l}");
        }
    }
    // A bad value: one line naming it, exit 1.
    let (ok, out, err) = rustprof(&["-list", "fib", "-list_recursion=twice", p]);
    assert!(!ok && out.is_empty());
    assert_eq!(err, "invalid \"list_recursion\" value \"twice\": pprof or once\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shell_and_web_source_view() {
    let dir = temp_dir("list-recursion-ui");
    let prof = recursive_profile(&dir);
    let p = prof.to_str().unwrap();
    let src = format!("-source_path={}", dir.display());
    let (_, once, _) = rustprof(&["-list", "rec::fib", "-list_recursion=once", &src, p]);
    // The shell: `o` lists the option only once it is set.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args([src.as_str(), p])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"o\nlist_recursion=once\nlist rec::fib\no\nlist_recursion=no\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains(&once), "{stdout}");
    assert_eq!(stderr.matches("list_recursion            = once").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("list_recursion ").count(), 1, "{stderr}");
    assert!(stderr.contains("invalid \"list_recursion\" value \"no\": pprof or once"), "{stderr}");

    // The Source view: pprof's numbers, and a toggle to count once.
    let server = Server::start(&[&src, p]);
    let page = server.get("/ui/source?f=rec::fib").text();
    assert!(page.contains("(flat, cum) 180.00% of Total"), "{page}");
    assert!(page.contains("id=\"rp-recursion-pprof\" title=") && page.contains("aria-current"), "{page}");
    let href = |page: &str, id: &str| {
        let at = page.find(&format!("id=\"{id}\"")).unwrap();
        let start = page[..at].rfind("href=\"").unwrap() + 6;
        page[start..at - 2].replace("&amp;", "&")
    };
    let to_once = href(&page, "rp-recursion-once");
    assert_eq!(to_once, "./source?f=rec%3A%3Afib&recursion=once");
    let page = server.get(&format!("/ui/{}", &to_once[2..])).text();
    assert!(page.contains("(flat, cum) 90.00% of Total"), "{page}");
    let current = &page[page.find("id=\"rp-recursion-once\"").unwrap()..];
    assert!(current[..current.find('>').unwrap()].contains("rp-current"), "{page}");
    assert_eq!(href(&page, "rp-recursion-pprof"), "./source?f=rec%3A%3Afib");
    let r = server.get("/ui/source?f=fib&recursion=twice");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("list_recursion"), "{}", r.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn source_view_toggle_in_headless_chromium() {
    if !common::webdriver::available() {
        return;
    }
    let dir = temp_dir("list-recursion-browser");
    let prof = recursive_profile(&dir);
    let src = format!("-source_path={}", dir.display());
    let server = Server::start(&[&src, prof.to_str().unwrap()]);
    let b = common::webdriver::Browser::start(1280, 900);
    let sum =
        "return document.querySelector('.rp-routine[data-name=\"rec::fib\"] .rp-routine-sum').textContent";
    b.goto(&format!("{}/ui/source?f=rec::fib", server.url));
    assert_eq!(b.exec_str(sum), "90ms 180ms (flat, cum) 180.00% of Total");
    // Clicking the toggle sets the URL parameter and shows the counts once.
    b.click(&b.find("#rp-recursion-once"));
    b.wait_for(
        "return location.search.includes('recursion=once')",
        "the toggle's URL",
        std::time::Duration::from_secs(20),
    );
    assert_eq!(b.exec_str(sum), "90ms 90ms (flat, cum) 90.00% of Total");
    assert_eq!(
        b.exec_str("return document.querySelector('.rp-recursion .rp-current').id"),
        "rp-recursion-once"
    );
    // And back.
    b.click(&b.find("#rp-recursion-pprof"));
    b.wait_for(
        "return !location.search.includes('recursion')",
        "the default's URL",
        std::time::Duration::from_secs(20),
    );
    assert_eq!(b.exec_str(sum), "90ms 180ms (flat, cum) 180.00% of Total");
    let _ = std::fs::remove_dir_all(&dir);
}
