//! Fetching profiles over HTTP and HTTPS (pprof's `fetchURL`), remote
//! symbolization through a server's `/debug/pprof/symbol` (pprof's
//! `symbolz`), and saving fetched profiles under `$PPROF_TMPDIR` or `~/pprof/`.
//!
//! The HTTP client is `client`; its TLS (rustls: system roots, `-tls_ca`,
//! `-tls_cert`/`-tls_key`, `https+insecure`) is [`tls`].

mod client;
pub mod tls;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustprof_profile::{Function, Line, Profile};

use crate::driver::{Source, Ui};
use client::parse_target;
pub use client::{Response, TOKEN_ENV, request};

/// pprof's `statusCodeError`: the server's text when it is a pprof endpoint's.
fn status_error(r: &Response) -> String {
    let status = format!("{} {}", r.status, r.reason);
    if r.header("X-Go-Pprof").is_some_and(|v| !v.is_empty())
        && r.header("Content-Type").is_some_and(|v| v.contains("text/plain"))
    {
        return format!("server response: {status} - {}", error_body(&r.body));
    }
    if r.status == 404 {
        // pprof's words, then the likely cause.
        return format!("server response: {status} (no pprof handler at this path: is it a pprof server?)");
    }
    format!("server response: {status}")
}

/// Lines of a server's error text shown in full; a longer text is cut.
const ERROR_LINES: usize = 20;
/// Bytes of a server's error text shown in full.
const ERROR_BYTES: usize = 4096;

/// The server's error text as pprof shows it (whole) when it is short; else its
/// first lines and its size, so that a huge body does not flood the terminal.
fn error_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lines = text.lines().count();
    if lines <= ERROR_LINES && body.len() <= ERROR_BYTES {
        return text.into_owned();
    }
    let mut out = String::new();
    for line in text.lines().take(ERROR_LINES) {
        if out.len() + line.len() > ERROR_BYTES {
            let mut cut = ERROR_BYTES.saturating_sub(out.len()).min(line.len());
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&line[..cut]);
            out.push_str("...\n");
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!(
        "[... the server's message has {} in {lines} lines; the first lines are shown]",
        crate::measurement::scaled_label(body.len() as i64, "bytes", "auto")
    ));
    out
}

/// The duration the server will sample for: `-seconds`, or the URL's `seconds`.
fn sampling_seconds(url: &str, s: &Source) -> i64 {
    if s.seconds > 0 {
        return s.seconds;
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("seconds="))
        .filter_map(|v| v.parse::<i64>().ok())
        .next()
        .unwrap_or(0)
}

