//! Delivering a report: to stdout, to `-output`, to a numbered file when binary
//! output would go to a terminal, through graphviz `dot` for images, or to a
//! viewer or browser.

use std::io::Write;
use std::process::{Command as Proc, Stdio};

use crate::commands::{Command, Post};
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

/// Runs graphviz `dot -T<format>` on DOT text.
pub fn run_dot(dot: &[u8], format: &str) -> Result<Vec<u8>, String> {
    let mut child = Proc::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("failed to execute dot. Is Graphviz installed? Error: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = dot.to_vec();
        // Feed stdin from a thread so a large output cannot deadlock the pipe.
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("failed to execute dot. Is Graphviz installed? Error: {e}"))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(format!("failed to execute dot. Is Graphviz installed? Error: {}", out.status));
        }
        return Ok(out.stdout);
    }
    Err("failed to execute dot. Is Graphviz installed? Error: no stdin".into())
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

/// Browsers tried for `-web` and `-http`, as pprof does.
pub fn browsers() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(b) = std::env::var("BROWSER")
        && !b.is_empty()
    {
        v.push(b);
    }
    for b in ["chrome", "google-chrome", "chromium", "firefox", "sensible-browser"] {
        v.push(b.to_string());
    }
    if std::env::var_os("DISPLAY").is_some() {
        v.push("xdg-open".to_string());
    }
    v
}

/// Opens `path` with the first viewer that starts; false when none did.
pub fn open_with(viewers: &[String], path: &str) -> bool {
    for v in viewers {
        let mut parts = v.split(' ');
        let Some(prog) = parts.next() else { continue };
        let args: Vec<&str> = parts.collect();
        if Proc::new(prog).args(&args).arg(path).stdout(Stdio::null()).stderr(Stdio::null()).spawn().is_ok() {
            return true;
        }
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
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        produce(&mut w)?;
        return w.flush().map_err(|e| format!("{output}: {e}"));
    }
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match produce(&mut w).and_then(|_| w.flush().map_err(|e| e.to_string())) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error for the user.
        Err(e) if e.contains("Broken pipe") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sends a generated report where it belongs.
pub fn deliver(c: &Command, out: Vec<u8>, output: &str, ui: &mut dyn Ui) -> Result<(), String> {
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
