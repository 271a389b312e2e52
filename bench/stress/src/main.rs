//! `rustprof-stress`: issue 13's stress campaign as a program. Every profiler
//! at once on 32 threads (CPU at 1 kHz restarted every 5 s, heap sampling
//! switching between 4 KiB and every allocation, block and mutex profiles at
//! rate 1, thread churn, libraries loaded and unloaded, HTTP clients fetching
//! every `/debug/pprof` endpoint) in a child process that a supervisor
//! watches for crashes, hangs and RSS growth.
//!
//! ```text
//! cargo run --release -p rustprof-stress -- --minutes 10
//! ```
//!
//! Exits 0 when the run passed, 1 when it failed (a crash, a hang, failed
//! requests beyond the budget, RSS growth over 50 MB after warm-up), 2 on a
//! bad command line.

mod cli;
mod report;
mod supervisor;
mod workload;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<std::alloc::System> = rustprof::heap::Sampled::new(std::alloc::System);

fn main() {
    let mode = match cli::parse(std::env::args().skip(1)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("rustprof-stress: {e}");
            std::process::exit(2);
        }
    };
    match mode {
        cli::Mode::Help => println!("{}", cli::USAGE),
        cli::Mode::Child(d) => std::process::exit(workload::run(d)),
        cli::Mode::Supervise(d) => {
            let summary = supervisor::supervise(d);
            println!("{}", summary.render());
            std::process::exit(if summary.failures().is_empty() { 0 } else { 1 });
        }
    }
}
