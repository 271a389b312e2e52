//! Symbolizing a whole [`Profile`]: what `go tool pprof` does to a profile whose
//! locations have only addresses.
//!
//! For each mapping, a local copy of its binary is looked for along
//! `$PPROF_BINARY_PATH` (pprof's rules, [`candidate_paths`]); the main mapping's
//! binary can be given explicitly ([`SymbolizeOptions::binary`]). A binary whose
//! build ID differs from the mapping's is refused. The locations of the usable
//! mappings then get their lines, with functions interned; the mappings get
//! their `has_*` flags. What happened to each mapping, and pprof's messages for
//! stderr, are in the [`SymbolizeReport`].

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rustprof_profile::{Function, FunctionIdx, Line, Mapping, Profile};

use crate::base::MappingRange;
use crate::demangle::DemangleStyle;
use crate::elf::read_build_id;
use crate::maps::is_unsymbolizable;
use crate::symbolizer::{DEFAULT_CAPACITY, Symbolizer};

/// How [`symbolize_profile`] works.
#[derive(Clone, Debug)]
pub struct SymbolizeOptions {
    /// The binary of the main (first) mapping, overriding its filename: the
    /// `[binary]` argument of `go tool pprof`.
    pub binary: Option<PathBuf>,
    /// A build ID overriding the main mapping's (pprof's `-buildid`).
    pub build_id: Option<String>,
    /// Symbolize every location, even of mappings already symbolized and
    /// locations that already have lines (pprof's `-symbolize=force`).
    pub force: bool,
    /// Directories to look for binaries in, separated like `$PATH`; `None` means
    /// `$PPROF_BINARY_PATH`, or `$HOME/pprof/binaries` when that is not set.
    pub search_path: Option<OsString>,
    /// How function names are demangled.
    pub demangle: DemangleStyle,
    /// How many binaries are kept open at once.
    pub max_open_binaries: usize,
    /// Directories searched for separate debug files.
    pub debug_dirs: Vec<PathBuf>,
}

impl Default for SymbolizeOptions {
    fn default() -> Self {
        SymbolizeOptions {
            binary: None,
            build_id: None,
            force: false,
            search_path: None,
            demangle: DemangleStyle::default(),
            max_open_binaries: DEFAULT_CAPACITY,
            debug_dirs: vec![PathBuf::from("/usr/lib/debug")],
        }
    }
}

impl SymbolizeOptions {
    /// The search path in effect: [`SymbolizeOptions::search_path`], else
    /// `$PPROF_BINARY_PATH`, else `$HOME/pprof/binaries`.
    pub fn effective_search_path(&self) -> Vec<PathBuf> {
        if let Some(p) = &self.search_path {
            return std::env::split_paths(p).collect();
        }
        match std::env::var_os("PPROF_BINARY_PATH").filter(|p| !p.is_empty()) {
            Some(p) => std::env::split_paths(&p).collect(),
            None => {
                let home = std::env::var_os("HOME").unwrap_or_default();
                vec![PathBuf::from(home).join("pprof").join("binaries")]
            }
        }
    }
}

/// What happened to one mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MappingOutcome {
    /// Its locations were symbolized with `binary`: `locations` got lines,
    /// `failed` (of those that were tried) did not.
    Symbolized {
        /// The binary used.
        binary: PathBuf,
        /// Locations that got lines.
        locations: usize,
        /// Locations the binary knew nothing about.
        failed: usize,
    },
    /// No location refers to it.
    Unused,
    /// It already has functions, files or lines, and `force` was not set.
    AlreadySymbolized,
    /// It has no filename.
    NoFilename,
    /// It is a pseudo-file or anonymous memory, or a URL.
    Unsymbolizable,
    /// The binary could not be used.
    Failed {
        /// What went wrong, naming the file.
        reason: String,
    },
    /// The binary's build ID is not the mapping's: it was not used.
    BuildIdMismatch {
        /// The binary refused.
        binary: PathBuf,
        /// The mapping's build ID.
        expected: String,
        /// The binary's build ID.
        found: String,
    },
}

/// One mapping's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingReport {
    /// The mapping's id.
    pub mapping_id: u64,
    /// Its filename (after the search for a local binary and the override).
    pub filename: String,
    /// What happened.
    pub outcome: MappingOutcome,
}

/// What [`symbolize_profile`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolizeReport {
    /// One entry per mapping, in the profile's order.
    pub mappings: Vec<MappingReport>,
    /// pprof's messages, in order, for the CLI to print to stderr
    /// (`Local symbolization failed for prog: build ID mismatch`, …).
    pub messages: Vec<String>,
}

impl SymbolizeReport {
    /// Total number of locations that got lines.
    pub fn symbolized_locations(&self) -> usize {
        self.mappings
            .iter()
            .map(|m| match m.outcome {
                MappingOutcome::Symbolized { locations, .. } => locations,
                _ => 0,
            })
            .sum()
    }
}

