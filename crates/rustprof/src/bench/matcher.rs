//! Which benchmarks `-bench` selects, and the names of sub-benchmarks: Go's
//! rules.
//!
//! The pattern is split at the slashes and bars that are outside brackets and
//! parentheses: `A/B|C` is "`A` at the first level and `B` at the second, or
//! `C` at the first". Each element is an unanchored regular expression matched
//! against the element of the benchmark's name at the same level; a name with
//! fewer levels than the pattern matches partially (its sub-benchmarks run, it
//! is not measured itself).

use std::collections::HashMap;

use regex::Regex;

/// A compiled `-bench` pattern.
pub(crate) struct Matcher {
    alternatives: Vec<Vec<Regex>>,
}

impl Matcher {
    /// Compiles `pattern`; the error reads like Go's (`element 0 of -bench
    /// ("["): ...`).
    pub(crate) fn new(pattern: &str, flag: &str) -> Result<Matcher, String> {
        let split = split_pattern(pattern);
        let several = split.len() > 1;
        let mut alternatives = Vec::with_capacity(split.len());
        for (a, elements) in split.iter().enumerate() {
            let mut compiled = Vec::with_capacity(elements.len());
            for (i, element) in elements.iter().enumerate() {
                let element = rewrite(element);
                match Regex::new(&element) {
                    Ok(re) => compiled.push(re),
                    Err(e) => {
                        let what = format!("element {i} of {flag} ({element:?}): {}", one_line(&e));
                        return Err(if several { format!("alternation {a} of {what}") } else { what });
                    }
                }
            }
            alternatives.push(compiled);
        }
        Ok(Matcher { alternatives })
    }

    /// Whether the full name `name` (levels separated by `/`) matches, and
    /// whether only partially (the pattern has more levels than the name).
    pub(crate) fn matches(&self, name: &str) -> (bool, bool) {
        let levels: Vec<&str> = name.split('/').collect();
        for elements in &self.alternatives {
            let ok = levels.iter().zip(elements).all(|(level, re)| re.is_match(level));
            if ok {
                return (true, levels.len() < elements.len());
            }
        }
        (false, false)
    }
}

/// The last line of a regex error, without its `error: ` prefix.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid regexp");
    last.trim().trim_start_matches("error: ").to_owned()
}

