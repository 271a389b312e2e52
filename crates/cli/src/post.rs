//! Delivering a report: to stdout, to `-output`, to a numbered file when binary
//! output would go to a terminal, through graphviz `dot` for images, or to a
//! viewer or browser.

use std::io::Write;
use std::process::{Command as Proc, Stdio};

use crate::commands::{Command, Format, Post};
use crate::driver::Ui;

/// Creates `<dir><prefix>NNN<suffix>` with the first free NNN (001..9999).
pub fn new_temp_file(dir: &str, prefix: &str, suffix: &str) -> Result<(std::fs::File, String), String> {
    for index in 1..10000 {
        let path = format!("{dir}{prefix}{index:03}{suffix}");
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("could not create file of the form {dir}{prefix}NNN{suffix}: {e}")),
        }
    }
    Err(format!("could not create file of the form {dir}{prefix}NNN{suffix}"))
}

/// The error of a missing or failing `dot`, as pprof words it, plus what to do.
fn dot_error(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        return "failed to execute dot. Is Graphviz installed? Error: exec: \"dot\": executable file not found in $PATH; install the graphviz package".into();
    }
    format!("failed to execute dot. Is Graphviz installed? Error: {}", crate::fetch::go_io_error(e))
}

/// Runs graphviz `dot -T<format>` on DOT text.
pub fn run_dot(dot: &[u8], format: &str) -> Result<Vec<u8>, String> {
    run_dot_limited(dot, format, None)
}

/// [`run_dot`], killing `dot` after `limit` (graphviz can take minutes on a
/// huge graph; the web UI must answer).
pub fn run_dot_limited(
    dot: &[u8],
    format: &str,
    limit: Option<std::time::Duration>,
) -> Result<Vec<u8>, String> {
    let mut child = Proc::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| dot_error(&e))?;
    let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("failed to execute dot. Is Graphviz installed? Error: no pipes".into());
    };
    // Feed stdin and drain stdout from threads so that neither pipe can block.
    let data = dot.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).map(|_| out)
    });
    let deadline = limit.map(|l| std::time::Instant::now() + l);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(dot_error(&e)),
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            let secs = limit.map_or(0, |l| l.as_secs());
            return Err(format!(
                "dot did not finish within {secs}s: the graph is too large to draw; show fewer nodes (nodecount)"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let _ = writer.join();
    let out = reader
        .join()
        .map_err(|_| "failed to execute dot: reading its output failed".to_string())?
        .map_err(|e| format!("failed to execute dot: reading its output: {e}"))?;
    if !status.success() {
        let why = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        return Err(format!("failed to execute dot. Is Graphviz installed? Error: {why}"));
    }
    Ok(out)
}

fn away_from_tty(data: &[u8], ext: &str, ui: &mut dyn Ui) -> Result<(), String> {
    if ui.is_terminal() || ui.interactive() {
        let (mut f, name) = new_temp_file("", "profile", &format!(".{ext}"))?;
        ui.print_err(&format!("Generating report in {name}"));
        f.write_all(data).map_err(|e| format!("{name}: {e}"))?;
        return Ok(());
    }
    write_stdout(data)
}

fn write_stdout(data: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error for the user.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing output: {e}")),
    }
}

/// Programs that open a file or URL in a web browser, in the order tried:
/// `$BROWSER` (a `:`-separated list, `%s` standing for the target), the
/// desktop's opener, then browsers by name. For files (`-web`) browsers come
/// before the desktop's opener, which might pick an image viewer for an SVG.
/// Without a display (Linux, BSD) only `$BROWSER` is tried.
pub fn browsers_for(file: bool) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Ok(b) = std::env::var("BROWSER") {
        v.extend(b.split(':').filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_string()));
    }
    if cfg!(target_os = "macos") {
        v.push("/usr/bin/open".into());
        return v;
    }
    if cfg!(windows) {
        v.push("cmd /c start".into());
        return v;
    }
    let display =
        ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|k| std::env::var_os(k).is_some_and(|d| !d.is_empty()));
    if !display {
        return v;
    }
    let named = ["google-chrome", "chrome", "chromium", "firefox"];
    if file {
        v.extend(named.iter().map(|s| s.to_string()));
        v.extend(["sensible-browser", "xdg-open"].iter().map(|s| s.to_string()));
    } else {
        v.extend(["xdg-open", "sensible-browser"].iter().map(|s| s.to_string()));
        v.extend(named.iter().map(|s| s.to_string()));
    }
    v
}

/// Browsers for `-web` (a file).
pub fn browsers() -> Vec<String> {
    browsers_for(true)
}

