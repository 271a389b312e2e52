//! Tab completion for the shell: command and option names by prefix, function
//! names of the profile by unique substring (pprof's `newCompleter`), plus the
//! values of choice options and `sample_index` after `name=`.

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use crate::commands::COMMANDS;
use crate::config::{self, FIELDS, Kind};

/// Every name the shell accepts as a command word: commands, options and the
/// names of the choices of choice options.
fn command_words() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = COMMANDS.iter().map(|c| c.name).collect();
    for f in FIELDS {
        words.push(f.name);
        if let Kind::Choice(choices) = f.kind {
            words.extend_from_slice(choices);
        }
    }
    words.sort_unstable();
    words.dedup();
    words
}

/// The command or option names starting with `token` (case-insensitive).
pub fn matching_words(token: &str) -> Vec<&'static str> {
    let token = token.to_lowercase();
    command_words().into_iter().filter(|w| w.starts_with(&token)).collect()
}

/// pprof's `matchVariableOrCommand`: the only command or option starting with
/// `token`, if there is exactly one.
fn match_word(token: &str) -> Option<&'static str> {
    match matching_words(token).as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// pprof's `functionCompleter`: the only function name containing `substring`,
/// or `substring` itself.
fn complete_function(substring: &str, functions: &[String]) -> String {
    let mut found: Option<&String> = None;
    for f in functions {
        if f.contains(substring) {
            if found.is_some() {
                return substring.to_string();
            }
            found = Some(f);
        }
    }
    found.map_or_else(|| substring.to_string(), String::clone)
}

/// pprof's completion of a whole line: the first word completes to a command or
/// option name, the word after `help` too, and the last word of a report
/// command (but `tags`) to a function name, keeping a leading `-`. Returns the
/// line unchanged when nothing is unique.
pub fn complete_line(line: &str, functions: &[String]) -> String {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    match tokens.len() {
        0 => {}
        1 => {
            if let Some(m) = match_word(tokens[0]) {
                return m.to_string();
            }
        }
        n => {
            if n == 2 && tokens[0] == "help" {
                if let Some(m) = match_word(tokens[1]) {
                    return format!("help {m}");
                }
                return line.to_string();
            }
            if crate::commands::command(tokens[0]).is_some() && tokens[0] != "tags" {
                let last = tokens[n - 1];
                let done = match last.strip_prefix('-') {
                    Some(rest) => format!("-{}", complete_function(rest, functions)),
                    None => complete_function(last, functions),
                };
                let mut out: Vec<&str> = tokens[..n - 1].to_vec();
                out.push(&done);
                return out.join(" ");
            }
        }
    }
    line.to_string()
}

/// Most function names offered for an ambiguous completion.
const MAX_CANDIDATES: usize = 200;

/// The completer given to the line editor.
#[derive(Clone, Debug, Default)]
pub struct ShellHelper {
    /// Function names of the profile, sorted, without duplicates.
    pub functions: Vec<String>,
    /// Sample type names, for `sample_index=`.
    pub sample_types: Vec<String>,
}

impl ShellHelper {
    /// A completer for these function names and sample types.
    pub fn new(mut functions: Vec<String>, sample_types: Vec<String>) -> Self {
        functions.sort();
        functions.dedup();
        ShellHelper { functions, sample_types }
    }

