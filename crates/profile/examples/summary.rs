//! Prints a summary of a profile: sample types and totals, counts of each table,
//! and the functions with the largest flat value of the default sample type.
//!
//! `cargo run -p rustprof-profile --example summary -- FILE [N]`

use std::collections::HashMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: summary FILE [N]");
        return ExitCode::from(2);
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("summary: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let p = match rustprof_profile::decode(&data) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("summary: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let totals = p.totals();
    println!("File: {path}");
    for (i, vt) in p.sample_types.iter().enumerate() {
        println!("Type: {}/{} total {}", p.str(vt.ty), p.str(vt.unit), totals[i]);
    }
    println!(
        "{} samples, {} locations, {} functions, {} mappings",
        p.samples.len(),
        p.locations.len(),
        p.functions.len(),
        p.mappings.len()
    );
    let si = p.default_sample_index();
    let mut flat: HashMap<&str, i64> = HashMap::new();
    for s in p.samples.iter() {
        if let Some(&leaf) = s.locations.first()
            && let Some(line) = p.location_lines(leaf).first()
        {
            *flat.entry(p.str(p.functions[line.function as usize].name)).or_default() += s.values[si];
        }
    }
    let mut rows: Vec<_> = flat.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let vt = p.sample_types[si];
    println!("Top {n} functions by flat {}/{}:", p.str(vt.ty), p.str(vt.unit));
    for (name, v) in rows.into_iter().take(n) {
        let pct = if totals[si] != 0 { 100.0 * v as f64 / totals[si] as f64 } else { 0.0 };
        println!("{v:>16} {pct:6.2}%  {name}");
    }
    ExitCode::SUCCESS
}
