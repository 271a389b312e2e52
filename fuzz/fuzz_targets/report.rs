//! Fuzz the report path: the input's first byte picks a report and options, the
//! rest is split at NUL bytes into the names (functions, files, labels, the
//! filter regexps) of a small profile built from them — or, when it decodes, is a
//! profile itself. Every report must return Ok or Err, never panic.
//!
//! `cargo +nightly fuzz run report`
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustprof_cli::driver::{self, BufferUi};
use rustprof_profile::{Line, Profile, ProfileBuilder};

const COMMANDS: &[&str] = &[
    "top", "tree", "peek", "traces", "raw", "tags", "dot", "callgrind", "proto", "topproto", "comments", "list",
    "flame",
];
const FLAGS: &[&str] = &["focus", "ignore", "hide", "show", "show_from", "prune_from", "tagfocus", "tagshow"];
const GRAN: &[&str] = &["functions", "filefunctions", "files", "lines", "addresses"];

fn build(names: &[&str]) -> Profile {
    let n = |i: usize| names.get(i % names.len().max(1)).copied().unwrap_or("");
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.frames_filter(n(7), "");
    b.comment(n(8));
    let funcs: Vec<u32> = (0..names.len().clamp(1, 8)).map(|i| b.add_function(n(i), n(i + 1), n(i + 2), 1)).collect();
    let locs: Vec<u32> = (0..funcs.len())
        .map(|i| b.add_location(None, 16 * i as u64 + 16, &[Line { function: funcs[i], line: i as i64, column: 0 }], false))
        .collect();
    for i in 0..locs.len() {
        let label = b.label_str(n(i + 3), n(i + 4));
        let stack: Vec<u32> = locs[i..].to_vec();
        b.add_sample(&stack, &[i as i64 + 1, 10], &[label]);
    }
    b.build()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let p = match rustprof_profile::decode(rest) {
        Ok(p) => p,
        Err(_) => {
            let text = String::from_utf8_lossy(rest);
            let names: Vec<&str> = text.split('\0').collect();
            build(&names)
        }
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let names: Vec<&str> = text.split('\0').collect();
    let cmd = COMMANDS[sel as usize % COMMANDS.len()];
    let mut args = vec![match cmd {
        "list" | "peek" => format!("-{cmd}={}", names.first().copied().unwrap_or(".")),
        _ => format!("-{cmd}"),
    }];
    let flag = FLAGS[(sel as usize / COMMANDS.len()) % FLAGS.len()];
    if let Some(v) = names.get(1) {
        args.push(format!("-{flag}={v}"));
    }
    args.push(format!("-{}", GRAN[(sel as usize >> 5) % GRAN.len()]));
    args.push("-symbolize=none".into());
    args.push("fuzz".into());
    let Ok((source, Some(cmd), cfg)) = driver::parse_flags(&args) else { return };
    let fetcher = move |_: &str, _: &driver::Source, _: &mut dyn driver::Ui| -> Result<(Profile, bool), String> {
        Ok((p.clone(), false))
    };
    let mut ui = BufferUi::default();
    let Ok(fetched) = rustprof_cli::fetch::fetch_profiles(&source, &fetcher, &mut ui) else { return };
    let p = rustprof_profile::compact(&fetched.profile);
    if let Ok((_, mut rpt)) = driver::generate_raw_report(p, &cmd, &cfg, &mut ui) {
        let _ = rustprof_cli::report::generate(&mut rpt);
    }
});
