//! Getting the profile to analyze: reading each source, merging several,
//! subtracting or comparing a base, locating binaries and symbolizing, pruning
//! `drop_frames`, adding comments — pprof's `fetchProfiles`, in its order.

use rustprof_profile::{Label, Mapping, Profile, StrId, ValueType};

use crate::driver::{Source, Ui};
use crate::filter;
use crate::measurement;

/// A failure to get a profile, with pprof's message.
pub type FetchError = String;

/// Fetches one profile from a source (file or URL).
pub type Fetcher = dyn Fn(&str, &Source, &mut dyn Ui) -> Result<(Profile, bool), String> + Sync;

/// Reads a local profile file.
pub fn read_file(path: &str) -> Result<Profile, String> {
    let data = crate::limits::read_file(path)?;
    crate::timing::mark("read");
    decode_profile(&data)
}

/// Decodes a profile's bytes (gzipped or not) within the memory limits.
pub fn decode_profile(data: &[u8]) -> Result<Profile, String> {
    if data.starts_with(b"PERFILE2") {
        return Err("perf.data files are not supported: convert them with perf_to_profile (github.com/google/perf_data_converter)".into());
    }
    if data.is_empty() {
        return Err("parsing profile: empty input file".into());
    }
    let opts = crate::limits::decode_options();
    let p = match rustprof_profile::decode_with(data, &opts) {
        Ok(p) => Ok(p),
        Err(e) if crate::sniff::try_legacy(&e) => decode_legacy(data, &opts, &e),
        Err(e) => Err(crate::sniff::parse_error(data, &e)),
    };
    crate::timing::mark("decoded");
    p
}

/// pprof's fallback when the data is not profile.proto: the legacy formats
/// (gperftools' CPU and heap profiles, Go's `debug=1` text profiles...), on the
/// uncompressed data.
fn decode_legacy(
    data: &[u8],
    opts: &rustprof_profile::DecodeOptions,
    proto_err: &rustprof_profile::DecodeError,
) -> Result<Profile, String> {
    let plain;
    let text = if rustprof_profile::is_gzip(data) {
        plain = rustprof_profile::gunzip(data, rustprof_profile::gzip_size_hint(data), opts)
            .map_err(|e| crate::sniff::parse_error(data, &e))?;
        &plain[..]
    } else {
        data
    };
    match crate::legacy::parse(text) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(crate::sniff::parse_error(data, proto_err)),
        Err(e) => Err(crate::sniff::legacy_error(text, &e)),
    }
}

