//! Which frames of an allocation's stack are the allocator's and the standard
//! library's rather than the program's: they are dropped from the heap
//! profile's stacks, as Go drops `runtime.` frames, so that the first frame is
//! the code that asked for memory.
//!
//! A frame is judged by its function's name and by its source file, so that
//! the trimming holds when the names are short (`debug = "line-tables-only"`
//! names inlined code by its last segment only) or missing.

use std::path::Path;

/// The standard library's crates, by path prefix.
const LIBS: [&str; 4] = ["alloc::", "core::", "std::", "hashbrown::"];

/// Whether `file` is one of this module's sources (where [`super::Sampled`]
/// and its bookkeeping live): `file!()` is relative to the workspace for a
/// workspace member and absolute for a registry dependency, the DWARF's path
/// absolute in both cases.
fn heap_source(file: &str) -> bool {
    let Some(here) = Path::new(file!()).parent() else { return false };
    let Some(dir) = Path::new(file).parent() else { return false };
    !file.is_empty() && (dir == here || dir.ends_with(here))
}

/// Whether `file` is a source of the standard library (as rustc ships it:
/// `/rustc/<hash>/library/<crate>/src/…`, or the `rust-src` component's
/// `…/lib/rustlib/src/rust/library/…`) or of its hash table.
fn std_source(file: &str) -> bool {
    ["/library/alloc/src/", "/library/core/src/", "/library/std/src/"].iter().any(|l| file.contains(l))
        || file.split('/').any(|dir| dir.starts_with("hashbrown-")) && file.contains("/src/")
}

/// The allocator's entry points: a heap stack starts below the deepest of them.
pub(super) fn allocator_entry(name: &str, file: &str) -> bool {
    const NAMES: [&str; 7] = [
        "<rustprof::heap::Sampled<",
        "rustprof::heap::",
        "__rust_alloc",
        "__rust_realloc",
        "__rustc::__rust_",
        "__rdl_",
        // What `#[global_allocator]` generates: everything inside it is the
        // allocator's, whatever the names of the frames inlined into it.
        "__rg_",
    ];
    NAMES.iter().any(|p| name.starts_with(p)) || heap_source(file)
}

/// The standard library's frames between the allocator and the code that
/// asked for memory (`RawVec` growth, `Vec::push`, `format!`, `to_owned`,
/// hash table resizing...), dropped too: the first frame shown is the
/// program's own. A standard-library frame is one of `alloc`, `core`, `std` or
/// `hashbrown` (by name, or by source file), or a standard trait's method on a
/// standard or primitive type, whatever the receiver's shape (`<str as
/// alloc::borrow::ToOwned>::to_owned`, `<&mut alloc::string::String as
/// core::fmt::Write>::write_fmt`, `<[u8]>::to_vec`); a standard trait
/// implemented by the program's own type is the program's. (`<T as
/// alloc::slice::hack::ConvertVec>::to_vec` is std's: `T` has no path.)
pub(super) fn allocator_plumbing(name: &str, file: &str) -> bool {
    name.starts_with("__rg_") || classify(name) == Kind::Std || std_source(file)
}

/// What a type or path is, for [`allocator_plumbing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A path of the standard library.
    Std,
    /// A primitive type, a generic parameter or any other name without a path.
    Bare,
    /// The program's (or another crate's).
    Other,
}

/// Drops what a type can be wrapped in before its path: references, raw
/// pointers, `dyn`/`impl`, slices, arrays, tuples.
fn strip_sigils(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        let next = t
            .strip_prefix('&')
            .or_else(|| t.strip_prefix("mut "))
            .or_else(|| t.strip_prefix("*const "))
            .or_else(|| t.strip_prefix("*mut "))
            .or_else(|| t.strip_prefix("dyn "))
            .or_else(|| t.strip_prefix("impl "))
            .or_else(|| t.strip_prefix('['))
            .or_else(|| t.strip_prefix('('))
            .or_else(|| t.strip_prefix('\''));
        match next {
            Some(rest) => s = rest,
            None => return t,
        }
    }
}

