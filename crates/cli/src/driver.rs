//! The driver: command-line parsing into a source and a report command, then
//! fetching, then one report (or the shell, or the web UI). Mirrors pprof's
//! `PProf`, `parseFlags` and `generateRawReport`.

use std::io::{IsTerminal, Write};

use regex::Regex;
use rustprof_profile::Profile;

use crate::commands::{self, Command, Format, Post};
use crate::config::{self, Config, FIELDS, Kind};
use crate::fetch;
use crate::filter;
use crate::flags::{self, FlagError, Parsed, Value};
use crate::labels;
use crate::report::{self, Options, Report};

/// Where messages go: pprof prints everything but reports to stderr.
pub trait Ui {
    /// A progress or informational message.
    fn print(&mut self, msg: &str);
    /// A warning or error message.
    fn print_err(&mut self, msg: &str);
    /// Whether stdout is a terminal.
    fn is_terminal(&self) -> bool;
    /// Whether this is the interactive shell.
    fn interactive(&self) -> bool {
        false
    }
    /// Whether a progress bar may be drawn on stderr (a terminal).
    fn progress_bars(&self) -> bool {
        false
    }
}

/// Messages kept to be shown later (sources fetched on several threads).
#[derive(Default)]
pub struct BufferUi {
    /// `(is_error, message)` in order.
    pub messages: Vec<(bool, String)>,
}

impl Ui for BufferUi {
    fn print(&mut self, msg: &str) {
        self.messages.push((false, msg.to_string()));
    }
    fn print_err(&mut self, msg: &str) {
        self.messages.push((true, msg.to_string()));
    }
    fn is_terminal(&self) -> bool {
        false
    }
}

/// The terminal UI: messages on stderr.
pub struct StdUi {
    /// Running the shell.
    pub interactive: bool,
}

impl Ui for StdUi {
    fn print(&mut self, msg: &str) {
        errln(msg);
    }
    fn print_err(&mut self, msg: &str) {
        errln(msg);
    }
    fn is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }
    fn interactive(&self) -> bool {
        self.interactive
    }
    fn progress_bars(&self) -> bool {
        std::io::stderr().is_terminal()
    }
}

/// Where the profiles come from and how to combine them.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// Files or URLs.
    pub sources: Vec<String>,
    /// Binary for the main mapping (`[binary]` argument).
    pub exec_name: String,
    /// Build ID for the main mapping.
    pub build_id: String,
    /// Base profiles.
    pub base: Vec<String>,
    /// `-diff_base` rather than `-base`.
    pub diff_base: bool,
    /// Scale to the base.
    pub normalize: bool,
    /// `-seconds` (-1: unset).
    pub seconds: i64,
    /// `-timeout` (-1: unset).
    pub timeout: i64,
    /// `-symbolize` mode.
    pub symbolize: String,
    /// `-http` host:port.
    pub http_hostport: String,
    /// `-no_browser`.
    pub http_disable_browser: bool,
    /// `-add_comment`.
    pub comment: String,
    /// `-all_frames`: ignore the profile's `drop_frames`/`keep_frames`.
    pub all_frames: bool,
    /// `-trace_profile`: the profile to derive from trace sources.
    pub trace_profile: Option<crate::trace::profiles::Kind>,
    /// `-trace_summary`.
    pub trace_summary: bool,
}

/// An error for the user: one line, exit status 1.
#[derive(Debug)]
pub enum CliError {
    /// Usage requested (exit 0).
    Help,
    /// `--version` (exit 0).
    Version,
    /// Print usage then the message.
    Usage(String),
    /// Print the message.
    Msg(String),
}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError::Msg(s)
    }
}

