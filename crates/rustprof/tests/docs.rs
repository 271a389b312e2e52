//! The repository's documents point only at what a fresh clone has: every
//! relative link (and every `../` path) in README.md, BENCHMARKS.md and the
//! crates' READMEs resolves to a file or directory inside the repository, and
//! so do the `../` paths of the benchmark scripts they tell you to run.
#![allow(clippy::unwrap_used)]

use std::path::{Component, Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Markdown link targets: `[text](target)` and `[text]: target`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        if let Some(end) = after.find(')') {
            out.push(after[..end].trim().to_string());
        }
        rest = after;
    }
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some((_, target)) = t.split_once("]: ")
        {
            out.push(target.trim().to_string());
        }
    }
    out
}

/// Tokens that are paths climbing out of their directory (`../x`).
fn parent_paths(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "`'\"()[]<>,;".contains(c))
        .filter(|t| t.starts_with("../"))
        .map(|t| t.trim_end_matches(['.', ':']).to_string())
        .collect()
}

/// `base/rel` without `..` resolved through the file system (the target may
/// not exist): whether it stays inside `root`.
fn inside(root: &Path, base: &Path, rel: &str) -> Option<PathBuf> {
    let mut p = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::ParentDir => {
                p.pop();
            }
            Component::Normal(s) => p.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    p.starts_with(root).then_some(p)
}

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let readme = entry.path().join("README.md");
        if readme.is_file() {
            docs.push(readme);
        }
    }
    docs
}

fn problems(root: &Path, file: &Path, text: &str, markdown: bool) -> Vec<String> {
    let base = file.parent().unwrap();
    let mut bad = Vec::new();
    let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
    if markdown {
        for l in links(text) {
            let target = l.split(['#', ' ']).next().unwrap_or("");
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            match inside(root, base, target) {
                Some(p) if p.exists() => {}
                Some(p) => bad.push(format!("{shown}: link {l:?}: {} does not exist", p.display())),
                None => bad.push(format!("{shown}: link {l:?} leaves the repository")),
            }
        }
    }
    for p in parent_paths(text) {
        // Scripts `cd` to the repository's root first; documents are read
        // from their own directory.
        let from = if markdown { base } else { root };
        if inside(root, from, &p).is_none() {
            bad.push(format!("{shown}: path {p:?} leaves the repository"));
        }
    }
    bad
}

#[test]
fn documents_stay_inside_the_repository() {
    let root = repo();
    let mut bad = Vec::new();
    for doc in documents(&root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        bad.extend(problems(&root, &doc, &text, true));
    }
    for entry in std::fs::read_dir(root.join("bench")).unwrap().flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "sh") {
            let text = std::fs::read_to_string(&p).unwrap();
            bad.extend(problems(&root, &p, &text, false));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The checker itself finds what it must (so that the test above can fail).
#[test]
fn the_checker_finds_bad_links() {
    let root = repo();
    let readme = root.join("README.md");
    let text = "see [design](../shared/DESIGN.md), [gone](nope.md), [ok](BENCHMARKS.md), \
                [web](https://example.com/x), [anchor](#heap), run `python3 ../shared/tools/x.py`";
    let bad = problems(&root, &readme, text, true);
    assert_eq!(bad.len(), 4, "{bad:#?}");
    assert!(bad[0].contains("../shared/DESIGN.md") && bad[0].contains("leaves the repository"));
    assert!(bad[1].contains("nope.md") && bad[1].contains("does not exist"));
    assert!(bad.iter().any(|b| b.contains("path \"../shared/tools/x.py\"")));
    assert_eq!(links("[a]: crates/x\n"), vec!["crates/x".to_string()]);
}