/// The index of the `>` that closes the `<` at `s[0]`.
fn closing(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'<' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b'>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `Self as Trait` at its ` as ` outside of any `<…>`.
fn split_as(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    for i in 0..b.len() {
        match b[i] {
            b'<' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b'>' => depth -= 1,
            b' ' if depth == 0 && s[i..].starts_with(" as ") => return Some((&s[..i], &s[i + 4..])),
            _ => {}
        }
    }
    None
}

/// Classifies a demangled function name or type by where its path starts:
/// `<Self as Trait>::f` is std's when the trait is and `Self` is std's or
/// bare, `<Self>::f` (an inherent method) when `Self` is; a nested qualified
/// path (`<<&mut String as Write>::write_fmt::Spec>::f`) by its innermost one.
fn classify(name: &str) -> Kind {
    let s = strip_sigils(name);
    if s.starts_with('<') {
        let Some(end) = closing(s) else { return Kind::Other };
        let inner = &s[1..end];
        return match split_as(inner) {
            Some((self_ty, tr)) => {
                let self_ok = matches!(classify(self_ty), Kind::Std | Kind::Bare);
                if self_ok && classify(tr) == Kind::Std { Kind::Std } else { Kind::Other }
            }
            None => match classify(inner) {
                Kind::Std | Kind::Bare => Kind::Std,
                Kind::Other => Kind::Other,
            },
        };
    }
    if LIBS.iter().any(|l| s.starts_with(l)) {
        return Kind::Std;
    }
    // The first segment: a path when `::` comes before anything else.
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    if s[end..].starts_with("::") { Kind::Other } else { Kind::Bare }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plumbing_frames() {
        for f in [
            "alloc::raw_vec::RawVecInner<A>::try_allocate_in",
            "<alloc::raw_vec::RawVecInner>::finish_grow",
            "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem",
            "<str as alloc::borrow::ToOwned>::to_owned",
            "hashbrown::raw::alloc::inner::do_alloc",
            "alloc::fmt::format",
            "<alloc::string::String as core::fmt::Write>::write_str",
            "core::ops::function::FnOnce::call_once",
            "<T as alloc::slice::<impl [T]>::to_vec_in::ConvertVec>::to_vec",
            "<[u8]>::to_vec",
            // Receivers of other shapes (issue 14.6).
            "<&mut alloc::string::String as core::fmt::Write>::write_fmt",
            "<<&mut alloc::string::String as core::fmt::Write>::write_fmt::SpecWriteFmt>::spec_write_fmt",
            "<&mut alloc::string::String as core::fmt::Write::write_fmt::SpecWriteFmt>::spec_write_fmt",
            "<&str as alloc::string::ToString>::to_string",
            "<*const u8 as core::fmt::Pointer>::fmt",
            "<[alloc::string::String] as alloc::slice::Concat<str>>::concat",
            "<dyn core::any::Any as core::fmt::Debug>::fmt",
            "<(u8, u16) as core::clone::Clone>::clone",
            "<alloc::vec::Vec<app::Item> as core::clone::Clone>::clone",
            "<&alloc::vec::Vec<u8> as core::iter::traits::collect::IntoIterator>::into_iter",
            "__rg_alloc",
        ] {
            assert!(allocator_plumbing(f, ""), "{f}");
        }
        for f in [
            "app::parse",
            "<app::Item as core::clone::Clone>::clone",
            "<&app::Item as core::fmt::Display>::fmt",
            "<&mut app::Writer as core::fmt::Write>::write_str",
            "<[app::Item] as core::fmt::Debug>::fmt",
            "<alloc::string::String as app::Render>::render",
            "<app::Item>::new",
            "app::parse::{{closure}}",
            "main",
            "count_primes",
            "<fn() -> u8 as app::Run>::run",
        ] {
            assert!(!allocator_plumbing(f, ""), "{f}");
        }
    }

    #[test]
    fn by_source_file() {
        // Short names (line tables only) are judged by their files.
        let std_file = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src/raw_vec/mod.rs";
        assert!(allocator_plumbing("grow_one<u8>", std_file));
        assert!(allocator_plumbing("insert", "/rust/deps/hashbrown-0.15.5/src/map.rs"));
        assert!(!allocator_plumbing("parse", "/home/u/app/src/main.rs"));
        let heap = format!("/home/u/rustprof/{}", file!().replace("frames.rs", "mod.rs"));
        assert!(allocator_entry("alloc", &heap));
        assert!(allocator_entry("alloc", file!()));
        assert!(!allocator_entry("alloc", "/home/u/app/src/heap/mod.rs"));
        assert!(!allocator_entry("alloc", ""));
        assert!(allocator_entry("__rg_alloc", ""));
    }
}
