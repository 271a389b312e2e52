//! Parsing of the shell's input lines, as pprof's `interactive` and
//! `parseCommandLine` do it: `name=value` assignments, the `o`, `help` and `quit`
//! commands, and report commands with their arguments (`top10`, focus and
//! `-ignore` regexps, `-cum`, `>file`).

use crate::commands;
use crate::config::{self, Config, Kind};

/// The marker of a comment after an option's value (`nodecount = 5  //: note`).
const COMMENT_START: &str = "//:";

/// What one input line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// Nothing (blank line).
    Empty,
    /// An option assignment: `name=value`, or a name alone (`value` is `None`).
    Set {
        /// The option or choice name.
        name: String,
        /// The text after `=`, comment removed and trimmed.
        value: Option<String>,
    },
    /// `o` / `options`: list the options.
    Options,
    /// `q` / `quit` / `exit`.
    Quit,
    /// `help [topic]`: the topic words joined by one space.
    Help(String),
    /// A report command and its arguments, split on white space.
    Command(Vec<String>),
}

/// Classifies one line (already trimmed by the shortcut expansion).
pub fn classify(input: &str) -> Line {
    let (name, value) = match input.split_once('=') {
        Some((n, v)) => {
            let v = match v.rfind(COMMENT_START) {
                Some(i) => &v[..i],
                None => v,
            };
            (n.trim(), Some(v.trim().to_string()))
        }
        None => (input.trim(), None),
    };
    if config::field(name).is_some() {
        return Line::Set { name: name.to_string(), value };
    }
    let tokens: Vec<String> = input.split_whitespace().map(str::to_string).collect();
    let Some(first) = tokens.first() else {
        return Line::Empty;
    };
    match first.as_str() {
        "o" | "options" => Line::Options,
        "exit" | "quit" | "q" => Line::Quit,
        "help" => Line::Help(tokens[1..].join(" ")),
        _ => Line::Command(tokens),
    }
}

/// The help text of an option or choice name, as the shell's `help NAME` shows
/// it (pprof's `configHelp`: the choice groups `sort` and `granularity`
/// themselves have none).
pub fn config_help(name: &str) -> Option<&'static str> {
    let f = config::field(name)?;
    if f.name != name {
        return Some(config::choice_help(name));
    }
    match f.kind {
        Kind::Choice(_) => None,
        _ => Some(f.help),
    }
}

/// Splits the trailing digits off an abbreviated command (`top10` → `top`, `10`).
fn split_tail_digits(name: &str) -> Option<(&str, &str)> {
    let head = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if head.len() == name.len() || head.is_empty() {
        return None;
    }
    Some((head, &name[head.len()..]))
}

fn cat_regex(a: &str, b: &str) -> String {
    if !a.is_empty() && !b.is_empty() { format!("{a}|{b}") } else { format!("{a}{b}") }
}