/// Opens `target` with the first viewer that starts and does not fail within
/// a second; false when none did.
pub fn open_with(viewers: &[String], target: &str) -> bool {
    for v in viewers {
        let mut parts: Vec<String> = v.split_whitespace().map(str::to_string).collect();
        if parts.is_empty() {
            continue;
        }
        if parts.iter().any(|p| p.contains("%s")) {
            for p in parts.iter_mut() {
                *p = p.replace("%s", target);
            }
        } else {
            parts.push(target.to_string());
        }
        let Ok(mut child) = Proc::new(&parts[0])
            .args(&parts[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            continue;
        };
        // A viewer that cannot run here (no display...) exits at once with an error.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let failed = loop {
            match child.try_wait() {
                Ok(Some(status)) => break !status.success(),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                _ => break false,
            }
        };
        if failed {
            continue;
        }
        // Reap it whenever it ends.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        return true;
    }
    false
}

fn visualize(data: &[u8], suffix: &str, viewers: &[String], ui: &mut dyn Ui) -> Result<(), String> {
    let dir = std::env::temp_dir().to_string_lossy().into_owned();
    let (mut f, name) = new_temp_file(&format!("{dir}/"), "pprof", &format!(".{suffix}"))?;
    f.write_all(data).map_err(|e| format!("{name}: {e}"))?;
    if !open_with(viewers, &name) {
        ui.print_err(&format!("No viewer could be started; the report is in {name}"));
    }
    Ok(())
}

/// Writes a report produced incrementally by `produce` to `-output` or stdout.
pub fn stream(
    output: &str,
    ui: &mut dyn Ui,
    produce: &mut dyn FnMut(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    if !output.is_empty() {
        ui.print_err(&format!("Generating report in {output}"));
        let f = std::fs::File::create(output)
            .map_err(|e| format!("open {output}: {}", crate::fetch::go_io_error(&e)))?;
        let mut w = rustprof_profile::UnescapeWriter::new(std::io::BufWriter::with_capacity(1 << 16, f));
        produce(&mut w)?;
        return w.flush().map_err(|e| format!("{output}: {e}"));
    }
    let stdout = std::io::stdout();
    let mut w =
        rustprof_profile::UnescapeWriter::new(std::io::BufWriter::with_capacity(1 << 16, stdout.lock()));
    match produce(&mut w).and_then(|_| w.flush().map_err(|e| e.to_string())) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error for the user.
        Err(e) if e.contains("Broken pipe") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sends a generated report where it belongs.
pub fn deliver(c: &Command, out: Vec<u8>, output: &str, ui: &mut dyn Ui) -> Result<(), String> {
    // Text gets the profile's bytes back, as pprof prints them (strings that are
    // not UTF-8 are held escaped, see rustprof_profile::escape_bytes); gzip
    // profiles are bytes already, and HTML stays UTF-8.
    let out = match c.format {
        Format::Proto | Format::TopProto => out,
        Format::Flame | Format::WebList => match String::from_utf8(out) {
            Ok(s) => rustprof_profile::escapes_to_replacement(&s).into_owned().into_bytes(),
            Err(e) => e.into_bytes(),
        },
        _ => rustprof_profile::unescape_vec(out),
    };
    let data = match c.post {
        Post::Dot(fmt) => run_dot(&out, fmt)?,
        Post::Svg | Post::Web => crate::svg::massage(&run_dot(&out, "svg")?),
        Post::Viewer(fmt, _) => run_dot(&out, fmt)?,
        _ => out,
    };
    if !output.is_empty() {
        ui.print_err(&format!("Generating report in {output}"));
        return std::fs::write(output, &data)
            .map_err(|e| format!("open {output}: {}", crate::fetch::go_io_error(&e)));
    }
    match c.post {
        Post::None => write_stdout(&data),
        Post::AwayFromTty(ext) => away_from_tty(&data, ext, ui),
        Post::Dot(fmt) => away_from_tty(&data, fmt, ui),
        Post::Svg => away_from_tty(&data, "svg", ui),
        Post::Web => {
            let dir = std::env::temp_dir().to_string_lossy().into_owned();
            let (mut f, name) = new_temp_file(&format!("{dir}/"), "pprof", ".svg")?;
            f.write_all(&data).map_err(|e| format!("{name}: {e}"))?;
            if !open_with(&browsers(), &name) {
                ui.print_err(&format!("No browser could be started; open {name}"));
            }
            Ok(())
        }
        Post::Viewer(fmt, prog) => visualize(&data, fmt, &[prog.to_string()], ui),
        Post::Kcachegrind => visualize(&data, "grind", &["kcachegrind".to_string()], ui),
        Post::Browser(ext) => visualize(&data, ext, &browsers(), ui),
    }
}
