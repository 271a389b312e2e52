#![allow(clippy::unwrap_used)]
//! Graph images through graphviz: `-svg -png -pdf -gif -ps` run `dot` on the
//! DOT of `-dot`, `-web` hands the SVG to a browser, and a missing `dot` is a
//! one-line error that says to install graphviz.
//!
//! Without graphviz the tests that need it are skipped with a message, unless
//! `CI` is set (`.ci/run` installs it), in which case they fail.

mod common;

use std::path::Path;
use std::process::Command;

use common::{profile, require, rustprof, temp_dir, top_rows, xml_elements};

fn have_dot() -> bool {
    require("dot", &["-V"], "graphviz")
}

/// The hottest function of the CPU test profile, by flat value.
fn hot_function() -> String {
    let (ok, out, err) = rustprof(&["-top", &profile("go-bench.cpu.pb.gz")]);
    assert!(ok, "{err}");
    top_rows(&out)[0].name.clone()
}

#[test]
fn svg_is_valid_and_names_the_hot_function() {
    if !have_dot() {
        return;
    }
    let dir = temp_dir("images-svg");
    let out = dir.join("graph.svg");
    let (ok, _, err) =
        rustprof(&["-svg", &format!("-output={}", out.display()), &profile("go-bench.cpu.pb.gz")]);
    assert!(ok, "{err}");
    let svg = std::fs::read_to_string(&out).unwrap();
    let elements = xml_elements(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    assert_eq!(elements.first().map(String::as_str), Some("svg"), "the root element is <svg>");
    assert!(elements.iter().filter(|e| *e == "g").count() > 20, "a graph with nodes");
    let hot = hot_function();
    // Each node's tooltip is its full name and cumulative value.
    assert!(svg.contains(&format!("xlink:title=\"{hot} (")), "the SVG has no node for {hot}");
    // Pan and zoom for browsers.
    assert!(svg.contains("id=\"rustprof-graph\"") && svg.contains("<script"));
    // Same DOT as -dot: its nodes, and the legend box.
    let (_, dot, _) = rustprof(&["-dot", &profile("go-bench.cpu.pb.gz")]);
    let dot_nodes =
        dot.lines().filter(|l| l.starts_with('N') && l.contains(" [label=") && !l.contains("->")).count();
    let svg_nodes = svg.matches("class=\"node\"").count();
    assert_eq!(dot_nodes + 1, svg_nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_images_have_their_formats() {
    if !have_dot() {
        return;
    }
    let dir = temp_dir("images-bin");
    for (format, magic) in
        [("png", &b"\x89PNG\r\n\x1a\n"[..]), ("pdf", b"%PDF-"), ("gif", b"GIF8"), ("ps", b"%!PS")]
    {
        let out = dir.join(format!("graph.{format}"));
        let (ok, _, err) = rustprof(&[
            &format!("-{format}"),
            "-nodecount=10",
            &format!("-output={}", out.display()),
            &profile("go-bench.cpu.pb.gz"),
        ]);
        assert!(ok, "-{format}: {err}");
        assert!(err.contains("Generating report in"), "-{format}: {err}");
        let data = std::fs::read(&out).unwrap();
        assert!(data.starts_with(magic), "-{format} does not start with {magic:?}");
        if format == "png" {
            let img = common::png_decode(&data);
            assert!(img.width > 100 && img.height > 100);
            let colors: std::collections::HashSet<[u8; 4]> = img.rgba.iter().copied().collect();
            assert!(colors.len() > 10, "the PNG is blank");
        }
    }
    // Away from a terminal, images go to stdout.
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-png", "-nodecount=5", &profile("go-bench.cpu.pb.gz")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"\x89PNG"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PATH with no `dot` on it (but a shell, for `-web`'s fake browser).
fn path_without_dot(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    bin.display().to_string()
}

#[test]
fn missing_dot_is_a_one_line_error() {
    let dir = temp_dir("images-nodot");
    let path = path_without_dot(&dir);
    for format in ["-png", "-svg", "-pdf", "-web"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
            .args([format, &profile("go-bench.cpu.pb.gz")])
            .env("PATH", &path)
            .env("TMPDIR", &dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{format}: {err}");
        assert_eq!(err.lines().count(), 1, "{format}: not one line: {err:?}");
        assert!(err.contains("Graphviz") && err.contains("install"), "{format}: {err}");
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn web_opens_a_browser_or_prints_the_path() {
    if !have_dot() {
        return;
    }
    let dir = temp_dir("images-web");
    // A "browser" that records what it was asked to open.
    let opened = dir.join("opened.txt");
    let browser = dir.join("browser.sh");
    std::fs::write(&browser, format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display())).unwrap();
    Command::new("chmod").arg("+x").arg(&browser).status().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-web", &profile("go-bench.cpu.pb.gz")])
        .env("BROWSER", &browser)
        .env("TMPDIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let target = std::fs::read_to_string(&opened).expect("the browser was started");
    assert!(target.ends_with(".svg") && target.starts_with(&dir.display().to_string()), "{target}");
    let svg = std::fs::read_to_string(&target).unwrap();
    assert!(xml_elements(&svg).is_ok() && svg.contains("<svg"));

    // No browser at all: the path is printed.
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-web", &profile("go-bench.cpu.pb.gz")])
        .env_remove("BROWSER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TMPDIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let path =
        err.trim().strip_prefix("No browser could be started; open ").unwrap_or_else(|| panic!("{err}"));
    assert!(std::fs::read_to_string(path).unwrap().contains("</svg>"));

    // A browser that cannot start (exits with an error) counts as none.
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-web", &profile("go-bench.cpu.pb.gz")])
        .env("BROWSER", "false")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TMPDIR", &dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("No browser could be started; open "));
    let _ = std::fs::remove_dir_all(&dir);
}