/// A progress bar on stderr while the server samples (when the UI allows).
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(seconds: i64) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let thread = (seconds > 0).then(|| {
            let done = done.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let total = Duration::from_secs(seconds as u64);
                const WIDTH: usize = 30;
                while !done.load(Ordering::Relaxed) {
                    let el = start.elapsed().min(total);
                    let filled = (el.as_secs_f64() / total.as_secs_f64() * WIDTH as f64) as usize;
                    let left = total.saturating_sub(el).as_secs_f64().ceil() as u64;
                    let msg = if el >= total { "receiving".to_string() } else { format!("{left}s left") };
                    eprint!("\r[{}{}] {msg}\x1b[K", "=".repeat(filled), " ".repeat(WIDTH - filled));
                    std::thread::sleep(Duration::from_millis(200));
                }
                eprint!("\r\x1b[K");
            })
        });
        Progress { done, thread }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Fetches a profile from `url` within `timeout` (pprof's `fetchURL`
/// and the messages its `fetch` prints).
pub fn fetch_url(url: &str, timeout: Duration, s: &Source, ui: &mut dyn Ui) -> Result<Profile, String> {
    ui.print(&format!("Fetching profile over HTTP from {url}"));
    if s.seconds > 0 {
        ui.print(&format!("Please wait... ({}s)", s.seconds));
    }
    let resp = {
        let _bar = Progress::start(if ui.progress_bars() { sampling_seconds(url, s) } else { 0 });
        request("GET", url, None, timeout)?
    };
    if resp.status != 200 {
        return Err(status_error(&resp));
    }
    // As a file: profile.proto, else the legacy formats (`?debug=1` texts).
    crate::fetch::decode_profile(&resp.body)
}

/// A source a mapping came from: the URL, and the mapping's start when fetched
/// (pprof's `MappingSources`).
#[derive(Clone, Debug)]
pub struct MappingSource {
    /// The fetched URL.
    pub url: String,
    /// The mapping's start address in that profile.
    pub start: u64,
}

/// Mapping key → where it was fetched from.
pub type MappingSources = Vec<(String, MappingSource)>;

/// pprof's `collectMappingSources`: records the URL of each mapping of a
/// fetched profile under its build ID or file name; a mapping with neither
/// takes the URL as its file so it can be symbolized remotely.
pub fn collect_mapping_sources(p: &mut Profile, url: &str, out: &mut MappingSources) {
    for mi in 0..p.mappings.len() {
        let m = p.mappings[mi];
        let mut key = p.str(m.build_id).to_string();
        if key.is_empty() {
            key = p.str(m.filename).to_string();
        }
        if key.is_empty() {
            p.mappings[mi].filename = p.strings.intern(url);
            key = url.to_string();
        }
        out.push((key, MappingSource { url: url.to_string(), start: m.memory_start }));
    }
}

/// pprof's `symbolz`: the symbol endpoint of the server `source` came from.
pub fn symbol_url(source: &str) -> Option<String> {
    let t = parse_target(source).ok()?;
    let path = t.path.split('?').next().unwrap_or("");
    let new_path = match path.find("/debug/pprof/") {
        // All of net/http/pprof's paths contain /debug/pprof/.
        Some(i) => format!("{}/debug/pprof/symbol", &path[..i]),
        None => "/symbolz".to_string(),
    };
    let host = if t.host.contains(':') { format!("[{}]", t.host) } else { t.host.clone() };
    Some(format!("{}://{host}:{}{new_path}", t.scheme.name(), t.port))
}

/// A mapping pprof never symbolizes (`Mapping.Unsymbolizable`).
fn unsymbolizable(file: &str) -> bool {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.starts_with('[')
        || base.starts_with("linux-vdso")
        || file.starts_with("/dev/dri/")
        || file == "//anon"
}

/// pprof's `symbolz.Symbolize`: resolves the addresses of locations without
/// lines through the symbol endpoint of the server each mapping came from.
pub fn symbolize_remote(p: &mut Profile, force: bool, sources: &MappingSources, ui: &mut dyn Ui) {
    for mi in 0..p.mappings.len() {
        let m = p.mappings[mi];
        if (!force && m.has_functions) || unsymbolizable(p.str(m.filename)) {
            continue;
        }
        let file = p.str(m.filename).to_string();
        let build_id = p.str(m.build_id).to_string();
        let candidates = sources
            .iter()
            .filter(|(k, _)| *k == file || (!build_id.is_empty() && *k == build_id))
            .map(|(_, s)| s.clone());
        for src in candidates {
            let Some(url) = symbol_url(&src.url) else { continue };
            let offset = src.start.wrapping_sub(m.memory_start);
            match symbolize_mapping(p, mi as u32, &url, offset) {
                Ok(()) => {
                    p.mappings[mi].has_functions = true;
                    break;
                }
                Err(e) => {
                    ui.print_err(&format!("symbolz: {e}"));
                    return;
                }
            }
        }
    }
}

/// Posts the mapping's unsymbolized addresses to `url` and records the names
/// it returns (`0x<addr> <name>` lines).
fn symbolize_mapping(p: &mut Profile, mi: u32, url: &str, offset: u64) -> Result<(), String> {
    let locs: Vec<usize> = (0..p.locations.len())
        .filter(|&i| {
            let l = &p.locations[i];
            l.mapping == Some(mi) && l.address != 0 && l.num_lines() == 0
        })
        .collect();
    if locs.is_empty() {
        return Ok(());
    }
    let addrs: Vec<String> =
        locs.iter().map(|&i| format!("{:#x}", p.locations[i].address.wrapping_add(offset))).collect();
    let resp = request("POST", url, Some(addrs.join("+").as_bytes()), Duration::from_secs(60))?;
    if resp.status != 200 {
        return Err(status_error(&resp));
    }
    let text = String::from_utf8_lossy(&resp.body);
    let mut names: hashbrown::HashMap<u64, &str> = hashbrown::HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("0x") else { continue };
        let Some((hex, name)) = rest.split_once(char::is_whitespace) else { continue };
        let name = name.trim();
        if let (Ok(a), false) = (u64::from_str_radix(hex, 16), name.is_empty()) {
            names.insert(a.wrapping_sub(offset), name);
        }
    }
    let mut by_name: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
    let mut next_id = p.functions.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    for &i in &locs {
        let Some(&name) = names.get(&p.locations[i].address) else { continue };
        let fi = match by_name.get(name) {
            Some(&f) => f,
            None => {
                let s = p.strings.intern(name);
                p.functions.push(Function { id: next_id, name: s, system_name: s, ..Default::default() });
                next_id += 1;
                let f = (p.functions.len() - 1) as u32;
                by_name.insert(name, f);
                f
            }
        };
        let start = p.lines.len() as u32;
        p.lines.push(Line { function: fi, line: 0, column: 0 });
        p.locations[i].lines_start = start;
        p.locations[i].lines_end = start + 1;
    }
    Ok(())
}

