//! Qualified names for functions that the DWARF names only briefly.
//!
//! With rustc's `debug = "line-tables-only"` (and clang's `-gmlt`) the DWARF
//! keeps, for each function, only its last path segment with its generic
//! arguments (`count_primes`, `from_iter<u64, …>`, `{closure#0}`): no linkage
//! name, no namespace DIEs. pprof and perf name such code from the symbol
//! table; an inlined function has no symbol of its own, so they show the short
//! name. rustprof qualifies every short Rust name, in this order:
//!
//! 1. the outermost frame of an address: the symbol table's name for the
//!    address (demangled), as pprof and perf do;
//! 2. an inlined frame: the symbol of another, out-of-line copy of the same
//!    function — a symbol whose last segment is the short name and whose code
//!    starts in the same source file (generic functions and functions called
//!    from several places usually have one); several such symbols in one file
//!    are told apart by the line ranges their code covers;
//! 3. otherwise, a closure is named after the nearest caller frame in its file
//!    (`fixture::count_primes::{closure#0}`), and anything else after its
//!    file's module: the crate is found from the compilation units' names
//!    (rustc names them `src/main.rs/@/fixture.<hash>-cgu.0`), the module path
//!    from the file's path below the crate root (`src/net/tcp.rs` →
//!    `fixture::net::tcp`; `/rustc/<hash>/library/alloc/src/vec/mod.rs` →
//!    `alloc::vec`), so `count_primes` in `src/main.rs` is
//!    `fixture::count_primes`.
//!
//! What step 3 cannot know, since line-tables-only DWARF does not say it, is an
//! inline `mod { … }` block or the `impl` a method belongs to: a method of
//! `Counter` that is inlined everywhere is `fixture::bump`, not
//! `fixture::Counter::bump`. Its path still starts with the crate and module,
//! which is what `-focus='^fixture::'` and `-list 'fixture::…'` need.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use crate::demangle::{DemangleStyle, demangle, demangle_rust};
use crate::elf::{Reader, Sym};

/// An out-of-line function of the symbol table: its demangled name, and the
/// source lines its code covers in its own file.
#[derive(Debug)]
struct SymInfo {
    name: String,
    /// Where its last segment starts in `name`.
    last: usize,
    file: Box<str>,
    lo: u32,
    hi: u32,
}

impl SymInfo {
    fn last_segment(&self) -> &str {
        &self.name[self.last..]
    }
}

/// The symbols that may be a short name's function: same key, same file.
type Candidates = Arc<Vec<(u32, Arc<SymInfo>)>>;

/// A short name's key and a file.
type KeyFile = (Box<str>, Box<str>);

/// A crate's source root, from a compilation unit's name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Root {
    /// The directory of the crate's root file, with a trailing `/`.
    dir: String,
    /// The root file's name (`lib.rs`, `main.rs`, `foo.rs`).
    file: String,
    /// The crate's name.
    krate: String,
}

/// The lazily built tables of one binary. Nothing is computed until a short
/// name must be qualified (never for binaries with full debug info).
#[derive(Default)]
pub(crate) struct Names {
    roots: OnceLock<Vec<Root>>,
    /// (hash of a symbol's last-segment key, symbol index), sorted.
    index: OnceLock<Vec<(u64, u32)>>,
    /// Per symbol index, computed once.
    infos: Mutex<HashMap<u32, Option<Arc<SymInfo>>>>,
    /// Per (key, file), computed once.
    candidates: Mutex<HashMap<KeyFile, Candidates>>,
}

/// A qualified name: the demangled function name and the name as found in the
/// binary (a symbol's mangled name, or the DWARF's short name).
pub(crate) struct Qualified {
    pub(crate) function: String,
    pub(crate) system_name: String,
}

/// What [`Names::qualify`] needs to know of a frame.
pub(crate) struct Short<'a> {
    /// The DWARF name (`count_primes`, `from_iter<u64, …>`).
    pub(crate) name: &'a str,
    /// The file of the frame's code, empty when unknown.
    pub(crate) file: &'a str,
    /// The line in that file, 0 when unknown.
    pub(crate) line: u32,
}

