//! Symbolizing real binaries: a small Rust program compiled by the test with
//! `rustc -g -C opt-level=2` (as a PIE and as a non-PIE), its separate debug
//! file, and C/C++ programs when gcc/g++ are installed.
#![allow(clippy::unwrap_used)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use object::{Object, ObjectSymbol};
use rustprof_profile::{Line, MappingInfo, ProfileBuilder, validate};
use rustprof_symbolize::{
    Binary, DemangleStyle, ElfType, Frame, MapEntry, MappingOutcome, SymbolizeOptions, Symbolizer,
    parse_proc_maps, read_build_id, symbolize_addresses, symbolize_profile,
};

const SOURCE: &str = include_str!("fixtures/fixture.rs");

fn tmp_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("symbolize-fixtures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a compiler, writing `DIR/<name>-<hash>/<bin>` where `bin` is the
/// source's name without extension; the output is cached by content (source
/// and flags) and published with an atomic rename, so concurrent test processes
/// are safe.
fn compile(tool: &str, name: &str, source: &str, src_name: &str, args: &[&str]) -> Option<PathBuf> {
    let mut h = DefaultHasher::new();
    (tool, source, args).hash(&mut h);
    let dir = tmp_dir();
    let out_dir = dir.join(format!("{name}-{:016x}", h.finish()));
    let bin = Path::new(src_name).file_stem().unwrap();
    let out = out_dir.join(bin);
    if out.exists() {
        return Some(out);
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let src_dir = dir.join(format!("src-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = src_dir.join(src_name);
    std::fs::write(&src, source).unwrap();
    let tmp = out_dir.join(format!("tmp-{}", std::process::id()));
    let status = Command::new(tool).args(args).arg("-o").arg(&tmp).arg(&src).status();
    let _ = std::fs::remove_dir_all(&src_dir);
    match status {
        Ok(s) if s.success() => {
            std::fs::rename(&tmp, &out).unwrap();
            Some(out)
        }
        Ok(s) => panic!("{tool} failed: {s}"),
        Err(e) => {
            eprintln!("{tool} not available ({e}): skipping");
            None
        }
    }
}

fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string())
}

/// The fixture as a PIE (rustc's default).
fn pie() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let args = [
            "--edition=2021",
            "--crate-name=fixture",
            "-g",
            "-Copt-level=2",
            "-Cforce-frame-pointers=yes",
            "-Clink-arg=-Wl,--build-id",
        ];
        compile(&rustc(), "fixture", SOURCE, "fixture.rs", &args).expect("rustc must be available")
    })
}

/// The fixture as a position-dependent executable.
fn non_pie() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let args = [
            "--edition=2021",
            "--crate-name=fixture",
            "-g",
            "-Copt-level=2",
            "-Cforce-frame-pointers=yes",
            "-Crelocation-model=static",
            "-Clink-arg=-Wl,--build-id",
        ];
        compile(&rustc(), "fixture_static", SOURCE, "fixture.rs", &args).expect("rustc must be available")
    })
}

/// The 1-based line of the fixture's source line holding `marker`.
fn line_of(marker: &str) -> u32 {
    let i = SOURCE.lines().position(|l| l.contains(marker)).unwrap();
    i as u32 + 1
}

/// Address and size of the function whose mangled name contains `part`.
fn symbol(path: &Path, part: &str) -> (u64, u64) {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let s = file
        .symbols()
        .find(|s| s.kind() == object::SymbolKind::Text && s.name().unwrap_or("").contains(part))
        .unwrap();
    (s.address(), s.size())
}

fn has_hash(name: &str) -> bool {
    name.split("::")
        .any(|c| c.len() == 17 && c.starts_with('h') && c[1..].chars().all(|c| c.is_ascii_hexdigit()))
}

