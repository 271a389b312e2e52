//! The interactive shell (pprof's `interactive`): what runs when no output
//! format is given. It reads commands line by line, keeps a [`Config`] that
//! `name=value` assignments change, and generates each report with the same code
//! as the command-line flags, on a copy of the profile.
//!
//! [`parse`] turns a line into an assignment, a built-in (`o`, `help`, `quit`)
//! or a report command with its per-command options; [`complete`] is the tab
//! completion of the line editor. With a terminal on stdin the line editor
//! (history, completion) reads the commands; otherwise plain lines are read from
//! stdin after printing the prompt on stdout, exactly as `go tool pprof` does, so
//! that scripts piped into both give the same output.

pub mod complete;
pub mod parse;

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};

use rustprof_profile::Profile;

use crate::commands;
use crate::config::{Config, FIELDS, Kind};
use crate::driver::{self, Ui};
use crate::labels;
use crate::report::{self, Options, Report};

use parse::Line;

/// The prompt, as pprof prints it.
pub const PROMPT: &str = "(pprof) ";

/// Whether the shell goes on after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// `quit`: leave the shell.
    Quit,
}

/// Prints a message as pprof's `Print` does: one final newline, added only if
/// the text has none.
fn say(ui: &mut dyn Ui, text: &str) {
    ui.print(text.strip_suffix('\n').unwrap_or(text));
}

/// Prints an error as pprof's `PrintErr` does.
fn say_err(ui: &mut dyn Ui, text: &str) {
    ui.print_err(text.strip_suffix('\n').unwrap_or(text));
}

/// The state of the shell: the profile, the current options and the shortcuts.
pub struct Shell {
    prof: Profile,
    cfg: Config,
    shortcuts: HashMap<String, Vec<String>>,
    sample_types: Vec<String>,
}

impl Shell {
    /// A shell on a profile with the options of the command line; sets
    /// `compact_labels`, as pprof does on entry.
    pub fn new(prof: Profile, mut cfg: Config) -> Self {
        cfg.compact_labels = true;
        let sample_types: Vec<String> =
            prof.sample_types.iter().map(|t| prof.str(t.ty).to_string()).collect();
        let mut shortcuts: HashMap<String, Vec<String>> = HashMap::new();
        shortcuts.insert(
            ":".into(),
            ["focus=", "ignore=", "hide=", "tagfocus=", "tagignore="].iter().map(|s| s.to_string()).collect(),
        );
        for t in &sample_types {
            let command = format!("sample_index={t}");
            shortcuts.insert(t.clone(), vec![command.clone()]);
            shortcuts.insert(format!("total_{t}"), vec!["mean=0".into(), command.clone()]);
            shortcuts.insert(format!("mean_{t}"), vec!["mean=1".into(), command]);
        }
        Shell { prof, cfg, shortcuts, sample_types }
    }

    /// The current options.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The profile's function names (for completion).
    pub fn function_names(&self) -> Vec<String> {
        self.prof.functions.iter().map(|f| self.prof.str(f.name).to_string()).collect()
    }

    /// The profile's sample type names.
    pub fn sample_types(&self) -> &[String] {
        &self.sample_types
    }

    /// pprof's `reportOptions` for the current config, as far as the greeting
    /// needs it.
    fn report_options(&self, units: &HashMap<String, String>) -> Result<Options, String> {
        let p = &self.prof;
        let cfg = &self.cfg;
        if p.sample_types.is_empty() {
            return Err("profile has no samples".into());
        }
        let index = driver::sample_index(p, &cfg.sample_index)?;
        let vt = p.sample_types.get(index).ok_or("profile has no samples")?;
        let mut sample_type = p.str(vt.ty).to_string();
        if cfg.mean {
            sample_type = format!("mean_{sample_type}");
        }
        if cfg.divide_by == 0.0 {
            return Err("zero divisor specified".into());
        }
        Ok(Options {
            format: commands::Format::Text,
            cum_sort: cfg.sort == "cum",
            call_tree: cfg.call_tree,
            drop_negative: cfg.drop_negative,
            compact_labels: cfg.compact_labels,
            ratio: 1.0 / cfg.divide_by,
            title: String::new(),
            profile_labels: Vec::new(),
            active_filters: Vec::new(),
            num_label_units: units.clone(),
            node_count: cfg.nodecount,
            node_fraction: cfg.nodefraction,
            edge_fraction: cfg.edgefraction,
            sample_index: index,
            mean: cfg.mean,
            sample_type,
            sample_unit: p.str(vt.unit).to_string(),
            output_unit: cfg.unit.clone(),
            symbol: None,
            source_path: cfg.source_path.clone(),
            trim_path: cfg.trim_path.clone(),
            list_recursion_once: cfg.list_recursion == "once",
        })
    }