/// A frame that called the one being named.
pub(crate) struct Caller<'a> {
    /// Its qualified name.
    pub(crate) function: &'a str,
    /// Its file.
    pub(crate) file: &'a str,
    /// The DWARF's name for it, with generic arguments: a closure's caller is
    /// often instantiated with the closure's type
    /// (`call_once<fixture::main::{closure_env#0}, ()>`).
    pub(crate) dwarf_name: &'a str,
}

/// Whether a DWARF function name is a mangled linkage name (then it is the full
/// name already).
pub(crate) fn is_mangled(name: &str) -> bool {
    name.starts_with("_Z") || name.starts_with("__Z") || name.starts_with("_R")
}

/// The last `::`-separated segment of a demangled Rust path, outside of any
/// `<…>`: `from_iter` for `<alloc::vec::Vec<T> as Spec<T>>::from_iter`,
/// `drop_in_place<u8>` for `core::ptr::drop_in_place<u8>`.
pub(crate) fn last_segment(path: &str) -> &str {
    let bytes = path.as_bytes();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {} // `->` in fn types
            b'>' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    &path[start.min(path.len())..]
}

/// A segment without its generic arguments: `from_iter` for `from_iter<u64>`.
fn without_generics(segment: &str) -> &str {
    match segment.find('<') {
        Some(0) | None => segment,
        Some(i) => &segment[..i],
    }
}

/// Whether a segment names a closure (`{closure#0}`, legacy `{{closure}}`).
fn is_closure(segment: &str) -> bool {
    segment.starts_with("{closure") || segment.starts_with("{{closure")
}

/// What a symbol's last segment and a DWARF name have in common: the name
/// without generic arguments, closures all alike (legacy symbols do not number
/// them).
pub(crate) fn key(segment: &str) -> &str {
    let s = without_generics(segment);
    if is_closure(s) { "{closure}" } else { s }
}

fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl Names {
    /// The qualified name of an inlined (or symbol-less) Rust frame, or `None`
    /// to keep the short name. `callers` are the qualified names and files of
    /// the frames that called it, nearest first.
    pub(crate) fn qualify(
        &self,
        short: &Short<'_>,
        callers: &[Caller<'_>],
        symbols: &[Sym],
        ctx: &addr2line::Context<Reader>,
        dwarf: &gimli::Dwarf<Reader>,
        style: DemangleStyle,
    ) -> Option<Qualified> {
        if let Some(q) = self.by_symbol(short, symbols, ctx, style) {
            return Some(q);
        }
        let segment = without_generics(short.name);
        if segment.is_empty() || short.file.is_empty() {
            return None;
        }
        let module = self.module_path(short.file, dwarf);
        if is_closure(segment) {
            // The closure's type in a caller's generic arguments names it in
            // full; else the nearest caller in the same file is where it was
            // written.
            let by_type = module
                .as_deref()
                .and_then(|m| callers.iter().find_map(|c| closure_from_type(c.dwarf_name, segment, m)));
            let by_caller = || {
                callers.iter().find(|c| c.file == short.file).map(|c| format!("{}::{segment}", c.function))
            };
            if let Some(function) = by_type.or_else(by_caller) {
                return Some(Qualified { function, system_name: short.name.to_string() });
            }
        }
        let module = module?;
        Some(Qualified { function: format!("{module}::{segment}"), system_name: short.name.to_string() })
    }

    /// Step 2: an out-of-line copy of the function in the symbol table.
    fn by_symbol(
        &self,
        short: &Short<'_>,
        symbols: &[Sym],
        ctx: &addr2line::Context<Reader>,
        style: DemangleStyle,
    ) -> Option<Qualified> {
        if short.file.is_empty() {
            return None;
        }
        let cands = self.candidates_of(key(short.name), short.file, symbols, ctx);
        let mut found: Vec<&SymInfo> = cands.iter().map(|(_, info)| &**info).collect();
        // The same generic arguments, when some candidates have them
        // (`drop_in_place<alloc::string::String>`).
        if found.iter().any(|c| c.last_segment() == short.name) {
            found.retain(|c| c.last_segment() == short.name);
        }
        if short.line > 0 {
            // The function whose code covers the frame's line (another
            // function of that name in the file, e.g. another type's `new`,
            // or another closure, covers other lines); of nested ones (a
            // closure in a closure), the innermost.
            found.retain(|c| c.lo <= short.line && short.line <= c.hi);
            let inner = found.iter().map(|c| c.lo).max().unwrap_or(0);
            found.retain(|c| c.lo == inner);
        }
        let first = found.first()?;
        if found.iter().any(|c| c.name != first.name) {
            return None;
        }
        let (i, _) = cands.iter().find(|(_, info)| std::ptr::eq(&**info, *first))?;
        let sym = symbols.get(*i as usize)?;
        Some(Qualified { function: demangle(&sym.name, style), system_name: sym.name.to_string() })
    }

    /// The symbols whose last segment has key `k` and whose code is in `file`.
    fn candidates_of(
        &self,
        k: &str,
        file: &str,
        symbols: &[Sym],
        ctx: &addr2line::Context<Reader>,
    ) -> Candidates {
        let id: KeyFile = (k.into(), file.into());
        if let Some(c) = self.candidates.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return c.clone();
        }
        let index = self.index.get_or_init(|| build_index(symbols));
        let h = hash(k);
        let first = index.partition_point(|e| e.0 < h);
        let mut found = Vec::new();
        for &(eh, i) in &index[first..] {
            if eh != h {
                break;
            }
            let Some(sym) = symbols.get(i as usize) else { continue };
            if let Some(info) = self.info(i, sym, ctx)
                && &*info.file == file
                && key(info.last_segment()) == k
            {
                found.push((i, info));
            }
        }
        // Instances of one generic function (one symbol each) are one
        // candidate.
        found.sort_by(|a, b| (&a.1.name, a.1.lo, a.1.hi, a.0).cmp(&(&b.1.name, b.1.lo, b.1.hi, b.0)));
        found.dedup_by(|b, a| (&a.1.name, a.1.lo, a.1.hi) == (&b.1.name, b.1.lo, b.1.hi));
        let c: Candidates = Arc::new(found);
        self.candidates.lock().unwrap_or_else(|e| e.into_inner()).insert(id, c.clone());
        c
    }

    /// A symbol's name, file and lines (computed once).
    fn info(&self, i: u32, sym: &Sym, ctx: &addr2line::Context<Reader>) -> Option<Arc<SymInfo>> {
        let mut infos = self.infos.lock().unwrap_or_else(|e| e.into_inner());
        infos
            .entry(i)
            .or_insert_with(|| {
                let name = demangle_rust(&sym.name)?;
                let file: Box<str> = ctx.find_location(sym.addr).ok()??.file?.into();
                let end = sym.addr.checked_add(sym.size.max(1))?;
                let (mut lo, mut hi) = (u32::MAX, 0);
                for (_, _, loc) in ctx.find_location_range(sym.addr, end).ok()? {
                    if loc.file == Some(&*file)
                        && let Some(l) = loc.line.filter(|&l| l > 0)
                    {
                        lo = lo.min(l);
                        hi = hi.max(l);
                    }
                }
                let last = name.len() - last_segment(&name).len();
                Some(Arc::new(SymInfo { name, last, file, lo: lo.min(hi), hi }))
            })
            .clone()
    }

    /// Step 3: the module a source file is, `crate::a::b`.
    pub(crate) fn module_path(&self, file: &str, dwarf: &gimli::Dwarf<Reader>) -> Option<String> {
        let roots = self.roots.get_or_init(|| unit_roots(dwarf));
        module_path_in(roots, file)
    }
}

/// The path of closure `segment` (`{closure#1}`) as a generic argument of
/// `dwarf_name` names its type (`fixture::main::{closure#0}::{closure_env#1}`),
/// if that path is in `module`.
fn closure_from_type(dwarf_name: &str, segment: &str, module: &str) -> Option<String> {
    let n = segment.strip_prefix("{closure#")?.strip_suffix('}')?;
    let env = format!("::{{closure_env#{n}}}");
    let mut rest = dwarf_name;
    while let Some(i) = rest.find(&env) {
        // The path before it: back to a separator of generic arguments.
        let head = &rest[..i];
        let start = head.rfind(['<', ',', ' ', '(', '&', '[', '*']).map_or(0, |j| j + 1);
        let path = &head[start..];
        if path == module || path.starts_with(&format!("{module}::")) {
            return Some(format!("{path}::{segment}"));
        }
        rest = &rest[i + env.len()..];
    }
    None
}

