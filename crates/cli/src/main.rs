//! `rustprof`: analyze pprof profiles like `go tool pprof`.

fn main() {
    out_of_memory::exit_cleanly();
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    std::process::exit(rustprof_cli::run(args));
}

/// A failed allocation ends the analyzer with one line and exit status 1, as
/// every other error does, not with `SIGABRT` and a core dump.
///
/// The decoder reserves its tables with `try_reserve` and refuses what does not
/// fit (`-max_profile_size`); an allocation that fails anywhere else goes
/// through the standard library's handler, which prints `memory allocation of N
/// bytes failed` and calls `abort`. Stable Rust cannot replace that handler, so
/// the `SIGABRT` it raises is caught here and turned into a plain exit.
mod out_of_memory {
    /// Installs the `SIGABRT` handler.
    pub(crate) fn exit_cleanly() {
        // SAFETY: installs a handler that only calls async-signal-safe functions
        // (write, _exit); the sigaction struct is fully initialized.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_abort as *const () as usize;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGABRT, &act, std::ptr::null_mut());
        }
    }

    extern "C" fn on_abort(_sig: libc::c_int) {
        const MSG: &[u8] = b"rustprof: aborted (see the line above); a profile too large for this machine \
is refused early with -max_profile_size\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(1);
        }
    }
}