fn is_build_id(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Applies command-line flags to a config (pprof's `installConfigFlags` setter).
fn apply_config_flags(p: &Parsed, cfg: &mut Config) -> Result<(), String> {
    for f in FIELDS {
        match f.kind {
            Kind::Choice(choices) => {
                let set: Vec<&str> = choices.iter().copied().filter(|c| p.bool(c)).collect();
                match set.len() {
                    0 => {}
                    1 => cfg.set(f, set[0])?,
                    _ => {
                        let mut s = set.clone();
                        s.sort();
                        return Err(format!("conflicting options set: [{}]", s.join(" ")));
                    }
                }
            }
            _ => {
                let Some(v) = p.get(f.name) else { continue };
                let text = match v {
                    Value::Bool(b) => b.to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(x) => x.to_string(),
                    Value::Str(s) => s.clone(),
                };
                cfg.set(f, &text)?;
            }
        }
    }
    Ok(())
}

/// Parses the command line: the source, the report command (`None` for the
/// shell), the config.
pub fn parse_flags(args: &[String]) -> Result<(Source, Option<Vec<String>>, Config), CliError> {
    let p = match flags::parse(args) {
        Ok(p) => p,
        Err(FlagError::Help) => return Err(CliError::Help),
        Err(FlagError::Version) => return Err(CliError::Version),
        Err(FlagError::Bad(m)) => return Err(CliError::Usage(m)),
    };
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(CliError::Usage("no profile source specified".into()));
    }
    let mut exec_name = String::new();
    let mut build_id = p.str("buildid");
    if args.len() > 1 {
        let a0 = &args[0];
        if rustprof_symbolize::read_build_id(std::path::Path::new(a0)).is_ok() {
            exec_name = a0.clone();
            args.remove(0);
        } else if build_id.is_empty() && crate::gofmt::compat_go119() && is_build_id(a0) {
            // Go 1.19's pprof took a hex first argument for a build ID; today's
            // does not.
            build_id = a0.clone();
            args.remove(0);
        }
    }
    let max_size = p.str("max_profile_size");
    if !max_size.is_empty() {
        let n = crate::limits::parse_size(&max_size).ok_or_else(|| {
            CliError::Msg(format!(
                "invalid value {} for flag -max_profile_size: a size such as 4gb, 512mb or 1073741824",
                crate::gofmt::quote(&max_size)
            ))
        })?;
        crate::limits::set_max_profile_size(n);
    }
    crate::remote::tls::set_files(crate::remote::tls::Files {
        cert: p.str("tls_cert"),
        key: p.str("tls_key"),
        ca: p.str("tls_ca"),
    });
    let mut cfg = Config::default();
    apply_config_flags(&p, &mut cfg)?;

    let mut cmd: Option<Vec<String>> = None;
    for c in commands::COMMANDS {
        let set = if c.has_param { !p.str(c.name).is_empty() } else { p.bool(c.name) };
        if set {
            if cmd.is_some() {
                return Err(CliError::Msg("must set at most one output format".into()));
            }
            cmd = Some(if c.has_param {
                vec![c.name.to_string(), p.str(c.name)]
            } else {
                vec![c.name.to_string()]
            });
        }
    }
    let http = p.str("http");
    if cmd.is_some() && !http.is_empty() {
        return Err(CliError::Msg(
            "-http is not compatible with an output format on the command line".into(),
        ));
    }
    let trace_summary = p.bool("trace_summary");
    let trace_profile = match p.str("trace_profile").as_str() {
        "" => None,
        k => Some(crate::trace::profiles::Kind::parse(k)?),
    };
    if trace_summary && (cmd.is_some() || !http.is_empty() || trace_profile.is_some()) {
        return Err(CliError::Msg(
            "-trace_summary is a report of its own: not with -http, -trace_profile or an output format"
                .into(),
        ));
    }
    let no_browser = p.bool("no_browser");
    if no_browser && http.is_empty() {
        return Err(CliError::Msg("-no_browser only makes sense with -http".into()));
    }
    let mut si = cfg.sample_index.clone();
    for (flag, ty) in [
        ("total_delay", "delay"),
        ("mean_delay", "delay"),
        ("contentions", "contentions"),
        ("inuse_space", "inuse_space"),
        ("inuse_objects", "inuse_objects"),
        ("alloc_space", "alloc_space"),
        ("alloc_objects", "alloc_objects"),
    ] {
        if p.bool(flag) {
            if si.is_empty() {
                si = ty.to_string();
            } else {
                errln(&format!("Multiple value selections, ignoring -{flag}"));
            }
        }
    }
    cfg.sample_index = si;
    if p.bool("mean_delay") {
        cfg.mean = true;
    }
    let base = p.str("base");
    let diff_base = p.str("diff_base");
    if !base.is_empty() && !diff_base.is_empty() {
        return Err(CliError::Msg("-base and -diff_base flags cannot both be specified".into()));
    }
    let mut source = Source {
        sources: args,
        exec_name,
        build_id,
        seconds: p.int("seconds", -1),
        timeout: p.int("timeout", -1),
        symbolize: p.str("symbolize"),
        http_hostport: http,
        http_disable_browser: no_browser,
        comment: p.str("add_comment"),
        all_frames: p.bool("all_frames"),
        trace_profile,
        trace_summary,
        ..Default::default()
    };
    if !base.is_empty() {
        source.base = vec![base];
    }
    if !diff_base.is_empty() {
        source.base = vec![diff_base];
        source.diff_base = true;
    }
    if cfg.normalize && source.base.is_empty() {
        return Err(CliError::Msg("must have base profile to normalize by".into()));
    }
    source.normalize = cfg.normalize;
    Ok((source, cmd, cfg))
}

/// pprof's `applyCommandOverrides`.
pub fn apply_command_overrides(cmd: &str, format: Format, mut cfg: Config) -> Config {
    let mut trim = cfg.trim;
    match cmd {
        "disasm" => {
            trim = false;
            cfg.granularity = "addresses".into();
            cfg.noinlines = true;
        }
        "weblist" => {
            trim = false;
            cfg.granularity = "addresses".into();
            cfg.noinlines = false;
        }
        "peek" | "flame" => trim = false,
        "list" => {
            trim = false;
            cfg.granularity = "lines".into();
        }
        "text" | "top" | "topproto" => {
            if cfg.nodecount == -1 {
                cfg.nodecount = 0;
            }
        }
        _ => {
            if cfg.nodecount == -1 {
                cfg.nodecount = 80;
            }
        }
    }
    if matches!(format, Format::Proto | Format::Raw | Format::Callgrind) {
        trim = false;
        cfg.granularity = "addresses".into();
        // Today's pprof honours -noinlines in these outputs; Go 1.19's did not.
        if crate::gofmt::compat_go119() {
            cfg.noinlines = false;
        }
    }
    if !trim {
        cfg.nodecount = 0;
        cfg.nodefraction = 0.0;
        cfg.edgefraction = 0.0;
    }
    cfg
}

/// A filter's regexp (`None` for an empty one), or pprof's message for a bad one
/// (`parsing focus regexp: ...`).
pub fn compile_regex(name: &str, value: &str) -> Result<Option<Regex>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    Regex::new(value).map(Some).map_err(|e| format!("parsing {name} regexp: {}", report::go_regex_error(&e)))
}

