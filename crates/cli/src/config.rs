//! Report configuration: every option that shapes a report, with pprof's names,
//! defaults, help texts, URL parameter names and choice groups. The same table
//! drives the command-line flags, the shell's `name=value` and `o` commands and
//! the web UI's query parameters.

use crate::gofmt;

/// The options of a report (pprof's `config`).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Output file (`-output`).
    pub output: String,
    /// Context-sensitive call tree (dot/callgrind only).
    pub call_tree: bool,
    /// Percentages relative to the focused subgraph.
    pub relative_percentages: bool,
    /// Output unit: `minimum`, `auto` or a unit name.
    pub unit: String,
    /// Omit the File/Type/Time/Duration header lines.
    pub compact_labels: bool,
    /// Search path for source files.
    pub source_path: String,
    /// Path prefixes to trim from source file names.
    pub trim_path: String,
    /// Intel syntax for disassembly.
    pub intel_syntax: bool,
    /// Divide values by the first value (count).
    pub mean: bool,
    /// Sample value to report: index or type name.
    pub sample_index: String,
    /// Divide all values by this.
    pub divide_by: f64,
    /// Scale the profile to the base's totals.
    pub normalize: bool,
    /// `flat` or `cum`.
    pub sort: String,
    /// Label keys to add as pseudo frames at the root.
    pub tagroot: String,
    /// Label keys to add as pseudo frames at the leaf.
    pub tagleaf: String,
    /// Drop nodes with negative values.
    pub drop_negative: bool,
    /// Max nodes (-1: the command's default).
    pub nodecount: i64,
    /// Drop nodes below this fraction of the total.
    pub nodefraction: f64,
    /// Drop edges below this fraction of the total.
    pub edgefraction: f64,
    /// Honor nodecount/nodefraction/edgefraction.
    pub trim: bool,
    /// Keep samples through a matching frame.
    pub focus: String,
    /// Drop samples through a matching frame.
    pub ignore: String,
    /// Drop frames below a matching frame.
    pub prune_from: String,
    /// Remove matching frames.
    pub hide: String,
    /// Keep only matching frames.
    pub show: String,
    /// Drop frames above the highest match.
    pub show_from: String,
    /// Keep samples whose labels match.
    pub tagfocus: String,
    /// Drop samples whose labels match.
    pub tagignore: String,
    /// Keep only matching label keys.
    pub tagshow: String,
    /// Drop matching label keys.
    pub taghide: String,
    /// Attribute inlined frames to their caller.
    pub noinlines: bool,
    /// Keep column numbers at the line level (`file:line:column`).
    pub show_columns: bool,
    /// `functions`, `filefunctions`, `files`, `lines` or `addresses`.
    pub granularity: String,
    /// How `list` counts recursion: `pprof` (a routine's lines summed, as pprof
    /// prints it) or `once` (each sample once per routine and line). rustprof's.
    pub list_recursion: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            output: String::new(),
            call_tree: false,
            relative_percentages: false,
            unit: "minimum".into(),
            compact_labels: false,
            source_path: String::new(),
            trim_path: String::new(),
            intel_syntax: false,
            mean: false,
            sample_index: String::new(),
            divide_by: 1.0,
            normalize: false,
            sort: "flat".into(),
            tagroot: String::new(),
            tagleaf: String::new(),
            drop_negative: false,
            nodecount: -1,
            nodefraction: 0.005,
            edgefraction: 0.001,
            trim: true,
            focus: String::new(),
            ignore: String::new(),
            prune_from: String::new(),
            hide: String::new(),
            show: String::new(),
            show_from: String::new(),
            tagfocus: String::new(),
            tagignore: String::new(),
            tagshow: String::new(),
            taghide: String::new(),
            noinlines: false,
            show_columns: false,
            // Today's pprof leaves it unset: the report chooses ("functions"
            // for most, "filefunctions" for stacks); Go 1.19 said "functions".
            granularity: if gofmt::compat_go119() { "functions".into() } else { String::new() },
            list_recursion: LIST_RECURSION_DEFAULT.into(),
        }
    }
}

/// The kind of value of an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// true/false.
    Bool,
    /// An integer.
    Int,
    /// A floating-point number.
    Float,
    /// Free text (regexps, paths, units).
    Str,
    /// One of a group of names, each also a boolean flag (`-cum`, `-lines`).
    Choice(&'static [&'static str]),
}

