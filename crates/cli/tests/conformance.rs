//! The conformance suite: every case of tests/data/conformance (reference output
//! of `go tool pprof`, Go 1.27.3, copied unedited from shared/conformance-go1.27)
//! must be reproduced byte for byte, with the same exit status.
//!
//! `STILL_DIFFERENT` names the cases rustprof does not match yet (issue 17). It is
//! exact: the test fails if any other case differs, and also if a listed case
//! starts matching (then remove it from the list), so the list can only shrink.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance")
}

const STILL_DIFFERENT: &[&str] = &["go127-cpu-top-files"];

#[test]
fn all_cases_match_go_tool_pprof() {
    let dir = conformance_dir();
    let mut names: Vec<String> = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 97, "expected at least 97 cases, found {}", names.len());
    let mut failures = Vec::new();
    let mut now_matching = Vec::new();
    for name in &names {
        let case = dir.join("cases").join(name);
        let args: Vec<String> =
            std::fs::read_to_string(case.join("args")).unwrap().lines().map(str::to_string).collect();
        let expected = std::fs::read(case.join("expected")).unwrap();
        let code: i32 = std::fs::read_to_string(case.join("exit_code")).unwrap().trim().parse().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
            .args(&args)
            .current_dir(&dir)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let differs = out.stdout != expected || out.status.code() != Some(code);
        if STILL_DIFFERENT.contains(&name.as_str()) {
            if !differs {
                now_matching.push(name.clone());
            }
            continue;
        }
        if differs {
            let first_diff = out
                .stdout
                .split(|&b| b == b'\n')
                .zip(expected.split(|&b| b == b'\n'))
                .position(|(a, b)| a != b);
            failures.push(format!(
                "{name}: exit {:?} (want {code}), first differing line {:?}; stderr: {}",
                out.status.code(),
                first_diff,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
    assert!(now_matching.is_empty(), "now matching, remove from STILL_DIFFERENT: {now_matching:?}");
}