/// The symbol index: every Rust symbol's last-segment key, hashed.
fn build_index(symbols: &[Sym]) -> Vec<(u64, u32)> {
    let mut index: Vec<(u64, u32)> = symbols
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let name = demangle_rust(&s.name)?;
            Some((hash(key(last_segment(&name))), u32::try_from(i).ok()?))
        })
        .collect();
    index.sort_unstable();
    index.shrink_to_fit();
    index
}

/// The crate roots named by the compilation units (`<root file>/@/<crate>.<hash>-cgu.<n>`,
/// the root file relative to the unit's directory).
fn unit_roots(dwarf: &gimli::Dwarf<Reader>) -> Vec<Root> {
    use gimli::Reader as _;
    let mut roots: Vec<Root> = Vec::new();
    let mut headers = dwarf.units();
    while let Ok(Some(header)) = headers.next() {
        let Ok(unit) = dwarf.unit(header) else { continue };
        let Some(name) = unit.name.as_ref().and_then(|n| n.to_string_lossy().ok()) else { continue };
        let comp_dir = unit.comp_dir.as_ref().and_then(|d| d.to_string_lossy().ok());
        if let Some(root) = parse_unit_name(&name, comp_dir.as_deref())
            && !roots.contains(&root)
        {
            roots.push(root);
        }
    }
    // Longest directory first: the innermost crate wins.
    roots.sort_by(|a, b| b.dir.len().cmp(&a.dir.len()).then_with(|| a.dir.cmp(&b.dir)));
    roots
}