/// One option: name, kind, URL parameter, whether saved in web configs, help.
pub struct Field {
    /// The option name (`nodecount`).
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// The web UI's query parameter, if any.
    pub urlparam: &'static str,
    /// Saved in named web configurations.
    pub saved: bool,
    /// Help text; the first line is the summary.
    pub help: &'static str,
}

/// The default of `list_recursion`: pprof's numbers.
pub const LIST_RECURSION_DEFAULT: &str = "pprof";

/// Options rustprof has and pprof does not: listed by the help texts, and by
/// the shell's `o` only when set to something else than their default (so
/// that `o` prints what pprof prints unless they are used).
pub const EXTENSIONS: &[&str] = &["list_recursion"];

/// All options, in pprof's declaration order (rustprof's own at the end).
pub const FIELDS: &[Field] = &[
    Field {
        name: "output",
        kind: Kind::Str,
        urlparam: "",
        saved: false,
        help: "Output filename for file-based outputs\n",
    },
    Field {
        name: "call_tree",
        kind: Kind::Bool,
        urlparam: "calltree",
        saved: true,
        help: "Create a context-sensitive call tree\nTreat locations reached through different paths as separate.\n",
    },
    Field {
        name: "relative_percentages",
        kind: Kind::Bool,
        urlparam: "rel",
        saved: true,
        help: "Show percentages relative to focused subgraph\nIf unset, percentages are relative to full graph before focusing\nto facilitate comparison with original graph.\n",
    },
    Field {
        name: "unit",
        kind: Kind::Str,
        urlparam: "unit",
        saved: true,
        help: "Measurement units to display\nScale the sample values to this unit.\nFor time-based profiles, use seconds, milliseconds, nanoseconds, etc.\nFor memory profiles, use megabytes, kilobytes, bytes, etc.\nUsing auto will scale each value independently to the most natural unit.\n",
    },
    Field {
        name: "compact_labels",
        kind: Kind::Bool,
        urlparam: "compact",
        saved: true,
        help: "Show minimal headers",
    },
    Field {
        name: "source_path",
        kind: Kind::Str,
        urlparam: "",
        saved: false,
        help: "Search path for source files",
    },
    Field {
        name: "trim_path",
        kind: Kind::Str,
        urlparam: "",
        saved: false,
        help: "Path to trim from source paths before search",
    },
    Field {
        name: "intel_syntax",
        kind: Kind::Bool,
        urlparam: "intel",
        saved: true,
        help: "Show assembly in Intel syntax\nOnly applicable to commands `disasm` and `weblist`\n",
    },
    Field {
        name: "mean",
        kind: Kind::Bool,
        urlparam: "mean",
        saved: true,
        help: "Average sample value over first value (count)\nFor memory profiles, report average memory per allocation.\nFor time-based profiles, report average time per event.\n",
    },
    Field {
        name: "sample_index",
        kind: Kind::Str,
        urlparam: "si",
        saved: false,
        help: "Sample value to report (0-based index or name)\nProfiles contain multiple values per sample.\nUse sample_index=i to select the ith value (starting at 0).\n",
    },
    Field {
        name: "divide_by",
        kind: Kind::Float,
        urlparam: "",
        saved: false,
        help: "Ratio to divide all samples before visualization\nDivide all samples values by a constant, eg the number of processors or jobs.\n",
    },
    Field {
        name: "normalize",
        kind: Kind::Bool,
        urlparam: "norm",
        saved: true,
        help: "Scales profile based on the base profile.\n",
    },
    Field { name: "sort", kind: Kind::Choice(&["cum", "flat"]), urlparam: "sort", saved: true, help: "" },
    Field {
        name: "tagroot",
        kind: Kind::Str,
        urlparam: "tagroot",
        saved: true,
        help: "Adds pseudo stack frames for labels key/value pairs at the callstack root.\nA comma-separated list of label keys.\nThe first key creates frames at the new root.\n",
    },
    Field {
        name: "tagleaf",
        kind: Kind::Str,
        urlparam: "tagleaf",
        saved: true,
        help: "Adds pseudo stack frames for labels key/value pairs at the callstack leaf.\nA comma-separated list of label keys.\nThe last key creates frames at the new leaf.\n",
    },
    Field {
        name: "drop_negative",
        kind: Kind::Bool,
        urlparam: "dropneg",
        saved: true,
        help: "Ignore negative differences\nDo not show any locations with values <0.\n",
    },
    Field {
        name: "nodecount",
        kind: Kind::Int,
        urlparam: "n",
        saved: true,
        help: "Max number of nodes to show\nUses heuristics to limit the number of locations to be displayed.\nOn graphs, dotted edges represent paths through nodes that have been removed.\n",
    },
    Field {
        name: "nodefraction",
        kind: Kind::Float,
        urlparam: "nf",
        saved: true,
        help: "Hide nodes below <f>*total",
    },
    Field {
        name: "edgefraction",
        kind: Kind::Float,
        urlparam: "ef",
        saved: true,
        help: "Hide edges below <f>*total",
    },
    Field {
        name: "trim",
        kind: Kind::Bool,
        urlparam: "trim",
        saved: true,
        help: "Honor nodefraction/edgefraction/nodecount defaults\nSet to false to get the full profile, without any trimming.\n",
    },
    Field {
        name: "focus",
        kind: Kind::Str,
        urlparam: "f",
        saved: true,
        help: "Restricts to samples going through a node matching regexp\nDiscard samples that do not include a node matching this regexp.\nMatching includes the function name, filename or object name.\n",
    },
    Field {
        name: "ignore",
        kind: Kind::Str,
        urlparam: "i",
        saved: true,
        help: "Skips paths going through any nodes matching regexp\nIf set, discard samples that include a node matching this regexp.\nMatching includes the function name, filename or object name.\n",
    },
    Field {
        name: "prune_from",
        kind: Kind::Str,
        urlparam: "prunefrom",
        saved: true,
        help: "Drops any functions below the matched frame.\nIf set, any frames matching the specified regexp and any frames\nbelow it will be dropped from each sample.\n",
    },
    Field {
        name: "hide",
        kind: Kind::Str,
        urlparam: "h",
        saved: true,
        help: "Skips nodes matching regexp\nDiscard nodes that match this location.\nOther nodes from samples that include this location will be shown.\nMatching includes the function name, filename or object name.\n",
    },
    Field {
        name: "show",
        kind: Kind::Str,
        urlparam: "s",
        saved: true,
        help: "Only show nodes matching regexp\nIf set, only show nodes that match this location.\nMatching includes the function name, filename or object name.\n",
    },
    Field {
        name: "show_from",
        kind: Kind::Str,
        urlparam: "sf",
        saved: true,
        help: "Drops functions above the highest matched frame.\nIf set, all frames above the highest match are dropped from every sample.\nMatching includes the function name, filename or object name.\n",
    },
    Field {
        name: "tagfocus",
        kind: Kind::Str,
        urlparam: "tf",
        saved: true,
        help: "Restricts to samples with tags in range or matched by regexp\nUse name=value syntax to limit the matching to a specific tag.\nNumeric tag filter examples: 1kb, 1kb:10kb, memory=32mb:\nString tag filter examples: foo, foo.*bar, mytag=foo.*bar\n",
    },
    Field {
        name: "tagignore",
        kind: Kind::Str,
        urlparam: "ti",
        saved: true,
        help: "Discard samples with tags in range or matched by regexp\nUse name=value syntax to limit the matching to a specific tag.\nNumeric tag filter examples: 1kb, 1kb:10kb, memory=32mb:\nString tag filter examples: foo, foo.*bar, mytag=foo.*bar\n",
    },
    Field {
        name: "tagshow",
        kind: Kind::Str,
        urlparam: "ts",
        saved: true,
        help: "Only consider tags matching this regexp\nDiscard tags that do not match this regexp\n",
    },
    Field {
        name: "taghide",
        kind: Kind::Str,
        urlparam: "th",
        saved: true,
        help: "Skip tags matching this regexp\nDiscard tags that match this regexp\n",
    },
    Field {
        name: "noinlines",
        kind: Kind::Bool,
        urlparam: "noinlines",
        saved: true,
        help: "Ignore inlines.\nAttributes inlined functions to their first out-of-line caller.\n",
    },
    Field {
        name: "showcolumns",
        kind: Kind::Bool,
        urlparam: "showcolumns",
        saved: true,
        help: "Show column numbers at the source code line level.\n",
    },
    Field {
        name: "granularity",
        kind: Kind::Choice(&["functions", "filefunctions", "files", "lines", "addresses"]),
        urlparam: "g",
        saved: true,
        help: "",
    },
    Field {
        name: "list_recursion",
        kind: Kind::Str,
        urlparam: "recursion",
        saved: false,
        help: "How list counts a recursive function's cumulative value (pprof or once)\npprof (default): a routine's cum is the sum of its lines', as go tool pprof prints it:\na sample on several lines of a recursive function counts once per line (can exceed 100%).\nonce: each sample counts once per routine and once per line (at most 100% of the total).\n",
    },
];