/// pprof's `applyFocus`: all filters of the config, in pprof's order, with its
/// warnings for filters that matched nothing.
pub fn apply_focus(
    p: &mut Profile,
    units: &std::collections::HashMap<String, String>,
    cfg: &Config,
    ui: &mut dyn Ui,
) -> Result<(), String> {
    let focus = compile_regex("focus", &cfg.focus)?;
    let ignore = compile_regex("ignore", &cfg.ignore)?;
    let hide = compile_regex("hide", &cfg.hide)?;
    let show = compile_regex("show", &cfg.show)?;
    let show_from = compile_regex("show_from", &cfg.show_from)?;
    let mut warnings = Vec::new();
    let tagfocus = filter::compile_tag_filter("tagfocus", &cfg.tagfocus, &mut |m| warnings.push(m))?;
    let tagignore = filter::compile_tag_filter("tagignore", &cfg.tagignore, &mut |m| warnings.push(m))?;
    for w in warnings {
        ui.print_err(&w);
    }
    let prune_from = compile_regex("prune_from", &cfg.prune_from)?;
    let (fm, im, hm, hnm) =
        filter::filter_samples_by_name(p, focus.as_ref(), ignore.as_ref(), hide.as_ref(), show.as_ref());
    warn(focus.is_none() || fm, "Focus", ui);
    warn(ignore.is_none() || im, "Ignore", ui);
    warn(hide.is_none() || hm, "Hide", ui);
    warn(show.is_none() || hnm, "Show", ui);
    if let Some(sf) = &show_from {
        let m = filter::show_from(p, sf);
        warn(m, "ShowFrom", ui);
    }
    let (tfm, tim) = filter::filter_samples_by_tag(p, tagfocus.as_ref(), tagignore.as_ref(), units);
    warn(tagfocus.is_none() || tfm, "TagFocus", ui);
    warn(tagignore.is_none() || tim, "TagIgnore", ui);
    let tagshow = compile_regex("tagshow", &cfg.tagshow)?;
    let taghide = compile_regex("taghide", &cfg.taghide)?;
    let (tns, tnh) = filter::filter_tags_by_name(p, tagshow.as_ref(), taghide.as_ref());
    warn(tagshow.is_none() || tns, "TagShow", ui);
    warn(taghide.is_none() || tnh, "TagHide", ui);
    if let Some(pf) = &prune_from {
        filter::prune_from(p, pf);
    }
    Ok(())
}