/// pprof's `parseCommandLine`: the report command (name and, for commands that
/// take one, its regexp) and the config for this command only (a copy of
/// `current` with the line's node count, filters, sort order and output file).
pub fn parse_command_line(tokens: &[String], current: &Config) -> Result<(Vec<String>, Config), String> {
    let Some(first) = tokens.first() else {
        return Err("unrecognized command: \"\"".into());
    };
    let mut name = first.as_str();
    let mut args: Vec<&str> = tokens[1..].iter().map(String::as_str).collect();
    let mut c = commands::command(name);
    if c.is_none()
        && let Some((head, digits)) = split_tail_digits(name)
    {
        name = head;
        args.insert(0, digits);
        c = commands::command(name);
    }
    let Some(c) = c else {
        if config_help(name).is_some() {
            let value = args.first().copied().unwrap_or("<val>");
            return Err(format!("did you mean: {name}={value}"));
        }
        return Err(format!("unrecognized command: {}", crate::gofmt::quote(name)));
    };
    let mut cmd = vec![name.to_string()];
    if c.has_param {
        if args.is_empty() {
            return Err(format!("command {name} requires an argument"));
        }
        cmd.push(args.remove(0).to_string());
    }
    let mut cfg = current.clone();
    let (mut focus, mut ignore) = (String::new(), String::new());
    let mut i = 0;
    while i < args.len() {
        let t = args[i];
        i += 1;
        if let Ok(n) = t.parse::<i32>() {
            cfg.nodecount = i64::from(n);
            continue;
        }
        if let Some(file) = t.strip_prefix('>') {
            let file = if file.is_empty() {
                let Some(next) = args.get(i) else {
                    return Err("unexpected end of line after >".into());
                };
                i += 1;
                *next
            } else {
                file
            };
            cfg.output = file.to_string();
        } else if let Some(re) = t.strip_prefix('-') {
            if t == "--cum" || t == "-cum" {
                cfg.sort = "cum".into();
                continue;
            }
            ignore = cat_regex(&ignore, re);
        } else {
            focus = cat_regex(&focus, t);
        }
    }
    if name == "tags" {
        if !focus.is_empty() {
            cfg.tagfocus = focus;
        }
        if !ignore.is_empty() {
            cfg.tagignore = ignore;
        }
    } else {
        if !focus.is_empty() {
            cfg.focus = focus;
        }
        if !ignore.is_empty() {
            cfg.ignore = ignore;
        }
    }
    if cfg.nodecount == -1 && (name == "text" || name == "top") {
        cfg.nodecount = 10;
    }
    Ok((cmd, cfg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn parse(s: &str) -> Result<(Vec<String>, Config), String> {
        parse_command_line(&toks(s), &Config::default())
    }

    #[test]
    fn classify_assignments() {
        assert_eq!(classify("nodecount=5"), Line::Set { name: "nodecount".into(), value: Some("5".into()) });
        assert_eq!(
            classify("focus = a=b //: why //: note"),
            Line::Set { name: "focus".into(), value: Some("a=b //: why".into()) }
        );
        assert_eq!(classify("cum"), Line::Set { name: "cum".into(), value: None });
        assert_eq!(
            classify("sample_index="),
            Line::Set { name: "sample_index".into(), value: Some(String::new()) }
        );
        // Not an option name before `=`: a command with a regexp.
        assert_eq!(classify("top focus=x"), Line::Command(toks("top focus=x")));
        assert_eq!(classify("nodecount 5"), Line::Command(toks("nodecount 5")));
    }

    #[test]
    fn classify_builtins() {
        assert_eq!(classify(""), Line::Empty);
        assert_eq!(classify("   "), Line::Empty);
        assert_eq!(classify("o"), Line::Options);
        assert_eq!(classify("options x"), Line::Options);
        assert_eq!(classify("q"), Line::Quit);
        assert_eq!(classify("exit now"), Line::Quit);
        assert_eq!(classify("help"), Line::Help(String::new()));
        assert_eq!(classify("help  top   5"), Line::Help("top 5".into()));
        assert_eq!(classify("top10"), Line::Command(toks("top10")));
    }

    #[test]
    fn top_defaults_to_ten_nodes() {
        let (cmd, cfg) = parse("top").unwrap();
        assert_eq!(cmd, vec!["top"]);
        assert_eq!(cfg.nodecount, 10);
        let (_, cfg) = parse("text").unwrap();
        assert_eq!(cfg.nodecount, 10);
        let (_, cfg) = parse("tree").unwrap();
        assert_eq!(cfg.nodecount, -1);
        let current = Config { nodecount: 3, ..Default::default() };
        let (_, cfg) = parse_command_line(&toks("top"), &current).unwrap();
        assert_eq!(cfg.nodecount, 3);
    }

    #[test]
    fn abbreviated_counts() {
        let (cmd, cfg) = parse("top25").unwrap();
        assert_eq!(cmd, vec!["top"]);
        assert_eq!(cfg.nodecount, 25);
        let (cmd, cfg) = parse("top5 foo").unwrap();
        assert_eq!(cmd, vec!["top"]);
        assert_eq!((cfg.nodecount, cfg.focus.as_str()), (5, "foo"));
        // A command taking a regexp gets the digits as its argument.
        let (cmd, _) = parse("list10").unwrap();
        assert_eq!(cmd, vec!["list", "10"]);
        assert_eq!(parse("foo10").unwrap_err(), "unrecognized command: \"foo\"");
        assert_eq!(parse("nodecount10").unwrap_err(), "did you mean: nodecount=10");
    }

    #[test]
    fn focus_and_ignore_tokens() {
        let (_, cfg) = parse("top a b -c -d 7").unwrap();
        assert_eq!(cfg.focus, "a|b");
        assert_eq!(cfg.ignore, "c|d");
        assert_eq!(cfg.nodecount, 7);
        // A negative number is a node count, a lone `-` adds nothing.
        let (_, cfg) = parse("top -5 -").unwrap();
        assert_eq!((cfg.nodecount, cfg.ignore.as_str()), (-5, ""));
        // The line's filters replace the current ones for this command only.
        let current = Config { focus: "old".into(), ignore: "old".into(), ..Default::default() };
        let (_, cfg) = parse_command_line(&toks("peek x new -gone"), &current).unwrap();
        assert_eq!((cfg.focus.as_str(), cfg.ignore.as_str()), ("new", "gone"));
        let (_, cfg) = parse_command_line(&toks("top"), &current).unwrap();
        assert_eq!((cfg.focus.as_str(), cfg.ignore.as_str()), ("old", "old"));
        assert_eq!(current.focus, "old");
    }

    #[test]
    fn tags_filters_are_tag_filters() {
        let (cmd, cfg) = parse("tags a -b").unwrap();
        assert_eq!(cmd, vec!["tags"]);
        assert_eq!((cfg.tagfocus.as_str(), cfg.tagignore.as_str()), ("a", "b"));
        assert_eq!((cfg.focus.as_str(), cfg.ignore.as_str()), ("", ""));
    }

    #[test]
    fn cum_sort() {
        let (_, cfg) = parse("top -cum").unwrap();
        assert_eq!(cfg.sort, "cum");
        let (_, cfg) = parse("tree --cum x").unwrap();
        assert_eq!((cfg.sort.as_str(), cfg.focus.as_str()), ("cum", "x"));
        let (_, cfg) = parse("top ---cum").unwrap();
        assert_eq!((cfg.sort.as_str(), cfg.ignore.as_str()), ("flat", "--cum"));
    }

    #[test]
    fn output_redirection() {
        let (_, cfg) = parse("top >out.txt").unwrap();
        assert_eq!(cfg.output, "out.txt");
        let (_, cfg) = parse("top > out.txt 3").unwrap();
        assert_eq!((cfg.output.as_str(), cfg.nodecount), ("out.txt", 3));
        assert_eq!(parse("top >").unwrap_err(), "unexpected end of line after >");
    }

    #[test]
    fn command_errors() {
        assert_eq!(parse("list").unwrap_err(), "command list requires an argument");
        assert_eq!(parse("peek").unwrap_err(), "command peek requires an argument");
        let (cmd, cfg) = parse("list Hash -cum").unwrap();
        assert_eq!(cmd, vec!["list", "Hash"]);
        assert_eq!(cfg.sort, "cum");
        assert_eq!(parse("bogus").unwrap_err(), "unrecognized command: \"bogus\"");
        assert_eq!(parse("nodecount").unwrap_err(), "did you mean: nodecount=<val>");
        assert_eq!(parse("cum 3").unwrap_err(), "did you mean: cum=3");
        // Choice groups have no help entry, so no suggestion either.
        assert_eq!(parse("sort cum").unwrap_err(), "unrecognized command: \"sort\"");
    }

    #[test]
    fn help_topics() {
        assert_eq!(config_help("compact_labels"), Some("Show minimal headers"));
        assert_eq!(config_help("lines"), Some("Aggregate at the source code line level."));
        assert_eq!(config_help("granularity"), None);
        assert_eq!(config_help("sort"), None);
        assert_eq!(config_help("top"), None);
    }
}