/// Whether the pprof being matched knows the option: `showcolumns` came after
/// Go 1.19.
pub fn known(f: &Field) -> bool {
    !(f.name == "showcolumns" && gofmt::compat_go119())
}

/// Help of the choice names (`-cum`, `-lines`...).
pub fn choice_help(choice: &str) -> &'static str {
    match choice {
        "flat" => "Sort entries based on own weight\n",
        "cum" => "Sort entries based on cumulative weight\n",
        "functions" => {
            "Aggregate at the function level.\nIgnores the filename where the function was defined.\n"
        }
        "filefunctions" => {
            "Aggregate at the function level.\nTakes into account the filename where the function was defined.\n"
        }
        "files" => "Aggregate at the file level.",
        "lines" => "Aggregate at the source code line level.",
        "addresses" => "Aggregate at the address level.\nIncludes functions' addresses in the output.\n",
        _ => "",
    }
}

/// The field an option or choice name belongs to.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name || matches!(f.kind, Kind::Choice(c) if c.contains(&name)))
}

/// True for booleans and choice names (they can be given without a value).
pub fn is_bool(name: &str) -> bool {
    match field(name) {
        Some(f) if f.name != name => true,
        Some(f) => f.kind == Kind::Bool,
        None => false,
    }
}

/// pprof's boolean parsing: true/t/yes/y/1/"" and false/f/no/n/0, any case.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("illegal value \"{s}\" for bool variable")),
    }
}