/// A crate root from a rustc unit name such as
/// `src/main.rs/@/fixture.ad7040ee2f5f5c32-cgu.0`.
fn parse_unit_name(name: &str, comp_dir: Option<&str>) -> Option<Root> {
    let (root_file, cgu) = name.split_once("/@/")?;
    let krate = cgu.split('.').next().filter(|k| is_ident(k))?;
    let path = match comp_dir {
        Some(d) if !root_file.starts_with('/') => format!("{}/{root_file}", d.trim_end_matches('/')),
        _ => root_file.to_string(),
    };
    let (dir, file) = path.rsplit_once('/')?;
    Some(Root { dir: format!("{dir}/"), file: file.to_string(), krate: krate.to_string() })
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The module path of `file`: below one of `roots`, else below a standard
/// library (`…/library/<crate>/src/`) or a registry crate
/// (`…/<crate>-<version>/src/`) directory.
fn module_path_in(roots: &[Root], file: &str) -> Option<String> {
    for r in roots {
        if let Some(rel) = file.strip_prefix(&r.dir) {
            return join_module(&r.krate, rel, &[r.file.as_str()]);
        }
    }
    let (before, rel) = split_src(file)?;
    let dir = before.rsplit('/').next()?;
    let krate = if before.ends_with(&format!("/library/{dir}")) {
        dir.replace('-', "_")
    } else {
        // `name-1.2.3`: the name before the last `-` that starts a version.
        let (name, version) = dir.rsplit_once('-')?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        name.replace('-', "_")
    };
    join_module(&krate, rel, &["lib.rs", "main.rs"])
}

/// `(…/<dir>, rel)` for a path `…/<dir>/src/<rel>`, at the last `/src/`.
fn split_src(file: &str) -> Option<(&str, &str)> {
    let i = file.rfind("/src/")?;
    Some((&file[..i], &file[i + "/src/".len()..]))
}

/// `krate::a::b` for `rel` = `a/b.rs` or `a/b/mod.rs`; the crate itself for
/// one of its root files.
fn join_module(krate: &str, rel: &str, root_files: &[&str]) -> Option<String> {
    if !is_ident(krate) {
        return None;
    }
    if root_files.contains(&rel) {
        return Some(krate.to_string());
    }
    let rel = rel.strip_suffix(".rs")?;
    let mut segments: Vec<&str> = rel.split('/').collect();
    if segments.last() == Some(&"mod") {
        segments.pop();
    }
    if !segments.iter().all(|s| is_ident(s)) {
        return None;
    }
    let mut out = krate.to_string();
    for s in segments {
        out.push_str("::");
        out.push_str(s);
    }
    Some(out)
}

/// Kept for the binary: the DWARF sections shared with the addr2line context.
pub(crate) type Sections = Arc<gimli::Dwarf<Reader>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(
            last_segment("<alloc::vec::Vec<T> as alloc::vec::spec::Spec<T, I>>::from_iter"),
            "from_iter"
        );
        assert_eq!(
            last_segment("core::ptr::drop_in_place<alloc::string::String>"),
            "drop_in_place<alloc::string::String>"
        );
        assert_eq!(last_segment("fixture::main::{{closure}}"), "{{closure}}");
        assert_eq!(last_segment("count_primes"), "count_primes");
        assert_eq!(last_segment("a::b<fn() -> u8>::c"), "c");
        assert_eq!(key("from_iter<u64, core::iter::Map<x::{closure_env#0}>>"), "from_iter");
        assert_eq!(key("{closure#3}<u64>"), "{closure}");
        assert_eq!(key("{{closure}}"), "{closure}");
        assert!(is_mangled("_ZN3foo3barE") && is_mangled("_RNvCs1_3foo3bar") && !is_mangled("bar"));
    }

    #[test]
    fn closures_from_types() {
        let caller = "call_once<fixture::lock_work::{closure#0}::{closure_env#1}, ()>";
        assert_eq!(
            closure_from_type(caller, "{closure#1}", "fixture").as_deref(),
            Some("fixture::lock_work::{closure#0}::{closure#1}")
        );
        assert_eq!(closure_from_type(caller, "{closure#2}", "fixture"), None);
        assert_eq!(closure_from_type(caller, "{closure#1}", "other"), None);
        let caller = "fold<u64, core::iter::Map<x::{closure_env#0}>, &app::f::{closure_env#0}>";
        assert_eq!(closure_from_type(caller, "{closure#0}", "app").as_deref(), Some("app::f::{closure#0}"));
    }

    #[test]
    fn unit_names() {
        let r = parse_unit_name("src/main.rs/@/fixture.ad7040ee2f5f5c32-cgu.0", Some("/tmp/app")).unwrap();
        assert_eq!(r, Root { dir: "/tmp/app/src/".into(), file: "main.rs".into(), krate: "fixture".into() });
        let r =
            parse_unit_name("/rustc/abc/library/alloc/src/lib.rs/@/alloc.fdfd2bd8633a6659-cgu.0", Some("/x"))
                .unwrap();
        assert_eq!(r.dir, "/rustc/abc/library/alloc/src/");
        assert_eq!(r.krate, "alloc");
        assert_eq!(parse_unit_name("main.c", Some("/x")), None);
    }

    #[test]
    fn module_paths() {
        let roots = vec![
            Root { dir: "/w/crates/app/src/bin/".into(), file: "tool.rs".into(), krate: "tool".into() },
            Root { dir: "/w/crates/app/src/".into(), file: "main.rs".into(), krate: "app".into() },
        ];
        let m = |f: &str| module_path_in(&roots, f);
        assert_eq!(m("/w/crates/app/src/main.rs").as_deref(), Some("app"));
        assert_eq!(m("/w/crates/app/src/net/tcp.rs").as_deref(), Some("app::net::tcp"));
        assert_eq!(m("/w/crates/app/src/net/mod.rs").as_deref(), Some("app::net"));
        assert_eq!(m("/w/crates/app/src/bin/tool.rs").as_deref(), Some("tool"));
        // A file that is not a module path.
        assert_eq!(m("/w/crates/app/src/gen-code.rs"), None);
        assert_eq!(m("/w/target/out/bindings.rs"), None);
        // Without a unit for them: the standard library and registry crates.
        assert_eq!(
            m("/rustc/59807616e1/library/core/src/iter/traits/iterator.rs").as_deref(),
            Some("core::iter::traits::iterator")
        );
        assert_eq!(m("/rustc/59807616e1/library/alloc/src/vec/mod.rs").as_deref(), Some("alloc::vec"));
        assert_eq!(
            m("/home/u/.cargo/registry/src/index.crates.io-1/serde-json-1.0.1/src/de.rs").as_deref(),
            Some("serde_json::de")
        );
        assert_eq!(
            m("/home/u/.cargo/registry/src/x/hashbrown-0.15.2/src/lib.rs").as_deref(),
            Some("hashbrown")
        );
        assert_eq!(m("/home/u/project/src/lib.rs"), None);
    }
}