    /// pprof's `greetings`: the profile's labels, a hint when the default sample
    /// type has no samples, and how to get help.
    pub fn greet(&mut self, ui: &mut dyn Ui) {
        let (units, ignored) = labels::num_label_units(&self.prof);
        for (k, us) in &ignored {
            ui.print_err(&format!(
                "For tag {} used unit {}, also encountered unit(s) {}",
                k,
                units.get(k).map(String::as_str).unwrap_or(""),
                us.join(", ")
            ));
        }
        if let Ok(opts) = self.report_options(&units) {
            let prof = std::mem::take(&mut self.prof);
            let total = report::compute_total(&prof, opts.sample_index, opts.mean);
            let rpt = Report { prof, total, opts };
            say(ui, &rpt.profile_labels().join("\n"));
            self.prof = rpt.prof;
            if total == 0 && self.sample_types.len() > 1 {
                say(ui, "No samples were found with the default sample value type.");
                say(ui, "Try \"sample_index\" command to analyze different sample values.\n");
            }
        }
        say(ui, "Entering interactive mode (type \"help\" for commands, \"o\" for options)");
    }

    /// pprof's `shortcuts.expand`: the lines a line stands for.
    fn expand(&self, input: &str) -> Vec<String> {
        let input = input.trim();
        match self.shortcuts.get(input) {
            Some(lines) => lines.clone(),
            None => vec![input.to_string()],
        }
    }

    /// Runs one input line.
    pub fn execute(&mut self, line: &str, ui: &mut dyn Ui) -> Flow {
        for input in self.expand(line) {
            match parse::classify(&input) {
                Line::Empty => {}
                Line::Set { name, value } => self.assign(&name, value, ui),
                Line::Options => say(ui, &self.options_listing()),
                Line::Quit => return Flow::Quit,
                Line::Help(topic) => self.help(&topic, ui),
                Line::Command(tokens) => {
                    let result = parse::parse_command_line(&tokens, &self.cfg)
                        .and_then(|(cmd, cfg)| driver::generate_report(self.prof.clone(), &cmd, &cfg, ui));
                    if let Err(e) = result {
                        say_err(ui, &e);
                    }
                }
            }
        }
        Flow::Continue
    }

    /// `name=value`, or a boolean or choice name alone.
    fn assign(&mut self, name: &str, value: Option<String>, ui: &mut dyn Ui) {
        if value.is_none() && !crate::config::is_bool(name) {
            say_err(ui, &format!("please specify a value, e.g. {name}=<val>"));
            return;
        }
        let mut value = value.unwrap_or_default();
        if name == "sample_index" {
            match driver::sample_index(&self.prof, &value) {
                Ok(i) if i < self.sample_types.len() => value = self.sample_types[i].clone(),
                Ok(_) => {
                    say_err(ui, &format!("invalid sample_index {}", crate::gofmt::quote(&value)));
                    return;
                }
                Err(e) => {
                    say_err(ui, &e);
                    return;
                }
            }
        }
        // A bad regexp is refused when it is set, not at the next report.
        let checked = match name {
            "focus" | "ignore" | "hide" | "show" | "show_from" | "prune_from" | "tagshow" | "taghide" => {
                driver::compile_regex(name, &value).map(|_| ())
            }
            "tagfocus" | "tagignore" => {
                crate::filter::compile_tag_filter(name, &value, &mut |_| {}).map(|_| ())
            }
            _ => Ok(()),
        };
        if let Err(e) = checked {
            say_err(ui, &e);
            return;
        }
        if let Err(e) = self.cfg.configure(name, &value) {
            say_err(ui, &e);
        }
    }

    /// pprof's `printCurrentOptions` (`o`).
    pub fn options_listing(&self) -> String {
        let mut lines = Vec::new();
        for f in FIELDS.iter().filter(|f| crate::config::known(f)) {
            let name = f.name;
            let mut value = self.cfg.get(f);
            let mut comment = String::new();
            if let Kind::Choice(choices) = f.kind {
                let mut values = choices.to_vec();
                values.sort_unstable();
                comment = format!("[{}]", values.join(" | "));
                if name == "granularity" && value.is_empty() {
                    value = "(default)".into();
                }
            } else if name == "sample_index" {
                if value.is_empty() {
                    value = self.sample_types.last().cloned().unwrap_or_default();
                }
                comment = format!("[{}]", self.sample_types.join(" | "));
            } else if name == "source_path"
                || (crate::config::EXTENSIONS.contains(&name) && self.cfg.get(f) == Config::default().get(f))
            {
                continue;
            } else if name == "nodecount" && value == "-1" {
                comment = "default".into();
            } else if value.is_empty() {
                value = "\"\"".into();
            }
            if !comment.is_empty() {
                comment = format!("//: {comment}");
            }
            lines.push(format!("  {name:<25} = {value:<20} {comment}"));
        }
        lines.sort();
        lines.join("\n")
    }