/// pprof's `setTmpDir`: `$PPROF_TMPDIR` (created if missing), else `~/pprof`,
/// else the system's temporary directory.
fn tmp_dir(ui: &mut dyn Ui) -> Option<std::path::PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = std::env::var("PPROF_TMPDIR")
        && !d.is_empty()
    {
        // Created when missing (pprof would fail to save there).
        dirs.push(std::path::PathBuf::from(d));
    } else {
        let home = std::env::var("HOME").unwrap_or_default();
        dirs.push(format!("{home}/pprof").into());
    }
    dirs.push(std::env::temp_dir());
    for dir in dirs {
        match std::fs::create_dir_all(&dir) {
            Ok(()) => return Some(dir),
            Err(e) => ui.print_err(&format!(
                "Could not use temp dir {}: {}",
                dir.display(),
                crate::fetch::go_io_error(&e)
            )),
        }
    }
    None
}

/// Saves a fetched profile as pprof does: `pprof.<binary>.<sample types>.NNN.pb.gz`
/// in `tmp_dir`, printing `Saved profile in <path>`.
pub fn save_fetched(p: &Profile, ui: &mut dyn Ui) {
    let Some(dir) = tmp_dir(ui) else { return };
    let mut prefix = String::from("pprof.");
    if let Some(m) = p.mappings.first() {
        let f = p.str(m.filename);
        if !f.is_empty() {
            prefix.push_str(crate::graph::base_name(f));
            prefix.push('.');
        }
    }
    for st in &p.sample_types {
        prefix.push_str(p.str(st.ty));
        prefix.push('.');
    }
    let data = rustprof_profile::encode_as_pprof(p);
    let mut last_err = String::from("too many files");
    for i in 1..10000 {
        let path = dir.join(format!("{prefix}{i:03}.pb.gz"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                match f.write_all(&data) {
                    Ok(()) => ui.print_err(&format!("Saved profile in {}", path.display())),
                    Err(e) => {
                        ui.print_err(&format!("Could not save profile: {}", crate::fetch::go_io_error(&e)))
                    }
                }
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                last_err = format!("{}: {}", path.display(), crate::fetch::go_io_error(&e));
                break;
            }
        }
    }
    ui.print_err(&format!("Could not save profile: {last_err}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn targets() {
        let t = parse_target("http://127.0.0.1:6060/debug/pprof/profile?seconds=2#x").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 6060, "/debug/pprof/profile?seconds=2")
        );
        let t = parse_target("http://[::1]:80").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 80, "/"));
        let t = parse_target("http://user@h?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("h", 80, "/?x=1"));
        let t = parse_target("https://h/x").unwrap();
        assert_eq!((t.scheme, t.port, t.path.as_str()), (client::Scheme::Https, 443, "/x"));
        let t = parse_target("https+insecure://h:8443").unwrap();
        assert_eq!((t.scheme, t.port), (client::Scheme::HttpsInsecure, 8443));
        assert_eq!(parse_target("ftp://h/").unwrap_err(), "unsupported protocol scheme \"ftp\"");
        assert!(parse_target("http://h:99999/").is_err());
        assert!(parse_target("http:///x").is_err());
    }

    #[test]
    fn symbol_urls_like_pprof() {
        assert_eq!(
            symbol_url("http://h:1/debug/pprof/profile?seconds=3").as_deref(),
            Some("http://h:1/debug/pprof/symbol")
        );
        assert_eq!(
            symbol_url("http://h:1/x/debug/pprof/heap").as_deref(),
            Some("http://h:1/x/debug/pprof/symbol")
        );
        assert_eq!(symbol_url("http://h:1/profilez").as_deref(), Some("http://h:1/symbolz"));
        assert_eq!(
            symbol_url("https+insecure://h/debug/pprof/heap").as_deref(),
            Some("https+insecure://h:443/debug/pprof/symbol")
        );
        assert_eq!(symbol_url("/tmp/file"), None);
    }

    #[test]
    fn responses() {
        use std::net::TcpListener;
        let serve = |reply: &'static [u8]| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let a = l.local_addr().unwrap();
            std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                s.write_all(reply).unwrap();
            });
            format!("http://{a}/p")
        };
        let t = Duration::from_secs(10);
        let r =
            request("GET", &serve(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"), None, t).unwrap();
        assert_eq!(r.body, b"abc");
        let r = request(
            "GET",
            &serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"),
            None,
            t,
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        let r =
            request("GET", &serve(b"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\nnothing here"), None, t).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, b"nothing here".as_slice()));
        assert_eq!(
            status_error(&r),
            "server response: 404 Not Found (no pprof handler at this path: is it a pprof server?)"
        );
        let r = request(
            "GET",
            &serve(b"HTTP/1.1 400 Bad Request\r\nX-Go-Pprof: 1\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbad!"),
            None,
            t,
        )
        .unwrap();
        assert_eq!(status_error(&r), "server response: 400 Bad Request - bad!");
        let e = request("GET", &serve(b"garbage\r\n\r\n"), None, t).unwrap_err();
        assert!(e.starts_with("Get \"http://127.0.0.1:") && e.contains("malformed HTTP response"), "{e}");
        let e =
            request("GET", &serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), None, t).unwrap_err();
        assert!(e.ends_with("unexpected EOF"), "{e}");
    }

    #[test]
    fn a_server_of_another_protocol_fails_at_once() {
        use std::net::TcpListener;
        for banner in [&b"SSH-2.0-OpenSSH_9.2"[..], b"\x00\x01\x02", b"HTTX"] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let a = l.local_addr().unwrap();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let server = std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                s.write_all(banner).unwrap();
                // Keeps the connection open, silent, until the client has answered:
                // only the first bytes can tell it is not HTTP.
                let _ = done_rx.recv();
            });
            let e = request(
                "GET",
                &format!("http://{a}/debug/pprof/profile?seconds=30"),
                None,
                Duration::from_secs(600),
            )
            .unwrap_err();
            done_tx.send(()).unwrap();
            server.join().unwrap();
            assert!(e.contains("malformed HTTP response") && e.contains("(not an HTTP server)"), "{e}");
        }
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body: String = (0..250_000).map(|i| format!("line {i} of the error\n")).collect();
        let r = Response {
            status: 500,
            reason: "Internal Server Error".into(),
            headers: vec![("X-Go-Pprof".into(), "1".into()), ("Content-Type".into(), "text/plain".into())],
            body: body.into_bytes(),
        };
        let e = status_error(&r);
        assert_eq!(e.lines().count(), ERROR_LINES + 1, "{e}");
        assert!(
            e.starts_with("server response: 500 Internal Server Error - line 0 of the error\nline 1 "),
            "{e}"
        );
        assert!(e.ends_with("has 5.85MB in 250000 lines; the first lines are shown]"), "{e}");
        // One huge line is cut too.
        let r = Response { body: vec![b'x'; 1 << 20], ..r };
        let e = status_error(&r);
        assert!(e.len() < ERROR_BYTES + 200 && e.contains("1MB in 1 lines"), "{e}");
        // Short texts stay whole, as pprof prints them.
        let r = Response { body: b"a\nb\n".to_vec(), ..r };
        assert_eq!(status_error(&r), "server response: 500 Internal Server Error - a\nb\n");
    }

    #[test]
    fn timeouts_and_refusals() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let start = Instant::now();
        let e = request("GET", &format!("http://{a}/"), None, Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("Client.Timeout exceeded"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(l);
        let e = request("GET", &format!("http://{a}/"), None, Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("connection refused"), "{e}");
    }
}
