//! Demangling: Rust (legacy and v0) with `rustc-demangle`, C++ (Itanium ABI)
//! with `cpp_demangle`.
//!
//! Rust names are always printed without their hash suffix
//! (`std::rt::lang_start`, not `std::rt::lang_start::h0123456789abcdef`). C++
//! names are simplified the way `go tool pprof` does by default (no parameter
//! list, no template arguments) unless another [`DemangleStyle`] is asked for.
//! A name that cannot be demangled is returned unchanged.

/// How much of a demangled C++ name to keep (pprof's `-symbolize=demangle=…`).
/// Rust names are printed the same way in every style but [`DemangleStyle::None`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DemangleStyle {
    /// No parameters, no template arguments, no return type (pprof's default).
    #[default]
    Simplified,
    /// No parameters and no return type, template arguments kept.
    Templates,
    /// Everything the demangler prints.
    Full,
    /// Keep the mangled name.
    None,
}

/// The demangled form of `name`, or `name` itself when it is not a mangled Rust
/// or C++ name (or cannot be demangled).
pub fn demangle(name: &str, style: DemangleStyle) -> String {
    demangle_opt(name, style).unwrap_or_else(|| name.to_string())
}

/// Like [`demangle`], but `None` when the name is left as it is.
pub fn demangle_opt(name: &str, style: DemangleStyle) -> Option<String> {
    if style == DemangleStyle::None {
        return None;
    }
    if let Some(rust) = demangle_rust(name) {
        return Some(rust);
    }
    demangle_cpp(name, style)
}

/// A Rust legacy (`_ZN…17h<hash>E`) or v0 (`_R…`) name without its hash.
pub fn demangle_rust(name: &str) -> Option<String> {
    let d = rustc_demangle::try_demangle(name).ok()?;
    Some(format!("{d:#}"))
}

/// An Itanium C++ name (`_Z…`), in `style`.
pub fn demangle_cpp(name: &str, style: DemangleStyle) -> Option<String> {
    // Mach-O style names carry one more underscore.
    let mangled = if name.starts_with("__Z") { &name[1..] } else { name };
    if !mangled.starts_with("_Z") {
        return None;
    }
    let sym = cpp_demangle::Symbol::new(mangled.as_bytes()).ok()?;
    let base = cpp_demangle::DemangleOptions::new();
    let opts = match style {
        DemangleStyle::Full => base,
        DemangleStyle::Simplified | DemangleStyle::Templates => base.no_params().no_return_type(),
        DemangleStyle::None => return None,
    };
    let out = sym.demangle_with_options(&opts).ok()?;
    if out.is_empty() {
        return None;
    }
    Some(match style {
        DemangleStyle::Simplified => remove_nested(&out, '<', '>'),
        _ => out,
    })
}

/// Removes every outermost `open…close` group from `name`, leaving `name` as it
/// is when the brackets do not balance (e.g. `operator<`).
fn remove_nested(name: &str, open: char, close: char) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return name.to_string();
            }
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    if depth != 0 { name.to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_legacy_without_hash() {
        let s = "_ZN3std2rt10lang_start17h0123456789abcdefE";
        assert_eq!(demangle(s, DemangleStyle::Simplified), "std::rt::lang_start");
        assert_eq!(demangle(s, DemangleStyle::Full), "std::rt::lang_start");
        assert_eq!(demangle(s, DemangleStyle::None), s);
        // LLVM's suffixes are dropped too.
        let s = "_ZN4core3ptr13drop_in_place17h1111111111111111E.llvm.123456";
        assert_eq!(demangle(s, DemangleStyle::Simplified), "core::ptr::drop_in_place");
        // Trait impls.
        let s = "_ZN60_$LT$alloc..string..String$u20$as$u20$core..fmt..Display$GT$3fmt17h1234567890abcdefE";
        assert_eq!(
            demangle(s, DemangleStyle::Simplified),
            "<alloc::string::String as core::fmt::Display>::fmt"
        );
    }

    #[test]
    fn rust_v0() {
        // From rustc-demangle's and the v0 RFC's examples.
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo", DemangleStyle::Simplified), "mycrate::foo");
        assert_eq!(
            demangle("_RNvNtCs1234_7mycrate7example3foo", DemangleStyle::Simplified),
            "mycrate::example::foo"
        );
        assert_eq!(
            demangle("_RINvNtC3std3mem8align_ofjEC3foo", DemangleStyle::Simplified),
            "std::mem::align_of::<usize>"
        );
        assert_eq!(
            demangle(
                "_RNvMsr_NtCs3ssYzQotkvD_3std4pathNtB5_7PathBuf3newCs15kBYyAo9fc_7mycrate",
                DemangleStyle::Full
            ),
            "<std::path::PathBuf>::new"
        );
    }

    #[test]
    fn cpp_styles() {
        let s = "_ZN5space3fooEibc";
        assert_eq!(demangle(s, DemangleStyle::Full), "space::foo(int, bool, char)");
        assert_eq!(demangle(s, DemangleStyle::Simplified), "space::foo");
        let s = "_ZNSt6vectorIiSaIiEE9push_backERKi";
        assert_eq!(
            demangle(s, DemangleStyle::Full),
            "std::vector<int, std::allocator<int> >::push_back(int const&)"
        );
        assert_eq!(
            demangle(s, DemangleStyle::Templates),
            "std::vector<int, std::allocator<int> >::push_back"
        );
        assert_eq!(demangle(s, DemangleStyle::Simplified), "std::vector::push_back");
        // A C++ name that looks like a Rust legacy one up to the parameters.
        assert_eq!(demangle("_ZN3foo3barEv", DemangleStyle::Full), "foo::bar()");
        // Mach-O's extra underscore.
        assert_eq!(demangle("__ZN5space3fooEibc", DemangleStyle::Simplified), "space::foo");
    }

    #[test]
    fn not_mangled_or_broken() {
        for s in ["main", "", "_Z", "_ZN3foo", "_R", "__libc_start_main", "_ZZZZ"] {
            assert_eq!(demangle(s, DemangleStyle::Simplified), s, "{s}");
        }
    }

    #[test]
    fn nested_removal() {
        assert_eq!(remove_nested("a<b<c>>::d<e>", '<', '>'), "a::d");
        assert_eq!(remove_nested("operator<", '<', '>'), "operator<");
        assert_eq!(remove_nested("x>", '<', '>'), "x>");
    }
}
