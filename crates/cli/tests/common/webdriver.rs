//! A minimal WebDriver client: starts chromedriver, opens a headless
//! Chromium session and speaks the W3C protocol (JSON over HTTP) on a plain
//! `TcpStream`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::json::{self, Json};

/// The Chromium binary.
pub fn chromium() -> String {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if std::path::Path::new(c).exists() {
            return c.to_string();
        }
    }
    "chromium".to_string()
}

/// Whether chromedriver and Chromium are installed (under CI they must be).
pub fn available() -> bool {
    super::require("chromedriver", &["--version"], "chromium-driver")
        && super::require(&chromium(), &["--version"], "chromium")
}

/// A browser session (closed, and chromedriver stopped, when dropped).
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    /// Chromium's fresh profile directory (removed when dropped).
    profile_dir: std::path::PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile_dir = super::temp_dir("chromium-profile");
        let mut b = Browser { driver, port, session: String::new(), profile_dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = b.call("GET", "/status", None)
                && v.get("ready").and_then(Json::as_bool) == Some(true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = format!(
            "{{\"capabilities\":{{\"alwaysMatch\":{{\"goog:chromeOptions\":{{\"binary\":{},\"args\":[\
             \"--headless=new\",\"--no-sandbox\",\"--disable-gpu\",\"--disable-dev-shm-usage\",\
             \"--no-first-run\",\"--disable-extensions\",\"--hide-scrollbars\",\"--window-size={width},{height}\",\
             {}]}}}}}}}}",
            json::quote(&chromium()),
            json::quote(&format!("--user-data-dir={}", b.profile_dir.display()))
        );
        let v = b.call("POST", "/session", Some(&caps)).expect("a Chromium session");
        b.session = v.get("sessionId").and_then(Json::as_str).expect("a session id").to_string();
        b
    }

    /// One WebDriver command; the reply's `value`, or its error message.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<Json, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(90))).map_err(|e| e.to_string())?;
        let body = body.unwrap_or(if method == "POST" { "{}" } else { "" });
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let raw = super::read_response(&mut s).map_err(|e| format!("WebDriver {method} {path}: {e}"))?;
        let resp = super::HttpResponse::parse(&raw);
        let v =
            json::parse(&resp.text()).map_err(|e| format!("bad WebDriver reply ({e}): {}", resp.text()))?;
        let value = v.get("value").cloned().unwrap_or(Json::Null);
        if resp.status != 200 {
            let msg = value.get("message").and_then(Json::as_str).unwrap_or("").to_string();
            return Err(format!("WebDriver {method} {path}: {} {msg}", resp.status));
        }
        Ok(value)
    }

    fn session_call(&self, method: &str, path: &str, body: Option<&str>) -> Json {
        let full = format!("/session/{}{path}", self.session);
        self.call(method, &full, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(&format!("{{\"url\":{}}}", json::quote(url))));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None).as_str().unwrap_or("").to_string()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn exec(&self, script: &str, args: &str) -> Json {
        let body = format!("{{\"script\":{},\"args\":{args}}}", json::quote(script));
        self.session_call("POST", "/execute/sync", Some(&body))
    }

    /// [`Browser::exec`] returning a string.
    pub fn exec_str(&self, script: &str) -> String {
        match self.exec(script, "[]") {
            Json::Str(s) => s,
            Json::Null => String::new(),
            other => format!("{other:?}"),
        }
    }

    /// Waits until `script` returns true; panics with `what` after `timeout`.
    pub fn wait_for(&self, script: &str, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exec(script, "[]").as_bool() == Some(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} (at {})", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The element matching a CSS selector.
    pub fn find(&self, css: &str) -> String {
        let body = format!("{{\"using\":\"css selector\",\"value\":{}}}", json::quote(css));
        let v = self.session_call("POST", "/element", Some(&body));
        match &v {
            Json::Obj(m) => m.first().and_then(|(_, id)| id.as_str()).unwrap_or_default().to_string(),
            _ => panic!("no element {css}"),
        }
    }

    /// Clicks an element.
    pub fn click(&self, element: &str) {
        self.session_call("POST", &format!("/element/{element}/click"), None);
    }

    /// Types into an element.
    pub fn type_into(&self, element: &str, text: &str) {
        let body = format!("{{\"text\":{}}}", json::quote(text));
        self.session_call("POST", &format!("/element/{element}/value"), Some(&body));
    }

    fn pointer(&self, actions: &str) {
        let body = format!(
            "{{\"actions\":[{{\"type\":\"pointer\",\"id\":\"mouse\",\"parameters\":{{\"pointerType\":\"mouse\"}},\
             \"actions\":[{actions}]}}]}}"
        );
        self.session_call("POST", "/actions", Some(&body));
        self.session_call("DELETE", "/actions", None);
    }

    /// Moves the mouse to viewport coordinates.
    pub fn move_to(&self, x: f64, y: f64) {
        self.pointer(&format!(
            "{{\"type\":\"pointerMove\",\"duration\":0,\"x\":{},\"y\":{},\"origin\":\"viewport\"}}",
            x.round(),
            y.round()
        ));
    }

    /// Clicks at viewport coordinates.
    pub fn click_at(&self, x: f64, y: f64) {
        self.pointer(&format!(
            "{{\"type\":\"pointerMove\",\"duration\":0,\"x\":{},\"y\":{},\"origin\":\"viewport\"}},\
             {{\"type\":\"pointerDown\",\"button\":0}},{{\"type\":\"pointerUp\",\"button\":0}}",
            x.round(),
            y.round()
        ));
    }

    /// Presses and releases each key of `keys` (one character each).
    pub fn keys(&self, keys: &str) {
        let acts: Vec<String> = keys
            .chars()
            .flat_map(|c| {
                let v = json::quote(&c.to_string());
                [
                    format!("{{\"type\":\"keyDown\",\"value\":{v}}}"),
                    format!("{{\"type\":\"keyUp\",\"value\":{v}}}"),
                ]
            })
            .collect();
        let body = format!(
            "{{\"actions\":[{{\"type\":\"key\",\"id\":\"keyboard\",\"actions\":[{}]}}]}}",
            acts.join(",")
        );
        self.session_call("POST", "/actions", Some(&body));
        self.session_call("DELETE", "/actions", None);
    }

    /// Turns the mouse wheel by `dy` at viewport coordinates.
    pub fn wheel(&self, x: f64, y: f64, dy: f64) {
        let body = format!(
            "{{\"actions\":[{{\"type\":\"wheel\",\"id\":\"wheel\",\"actions\":[{{\"type\":\"scroll\",\"x\":{},\"y\":{},\
             \"deltaX\":0,\"deltaY\":{},\"origin\":\"viewport\"}}]}}]}}",
            x.round(),
            y.round(),
            dy.round()
        );
        self.session_call("POST", "/actions", Some(&body));
        self.session_call("DELETE", "/actions", None);
    }

    /// Drags with the left button from one viewport point to another.
    pub fn drag(&self, from: (f64, f64), to: (f64, f64)) {
        self.pointer(&format!(
            "{{\"type\":\"pointerMove\",\"duration\":0,\"x\":{},\"y\":{},\"origin\":\"viewport\"}},\
             {{\"type\":\"pointerDown\",\"button\":0}},\
             {{\"type\":\"pointerMove\",\"duration\":100,\"x\":{},\"y\":{},\"origin\":\"viewport\"}},\
             {{\"type\":\"pointerUp\",\"button\":0}}",
            from.0.round(),
            from.1.round(),
            to.0.round(),
            to.1.round()
        ));
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self.session_call("GET", "/screenshot", None);
        super::base64_decode(v.as_str().expect("base64 screenshot"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium processes left behind (the session could not be closed):
        // ours are those with our profile directory.
        let mark = format!("--user-data-dir={}", self.profile_dir.display());
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if cmdline.split(|&b| b == 0).any(|arg| arg == mark.as_bytes()) {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile_dir);
    }
}