fn warn(matched: bool, option: &str, ui: &mut dyn Ui) {
    if !matched {
        ui.print_err(&format!("{option} expression matched no samples"));
    }
}

/// pprof's `SampleIndexByName`.
pub fn sample_index(p: &Profile, si: &str) -> Result<usize, String> {
    if si.is_empty() {
        return Ok(p.default_sample_index());
    }
    let types: Vec<&str> = p.sample_types.iter().map(|t| p.str(t.ty)).collect();
    if let Ok(i) = si.parse::<i64>() {
        if i < 0 || i as usize >= types.len() {
            return Err(format!("sample_index {} is outside the range [0..{}]", si, types.len() as i64 - 1));
        }
        return Ok(i as usize);
    }
    let no_inuse = si.strip_prefix("inuse_").unwrap_or(si);
    if let Some(i) = types.iter().position(|t| *t == si || *t == no_inuse) {
        return Ok(i);
    }
    Err(format!("sample_index {} must be one of: [{}]", crate::gofmt::quote(si), types.join(" ")))
}

/// pprof's `aggregate`.
fn aggregate(p: &mut Profile, cfg: &Config) -> Result<(), String> {
    let inlines = !cfg.noinlines;
    let (function, filename, linenumber, address) = match cfg.granularity.as_str() {
        "addresses" => {
            if inlines {
                return Ok(());
            }
            (true, true, true, true)
        }
        "lines" => (true, true, true, false),
        // Today's default: the report decides (functions here).
        "" => (true, false, false, false),
        "files" => (false, true, false, false),
        "functions" => (true, false, false, false),
        "filefunctions" => (true, true, false, false),
        _ => return Err("unexpected granularity".into()),
    };
    filter::aggregate(p, inlines, function, filename, linenumber, cfg.show_columns, address);
    Ok(())
}