/// Go's text for an I/O error (`no such file or directory`).
pub fn go_io_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    let base = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = base.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Scales several profiles to common units (pprof's `ScaleProfiles`).
pub fn scale_profiles(profiles: &mut [Profile]) -> Result<(), String> {
    if profiles.is_empty() {
        return Ok(());
    }
    let vt = |p: &Profile, v: &ValueType| (p.str(v.ty).to_string(), p.str(v.unit).to_string());
    let periods: Vec<(String, String)> = profiles.iter().map(|p| vt(p, &p.period_type)).collect();
    let period_type = measurement::common_value_type(&periods).map_err(|e| format!("period type: {e}"))?;
    let n = profiles[0].sample_types.len();
    for p in &profiles[1..] {
        if p.sample_types.len() != n {
            return Err(format!("inconsistent samples type count: {} != {}", n, p.sample_types.len()));
        }
    }
    let mut common = Vec::with_capacity(n);
    for i in 0..n {
        let ts: Vec<(String, String)> = profiles.iter().map(|p| vt(p, &p.sample_types[i])).collect();
        common.push(measurement::common_value_type(&ts).map_err(|e| format!("sample types: {e}"))?);
    }
    for p in profiles.iter_mut() {
        if let Some((_, unit)) = &period_type {
            let (period, _) = measurement::scale(p.period, p.str(p.period_type.unit), unit);
            p.period = period as i64;
            p.period_type.unit = p.strings.intern(unit);
        }
        let mut ratios = vec![1.0; n];
        for i in 0..n {
            if let Some((_, unit)) = &common[i] {
                let from = p.str(p.sample_types[i].unit).to_string();
                ratios[i] = measurement::scale(1, &from, unit).0;
                p.sample_types[i].unit = p.strings.intern(unit);
            }
        }
        rustprof_profile::scale_n(p, &ratios).map_err(|e| format!("scale: {e}"))?;
    }
    Ok(())
}

/// pprof's `combineProfiles`: scale to common units, then merge.
pub fn combine(mut profiles: Vec<Profile>) -> Result<Profile, String> {
    scale_profiles(&mut profiles)?;
    let refs: Vec<&Profile> = profiles.iter().collect();
    rustprof_profile::merge(&refs).map_err(|e| e.to_string())
}

/// Sets label `key` to `value` on every sample (pprof's `SetLabel`).
pub fn set_label(p: &mut Profile, key: &str, value: &str) {
    let k = p.strings.intern(key);
    let v = p.strings.intern(value);
    let strings = p.strings.clone();
    p.samples.map_labels(|old, new| {
        new.extend(old.iter().filter(|l| !(l.is_str() && strings.get(l.key) == key)).copied());
        new.push(Label::string(k, v));
        // pprof keeps labels in a map: string labels sorted by key come first.
        new.sort_by(|a, b| {
            a.is_num().cmp(&b.is_num()).then_with(|| strings.get(a.key).cmp(strings.get(b.key)))
        });
    });
}

/// pprof's `locateBinaries`: finds local copies of mapped binaries under
/// `$PPROF_BINARY_PATH`, adds a fake mapping to a profile without any, and applies
/// the `[binary]` argument and `-buildid` to the main mapping.
pub fn locate_binaries(p: &mut Profile, s: &Source, ui: &mut dyn Ui) {
    let search = std::env::var("PPROF_BINARY_PATH").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/pprof/binaries")
    });
    for mi in 0..p.mappings.len() {
        let m = p.mappings[mi];
        let file = p.str(m.filename).to_string();
        let build_id = p.str(m.build_id).to_string();
        let base = if file.is_empty() { String::new() } else { crate::graph::base_name(&file).to_string() };
        'paths: for path in search.split(':') {
            let mut names = Vec::new();
            if !build_id.is_empty() {
                names.push(format!("{path}/{build_id}/{base}"));
                if let Ok(rd) = std::fs::read_dir(format!("{path}/{build_id}")) {
                    let mut v: Vec<String> =
                        rd.flatten().map(|e| e.path().to_string_lossy().into_owned()).collect();
                    v.sort();
                    names.extend(v);
                }
                names.push(format!("{path}/{file}/{build_id}"));
            }
            if !file.is_empty() {
                if !base.is_empty() {
                    names.push(format!("{path}/{base}"));
                }
                names.push(format!("{path}/{file}"));
            }
            for name in names {
                let Ok(meta) = std::fs::metadata(&name) else { continue };
                if !meta.is_file() {
                    continue;
                }
                let Ok(fid) = rustprof_symbolize::read_build_id(std::path::Path::new(&name)) else {
                    continue;
                };
                let fid = fid.unwrap_or_default();
                if !build_id.is_empty() && build_id != fid {
                    ui.print_err(&format!(
                        "Ignoring local file {name}: build-id mismatch ({build_id} != {fid})"
                    ));
                } else {
                    let id = p.strings.intern(&crate::graph::clean_path(&name));
                    p.mappings[mi].filename = id;
                    break 'paths;
                }
            }
        }
    }
    if p.mappings.is_empty() {
        p.mappings.push(Mapping { id: 1, ..Default::default() });
        for l in &mut p.locations {
            l.mapping = Some(0);
        }
    }
    if !s.exec_name.is_empty() || !s.build_id.is_empty() {
        if !s.exec_name.is_empty() {
            p.mappings[0].filename = p.strings.intern(&s.exec_name);
        }
        if !s.build_id.is_empty() {
            p.mappings[0].build_id = p.strings.intern(&s.build_id);
        }
    }
}