/// Go's `fmt.Sprint(float64)`.
pub fn go_float(v: f64) -> String {
    gofmt::format_v(v)
}

impl Config {
    /// The value of option `f` as text.
    pub fn get(&self, f: &Field) -> String {
        match f.name {
            "output" => self.output.clone(),
            "call_tree" => self.call_tree.to_string(),
            "relative_percentages" => self.relative_percentages.to_string(),
            "unit" => self.unit.clone(),
            "compact_labels" => self.compact_labels.to_string(),
            "source_path" => self.source_path.clone(),
            "trim_path" => self.trim_path.clone(),
            "intel_syntax" => self.intel_syntax.to_string(),
            "mean" => self.mean.to_string(),
            "sample_index" => self.sample_index.clone(),
            "divide_by" => go_float(self.divide_by),
            "normalize" => self.normalize.to_string(),
            "sort" => self.sort.clone(),
            "tagroot" => self.tagroot.clone(),
            "tagleaf" => self.tagleaf.clone(),
            "drop_negative" => self.drop_negative.to_string(),
            "nodecount" => self.nodecount.to_string(),
            "nodefraction" => go_float(self.nodefraction),
            "edgefraction" => go_float(self.edgefraction),
            "trim" => self.trim.to_string(),
            "focus" => self.focus.clone(),
            "ignore" => self.ignore.clone(),
            "prune_from" => self.prune_from.clone(),
            "hide" => self.hide.clone(),
            "show" => self.show.clone(),
            "show_from" => self.show_from.clone(),
            "tagfocus" => self.tagfocus.clone(),
            "tagignore" => self.tagignore.clone(),
            "tagshow" => self.tagshow.clone(),
            "taghide" => self.taghide.clone(),
            "noinlines" => self.noinlines.to_string(),
            "showcolumns" => self.show_columns.to_string(),
            "granularity" => self.granularity.clone(),
            "list_recursion" => self.list_recursion.clone(),
            _ => String::new(),
        }
    }