/// pprof's `generateRawReport`: copies nothing when the caller gives up its
/// profile; returns the command and the report ready to generate.
pub fn generate_raw_report(
    mut p: Profile,
    cmd: &[String],
    cfg: &Config,
    ui: &mut dyn Ui,
) -> Result<(&'static Command, Report), String> {
    let (units, ignored) = labels::num_label_units(&p);
    for (k, us) in &ignored {
        ui.print_err(&format!(
            "For tag {} used unit {}, also encountered unit(s) {}",
            k,
            units.get(k).map(String::as_str).unwrap_or(""),
            us.join(", ")
        ));
    }
    let c = commands::command(&cmd[0])
        .ok_or_else(|| format!("unrecognized command: {}", crate::gofmt::quote(&cmd[0])))?;
    let cfg = apply_command_overrides(&cmd[0], c.format, cfg.clone());
    // tagroot / tagleaf pseudo frames.
    let roots: Vec<String> = cfg.tagroot.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let leaves: Vec<String> = cfg.tagleaf.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let (rootm, leafm) = filter::add_label_nodes(&mut p, &roots, &leaves, &cfg.unit);
    warn(cfg.tagroot.is_empty() || rootm, "TagRoot", ui);
    warn(cfg.tagleaf.is_empty() || leafm, "TagLeaf", ui);

    let relative = cfg.relative_percentages;
    if relative {
        apply_focus(&mut p, &units, &cfg, ui)?;
    }
    if p.sample_types.is_empty() {
        return Err("profile has no samples".into());
    }
    let index = sample_index(&p, &cfg.sample_index)?;
    let vt = p.sample_types[index];
    let mut stype = p.str(vt.ty).to_string();
    if cfg.mean {
        stype = format!("mean_{stype}");
    }
    if cfg.divide_by == 0.0 {
        return Err("zero divisor specified".into());
    }
    let mut filters = Vec::new();
    for (k, v) in [
        ("focus", &cfg.focus),
        ("ignore", &cfg.ignore),
        ("hide", &cfg.hide),
        ("show", &cfg.show),
        ("show_from", &cfg.show_from),
        ("tagfocus", &cfg.tagfocus),
        ("tagignore", &cfg.tagignore),
        ("tagshow", &cfg.tagshow),
        ("taghide", &cfg.taghide),
    ] {
        if !v.is_empty() {
            filters.push(format!("{k}={v}"));
        }
    }
    let title = match p.mappings.first() {
        Some(m) if !p.str(m.filename).is_empty() => crate::graph::base_name(p.str(m.filename)).to_string(),
        _ => String::new(),
    };
    let symbol = match cmd.get(1) {
        Some(s) => Some(
            Regex::new(s)
                .map_err(|e| format!("parsing argument regexp {s}: {}", report::go_regex_error(&e)))?,
        ),
        None => None,
    };
    let opts = Options {
        format: c.format,
        cum_sort: cfg.sort == "cum",
        call_tree: cfg.call_tree,
        drop_negative: cfg.drop_negative,
        compact_labels: cfg.compact_labels,
        ratio: 1.0 / cfg.divide_by,
        title,
        profile_labels: Vec::new(),
        active_filters: filters,
        num_label_units: units.clone(),
        node_count: cfg.nodecount,
        node_fraction: cfg.nodefraction,
        edge_fraction: cfg.edgefraction,
        sample_index: index,
        mean: cfg.mean,
        sample_type: stype,
        sample_unit: p.str(vt.unit).to_string(),
        output_unit: cfg.unit.clone(),
        symbol,
        source_path: cfg.source_path.clone(),
        trim_path: cfg.trim_path.clone(),
        list_recursion_once: cfg.list_recursion == "once",
    };
    let total = report::compute_total(&p, index, cfg.mean);
    if !relative {
        apply_focus(&mut p, &units, &cfg, ui)?;
    }
    aggregate(&mut p, &cfg)?;
    Ok((c, Report { prof: p, total, opts }))
}