/// Splits a pattern into alternatives of per-level elements.
fn split_pattern(s: &str) -> Vec<Vec<String>> {
    let mut alternatives = Vec::new();
    let mut elements = Vec::new();
    let mut current = String::new();
    let (mut brackets, mut parens) = (0usize, 0i64);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            '(' if brackets == 0 => parens += 1,
            ')' if brackets == 0 => parens -= 1,
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '/' if brackets == 0 && parens == 0 => {
                elements.push(std::mem::take(&mut current));
                continue;
            }
            '|' if brackets == 0 && parens == 0 => {
                elements.push(std::mem::take(&mut current));
                alternatives.push(std::mem::take(&mut elements));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    elements.push(current);
    alternatives.push(elements);
    alternatives
}

/// Go's white space for names (not quite Unicode's).
fn is_go_space(c: char) -> bool {
    let r = c as u32;
    if r < 0x2000 {
        matches!(r, 0x09 | 0x0a | 0x0b | 0x0c | 0x0d | 0x20 | 0x85 | 0xa0 | 0x1680)
    } else {
        r <= 0x200a || matches!(r, 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000)
    }
}

/// A name as Go prints it: white space becomes `_`, other unprintable
/// characters their escapes.
pub(crate) fn rewrite(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_go_space(c) {
            out.push('_');
        } else if c.is_control() || matches!(c as u32, 0xad | 0xfeff | 0xfff9..=0xfffb) {
            let r = c as u32;
            if r < 0x80 {
                out.push_str(&format!("\\x{r:02x}"));
            } else if r <= 0xffff {
                out.push_str(&format!("\\u{r:04x}"));
            } else {
                out.push_str(&format!("\\U{r:08x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The names of sub-benchmarks given so far: a repeated name gets `#01`,
/// `#02`... as in Go.
#[derive(Default)]
pub(crate) struct Names {
    seen: HashMap<String, u32>,
}

impl Names {
    /// The unique full name of `sub` (already rewritten) under `parent`.
    pub(crate) fn unique(&mut self, parent: &str, sub: &str) -> String {
        let base = format!("{parent}/{sub}");
        loop {
            let n = self.seen.get(&base).copied().unwrap_or(0);
            self.seen.insert(base.clone(), n + 1);
            if n == 0 && !sub.is_empty() {
                // An explicit "x#01" must not take the name of the second "x".
                let (prefix, nn) = split_number(&base);
                if prefix.len() < base.len() && nn < self.seen.get(prefix).copied().unwrap_or(0) {
                    continue;
                }
                return base;
            }
            let name = format!("{base}#{n:02}");
            if self.seen.get(&name).copied().unwrap_or(0) != 0 {
                continue;
            }
            return name;
        }
    }
}

/// Splits `name#NN` (as `#{:02}` writes it) into `name` and NN; a name without
/// such a suffix is returned whole, with 0.
fn split_number(s: &str) -> (&str, u32) {
    let Some(i) = s.rfind('#') else { return (s, 0) };
    let (prefix, suffix) = (&s[..i], &s[i + 1..]);
    if suffix.len() < 2 || (suffix.len() > 2 && suffix.starts_with('0')) {
        return (s, 0);
    }
    if suffix == "00" && !prefix.ends_with('/') {
        return (s, 0);
    }
    match suffix.parse::<u32>() {
        Ok(n) if suffix.bytes().all(|b| b.is_ascii_digit()) && n <= i32::MAX as u32 => (prefix, n),
        _ => (s, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str) -> Matcher {
        Matcher::new(p, "-bench").unwrap()
    }

    #[test]
    fn levels_and_alternatives() {
        assert_eq!(m(".").matches("BenchmarkA"), (true, false));
        assert_eq!(m(".").matches("BenchmarkA/x"), (true, false));
        assert_eq!(m("Hash$").matches("BenchmarkHashPassword"), (false, false));
        assert_eq!(m("Password$").matches("BenchmarkHashPassword"), (true, false));
        assert_eq!(m("A/x").matches("BenchmarkA"), (true, true));
        assert_eq!(m("A/x").matches("BenchmarkA/x=1"), (true, false));
        assert_eq!(m("A/x").matches("BenchmarkA/y"), (false, false));
        assert_eq!(m("A/x|Zed").matches("BenchmarkZed/anything"), (true, false));
        assert_eq!(m("A/x|Zed").matches("BenchmarkA/x"), (true, false));
        assert_eq!(m("A/x|Zed").matches("BenchmarkA/y"), (false, false));
        assert_eq!(m("A/x|Zed").matches("BenchmarkC"), (false, false));
        // Elements are unanchored: "B" is in every benchmark's name.
        assert_eq!(m("B").matches("BenchmarkC"), (true, false));
        // Slashes and bars inside groups and classes do not split.
        assert_eq!(m("(A|B)C").matches("BenchmarkBC"), (true, false));
        assert_eq!(m("[/]").matches("BenchmarkA"), (false, false));
        assert_eq!(m(r"A\/").matches("BenchmarkA"), (false, false));
        // White space in a pattern matches the `_` it became in names.
        assert_eq!(m("X/a b").matches("BenchmarkX/a_b"), (true, false));
    }

    #[test]
    fn bad_patterns_say_which_element() {
        let e = Matcher::new("A/[", "-bench").err().unwrap();
        assert!(e.starts_with("element 1 of -bench (\"[\"): "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Matcher::new("A|(", "-bench").err().unwrap();
        assert!(e.starts_with("alternation 1 of element 0 of -bench (\"(\"): "), "{e}");
    }

    #[test]
    fn sub_benchmark_names() {
        let mut n = Names::default();
        assert_eq!(n.unique("BenchmarkA", "x"), "BenchmarkA/x");
        assert_eq!(n.unique("BenchmarkA", "x"), "BenchmarkA/x#01");
        assert_eq!(n.unique("BenchmarkA", "x"), "BenchmarkA/x#02");
        assert_eq!(n.unique("BenchmarkA", ""), "BenchmarkA/#00");
        assert_eq!(n.unique("BenchmarkA", ""), "BenchmarkA/#01");
        // An explicit x#01 after x: the next x skips it.
        let mut n = Names::default();
        assert_eq!(n.unique("B", "x"), "B/x");
        assert_eq!(n.unique("B", "x#01"), "B/x#01");
        assert_eq!(n.unique("B", "x"), "B/x#02");
        assert_eq!(rewrite("a b\tc"), "a_b_c");
        assert_eq!(rewrite("a\u{1}b"), "a\\x01b");
    }
}
