//! Command-line flags with the rules of Go's `flag` package, which `go tool pprof`
//! uses: one or two dashes, `-flag=value` or `-flag value` (booleans only take
//! `=value`), the last occurrence of a flag wins, `--` ends the flags. One
//! difference: Go stops at the first argument that is not a flag, so that
//! `pprof cpu.pb.gz -top` takes `-top` for a second source; rustprof reads flags
//! after the sources too (a source named like a flag goes after `--`).

use std::collections::HashMap;

use crate::commands::COMMANDS;
use crate::config::{FIELDS, Kind};

/// The type of a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagType {
    /// Boolean.
    Bool,
    /// Integer (Go `strconv.ParseInt` with base prefixes).
    Int,
    /// Float.
    Float,
    /// String.
    Str,
}

/// A parsed flag value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A boolean flag.
    Bool(bool),
    /// An integer flag.
    Int(i64),
    /// A float flag.
    Float(f64),
    /// A string flag.
    Str(String),
}

/// Why parsing stopped.
#[derive(Debug, PartialEq)]
pub enum FlagError {
    /// `-h` or `-help`: print usage, exit 0.
    Help,
    /// `-version`: print the version, exit 0.
    Version,
    /// A bad flag: print the message and usage, exit with failure.
    Bad(String),
}

/// Flags that are not report options or commands.
const SOURCE_FLAGS: &[(&str, FlagType)] = &[
    ("diff_base", FlagType::Str),
    ("base", FlagType::Str),
    ("symbolize", FlagType::Str),
    ("buildid", FlagType::Str),
    ("timeout", FlagType::Int),
    ("add_comment", FlagType::Str),
    ("all_frames", FlagType::Bool),
    ("seconds", FlagType::Int),
    ("inuse_space", FlagType::Bool),
    ("inuse_objects", FlagType::Bool),
    ("alloc_space", FlagType::Bool),
    ("alloc_objects", FlagType::Bool),
    ("total_delay", FlagType::Bool),
    ("contentions", FlagType::Bool),
    ("mean_delay", FlagType::Bool),
    ("tools", FlagType::Str),
    ("http", FlagType::Str),
    ("no_browser", FlagType::Bool),
    ("tls_cert", FlagType::Str),
    ("tls_key", FlagType::Str),
    ("tls_ca", FlagType::Str),
    ("max_profile_size", FlagType::Str),
    ("trace_profile", FlagType::Str),
    ("trace_summary", FlagType::Bool),
];

/// The type of flag `name`, if it is one.
pub fn flag_type(name: &str) -> Option<FlagType> {
    if let Some((_, t)) = SOURCE_FLAGS.iter().find(|(n, _)| *n == name) {
        return Some(*t);
    }
    if let Some(c) = COMMANDS.iter().find(|c| c.name == name) {
        return Some(if c.has_param { FlagType::Str } else { FlagType::Bool });
    }
    for f in FIELDS {
        match f.kind {
            Kind::Choice(choices) if choices.contains(&name) => return Some(FlagType::Bool),
            _ if f.name != name => {}
            Kind::Bool => return Some(FlagType::Bool),
            Kind::Int => return Some(FlagType::Int),
            Kind::Float => return Some(FlagType::Float),
            Kind::Str => return Some(FlagType::Str),
            Kind::Choice(_) => {}
        }
    }
    None
}

/// All flag names (for completion).
pub fn all_flags() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = SOURCE_FLAGS.iter().map(|(n, _)| *n).collect();
    v.extend(COMMANDS.iter().map(|c| c.name));
    for f in FIELDS {
        match f.kind {
            Kind::Choice(choices) => v.extend(choices.iter().copied()),
            _ => v.push(f.name),
        }
    }
    v
}

/// Flags that were set, in order of appearance (later ones win on lookup), and the
/// positional arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `(name, value)` for every flag occurrence.
    pub set: Vec<(String, Value)>,
    /// Arguments after the flags.
    pub args: Vec<String>,
}