/// Generates a report and delivers it (stdout, `-output`, a file away from the
/// terminal, graphviz, a viewer).
pub fn generate_report(p: Profile, cmd: &[String], cfg: &Config, ui: &mut dyn Ui) -> Result<(), String> {
    crate::timing::mark("fetched");
    let (c, mut rpt) = generate_raw_report(p, cmd, cfg, ui)?;
    crate::timing::mark("filtered");
    if c.post == Post::None && matches!(rpt.opts.format, Format::Traces | Format::Folded) {
        // Large text: stream it.
        let r = crate::post::stream(&cfg.output, ui, &mut |w| report::generate_to(&mut rpt, w));
        crate::timing::mark("generated");
        return r;
    }
    let out = report::generate(&mut rpt)?;
    crate::timing::mark("generated");
    crate::post::deliver(c, out, &cfg.output, ui)
}

/// Writes a line to stderr. A closed or full stderr is ignored: a message that
/// cannot be shown must not turn into a panic (exit 101).
pub fn errln(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Writes a line to stdout, ignoring a closed stdout.
pub fn outln(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{msg}").and_then(|_| out.flush());
}

/// `rustprof --version`.
pub fn version() -> String {
    format!(
        "rustprof {} (the analyzer of rustprof; reads and prints what go tool pprof of Go 1.19 does)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Runs the program with these arguments (without the program name); returns the
/// exit status.
pub fn run(args: Vec<String>) -> i32 {
    let mut ui = StdUi { interactive: false };
    crate::timing::mark("start");
    let (source, cmd, cfg) = match parse_flags(&args) {
        Ok(x) => x,
        Err(CliError::Help) => {
            errln(&commands::full_usage());
            return 0;
        }
        Err(CliError::Version) => {
            outln(&version());
            return 0;
        }
        Err(CliError::Usage(m)) => {
            errln(&m);
            if args.is_empty() {
                // Nothing at all: the whole usage, as pprof prints it.
                errln(&commands::full_usage());
            } else {
                errln("Run 'rustprof --help' for every format and option.");
            }
            return 1;
        }
        Err(CliError::Msg(m)) => {
            errln(&m);
            return 1;
        }
    };
    if let Some(status) = crate::trace::load::run_trace(&source, &cfg, &mut ui) {
        return status;
    }
    let fetcher: &fetch::Fetcher = &crate::sources::fetch_source;
    let fetched = match fetch::fetch_profiles(&source, fetcher, &mut ui) {
        Ok(p) => p,
        Err(e) => {
            errln(&e);
            return 1;
        }
    };
    let mut profile = fetched.profile;
    let needs_compaction = match &cmd {
        Some(cmd) => commands::command(&cmd[0]).is_some_and(|c| prints_samples(c.format)),
        None => true,
    };
    if needs_compaction && !fetched.compacted {
        profile = rustprof_profile::compact(&profile);
    }
    let result = match &cmd {
        Some(cmd) => generate_report(profile, cmd, &cfg, &mut ui),
        None if !source.http_hostport.is_empty() => crate::web::serve(profile, cfg, &source, &mut ui),
        None => crate::shell::interactive(profile, cfg, &mut ui),
    };
    match result {
        Ok(()) => {
            let _ = std::io::stdout().flush();
            0
        }
        Err(e) => {
            errln(&e);
            1
        }
    }
}

/// Reports whose output depends on pprof's merge of a single profile (sample
/// order and combination, ids).
pub fn prints_samples(f: Format) -> bool {
    matches!(f, Format::Raw | Format::Proto | Format::Traces)
}

/// The config field help for the shell (`help nodecount`).
pub fn option_help(name: &str) -> Option<String> {
    if let Some(f) = config::field(name) {
        if f.name == name {
            return Some(f.help.to_string());
        }
        return Some(config::choice_help(name).to_string());
    }
    None
}

/// Whether a command's output should go to a file away from a terminal.
pub fn binary_output(c: &Command) -> bool {
    !matches!(c.post, Post::None)
}