/// Every address of `outer_caller`, with its frames.
fn caller_frames(b: &Binary, path: &Path) -> Vec<(u64, Vec<Frame>)> {
    let (start, size) = symbol(path, "outer_caller");
    assert!(size > 0);
    (start..start + size).map(|a| (a, b.frames(a, DemangleStyle::default()))).collect()
}

fn check_inlined(b: &Binary, path: &Path) {
    let all = caller_frames(b, path);
    let call_line = line_of("// CALL_LINE");
    let callee = line_of("// CALLEE_FIRST")..=line_of("// CALLEE_LAST");
    for (a, frames) in &all {
        let last = frames.last().unwrap_or_else(|| panic!("no frames at {a:x}"));
        assert_eq!(last.function, "fixture::outer_caller", "at {a:x}: {frames:?}");
        assert!(last.system_name.contains("outer_caller"), "{last:?}");
        assert_ne!(last.system_name, last.function);
        assert!(last.file.ends_with("fixture.rs"), "{last:?}");
        assert_eq!(last.start_line, line_of("// CALLER_DECL"), "{last:?}");
        for f in frames {
            assert!(!has_hash(&f.function), "{f:?}");
        }
    }
    // The entry address is the caller itself.
    assert_eq!(all[0].1.len(), 1, "{:?}", all[0].1);
    // Somewhere inside, the loop of the inlined callee (elsewhere, the inlined
    // `core::hint::black_box`).
    let inlined: Vec<_> = all.iter().filter(|(_, f)| f[0].function == "fixture::inlined_callee").collect();
    assert!(!inlined.is_empty(), "no inlined frames in {all:?}");
    for (a, f) in &inlined {
        assert_eq!(f.len(), 2, "at {a:x}: {f:?}");
        assert!(f[0].file.ends_with("fixture.rs"), "{f:?}");
        // Line 0 is what DWARF says of compiler-generated code.
        assert!(f[0].line == 0 || callee.contains(&f[0].line), "callee line {} not in {callee:?}", f[0].line);
        assert_eq!(f[0].start_line, line_of("// CALLEE_DECL"));
        assert_eq!(f[1].line, call_line, "caller line at {a:x}: {f:?}");
    }
    assert!(inlined.iter().any(|(_, f)| callee.contains(&f[0].line)), "{inlined:?}");
}

