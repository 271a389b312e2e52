//! `rustprof`: analyze pprof profiles like `go tool pprof`.

fn main() {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    std::process::exit(rustprof_cli::run(args));
}