    /// Candidates for the text before the cursor: the position in `line` where
    /// the replaced text starts, and the replacements.
    pub fn candidates(&self, line: &str) -> (usize, Vec<String>) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let trailing_space = line.ends_with(char::is_whitespace);
        // `name=value`: complete the value of choice options, booleans and
        // sample_index.
        if words.len() == 1
            && !trailing_space
            && let Some((name, prefix)) = words[0].split_once('=')
        {
            let start = line.len() - prefix.len();
            let values: Vec<String> = match config::field(name.trim()) {
                Some(f) if f.name == "sample_index" => self.sample_types.clone(),
                Some(f) => match f.kind {
                    Kind::Choice(c) if f.name == name.trim() => c.iter().map(|s| s.to_string()).collect(),
                    Kind::Bool => vec!["false".into(), "true".into()],
                    _ => Vec::new(),
                },
                None => Vec::new(),
            };
            return (start, values.into_iter().filter(|v| v.starts_with(prefix)).collect());
        }
        let completed = complete_line(line, &self.functions);
        if completed != line && completed != words.join(" ") {
            return (0, vec![completed]);
        }
        // Several commands or options share the prefix: offer them all.
        if words.len() == 1 && !trailing_space {
            let start = line.len() - words[0].len();
            return (start, matching_words(words[0]).into_iter().map(str::to_string).collect());
        }
        // Several function names contain the last word of a report command:
        // offer them (the heaviest first is unknown here: in name order).
        if words.len() >= 2
            && !trailing_space
            && crate::commands::command(words[0]).is_some()
            && words[0] != "tags"
            && let Some(last) = words.last()
        {
            let (dash, sub) = match last.strip_prefix('-') {
                Some(rest) => ("-", rest),
                None => ("", *last),
            };
            if !sub.is_empty() {
                let start = line.len() - last.len();
                let found: Vec<String> = self
                    .functions
                    .iter()
                    .filter(|f| f.contains(sub))
                    .take(MAX_CANDIDATES)
                    .map(|f| format!("{dash}{f}"))
                    .collect();
                return (start, found);
            }
        }
        (line.len(), Vec::new())
    }
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(&line[..pos]))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl rustyline::Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fns() -> Vec<String> {
        ["main.main", "skeletor/utils.HashPassword", "skeletor.BenchmarkHashPassword", "runtime.mallocgc"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn completes_commands_and_options() {
        assert_eq!(complete_line("weblis", &fns()), "weblist");
        assert_eq!(complete_line("TRAC", &fns()), "traces");
        assert_eq!(complete_line("nodec", &fns()), "nodecount");
        assert_eq!(complete_line("filef", &fns()), "filefunctions");
        // Ambiguous: top, topproto, ...
        assert_eq!(complete_line("to", &fns()), "to");
        assert_eq!(complete_line("help peek", &fns()), "help peek");
        assert_eq!(complete_line("help sample_i", &fns()), "help sample_index");
        assert_eq!(complete_line("help zz", &fns()), "help zz");
    }

    #[test]
    fn completes_function_names() {
        assert_eq!(complete_line("list utils.Hash", &fns()), "list skeletor/utils.HashPassword");
        assert_eq!(complete_line("top 5 -malloc", &fns()), "top 5 -runtime.mallocgc");
        // Two functions contain HashPassword: nothing is unique.
        assert_eq!(complete_line("peek HashPassword", &fns()), "peek HashPassword");
        // Not for tags, nor for unknown commands.
        assert_eq!(complete_line("tags malloc", &fns()), "tags malloc");
        assert_eq!(complete_line("bogus malloc", &fns()), "bogus malloc");
    }

    #[test]
    fn editor_completer_offers_a_function_name() {
        let h = ShellHelper::new(fns(), vec!["samples".into(), "cpu".into()]);
        let history = rustyline::history::DefaultHistory::new();
        let ctx = rustyline::Context::new(&history);
        let line = "list mallo";
        let (start, cands) = h.complete(line, line.len(), &ctx).unwrap();
        assert_eq!((start, cands), (0, vec!["list runtime.mallocgc".to_string()]));
        let (start, cands) = h.complete("to", 2, &ctx).unwrap();
        assert_eq!(start, 0);
        assert_eq!(cands, vec!["top", "topproto"]);
        let (start, cands) = h.complete("granularity=li", 14, &ctx).unwrap();
        assert_eq!((start, cands), (12, vec!["lines".to_string()]));
        let (start, cands) = h.complete("sample_index=c", 14, &ctx).unwrap();
        assert_eq!((start, cands), (13, vec!["cpu".to_string()]));
        // An ambiguous function name: every name containing it is offered.
        let line = "peek HashPassword";
        let (start, cands) = h.complete(line, line.len(), &ctx).unwrap();
        assert_eq!(start, 5);
        assert_eq!(cands, vec!["skeletor.BenchmarkHashPassword", "skeletor/utils.HashPassword"]);
        let (start, cands) = h.complete("top -Hash", 9, &ctx).unwrap();
        assert_eq!((start, cands.len()), (4, 2));
        assert_eq!(cands[0], "-skeletor.BenchmarkHashPassword");
        // Only the text before the cursor counts; a trailing space is kept.
        let (_, cands) = h.complete("top ", 4, &ctx).unwrap();
        assert!(cands.is_empty());
    }
}