    fn str_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "output" => &mut self.output,
            "unit" => &mut self.unit,
            "source_path" => &mut self.source_path,
            "trim_path" => &mut self.trim_path,
            "sample_index" => &mut self.sample_index,
            "sort" => &mut self.sort,
            "tagroot" => &mut self.tagroot,
            "tagleaf" => &mut self.tagleaf,
            "focus" => &mut self.focus,
            "ignore" => &mut self.ignore,
            "prune_from" => &mut self.prune_from,
            "hide" => &mut self.hide,
            "show" => &mut self.show,
            "show_from" => &mut self.show_from,
            "tagfocus" => &mut self.tagfocus,
            "tagignore" => &mut self.tagignore,
            "tagshow" => &mut self.tagshow,
            "taghide" => &mut self.taghide,
            "granularity" => &mut self.granularity,
            "list_recursion" => &mut self.list_recursion,
            _ => return None,
        })
    }

    fn bool_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "call_tree" => &mut self.call_tree,
            "relative_percentages" => &mut self.relative_percentages,
            "compact_labels" => &mut self.compact_labels,
            "intel_syntax" => &mut self.intel_syntax,
            "mean" => &mut self.mean,
            "normalize" => &mut self.normalize,
            "drop_negative" => &mut self.drop_negative,
            "trim" => &mut self.trim,
            "noinlines" => &mut self.noinlines,
            "showcolumns" => &mut self.show_columns,
            _ => return None,
        })
    }

    /// Sets option `f` from text, with pprof's parsing and error messages.
    pub fn set(&mut self, f: &Field, value: &str) -> Result<(), String> {
        match f.kind {
            Kind::Choice(choices) => {
                if !choices.contains(&value) {
                    return Err(format!("invalid {} value {}", gofmt::quote(f.name), gofmt::quote(value)));
                }
                if let Some(s) = self.str_mut(f.name) {
                    *s = value.to_string();
                }
            }
            Kind::Str if f.name == "list_recursion" && !matches!(value, "pprof" | "once") => {
                return Err(format!(
                    "invalid {} value {}: pprof or once",
                    gofmt::quote(f.name),
                    gofmt::quote(value)
                ));
            }
            Kind::Str => {
                if let Some(s) = self.str_mut(f.name) {
                    *s = value.to_string();
                }
            }
            Kind::Bool => {
                let v = parse_bool(value)?;
                if let Some(b) = self.bool_mut(f.name) {
                    *b = v;
                }
            }
            Kind::Int => {
                let v: i64 = value.parse().map_err(|e: std::num::ParseIntError| {
                    let why = match e.kind() {
                        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                            "value out of range"
                        }
                        _ => "invalid syntax",
                    };
                    format!("strconv.Atoi: parsing {}: {why}", gofmt::quote(value))
                })?;
                self.nodecount = v;
            }
            Kind::Float => {
                let v: f64 = value.trim().parse().map_err(|_| {
                    format!("strconv.ParseFloat: parsing {}: invalid syntax", gofmt::quote(value))
                })?;
                // Go rejects finite literals too large for a float64.
                let spelled_inf =
                    value.trim().trim_start_matches(['+', '-']).to_lowercase().starts_with("inf");
                if v.is_infinite() && !spelled_inf {
                    return Err(format!(
                        "strconv.ParseFloat: parsing {}: value out of range",
                        gofmt::quote(value)
                    ));
                }
                match f.name {
                    "divide_by" => self.divide_by = v,
                    "nodefraction" => self.nodefraction = v,
                    _ => self.edgefraction = v,
                }
            }
        }
        Ok(())
    }

    /// pprof's `configure(name, value)`: a field name sets the field; a choice name
    /// with a true value selects that choice.
    pub fn configure(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some(f) = field(name) else {
            return Err(format!("unknown config field {}", gofmt::quote(name)));
        };
        if f.name == name {
            return self.set(f, value);
        }
        match value.parse::<bool>().ok().or_else(|| go_parse_bool(value)) {
            Some(true) => self.set(f, name),
            _ => Err(format!("unknown config field {}", gofmt::quote(name))),
        }
    }

    /// Applies the web UI's query parameters.
    pub fn apply_url(&mut self, params: &[(String, String)]) -> Result<(), String> {
        for f in FIELDS {
            if f.urlparam.is_empty() {
                continue;
            }
            let Some((_, v)) = params.iter().find(|(k, _)| k == f.urlparam) else { continue };
            if v.is_empty() {
                continue;
            }
            self.set(f, v).map_err(|e| format!("error setting config field {}: {e}", f.name))?;
        }
        Ok(())
    }
}

/// Go's `strconv.ParseBool`.
pub fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