    /// pprof's `commandHelp`.
    fn help(&self, topic: &str, ui: &mut dyn Ui) {
        if topic.is_empty() {
            let help = format!(
                "{}\n  :   Clear focus/ignore/hide/tagfocus/tagignore\n\n  type \"help <cmd|option>\" for more information\n",
                commands::usage(false)
            );
            say(ui, &help);
        } else if let Some(c) = commands::command(topic) {
            say(ui, &commands::command_help(c));
        } else if let Some(h) = parse::config_help(topic) {
            let mut h = h.to_string();
            if topic == "sample_index" {
                h.push_str(&format!(
                    "Or use sample_index=name, with name in [{}].\n",
                    self.sample_types.join(" ")
                ));
            }
            say(ui, &format!("{h}\n"));
        } else {
            say_err(ui, &format!("Unknown command: {topic}"));
        }
    }
}

/// The UI of the shell: the driver's, but in interactive mode (binary reports go
/// to files), never a terminal when commands come from a pipe, and errors in red
/// on a terminal (as pprof's line editor UI shows them).
struct ShellUi<'a> {
    inner: &'a mut dyn Ui,
    editor: bool,
    color: bool,
}

impl Ui for ShellUi<'_> {
    fn print(&mut self, msg: &str) {
        self.inner.print(msg);
    }
    fn print_err(&mut self, msg: &str) {
        if self.color {
            self.inner.print_err(&format!("\x1b[0;31m{msg}\x1b[0m"));
        } else {
            self.inner.print_err(msg);
        }
    }
    fn is_terminal(&self) -> bool {
        self.editor && self.inner.is_terminal()
    }
    fn interactive(&self) -> bool {
        true
    }
}

/// Where command lines come from.
enum Input {
    /// Plain lines from stdin, the prompt on stdout (pprof's `stdUI`).
    Plain(std::io::StdinLock<'static>),
    /// The line editor, with its history file.
    Editor(
        Box<rustyline::Editor<complete::ShellHelper, rustyline::history::DefaultHistory>>,
        Option<std::path::PathBuf>,
    ),
}

/// One read: the text (without the line end) and whether the input ended.
struct Read {
    text: String,
    eof: bool,
}

impl Input {
    fn new(helper: complete::ShellHelper) -> Input {
        let term = std::env::var("TERM").unwrap_or_default().to_lowercase();
        if std::io::stdin().is_terminal() && !term.is_empty() && term != "dumb" {
            let config = rustyline::Config::builder()
                .behavior(rustyline::Behavior::PreferTerm)
                .completion_type(rustyline::CompletionType::List)
                .auto_add_history(false)
                .build();
            if let Ok(mut ed) = rustyline::Editor::with_config(config) {
                ed.set_helper(Some(helper));
                let history = history_file();
                if let Some(path) = &history {
                    let _ = ed.load_history(path);
                }
                return Input::Editor(Box::new(ed), history);
            }
        }
        Input::Plain(std::io::stdin().lock())
    }

    fn read_line(&mut self) -> Result<Read, String> {
        match self {
            Input::Plain(stdin) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(PROMPT.as_bytes()).and_then(|_| out.flush());
                drop(out);
                let mut buf = Vec::new();
                stdin.read_until(b'\n', &mut buf).map_err(|e| format!("reading stdin: {e}"))?;
                let eof = !buf.ends_with(b"\n");
                Ok(Read { text: String::from_utf8_lossy(&buf).into_owned(), eof })
            }
            Input::Editor(ed, _) => match ed.readline(PROMPT) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = ed.add_history_entry(line.as_str());
                    }
                    Ok(Read { text: line, eof: false })
                }
                Err(rustyline::error::ReadlineError::Eof) => Ok(Read { text: String::new(), eof: true }),
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    Ok(Read { text: String::new(), eof: false })
                }
                Err(e) => Err(e.to_string()),
            },
        }
    }

    fn close(&mut self) {
        if let Input::Editor(ed, Some(path)) = self {
            let _ = ed.save_history(path);
        }
    }
}

/// `$HOME/.rustprof_history`, when there is a home.
fn history_file() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(std::path::Path::new(&home).join(".rustprof_history"))
}

/// Runs the interactive shell on a profile.
pub fn interactive(p: Profile, cfg: Config, ui: &mut dyn Ui) -> Result<(), String> {
    let mut shell = Shell::new(p, cfg);
    let helper = complete::ShellHelper::new(shell.function_names(), shell.sample_types().to_vec());
    let mut input = Input::new(helper);
    let editor = matches!(input, Input::Editor(..));
    let mut ui = ShellUi { inner: ui, editor, color: editor && std::io::stderr().is_terminal() };
    shell.greet(&mut ui);
    let result = loop {
        let read = match input.read_line() {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        if read.eof && read.text.is_empty() {
            break Ok(());
        }
        if shell.execute(&read.text, &mut ui) == Flow::Quit {
            break Ok(());
        }
    };
    input.close();
    result
}
