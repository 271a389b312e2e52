#![allow(clippy::unwrap_used)]
//! The flame graph file (`-flame`, and `flame` in the shell): a standalone
//! HTML page whose data is the call tree of the same filtered samples as the
//! other reports. Every function's frames add up to its flat and cumulative
//! values of `-top`, so the hot function's frame has the percentage `-top`
//! prints.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::flame::{Flame, Frame};
use common::{percentage, profile, rustprof, temp_dir, top_rows};

fn flame_file(args: &[&str]) -> (String, Flame) {
    let dir = temp_dir(&format!("flame-{}", args.join("_").replace(['/', '=', '.', '$', '^'], "")));
    let out = dir.join("f.html");
    let mut all = vec!["-flame".to_string(), format!("-output={}", out.display())];
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let (ok, _, err) = rustprof(&refs);
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let flame = Flame::from_html(&html);
    (html, flame)
}

#[test]
fn flame_file_is_a_standalone_page() {
    let (html, flame) = flame_file(&[&profile("go-bench.cpu.pb.gz")]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<canvas") || html.contains("rustprofFlame.start"));
    // Nothing from the network: no external scripts, styles or images.
    for bad in ["src=\"http", "href=\"http", "src=\"//", "@import", "url(http"] {
        assert!(!html.contains(bad), "the page loads {bad}");
    }
    assert!(!html.contains("<script src="), "scripts are inline");
    assert_eq!(flame.data.get("title").unwrap().as_str(), Some("skeletor.test cpu"));
    // A small profile fits whole: nothing left out.
    assert!(flame.frames.iter().all(|f| !f.cut));
    assert_eq!(flame.frames[0].name, "root");
}

#[test]
fn frames_add_up_to_the_top_report() {
    let p = profile("go-bench.cpu.pb.gz");
    let (_, flame) = flame_file(&[&p]);
    let (ok, top, err) = rustprof(&["-top", "-nodefraction=0", "-nodecount=0", "-unit=ns", &p]);
    assert!(ok, "{err}");
    let rows = top_rows(&top);
    assert!(rows.len() > 100);
    let per_name = flame.per_name();
    let ns = |s: &str| s.trim_end_matches("ns").parse::<i64>().unwrap();
    for row in &rows {
        let (flat, cum) =
            per_name.get(&row.name).copied().unwrap_or_else(|| panic!("no frame for {}", row.name));
        assert_eq!(flat, ns(&row.flat), "flat of {}", row.name);
        assert_eq!(cum, ns(&row.cum), "cum of {}", row.name);
    }
    // The root is everything, and the total is -top's.
    let root = &flame.frames[0];
    assert_eq!(root.pos, flame.total());
    assert!(top.contains(&format!("of {}ns total", flame.total())));

    // The hot function's frame has the percentage -top prints (default units).
    let (_, top, _) = rustprof(&["-top", &p]);
    let hot = &top_rows(&top)[0];
    let (_, cum) = per_name[&hot.name];
    assert_eq!(percentage(cum, flame.total()), hot.cum_pct);
    let frames: Vec<&Frame> = flame.frames.iter().filter(|f| f.name == hot.name).collect();
    assert!(!frames.is_empty());
}

#[test]
fn filters_and_sample_types_are_the_reports() {
    let p = profile("go-bench.cpu.pb.gz");
    let (_, flame) = flame_file(&["-focus=HashPassword", "-hide=runtime", &p]);
    let (_, top, _) =
        rustprof(&["-top", "-focus=HashPassword", "-hide=runtime", "-nodefraction=0", "-unit=ns", &p]);
    // "Showing nodes accounting for X": the focused samples.
    let shown: i64 = top
        .lines()
        .find_map(|l| l.strip_prefix("Showing nodes accounting for "))
        .and_then(|l| l.split(',').next())
        .map(|v| v.trim_end_matches("ns").parse().unwrap())
        .unwrap();
    assert_eq!(flame.frames[0].pos, shown);
    assert!(flame.frames.iter().all(|f| !f.name.starts_with("runtime.")));
    assert!(
        flame
            .data
            .get("legend")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str() == Some("Active filters:"))
    );

    let a = profile("go-bench.alloc.pb.gz");
    for si in ["alloc_space", "alloc_objects"] {
        let (_, flame) = flame_file(&[&format!("-sample_index={si}"), &a]);
        let (_, top, _) =
            rustprof(&["-top", &format!("-sample_index={si}"), "-nodefraction=0", "-unit=B", &a]);
        assert_eq!(flame.data.get("sampleType").unwrap().as_str(), Some(si));
        let hot = &top_rows(&top)[0];
        let per_name = flame.per_name();
        let v = |s: &str| s.trim_end_matches('B').parse::<i64>().unwrap();
        assert_eq!(per_name[&hot.name].0, v(&hot.flat), "{si}: flat of {}", hot.name);
    }
    // A bad regexp is the same one-line error as for every report.
    let (ok, _, err) = rustprof(&["-flame", "-focus=(", &p]);
    assert!(!ok);
    assert_eq!(err.trim(), "parsing focus regexp: error parsing regexp: missing closing ): `(`");
}

#[test]
fn diff_base_keeps_growth_and_shrinkage() {
    let new = profile("go-bench.cpu.pb.gz");
    let base = profile("go-labels.cpu.pb.gz");
    let (_, flame) = flame_file(&[&format!("-diff_base={base}"), &new]);
    assert_eq!(flame.data.get("diff").unwrap().as_bool(), Some(true));
    assert_eq!(flame.data.get("diffBase").unwrap().as_bool(), Some(true));
    let total = |p: &str| -> i64 {
        let (_, top, _) = rustprof(&["-top", "-nodecount=1", "-unit=ns", p]);
        let l = top.lines().find(|l| l.starts_with("Showing nodes accounting for")).unwrap();
        l.rsplit(" of ").next().unwrap().trim_end_matches(" total").trim_end_matches("ns").parse().unwrap()
    };
    let root = &flame.frames[0];
    assert_eq!(root.pos, total(&new), "growth is the new profile");
    assert_eq!(root.neg, total(&base), "shrinkage is the base");
    // Percentages are of the base's total, as in -top -diff_base.
    assert_eq!(flame.total(), total(&base));
    // Frames of functions only in one profile only grew or only shrank.
    assert!(flame.frames.iter().any(|f| f.pos > 0 && f.neg == 0));
    assert!(flame.frames.iter().any(|f| f.neg > 0 && f.pos == 0));
}

#[test]
fn flame_in_the_shell_writes_a_file() {
    let dir = temp_dir("flame-shell");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .arg(profile("go-bench.cpu.pb.gz"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"flame HashPassword\nhelp flame\nquit\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Generating report in profile001.html"), "{err}");
    assert!(err.contains("interactive flame graph"), "help flame: {err}");
    let html = std::fs::read_to_string(dir.join("profile001.html")).unwrap();
    let flame = Flame::from_html(&html);
    // `flame HashPassword` focuses, as `top HashPassword` does.
    assert!(flame.frames.iter().any(|f| f.name.contains("HashPassword")));
    assert!(flame.frames[0].kids.iter().all(|&k| flame.frames[k].name.starts_with("testing.")));
    let _ = std::fs::remove_dir_all(&dir);
}
