//! `-symbolize`: local symbolization of addresses from binaries (ELF + DWARF,
//! through `rustprof-symbolize`), remote symbolization through a server's
//! `/debug/pprof/symbol`, then pprof's demangling of names that are still
//! mangled.

use rustprof_profile::Profile;
use rustprof_symbolize::{DemangleStyle, SymbolizeOptions};

use crate::driver::Ui;

/// The parsed `-symbolize` mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Do nothing at all.
    pub none: bool,
    /// Symbolize from local binaries.
    pub local: bool,
    /// Symbolize through the profile's server.
    pub remote: bool,
    /// Re-symbolize what already has names.
    pub force: bool,
    /// `demangle=` mode ("" = default).
    pub demangle: String,
}

/// Parses a mode (`none`, `local`, `fastlocal`, `remote`, `force`,
/// `demangle=none|full|templates|default`, `:`-separated) with pprof's warnings.
pub fn parse_mode(mode: &str, ui: &mut dyn Ui) -> Mode {
    let mut m = Mode { none: false, local: true, remote: true, force: false, demangle: String::new() };
    for o in mode.to_lowercase().split(':') {
        match o {
            "" => {}
            "none" | "no" => {
                m.none = true;
                return m;
            }
            "local" | "fastlocal" => {
                m.remote = false;
                m.local = true;
            }
            "remote" => {
                m.remote = true;
                m.local = false;
            }
            "force" => m.force = true,
            other => match other.strip_prefix("demangle=") {
                Some(d @ ("full" | "none" | "templates")) => {
                    m.demangle = d.to_string();
                    m.force = true;
                }
                Some("default") => {}
                _ => {
                    ui.print_err(&format!("ignoring unrecognized symbolization option: {mode}"));
                    ui.print_err(
                        "expecting -symbolize=[local|fastlocal|remote|none][:force][:demangle=[none|full|templates|default]",
                    );
                }
            },
        }
    }
    m
}

/// Symbolizes `p` as `-symbolize=mode` asks (remote symbolization needs the
/// sources' URLs: see [`crate::remote`]).
pub fn symbolize(mode: &str, p: &mut Profile, ui: &mut dyn Ui) {
    symbolize_with(mode, p, ui, &mut |_, _, _| {});
}

/// [`symbolize`] with a remote symbolizer callback `(profile, force, ui)`.
pub fn symbolize_with(
    mode: &str,
    p: &mut Profile,
    ui: &mut dyn Ui,
    remote: &mut dyn FnMut(&mut Profile, bool, &mut dyn Ui),
) {
    let m = parse_mode(mode, ui);
    if m.none {
        return;
    }
    if m.local {
        let opts =
            SymbolizeOptions { force: m.force, demangle: DemangleStyle::default(), ..Default::default() };
        let report = rustprof_symbolize::symbolize_profile(p, &opts);
        for msg in &report.messages {
            ui.print_err(msg);
        }
    }
    if m.remote {
        remote(p, m.force, ui);
    }
    demangle_functions(p, m.force, &m.demangle);
}

/// pprof's `Demangle`: names equal to the system name (or empty) are demangled
/// from it; C++-looking names lose their parameters and template arguments
/// unless `demangle=full|templates` asks otherwise.
pub fn demangle_functions(p: &mut Profile, force: bool, mode: &str) {
    let (no_params, no_templates) = match mode {
        "" => (true, true),
        "templates" => (true, false),
        _ => (false, false),
    };
    for fi in 0..p.functions.len() {
        let f = p.functions[fi];
        let mut name = p.str(f.name).to_string();
        let sys = p.str(f.system_name).to_string();
        if force && !name.is_empty() && !sys.is_empty() {
            name = sys.clone();
        }
        if !name.is_empty() && sys != name {
            if name != p.str(f.name) {
                p.functions[fi].name = p.strings.intern(&name);
            }
            continue;
        }
        let new = if mode == "none" {
            sys.clone()
        } else {
            match rustprof_symbolize::demangle::demangle_opt(&sys, DemangleStyle::default()) {
                Some(d) if d != sys => simplify(&d, no_params, no_templates, true),
                _ => simplify(&sys, no_params, no_templates, looks_like_demangled_cplusplus(&sys)),
            }
        };
        if new != p.str(f.name) {
            p.functions[fi].name = p.strings.intern(&new);
        }
    }
}

fn simplify(name: &str, no_params: bool, no_templates: bool, cplusplus: bool) -> String {
    if !cplusplus {
        return name.to_string();
    }
    let mut n = name.to_string();
    if no_params {
        n = remove_matching(&n, b'(', b')');
    }
    if no_templates {
        n = remove_matching(&n, b'<', b'>');
    }
    n
}

/// pprof's `looksLikeDemangledCPlusPlus`.
fn looks_like_demangled_cplusplus(d: &str) -> bool {
    if d.contains(".<") || d.contains("]).") {
        return false;
    }
    d.contains(['<', '>', '[', ']']) || d.contains("::")
}

/// pprof's `removeMatching`: removes outermost `start…end` groups.
fn remove_matching(name: &str, start: u8, end: u8) -> String {
    let mut name = name.as_bytes().to_vec();
    let (mut nesting, mut first, mut current) = (0i32, 0usize, 0usize);
    while current < name.len() {
        let Some(index) = name[current..].iter().position(|&c| c == start || c == end) else { break };
        current += index;
        if name[current] == start {
            nesting += 1;
            if nesting == 1 {
                first = current;
            }
        } else {
            nesting -= 1;
            if nesting < 0 {
                return String::from_utf8_lossy(&name).into_owned();
            }
            if nesting == 0 {
                name.drain(first..=current);
                current = first;
                continue;
            }
        }
        current += 1;
    }
    String::from_utf8_lossy(&name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pprof_name_simplification() {
        assert_eq!(remove_matching("foo(int, char)", b'(', b')'), "foo");
        assert_eq!(remove_matching("a<b<c>>::d", b'<', b'>'), "a::d");
        assert_eq!(remove_matching("x)(", b'(', b')'), "x)(");
        assert!(looks_like_demangled_cplusplus("http::mod70::func_264"));
        assert!(!looks_like_demangled_cplusplus("sync.(*Mutex).Lock"));
        assert!(!looks_like_demangled_cplusplus("pkg.(*T[...]).M"));
    }
}