#[test]
fn inlined_frames_from_dwarf_pie() {
    let b = Binary::open(pie()).unwrap();
    assert!(b.has_dwarf());
    assert_eq!(b.elf_type(), ElfType::Dyn);
    assert_eq!(b.build_id(), read_build_id(pie()).unwrap().unwrap());
    assert_eq!(b.build_id().len(), 40);
    assert!(b.build_id().chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    check_inlined(&b, pie());
}

#[test]
fn inlined_frames_from_dwarf_non_pie() {
    let b = Binary::open(non_pie()).unwrap();
    assert_eq!(b.elf_type(), ElfType::Exec);
    check_inlined(&b, non_pie());
}

struct Run {
    addr: u64,
    maps: Vec<MapEntry>,
}

fn run(path: &Path) -> Run {
    let out = Command::new(path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let addr = text.lines().find_map(|l| l.strip_prefix("ADDR ")).unwrap();
    Run { addr: u64::from_str_radix(addr, 16).unwrap(), maps: parse_proc_maps(&text) }
}

fn check_runtime(path: &Path, expect_zero_base: bool) {
    let r = run(path);
    let mut s = Symbolizer::new();
    let got = symbolize_addresses(&mut s, &r.maps, &[r.addr, r.addr + 1]);
    let m = &r.maps[got[0].mapping.unwrap()];
    assert_eq!(Path::new(&m.path), path);
    for g in &got {
        let last = g.frames.last().unwrap();
        assert_eq!(last.function, "fixture::outer_caller", "{:?}", g.frames);
        assert!(last.line > 0);
    }
    let b = s.open(path).unwrap();
    let base = b.base(&m.range(), r.addr).unwrap();
    let (file_addr, _) = symbol(path, "outer_caller");
    assert_eq!(r.addr - base, file_addr);
    assert_eq!(base == 0, expect_zero_base, "base {base:x}");
}

#[test]
fn runtime_addresses_of_a_pie() {
    check_runtime(pie(), false);
}

#[test]
fn runtime_addresses_of_a_non_pie() {
    check_runtime(non_pie(), true);
}

/// A profile of the running fixture: one location at the caller's entry, one
/// inside the inlined loop, one in the vdso.
fn fixture_profile(build_id: &str, filename: &str) -> (rustprof_profile::Profile, u64, u64) {
    let path = pie();
    let r = run(path);
    let m = r.maps.iter().find(|m| Path::new(&m.path) == path).unwrap();
    let b = Binary::open(path).unwrap();
    let base = b.base(&m.range(), r.addr).unwrap();
    let inlined = caller_frames(&b, path)
        .into_iter()
        .find(|(_, f)| f.len() == 2 && f[0].function == "fixture::inlined_callee")
        .unwrap()
        .0
        + base;

    let mut pb = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    let mi = pb.add_mapping(&MappingInfo {
        memory_start: m.start,
        memory_limit: m.limit,
        file_offset: m.offset,
        filename,
        build_id,
        ..Default::default()
    });
    let vdso = pb.add_mapping(&MappingInfo {
        memory_start: 0x7fff_0000_0000,
        memory_limit: 0x7fff_0000_2000,
        filename: "[vdso]",
        ..Default::default()
    });
    let l1 = pb.add_location(Some(mi), r.addr, &[], false);
    let l2 = pb.add_location(Some(mi), inlined, &[], false);
    let l3 = pb.add_location(Some(vdso), 0x7fff_0000_0100, &[], false);
    // A location that already has a line stays as it is.
    let f = pb.add_function("kept", "kept", "kept.rs", 1);
    let l4 = pb.add_location(Some(mi), r.addr + 2, &[Line { function: f, line: 7, column: 0 }], false);
    pb.add_sample(&[l2, l1, l3], &[1, 10], &[]);
    pb.add_sample(&[l4], &[1, 10], &[]);
    (pb.build(), r.addr, inlined)
}

fn empty_search_path() -> SymbolizeOptions {
    let dir = tmp_dir().join("empty-search-path");
    std::fs::create_dir_all(&dir).unwrap();
    SymbolizeOptions { search_path: Some(dir.into_os_string()), ..Default::default() }
}

#[test]
fn symbolize_profile_fills_lines() {
    let id = read_build_id(pie()).unwrap().unwrap();
    let (mut p, _, _) = fixture_profile(&id, &pie().to_string_lossy());
    let ids: Vec<u64> = p.locations.iter().map(|l| l.id).collect();
    let report = symbolize_profile(&mut p, &empty_search_path());
    validate(&p).unwrap();
    assert_eq!(p.locations.iter().map(|l| l.id).collect::<Vec<_>>(), ids);
    assert_eq!(report.mappings.len(), 2);
    match &report.mappings[0].outcome {
        MappingOutcome::Symbolized { binary, locations, failed } => {
            assert_eq!(binary, pie());
            assert_eq!((*locations, *failed), (2, 0));
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(report.mappings[1].outcome, MappingOutcome::Unsymbolizable);
    assert!(report.messages.is_empty(), "{:?}", report.messages);
    let m = &p.mappings[0];
    assert!(m.has_functions && m.has_filenames && m.has_line_numbers && m.has_inline_frames);
    assert!(!p.mappings[1].has_functions);

    let names = |loc: usize| -> Vec<(String, String, i64)> {
        p.location_lines(loc as u32)
            .iter()
            .map(|l| {
                let f = &p.functions[l.function as usize];
                (p.str(f.name).to_string(), p.str(f.filename).to_string(), l.line)
            })
            .collect()
    };
    let entry = names(0);
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0].0, "fixture::outer_caller");
    assert!(entry[0].1.ends_with("fixture.rs"));
    let inl = names(1);
    assert_eq!(inl.len(), 2, "{inl:?}");
    assert_eq!(inl[0].0, "fixture::inlined_callee");
    assert_eq!(inl[1].0, "fixture::outer_caller");
    assert_eq!(inl[1].2, i64::from(line_of("// CALL_LINE")));
    assert!(names(2).is_empty());
    assert_eq!(names(3), vec![("kept".to_string(), "kept.rs".to_string(), 7)]);
    // Functions are interned (the caller appears once), ids follow the existing ones.
    let callers = p.functions.iter().filter(|f| p.str(f.name) == "fixture::outer_caller").count();
    assert_eq!(callers, 1);
    let fids: Vec<u64> = p.functions.iter().map(|f| f.id).collect();
    assert_eq!(fids, (1..=fids.len() as u64).collect::<Vec<_>>());
    let outer = p.functions.iter().find(|f| p.str(f.name) == "fixture::outer_caller").unwrap();
    assert!(p.str(outer.system_name).contains("outer_caller"));
    assert_ne!(p.str(outer.system_name), p.str(outer.name));
    assert_eq!(outer.start_line, i64::from(line_of("// CALLER_DECL")));

    // The profile still encodes and decodes.
    let back = rustprof_profile::decode(&rustprof_profile::encode(&p)).unwrap();
    assert_eq!(back, p);

    // Symbolized already: a second run leaves it alone, unless forced.
    let again = symbolize_profile(&mut p, &empty_search_path());
    assert_eq!(again.mappings[0].outcome, MappingOutcome::AlreadySymbolized);
    let forced = symbolize_profile(&mut p, &SymbolizeOptions { force: true, ..empty_search_path() });
    assert!(matches!(forced.mappings[0].outcome, MappingOutcome::Symbolized { locations: 3, .. }));
    assert_eq!(p.location_lines(3).len(), 1);
    assert_eq!(p.str(p.functions[p.location_lines(3)[0].function as usize].name), "fixture::outer_caller");
    validate(&p).unwrap();
}

#[test]
fn build_id_mismatch_is_refused() {
    let (mut p, _, _) = fixture_profile("deadbeef", &pie().to_string_lossy());
    let report = symbolize_profile(&mut p, &empty_search_path());
    assert!(
        report
            .messages
            .iter()
            .any(|m| m == "Local symbolization failed for fixture (build ID deadbeef): build ID mismatch"),
        "{:?}",
        report.messages
    );
    assert!(matches!(
        &report.mappings[0].outcome,
        MappingOutcome::BuildIdMismatch { expected, .. } if expected == "deadbeef"
    ));
    assert!(p.location_lines(0).is_empty());
    assert!(p.location_lines(1).is_empty());
    assert!(!p.mappings[0].has_functions);
    validate(&p).unwrap();

    // The explicit binary is checked too.
    let (mut p, _, _) = fixture_profile("deadbeef", "/gone/fixture");
    let opts = SymbolizeOptions { binary: Some(pie().to_path_buf()), ..empty_search_path() };
    let report = symbolize_profile(&mut p, &opts);
    assert!(matches!(report.mappings[0].outcome, MappingOutcome::BuildIdMismatch { .. }));
}

#[test]
fn binary_override_and_search_path() {
    let id = read_build_id(pie()).unwrap().unwrap();

    // The main binary given explicitly.
    let (mut p, _, _) = fixture_profile(&id, "/gone/away/fixture");
    let opts = SymbolizeOptions { binary: Some(pie().to_path_buf()), ..empty_search_path() };
    let report = symbolize_profile(&mut p, &opts);
    assert!(matches!(report.mappings[0].outcome, MappingOutcome::Symbolized { locations: 2, .. }));
    assert_eq!(p.str(p.mappings[0].filename), pie().to_string_lossy());

    // Missing binary, nothing on the search path.
    let (mut p, _, _) = fixture_profile(&id, "/gone/away/fixture");
    let report = symbolize_profile(&mut p, &empty_search_path());
    assert!(matches!(report.mappings[0].outcome, MappingOutcome::Failed { .. }));
    assert!(
        report.messages[0].starts_with(&format!("Local symbolization failed for fixture (build ID {id}): "))
    );
    assert!(report.messages[0].contains("/gone/away/fixture"), "{:?}", report.messages);
    assert!(report.messages.last().unwrap().contains("PPROF_BINARY_PATH"));

    // On the search path as DIR/BUILDID/BASENAME, with a wrong binary at DIR/BASENAME
    // that comes later in pprof's order.
    let dir = tmp_dir().join(format!("search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(&id)).unwrap();
    std::fs::copy(pie(), dir.join(&id).join("fixture")).unwrap();
    std::fs::copy(non_pie(), dir.join("fixture")).unwrap();
    let (mut p, _, _) = fixture_profile(&id, "/gone/away/fixture");
    let opts = SymbolizeOptions { search_path: Some(dir.clone().into_os_string()), ..Default::default() };
    let report = symbolize_profile(&mut p, &opts);
    assert!(
        matches!(report.mappings[0].outcome, MappingOutcome::Symbolized { locations: 2, .. }),
        "{report:?}"
    );
    assert_eq!(Path::new(p.str(p.mappings[0].filename)), dir.join(&id).join("fixture"));

    // Only the wrong one: pprof's "Ignoring local file" and then a failure.
    std::fs::remove_dir_all(dir.join(&id)).unwrap();
    let (mut p, _, _) = fixture_profile(&id, "/gone/away/fixture");
    let report = symbolize_profile(&mut p, &opts);
    let wrong = read_build_id(non_pie()).unwrap().unwrap();
    let expected =
        format!("Ignoring local file {}: build-id mismatch ({id} != {wrong})", dir.join("fixture").display());
    assert!(report.messages.contains(&expected), "{:?}", report.messages);
    assert!(matches!(report.mappings[0].outcome, MappingOutcome::Failed { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn profile_without_mappings_uses_the_main_binary() {
    // A non-PIE binary needs no mapping: addresses are file addresses.
    let (addr, _) = symbol(non_pie(), "outer_caller");
    let mut pb = ProfileBuilder::new(&[("samples", "count")]);
    let l = pb.add_location(None, addr, &[], false);
    pb.add_sample(&[l], &[1], &[]);
    let mut p = pb.build();
    let opts = SymbolizeOptions { binary: Some(non_pie().to_path_buf()), ..empty_search_path() };
    let report = symbolize_profile(&mut p, &opts);
    assert_eq!(p.mappings.len(), 1);
    assert!(
        matches!(report.mappings[0].outcome, MappingOutcome::Symbolized { locations: 1, .. }),
        "{report:?}"
    );
    let f = p.location_lines(0)[0].function;
    assert_eq!(p.str(p.functions[f as usize].name), "fixture::outer_caller");
    validate(&p).unwrap();
}

fn tool_ok(tool: &str, args: &[&Path]) -> bool {
    match Command::new(tool).args(args).status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("{tool} not available ({e}): skipping");
            false
        }
    }
}

#[test]
fn separate_debug_file_and_symbol_table_fallback() {
    let dir = tmp_dir().join(format!("debug-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let debug = dir.join("fixture.debug");
    let stripped = dir.join("fixture");
    if !tool_ok("objcopy", &[Path::new("--only-keep-debug"), pie(), &debug])
        || !tool_ok("objcopy", &[Path::new("--strip-debug"), pie(), &stripped])
    {
        return;
    }
    let id = read_build_id(pie()).unwrap().unwrap();
    assert_eq!(read_build_id(&stripped).unwrap().unwrap(), id);
    let (addr, _) = symbol(pie(), "outer_caller");

    // Without debug info: the symbol table gives the name, nothing else.
    let b = Binary::open_with_debug_dirs(&stripped, &[]).unwrap();
    assert!(!b.has_dwarf());
    let f = b.frames(addr + 1, DemangleStyle::default());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].function, "fixture::outer_caller");
    assert!(f[0].system_name.contains("outer_caller"));
    assert_eq!((f[0].file.as_str(), f[0].line), ("", 0));

    // With DIR/.build-id/xx/yyyy.debug.
    let root = dir.join("usr-lib-debug");
    let by_id = root.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&by_id).unwrap();
    std::fs::copy(&debug, by_id.join(format!("{}.debug", &id[2..]))).unwrap();
    let b = Binary::open_with_debug_dirs(&stripped, std::slice::from_ref(&root)).unwrap();
    assert!(b.has_dwarf());
    assert_eq!(b.debug_file().unwrap(), by_id.join(format!("{}.debug", &id[2..])));
    check_inlined(&b, pie());

    // With a .gnu_debuglink to a file beside the binary.
    let linked = dir.join("linked");
    let link_arg = format!("--add-gnu-debuglink={}", debug.display());
    if tool_ok("objcopy", &[Path::new(&link_arg), &stripped, &linked]) {
        let b = Binary::open_with_debug_dirs(&linked, &[]).unwrap();
        assert_eq!(b.debug_file(), Some(debug.as_path()));
        check_inlined(&b, pie());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

const C_SOURCE: &str = r#"
#include <stdio.h>
__attribute__((noinline)) int c_leaf(int x) {
    return x * 3 + 1;
}
int main(int argc, char **argv) {
    printf("%d\n", c_leaf(argc));
    return 0;
}
"#;

const CPP_SOURCE: &str = r#"
#include <cstdio>
namespace ns {
template <class T> struct Box {
    T v;
    __attribute__((noinline)) T get(T x) const { return v * x + 1; }
};
}
int main(int argc, char **) {
    ns::Box<long> b{argc};
    std::printf("%ld\n", b.get(argc));
    return 0;
}
"#;

#[test]
fn c_non_pie_and_cpp_names() {
    if let Some(c) =
        compile("gcc", "c_fixture", C_SOURCE, "c_fixture.c", &["-g", "-O1", "-no-pie", "-Wl,--build-id"])
    {
        let b = Binary::open(&c).unwrap();
        assert_eq!(b.elf_type(), ElfType::Exec);
        let (addr, _) = symbol(&c, "c_leaf");
        let f = b.frames(addr, DemangleStyle::default());
        assert_eq!(f.last().unwrap().function, "c_leaf", "{f:?}");
        assert_eq!(f.last().unwrap().system_name, "c_leaf");
        // The first instruction may belong to the declaration or to the body.
        assert!((3..=4).contains(&f.last().unwrap().line), "{f:?}");
        assert_eq!(f.last().unwrap().start_line, 3, "{f:?}");
        assert!(f.last().unwrap().file.ends_with("c_fixture.c"));
    }
    if let Some(cpp) =
        compile("g++", "cpp_fixture", CPP_SOURCE, "cpp_fixture.cc", &["-g", "-O1", "-Wl,--build-id"])
    {
        let b = Binary::open(&cpp).unwrap();
        let (addr, _) = symbol(&cpp, "3BoxIlE3get");
        let f = b.frames(addr, DemangleStyle::default());
        let last = f.last().unwrap();
        assert_eq!(last.function, "ns::Box::get", "{f:?}");
        assert!(last.system_name.starts_with("_ZNK2ns3BoxIlE3get"), "{last:?}");
        assert_eq!(last.line, 6);
        assert!(last.file.ends_with("cpp_fixture.cc"));
        let full = b.frames(addr, DemangleStyle::Full);
        assert_eq!(full.last().unwrap().function, "ns::Box<long>::get(long) const");
        let none = b.frames(addr, DemangleStyle::None);
        assert_eq!(none.last().unwrap().function, last.system_name);
    }
}