/// Where pprof looks for a local copy of the binary of a mapping with `file`
/// and `build_id`, in order, for each directory of `search_path`:
/// `DIR/BUILDID/BASENAME`, every `DIR/BUILDID/*` (sorted), `DIR/FILE/BUILDID`
/// (perf's layout), `DIR/BASENAME`, `DIR/FILE`. The first candidate that is an
/// ELF file with the mapping's build ID is used.
pub fn candidate_paths(search_path: &[PathBuf], file: &str, build_id: &str) -> Vec<PathBuf> {
    let base = Path::new(file).file_name().map(|b| b.to_os_string());
    let rel_file = file.trim_start_matches('/');
    let mut out = Vec::new();
    for dir in search_path {
        if !build_id.is_empty() {
            let id_dir = dir.join(build_id);
            if let Some(b) = &base {
                out.push(id_dir.join(b));
            }
            if let Ok(rd) = std::fs::read_dir(&id_dir) {
                let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                names.sort();
                out.extend(names);
            }
            out.push(dir.join(rel_file).join(build_id));
        }
        if !file.is_empty() {
            if let Some(b) = &base {
                out.push(dir.join(b));
            }
            out.push(dir.join(rel_file));
        }
    }
    out
}

fn is_url(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.split_once("://").is_some_and(|(scheme, _)| scheme.contains("http"))
}

/// Replaces the filename of mappings whose binary is found along the search path
/// (pprof's `locateBinaries`), then applies the main-binary overrides.
fn locate_binaries(p: &mut Profile, opts: &SymbolizeOptions, messages: &mut Vec<String>) {
    if p.mappings.is_empty() && !p.locations.is_empty() {
        // Profiles without mappings (old Go runtimes): one mapping that spans
        // everything, so that at least a non-PIE main binary can be used.
        p.mappings.push(Mapping { id: 1, ..Mapping::default() });
        for l in &mut p.locations {
            l.mapping = Some(0);
        }
    }
    let search = opts.effective_search_path();
    for i in 0..p.mappings.len() {
        let m = p.mappings[i];
        let file = p.str(m.filename).to_string();
        let build_id = p.str(m.build_id).to_string();
        for cand in candidate_paths(&search, &file, &build_id) {
            let Ok(found) = read_build_id(&cand) else { continue };
            let found = found.unwrap_or_default();
            if !build_id.is_empty() && !found.eq_ignore_ascii_case(&build_id) {
                messages.push(format!(
                    "Ignoring local file {}: build-id mismatch ({build_id} != {found})",
                    cand.display()
                ));
                continue;
            }
            let name = p.strings.intern(&cand.to_string_lossy());
            p.mappings[i].filename = name;
            break;
        }
    }
    if let Some(first) = p.mappings.first().copied() {
        let mut first = first;
        if let Some(b) = &opts.binary {
            first.filename = p.strings.intern(&b.to_string_lossy());
        }
        if let Some(id) = &opts.build_id {
            first.build_id = p.strings.intern(id);
        }
        p.mappings[0] = first;
    }
}

type FunctionKey = (String, String, String, i64);

