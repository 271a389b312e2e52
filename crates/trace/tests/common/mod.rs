//! Runs Perfetto's official schema (PyPI `perfetto`) on trace files.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python that can import Perfetto's `perfetto_trace_pb2`: `$RUSTPROF_PERFETTO_PYTHON`,
/// the workspace's `target/perfetto-venv` or `.venv` (what `.ci/run` creates), or
/// `python3`. `None` (with a message) when there is none and `CI` is unset; a panic
/// when `CI` is set, so CI never skips the schema check.
pub fn perfetto_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("RUSTPROF_PERFETTO_PYTHON") {
        candidates.push(p.into());
    }
    candidates.push(root.join("target/perfetto-venv/bin/python3"));
    candidates.push(root.join(".venv/bin/python3"));
    candidates.push("python3".into());
    for c in candidates {
        let ok = Command::new(&c)
            .args(["-c", "from perfetto.protos.perfetto.trace import perfetto_trace_pb2"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(c);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but no Python with the `perfetto` package: .ci/run must install it");
    }
    eprintln!(
        "skipping: no Python with the `perfetto` package (pip install perfetto in target/perfetto-venv)"
    );
    None
}

/// Decodes `path` with Perfetto's schema; the JSON summary of tests/perfetto_dump.py.
pub fn perfetto_dump(python: &Path, path: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trace/tests/perfetto_dump.py");
    let out = Command::new(python).arg(script).arg(path).output().expect("run python");
    assert!(
        out.status.success(),
        "Perfetto's schema rejects {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the dump is JSON")
}