impl Parsed {
    /// The last value of flag `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.set.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A string flag's value, or "".
    pub fn str(&self, name: &str) -> String {
        match self.get(name) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// A bool flag's value, or false.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    /// An int flag's value, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            _ => default,
        }
    }

    /// The set flags as a map (last wins).
    pub fn map(&self) -> HashMap<&str, &Value> {
        self.set.iter().map(|(n, v)| (n.as_str(), v)).collect()
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // Underscores are allowed only with a base prefix, between digits.
    if digits.contains('_')
        && (!prefixed || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__"))
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses arguments (without the program name) the way Go's `flag` package does.
pub fn parse(args: &[String]) -> Result<Parsed, FlagError> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.len() < 2 || !a.starts_with('-') {
            p.args.push(a.clone());
            i += 1;
            continue;
        }
        let mut name = &a[1..];
        if let Some(rest) = name.strip_prefix('-') {
            if rest.is_empty() {
                i += 1; // "--" ends the flags
                break;
            }
            name = rest;
        }
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(FlagError::Bad(format!("bad flag syntax: {a}")));
        }
        i += 1;
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let Some(ty) = flag_type(name) else {
            if name == "help" || name == "h" {
                return Err(FlagError::Help);
            }
            if name == "version" {
                return Err(FlagError::Version);
            }
            let hint = match closest_flag(name) {
                Some(f) => format!(" (did you mean -{f}?)"),
                None => String::new(),
            };
            return Err(FlagError::Bad(format!("flag provided but not defined: -{name}{hint}")));
        };
        let value = match ty {
            FlagType::Bool => match inline {
                Some(v) => match crate::config::go_parse_bool(&v) {
                    Some(b) => Value::Bool(b),
                    None => {
                        return Err(FlagError::Bad(format!(
                            "invalid boolean value \"{v}\" for -{name}: parse error"
                        )));
                    }
                },
                None => Value::Bool(true),
            },
            _ => {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        if i >= args.len() {
                            return Err(FlagError::Bad(format!("flag needs an argument: -{name}")));
                        }
                        i += 1;
                        args[i - 1].clone()
                    }
                };
                match ty {
                    FlagType::Int => match parse_go_int(&v) {
                        Some(n) => Value::Int(n),
                        None => {
                            return Err(FlagError::Bad(format!(
                                "invalid value \"{v}\" for flag -{name}: parse error"
                            )));
                        }
                    },
                    FlagType::Float => match v.parse::<f64>() {
                        Ok(f) => Value::Float(f),
                        Err(_) => {
                            return Err(FlagError::Bad(format!(
                                "invalid value \"{v}\" for flag -{name}: parse error"
                            )));
                        }
                    },
                    _ => Value::Str(v),
                }
            }
        };
        p.set.push((name.to_string(), value));
    }
    p.args.extend_from_slice(&args[i..]);
    Ok(p)
}

/// The defined flag nearest to a mistyped one (at most two edits away, or one
/// for names of five characters or fewer), if there is a single nearest.
fn closest_flag(name: &str) -> Option<&'static str> {
    let limit = if name.chars().count() <= 5 { 1 } else { 2 };
    let mut best: Option<(usize, &'static str)> = None;
    let mut tie = false;
    for f in all_flags() {
        let d = edit_distance(name, f);
        if d > limit {
            continue;
        }
        match best {
            Some((bd, bf)) if d == bd && bf != f => tie = true,
            Some((bd, _)) if d >= bd => {}
            _ => {
                best = Some((d, f));
                tie = false;
            }
        }
    }
    if tie { None } else { best.map(|(_, f)| f) }
}

/// Levenshtein distance with adjacent transpositions (`tpo` → `top` is 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn go_flag_rules() {
        let p = parse(&s(&["-top", "--nodecount=12", "-focus", "Hash", "-cum", "file.pb.gz", "--", "-x"]))
            .unwrap();
        assert!(p.bool("top"));
        assert!(p.bool("cum"));
        assert_eq!(p.get("nodecount"), Some(&Value::Int(12)));
        assert_eq!(p.str("focus"), "Hash");
        assert_eq!(p.args, s(&["file.pb.gz", "-x"]));
        // Flags after the sources are flags too; `--` keeps a source named like one.
        let p = parse(&s(&["cpu.pb.gz", "-top", "-nodecount", "3", "b.pb.gz"])).unwrap();
        assert!(p.bool("top"));
        assert_eq!(p.get("nodecount"), Some(&Value::Int(3)));
        assert_eq!(p.args, s(&["cpu.pb.gz", "b.pb.gz"]));
        let p = parse(&s(&["-top", "a", "--", "-b"])).unwrap();
        assert_eq!(p.args, s(&["a", "-b"]));
        let p = parse(&s(&["-peek", "HashPassword$", "f"])).unwrap();
        assert_eq!(p.str("peek"), "HashPassword$");
        assert_eq!(p.args, s(&["f"]));
        let p = parse(&s(&["-trim=false", "--", "-f"])).unwrap();
        assert_eq!(p.get("trim"), Some(&Value::Bool(false)));
        assert_eq!(p.args, s(&["-f"]));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&s(&["-bogus"])).unwrap_err(),
            FlagError::Bad("flag provided but not defined: -bogus".into())
        );
        assert_eq!(
            parse(&s(&["-tpo"])).unwrap_err(),
            FlagError::Bad("flag provided but not defined: -tpo (did you mean -top?)".into())
        );
        assert_eq!(parse(&s(&["--version"])).unwrap_err(), FlagError::Version);
        assert_eq!(parse(&s(&["-h"])).unwrap_err(), FlagError::Help);
        assert_eq!(parse(&s(&["--help"])).unwrap_err(), FlagError::Help);
        assert_eq!(
            parse(&s(&["-focus"])).unwrap_err(),
            FlagError::Bad("flag needs an argument: -focus".into())
        );
        assert_eq!(
            parse(&s(&["-nodecount=abc"])).unwrap_err(),
            FlagError::Bad("invalid value \"abc\" for flag -nodecount: parse error".into())
        );
        assert_eq!(
            parse(&s(&["-trim=maybe"])).unwrap_err(),
            FlagError::Bad("invalid boolean value \"maybe\" for -trim: parse error".into())
        );
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("12"), Some(12));
        assert_eq!(parse_go_int("-3"), Some(-3));
        assert_eq!(parse_go_int("0x10"), Some(16));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("1_000"), None);
        assert_eq!(parse_go_int("0x1_0"), Some(16));
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("abc"), None);
    }
}