/// Adds functions and lines to the locations of `p` that have only addresses,
/// from the binaries of their mappings; see the [module docs](self).
///
/// Location ids and the order of everything are kept; new functions get ids after
/// the largest existing one. Mappings that got lines have their `has_*` flags
/// set. Never fails: what could not be done is in the report.
pub fn symbolize_profile(p: &mut Profile, opts: &SymbolizeOptions) -> SymbolizeReport {
    let mut report = SymbolizeReport::default();
    locate_binaries(p, opts, &mut report.messages);

    let used: HashSet<u32> = p.locations.iter().filter_map(|l| l.mapping).collect();
    let mut symbolizer = Symbolizer::with_capacity(opts.max_open_binaries);
    symbolizer.set_debug_dirs(opts.debug_dirs.clone());
    symbolizer.set_demangle_style(opts.demangle);

    // Which mappings to symbolize, with which binary.
    let mut usable: HashMap<u32, PathBuf> = HashMap::new();
    let mut missing_binaries = false;
    for (idx, m) in p.mappings.iter().enumerate() {
        let file = p.str(m.filename).to_string();
        let build_id = p.str(m.build_id).to_string();
        let outcome = if !used.contains(&(idx as u32)) {
            MappingOutcome::Unused
        } else if !opts.force && (m.has_functions || m.has_filenames || m.has_line_numbers) {
            MappingOutcome::AlreadySymbolized
        } else if file.is_empty() {
            if idx == 0 {
                report.messages.push("Main binary filename not available.".to_string());
            } else {
                missing_binaries = true;
            }
            MappingOutcome::NoFilename
        } else if is_unsymbolizable(&file) || (build_id.is_empty() && is_url(&file)) {
            MappingOutcome::Unsymbolizable
        } else {
            let base =
                Path::new(&file).file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
            let name = if build_id.is_empty() { base } else { format!("{base} (build ID {build_id})") };
            let path = PathBuf::from(&file);
            let range = MappingRange { start: m.memory_start, limit: m.memory_limit, offset: m.file_offset };
            match symbolizer.open(&path).and_then(|b| b.check_mapping(&range).map(|()| b)) {
                Err(e) => {
                    report.messages.push(format!("Local symbolization failed for {name}: {e}"));
                    missing_binaries = true;
                    MappingOutcome::Failed { reason: e.to_string() }
                }
                Ok(b) => {
                    let found = b.build_id();
                    if !build_id.is_empty() && !found.is_empty() && !found.eq_ignore_ascii_case(&build_id) {
                        report
                            .messages
                            .push(format!("Local symbolization failed for {name}: build ID mismatch"));
                        MappingOutcome::BuildIdMismatch {
                            binary: path,
                            expected: build_id,
                            found: found.to_string(),
                        }
                    } else {
                        usable.insert(idx as u32, path.clone());
                        MappingOutcome::Symbolized { binary: path, locations: 0, failed: 0 }
                    }
                }
            }
        };
        report.mappings.push(MappingReport { mapping_id: m.id, filename: file, outcome });
    }
    if missing_binaries {
        report.messages.push(
            "Some binary filenames not available. Symbolization may be incomplete.\n\
             Try setting PPROF_BINARY_PATH to the search path for local binaries."
                .to_string(),
        );
    }
    if usable.is_empty() {
        return report;
    }

    // Functions by content, starting with the profile's own.
    let mut functions: HashMap<FunctionKey, FunctionIdx> = HashMap::new();
    for (i, f) in p.functions.iter().enumerate() {
        let key = (
            p.str(f.name).to_string(),
            p.str(f.system_name).to_string(),
            p.str(f.filename).to_string(),
            f.start_line,
        );
        functions.entry(key).or_insert(i as FunctionIdx);
    }
    let mut next_id = p.functions.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    let mut new_lines: Vec<Option<Vec<Line>>> = vec![None; p.locations.len()];

    #[allow(clippy::needless_range_loop)] // `p` is borrowed mutably inside
    for li in 0..p.locations.len() {
        let loc = p.locations[li];
        let Some(mi) = loc.mapping else { continue };
        let Some(path) = usable.get(&mi) else { continue };
        if !opts.force && loc.lines_end > loc.lines_start {
            continue;
        }
        let m = p.mappings[mi as usize];
        let range = MappingRange { start: m.memory_start, limit: m.memory_limit, offset: m.file_offset };
        let frames = symbolizer.frames(path, &range, loc.address).unwrap_or_default();
        let report_idx = mi as usize;
        if frames.is_empty() {
            if let MappingOutcome::Symbolized { failed, .. } = &mut report.mappings[report_idx].outcome {
                *failed += 1;
            }
            continue;
        }
        let mut lines = Vec::with_capacity(frames.len());
        let mapping = &mut p.mappings[mi as usize];
        for fr in &frames {
            mapping.has_functions |= !fr.function.is_empty();
            mapping.has_filenames |= !fr.file.is_empty();
            mapping.has_line_numbers |= fr.line != 0;
        }
        mapping.has_inline_frames = true;
        for fr in frames {
            let start_line = i64::from(fr.start_line);
            let key = (fr.function, fr.system_name, fr.file, start_line);
            let f = match functions.get(&key) {
                Some(&f) => f,
                None => {
                    let f = p.functions.len() as FunctionIdx;
                    let name = p.strings.intern(&key.0);
                    let system_name = p.strings.intern(&key.1);
                    let filename = p.strings.intern(&key.2);
                    p.functions.push(Function { id: next_id, name, system_name, filename, start_line });
                    next_id += 1;
                    functions.insert(key, f);
                    f
                }
            };
            lines.push(Line { function: f, line: i64::from(fr.line), column: i64::from(fr.column) });
        }
        new_lines[li] = Some(lines);
        p.locations[li].is_folded = false;
        if let MappingOutcome::Symbolized { locations, .. } = &mut report.mappings[report_idx].outcome {
            *locations += 1;
        }
    }

    // Lay the lines out again, location by location.
    if new_lines.iter().any(Option::is_some) {
        let mut lines =
            Vec::with_capacity(p.lines.len() + new_lines.iter().flatten().map(Vec::len).sum::<usize>());
        for (li, nl) in new_lines.into_iter().enumerate() {
            let loc = &mut p.locations[li];
            let start = lines.len() as u32;
            match nl {
                Some(v) => lines.extend(v),
                // Out-of-range lines (an invalid profile) are dropped, not a panic.
                None => lines.extend_from_slice(
                    p.lines.get(loc.lines_start as usize..loc.lines_end as usize).unwrap_or(&[]),
                ),
            }
            loc.lines_start = start;
            loc.lines_end = lines.len() as u32;
        }
        p.lines = lines;
    }
    report
}
