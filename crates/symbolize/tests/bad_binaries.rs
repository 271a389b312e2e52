//! Bad input: missing files, non-ELF files, truncated and corrupted ELF files.
//! Every case must give an error or a degraded answer, never a panic.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object::{Object, ObjectSection};
use rustprof_profile::{MappingInfo, ProfileBuilder, validate};
use rustprof_symbolize::{
    Binary, DemangleStyle, Error, MappingOutcome, MappingRange, SymbolizeOptions, Symbolizer, read_build_id,
    symbolize_profile,
};

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("symbolize-bad-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn exe_bytes() -> Vec<u8> {
    std::fs::read(std::env::current_exe().unwrap()).unwrap()
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Opening must fail or succeed without panicking; if it succeeds, lookups work.
fn exercise(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let b = Binary::from_bytes(path, Arc::from(bytes))?;
    for a in [0u64, 0x1000, 0x10_0000, u64::MAX] {
        let _ = b.frames(a, DemangleStyle::default());
    }
    let m = MappingRange { start: 0x5555_0000_0000, limit: 0x5555_0010_0000, offset: 0 };
    let _ = b.file_address(&m, 0x5555_0000_1000);
    Ok(())
}

#[test]
fn missing_file_and_directory() {
    let missing = Path::new("/nonexistent/rustprof/prog");
    let e = Binary::open(missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert_eq!(e.path(), missing);
    assert!(e.to_string().starts_with("/nonexistent/rustprof/prog: "), "{e}");
    assert!(matches!(read_build_id(missing), Err(Error::Io { .. })));
    let d = dir();
    assert!(Binary::open(&d).is_err());
    assert!(read_build_id(&d).is_err());
}

#[test]
fn not_elf() {
    for (name, bytes) in
        [("empty", &b""[..]), ("text", &b"#!/bin/sh\necho hello\n"[..]), ("three", &b"\x7fEL"[..])]
    {
        let p = write(name, bytes);
        let e = Binary::open(&p).unwrap_err();
        assert!(matches!(e, Error::NotElf { .. }), "{name}: {e}");
        assert!(e.to_string().contains("not an ELF file"), "{e}");
        assert!(e.to_string().contains(&*p.to_string_lossy()));
        assert!(read_build_id(&p).is_err());
    }
    // Random bytes, with and without the ELF magic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut random = vec![0u8; 64 * 1024];
    for b in &mut random {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let p = write("random", &random);
    assert!(matches!(Binary::open(&p), Err(Error::NotElf { .. })));
    random[..4].copy_from_slice(b"\x7fELF");
    let p = write("random-elf", &random);
    assert!(Binary::open(&p).is_err());
    let _ = read_build_id(&p);
}

#[test]
fn truncated_elf() {
    let bytes = exe_bytes();
    for len in [4, 16, 52, 63, 64, 200, 4096, bytes.len() / 3, bytes.len() - 1] {
        let p = write(&format!("truncated-{len}"), &bytes[..len]);
        let r = Binary::open(&p);
        assert!(r.is_err(), "truncated to {len} bytes opened");
        let e = r.unwrap_err();
        assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}");
        let _ = read_build_id(&p);
    }
}

#[test]
fn corrupt_headers_and_dwarf() {
    let bytes = exe_bytes();
    // Section header table offset past the end of the file (ELF64 e_shoff at 0x28).
    let mut b = bytes.clone();
    b[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(exercise(Path::new("shoff"), &b), Err(Error::Elf { .. })));
    // Program header count huge (e_phnum at 0x38).
    let mut b = bytes.clone();
    b[0x38..0x3a].copy_from_slice(&0xffffu16.to_le_bytes());
    let _ = exercise(Path::new("phnum"), &b);

    // The first 16 KiB of DWARF sections overwritten with garbage. (Wholly
    // garbage string sections make gimli scan megabytes per string: slow, not
    // wrong; a string section that does not end in NUL is refused up front.)
    let file = object::File::parse(&*bytes).unwrap();
    for name in [
        ".debug_info",
        ".debug_abbrev",
        ".debug_line",
        ".debug_str",
        ".debug_aranges",
        ".debug_ranges",
        ".debug_rnglists",
    ] {
        let Some(s) = file.section_by_name(name) else { continue };
        let Some((off, size)) = s.file_range() else { continue };
        for fill in [0xffu8, 0x00, 0x01] {
            let mut b = bytes.clone();
            b[off as usize..(off + size.min(0x4000)) as usize].fill(fill);
            let r = exercise(Path::new(name), &b);
            if let Err(e) = r {
                assert!(matches!(e, Error::Dwarf { .. } | Error::Elf { .. }), "{name}: {e}");
            }
        }
    }
}

#[test]
fn unterminated_string_section_is_corrupt_dwarf() {
    let bytes = exe_bytes();
    let file = object::File::parse(&*bytes).unwrap();
    let (off, size) = file.section_by_name(".debug_str").and_then(|s| s.file_range()).unwrap();
    let mut b = bytes.clone();
    b[(off + size - 1) as usize] = b'x';
    let e = exercise(Path::new("unterminated"), &b).unwrap_err();
    assert!(matches!(e, Error::Dwarf { .. }), "{e}");
    assert!(e.to_string().contains(".debug_str"), "{e}");
}

#[test]
fn random_mutations_do_not_panic() {
    let bytes = exe_bytes();
    let file = object::File::parse(&*bytes).unwrap();
    // Aim at the headers and the DWARF, where parsing happens.
    let mut targets: Vec<(u64, u64)> = vec![(0, 0x1000)];
    for name in [".debug_info", ".debug_abbrev", ".debug_line", ".debug_aranges"] {
        if let Some((off, size)) = file.section_by_name(name).and_then(|s| s.file_range()) {
            targets.push((off, size.min(0x4000)));
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20 {
        let mut b = bytes.clone();
        let (off, size) = targets[i % targets.len()];
        for _ in 0..16 {
            let at = off + next() % size.max(1);
            b[at as usize] = next() as u8;
        }
        let _ = exercise(Path::new("mutated"), &b);
    }
}

#[test]
fn symbolize_profile_with_bad_binaries() {
    let garbage = write("garbage-prog", b"not a binary at all");
    let truncated = write("truncated-prog", &exe_bytes()[..1000]);
    let mut pb = ProfileBuilder::new(&[("samples", "count")]);
    let mut locs = Vec::new();
    for (i, f) in
        [garbage.to_string_lossy().into_owned(), truncated.to_string_lossy().into_owned()].iter().enumerate()
    {
        let base = 0x1000_0000 * (i as u64 + 1);
        let m = pb.add_mapping(&MappingInfo {
            memory_start: base,
            memory_limit: base + 0x1000,
            filename: f,
            ..Default::default()
        });
        locs.push(pb.add_location(Some(m), base + 0x10, &[], false));
    }
    pb.add_sample(&locs, &[1], &[]);
    let mut p = pb.build();
    let empty = dir().join("empty-search");
    std::fs::create_dir_all(&empty).unwrap();
    let opts = SymbolizeOptions { search_path: Some(empty.into_os_string()), ..Default::default() };
    let report = symbolize_profile(&mut p, &opts);
    assert_eq!(report.mappings.len(), 2);
    for (r, msg) in report.mappings.iter().zip(&report.messages) {
        assert!(matches!(r.outcome, MappingOutcome::Failed { .. }), "{r:?}");
        assert!(msg.starts_with("Local symbolization failed for "), "{msg}");
    }
    assert!(report.messages[0].contains("not an ELF file"));
    assert!(report.messages[1].contains("malformed ELF"));
    validate(&p).unwrap();
    assert!(p.lines.is_empty());

    let mut s = Symbolizer::new();
    assert!(s.frames(&garbage, &MappingRange::default(), 0x10).is_err());
    assert!(s.is_empty());
}