/// Fetches all sources and merges them (pprof's `chunkedGrab` for one list).
fn grab_all(
    sources: &[String],
    s: &Source,
    fetch: &Fetcher,
    msrc: &mut crate::remote::MappingSources,
    ui: &mut dyn Ui,
) -> Result<(Option<Profile>, usize, bool, bool), String> {
    // Several sources are fetched at once, as pprof does (a CPU profile from each of
    // several servers takes the time of one); their messages follow in order.
    type Fetch = (Result<(Profile, bool), String>, crate::driver::BufferUi);
    let results: Vec<Result<(Profile, bool), String>> = if sources.len() > 1 {
        let outs: Vec<Fetch> = std::thread::scope(|sc| {
            let handles: Vec<_> = sources
                .iter()
                .map(|src| {
                    sc.spawn(move || {
                        let mut buf = crate::driver::BufferUi::default();
                        let r = fetch(src, s, &mut buf);
                        (r, buf)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| (Err("fetch failed".to_string()), Default::default())))
                .collect()
        });
        outs.into_iter()
            .map(|(r, buf)| {
                for (err, m) in buf.messages {
                    if err { ui.print_err(&m) } else { ui.print(&m) }
                }
                r
            })
            .collect()
    } else {
        sources.iter().map(|src| fetch(src, s, ui)).collect()
    };
    let mut profiles = Vec::new();
    let mut remote = false;
    for (src, r) in sources.iter().zip(results) {
        match r {
            Ok((mut p, is_remote)) => {
                locate_binaries(&mut p, s, ui);
                if is_remote && let Some((url, _)) = crate::sources::adjust_url(src, s.seconds, s.timeout) {
                    crate::remote::collect_mapping_sources(&mut p, &url, msrc);
                }
                remote |= is_remote;
                profiles.push(p);
            }
            Err(e) => ui.print_err(&format!("{src}: {e}")),
        }
    }
    if profiles.is_empty() {
        return Ok((None, 0, remote, false));
    }
    let n = profiles.len();
    if n == 1 {
        // pprof merges even a single profile; that only renumbers ids, combines
        // identical samples and drops all-zero ones. Reports that print samples
        // or ids ask for it later (see `Fetched::compacted`); here only the
        // all-zero samples go, which every report would drop.
        let mut p = profiles.pop().unwrap_or_default();
        if !crate::gofmt::compat_go119() {
            // Go 1.27's pprof does not merge a single profile at all ("avoid
            // expensive work for the common case"): its samples, zero ones
            // included, and all its mappings reach the reports as written.
            // `true` here means: never compact it later either.
            return Ok((Some(p), 1, remote, true));
        }
        drop_zero_samples(&mut p);
        return Ok((Some(p), 1, remote, false));
    }
    Ok((Some(combine(profiles)?), n, remote, true))
}

/// Removes samples whose values are all zero.
pub fn drop_zero_samples(p: &mut Profile) {
    let n = p.sample_types.len();
    if n == 0 || !p.samples.all_values().chunks_exact(n).any(|row| row.iter().all(|&v| v == 0)) {
        return;
    }
    p.samples.retain(|_, s| s.values.iter().any(|&v| v != 0));
}

/// A fetched profile.
pub struct Fetched {
    /// The profile.
    pub profile: Profile,
    /// It came (at least partly) from a URL.
    pub remote: bool,
    /// It went through pprof's merge (ids renumbered, identical samples combined).
    pub compacted: bool,
}

/// pprof's `fetchProfiles`: the profile to analyze.
pub fn fetch_profiles(s: &Source, fetch: &Fetcher, ui: &mut dyn Ui) -> Result<Fetched, FetchError> {
    let mut msrc = crate::remote::MappingSources::new();
    let (p, count, remote_src, mut compacted) = grab_all(&s.sources, s, fetch, &mut msrc, ui)
        .map_err(|e| format!("problem fetching source profiles: {e}"))?;
    let (base, count_base, remote_base, _) = grab_all(&s.base, s, fetch, &mut msrc, ui)
        .map_err(|e| format!("problem fetching base profiles: {e},"))?;
    let Some(mut p) = p else {
        return Err("failed to fetch any source profiles".into());
    };
    if count_base == 0 && !s.base.is_empty() {
        return Err("failed to fetch any base profiles".into());
    }
    if count != s.sources.len() {
        ui.print_err(&format!("Fetched {} source profiles out of {}", count, s.sources.len()));
    }
    if count_base != s.base.len() {
        ui.print_err(&format!("Fetched {} base profiles out of {}", count_base, s.base.len()));
    }
    if let Some(mut base) = base {
        if s.diff_base {
            set_label(&mut base, "pprof::base", "true");
        }
        if s.normalize {
            // pprof normalizes the merged source (identical samples combined), so
            // values are rounded once per distinct sample, not once per record.
            if !compacted {
                p = rustprof_profile::compact(&p);
            }
            rustprof_profile::normalize(&mut p, &base).map_err(|e| e.to_string())?;
        }
        rustprof_profile::scale(&mut base, -1.0);
        p = combine(vec![p, base])?;
        compacted = true;
    }
    if s.all_frames {
        p.drop_frames = Default::default();
        p.keep_frames = Default::default();
    }
    crate::symbolize::symbolize_with(&s.symbolize, &mut p, ui, &mut |p, force, ui| {
        crate::remote::symbolize_remote(p, force, &msrc, ui)
    });
    if !p.drop_frames.is_empty() && !compacted {
        // pprof merges every source (identical samples combined, unused entries
        // dropped) before `RemoveUninteresting`, and not again after it: samples
        // that pruning makes identical stay apart in -raw and -traces.
        p = rustprof_profile::compact(&p);
        compacted = true;
    }
    filter::remove_uninteresting(&mut p)?;
    unsource_mappings(&mut p);
    if !s.comment.is_empty() {
        let c = p.strings.intern(&s.comment);
        p.comments.push(c);
    }
    if remote_src || remote_base {
        // A copy of what was fetched, as pprof keeps one.
        crate::remote::save_fetched(&p, ui);
    }
    if let Err(e) = rustprof_profile::validate(&p) {
        return Err(format!("malformed profile: {e}"));
    }
    Ok(Fetched { profile: p, remote: remote_src || remote_base, compacted })
}

/// Mappings whose file is a URL (set for remote symbolization) lose it.
fn unsource_mappings(p: &mut Profile) {
    for m in &mut p.mappings {
        if m.build_id == StrId::EMPTY {
            let f = p.strings.get(m.filename);
            if f.contains("://") && f.split("://").next().is_some_and(|s| !s.is_empty() && !s.contains('/')) {
                m.filename = StrId::EMPTY;
            }
        }
    }
}
