//! The report commands (`top`, `list`, `peek`, `dot`, `svg`...): what each
//! produces, whether it takes a regexp, how its output is post-processed, and the
//! help texts shared by `--help` and the shell's `help`.

use crate::config::{self, FIELDS, Kind};

/// The report a command generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Callgrind.
    Callgrind,
    /// Profile comments.
    Comments,
    /// Disassembly.
    Dis,
    /// Graphviz DOT.
    Dot,
    /// Annotated source.
    List,
    /// gzip profile.proto.
    Proto,
    /// `Profile.String()` dump.
    Raw,
    /// Label breakdown.
    Tags,
    /// Flat list (top/text).
    Text,
    /// Top entries as a profile.
    TopProto,
    /// One block per sample.
    Traces,
    /// Callers and callees (tree/peek).
    Tree,
    /// HTML source listing.
    WebList,
    /// Interactive flame graph (HTML).
    Flame,
    /// Collapsed stacks (`a;b;c 12`).
    Folded,
}

/// What happens to a report after it is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Post {
    /// Written as it is.
    None,
    /// Binary output: written to a file `profileNNN.<ext>` instead of a terminal.
    AwayFromTty(&'static str),
    /// DOT run through graphviz `dot -T<fmt>`, then away from a terminal.
    Dot(&'static str),
    /// DOT → SVG (with pan/zoom), away from a terminal.
    Svg,
    /// DOT → SVG opened in a browser.
    Web,
    /// DOT → `fmt` opened with a viewer program.
    Viewer(&'static str, &'static str),
    /// Callgrind opened with kcachegrind.
    Kcachegrind,
    /// HTML opened in a browser.
    Browser(&'static str),
}

/// A command.
pub struct Command {
    /// Its name (`top`).
    pub name: &'static str,
    /// The report.
    pub format: Format,
    /// Post-processing.
    pub post: Post,
    /// Takes a regexp argument (`list`, `peek`, `disasm`, `weblist`).
    pub has_param: bool,
    /// One-line description.
    pub description: &'static str,
    /// Usage text for `help <command>`.
    pub usage: &'static str,
}

const fn c(
    name: &'static str,
    format: Format,
    post: Post,
    has_param: bool,
    description: &'static str,
    usage: &'static str,
) -> Command {
    Command { name, format, post, has_param, description, usage }
}

/// All commands, sorted by name.
pub const COMMANDS: &[Command] = &[
    c(
        "callgrind",
        Format::Callgrind,
        Post::AwayFromTty("callgraph.out"),
        false,
        "Outputs a graph in callgrind format",
        "callgrind [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c("comments", Format::Comments, Post::None, false, "Output all profile comments", ""),
    c(
        "disasm",
        Format::Dis,
        Post::None,
        true,
        "Output assembly listings annotated with samples",
        "disasm<func_regex|address> [-focus_regex]* [-ignore_regex]* >f\nInclude functions matching func_regex, or including the address specified.\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "dot",
        Format::Dot,
        Post::None,
        false,
        "Outputs a graph in DOT format",
        "dot [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "eog",
        Format::Dot,
        Post::Viewer("svg", "eog"),
        false,
        "Visualize graph through eog",
        "eog [n] [focus_regex]* [-ignore_regex]*\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "evince",
        Format::Dot,
        Post::Viewer("pdf", "evince"),
        false,
        "Visualize graph through evince",
        "evince [n] [focus_regex]* [-ignore_regex]*\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "flame",
        Format::Flame,
        Post::AwayFromTty("html"),
        false,
        "Outputs an interactive flame graph (standalone HTML)",
        "flame [focus_regex]* [-ignore_regex]* >f\nWrite a flame graph of the samples: hover for values, click to zoom, search.\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "folded",
        Format::Folded,
        Post::None,
        false,
        "Outputs the samples as folded stacks (flamegraph.pl, inferno)",
        "folded [focus_regex]* [-ignore_regex]* >f\nOne line per stack: frames root first, separated by ';', then the value.\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "gif",
        Format::Dot,
        Post::Dot("gif"),
        false,
        "Outputs a graph image in GIF format",
        "gif [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "gv",
        Format::Dot,
        Post::Viewer("ps", "gv --noantialias"),
        false,
        "Visualize graph through gv",
        "gv [n] [focus_regex]* [-ignore_regex]*\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "kcachegrind",
        Format::Callgrind,
        Post::Kcachegrind,
        false,
        "Visualize report in KCachegrind",
        "kcachegrind [n] [focus_regex]* [-ignore_regex]*\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "list",
        Format::List,
        Post::None,
        true,
        "Output annotated source for functions matching regexp",
        "list<func_regex|address> [-focus_regex]* [-ignore_regex]*\nInclude functions matching func_regex, or including the address specified.\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "pdf",
        Format::Dot,
        Post::Dot("pdf"),
        false,
        "Outputs a graph in PDF format",
        "pdf [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "peek",
        Format::Tree,
        Post::None,
        true,
        "Output callers/callees of functions matching regexp",
        "peek func_regex\nDisplay callers and callees of functions matching func_regex.",
    ),
    c(
        "png",
        Format::Dot,
        Post::Dot("png"),
        false,
        "Outputs a graph image in PNG format",
        "png [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "proto",
        Format::Proto,
        Post::AwayFromTty("pb.gz"),
        false,
        "Outputs the profile in compressed protobuf format",
        "",
    ),
    c(
        "ps",
        Format::Dot,
        Post::Dot("ps"),
        false,
        "Outputs a graph in PS format",
        "ps [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c("raw", Format::Raw, Post::None, false, "Outputs a text representation of the raw profile", ""),
    c(
        "svg",
        Format::Dot,
        Post::Svg,
        false,
        "Outputs a graph in SVG format",
        "svg [n] [focus_regex]* [-ignore_regex]* >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\nOptionally save the report on the file f",
    ),
    c(
        "tags",
        Format::Tags,
        Post::None,
        false,
        "Outputs all tags in the profile",
        "tags [tag_regex]* [-ignore_regex]* [>file]\nList tags with key:value matching tag_regex and exclude ignore_regex.",
    ),
    c(
        "text",
        Format::Text,
        Post::None,
        false,
        "Outputs top entries in text form",
        "text [n] [focus_regex]* [-ignore_regex]* [-cum] >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\n-cum sorts the output by cumulative weight\nOptionally save the report on the file f",
    ),
    c(
        "top",
        Format::Text,
        Post::None,
        false,
        "Outputs top entries in text form",
        "top [n] [focus_regex]* [-ignore_regex]* [-cum] >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\n-cum sorts the output by cumulative weight\nOptionally save the report on the file f",
    ),
    c(
        "topproto",
        Format::TopProto,
        Post::AwayFromTty("pb.gz"),
        false,
        "Outputs top entries in compressed protobuf format",
        "",
    ),
    c("traces", Format::Traces, Post::None, false, "Outputs all profile samples in text form", ""),
    c(
        "tree",
        Format::Tree,
        Post::None,
        false,
        "Outputs a text rendering of call graph",
        "tree [n] [focus_regex]* [-ignore_regex]* [-cum] >f\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.\n-cum sorts the output by cumulative weight\nOptionally save the report on the file f",
    ),
    c(
        "web",
        Format::Dot,
        Post::Web,
        false,
        "Visualize graph through web browser",
        "web [n] [focus_regex]* [-ignore_regex]*\nInclude up to n samples\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
    c(
        "weblist",
        Format::WebList,
        Post::Browser("html"),
        true,
        "Display annotated source in a web browser",
        "weblist<func_regex|address> [-focus_regex]* [-ignore_regex]*\nInclude functions matching func_regex, or including the address specified.\nInclude samples matching focus_regex, and exclude ignore_regex.",
    ),
];

/// Commands rustprof has and `go tool pprof` does not. Every help text lists
/// them (the shell's `help` too: its only lines that pprof's lacks).
pub const EXTENSIONS: &[&str] = &["flame", "folded"];

/// The command with this name.
pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `help <command>` text.
pub fn command_help(c: &Command) -> String {
    let mut m = format!("{}\n", c.description);
    if !c.usage.is_empty() {
        m.push_str("  Usage:\n");
        for line in c.usage.split('\n') {
            m.push_str(&format!("    {line}\n"));
        }
    }
    m.push('\n');
    m
}

fn fmt_help(c: &str, d: &str) -> String {
    format!("    {:<16} {}", c, d.split('\n').next().unwrap_or(""))
}

/// The commands-and-options part of the usage (pprof's `usage(commandLine)`).
pub fn usage(command_line: bool) -> String {
    let prefix = if command_line { "-" } else { "" };
    let mut commands: Vec<String> =
        COMMANDS.iter().map(|c| fmt_help(&format!("{prefix}{}", c.name), c.description)).collect();
    commands.sort();
    let mut help = if command_line {
        "  Output formats (select at most one):\n".to_string()
    } else {
        commands.push(fmt_help("o/options", "List options and their current values"));
        commands.push(fmt_help("q/quit/exit/^D", "Exit pprof"));
        "  Commands:\n".to_string()
    };
    let mut variables = Vec::new();
    let mut radio = Vec::new();
    for f in FIELDS.iter().filter(|f| config::known(f)) {
        match f.kind {
            Kind::Choice(choices) => {
                let mut s = vec![fmt_help(f.name, "")];
                for ch in choices {
                    s.push(format!("  {}", fmt_help(&format!("{prefix}{ch}"), config::choice_help(ch))));
                }
                radio.push(s.join("\n"));
            }
            _ => variables.push(fmt_help(&format!("{prefix}{}", f.name), f.help)),
        }
    }
    variables.sort();
    radio.sort();
    help.push_str(&commands.join("\n"));
    help.push_str("\n\n  Options:\n");
    help.push_str(&variables.join("\n"));
    help.push_str("\n\n  Option groups (only set one per group):\n");
    help.push_str(&radio.join("\n"));
    help
}

/// The header of `rustprof --help`.
pub const USAGE_HEADER: &str = "usage:

Produce output in the specified format.

   rustprof <format> [options] [binary] <source> ...

Omit the format to get an interactive shell whose commands can be used
to generate various views of a profile

   rustprof [options] [binary] <source> ...

Omit the format and provide the \"-http\" flag to get an interactive web
interface at the specified host:port that can be used to navigate through
various views of a profile.

   rustprof -http [host]:[port] [options] [binary] <source> ...

Details:
";

/// The source options part of `--help`.
pub const USAGE_SOURCES: &str = "

  Source options:
    -seconds              Duration for time-based profile collection
    -timeout              Timeout in seconds for profile collection
    -buildid              Override build id for main binary
    -add_comment          Free-form annotation to add to the profile
                          Displayed on some reports or with -comments
    -diff_base source     Source of base profile for comparison
    -base source          Source of base profile for profile subtraction
    -max_profile_size     Largest a profile may be uncompressed (4gb, 512mb; default
                          1/8 of the machine's memory); its tables may take twice that
    profile.pb.gz         Profile in compressed protobuf format
    trace.pftrace         Execution trace of rustprof::trace (Perfetto); with -http its
                          timeline, else one of:
    -trace_profile=KIND   The trace as a profile: sync (lock waits), syscall (blocked
                          elsewhere), sched (runnable, not running), offcpu (both)
    -trace_summary        The trace in text: threads, tasks, longest waits, latencies
    http://host/profile   URL for profile handler to retrieve
    host:port             Same as http://host:port/debug/pprof/profile
    -symbolize=           Controls source of symbol information
      none                  Do not attempt symbolization
      local                 Examine only local binaries
      fastlocal             Only get function names from local binaries
      remote                Do not examine local binaries
      force                 Force re-symbolization
    Binary                  Local path or build id of binary for symbolization
";

/// The environment part of `--help`.
pub const USAGE_VARS: &str = "

  Misc options:
   -http              Provide web interface at host:port.
                      Host is optional and 'localhost' by default.
                      Port is optional and a randomly available port by default.
   -no_browser        Skip opening a browser for the interactive web UI.
   -tools             Search path for object tools (accepted for compatibility)
   -all_frames        Ignore drop_frames and keep_frames regexps in the profile

  Legacy convenience options:
   -inuse_space           Same as -sample_index=inuse_space
   -inuse_objects         Same as -sample_index=inuse_objects
   -alloc_space           Same as -sample_index=alloc_space
   -alloc_objects         Same as -sample_index=alloc_objects
   -total_delay           Same as -sample_index=delay
   -contentions           Same as -sample_index=contentions
   -mean_delay            Same as -mean -sample_index=delay

  Environment Variables:
   PPROF_TMPDIR       Location for saved profiles (default $HOME/pprof)
   PPROF_BINARY_PATH  Search path for local binary files
                      default: $HOME/pprof/binaries
                      searches $name, $path, $buildid/$name, $path/$buildid
";

/// The whole `--help` text.
pub fn full_usage() -> String {
    format!("{USAGE_HEADER}{}{USAGE_SOURCES}{USAGE_VARS}", usage(true))
}
