//! Reading one source: a local file, or a URL (`http://host/path`, or a bare
//! `host:port` meaning its `/debug/pprof/profile`, as pprof decides).

use std::time::Duration;

use rustprof_profile::Profile;

use crate::driver::{Source, Ui};

/// The parts of a URL that matter here (Go's `url.Parse`).
pub(crate) struct Url {
    /// The scheme, without `:`.
    pub(crate) scheme: String,
    /// The host and port, without user info.
    pub(crate) host: String,
    /// The path, query and fragment.
    pub(crate) rest: String,
}

/// Go's `url.Parse`, reduced to scheme, host and the path with query; `Err` where
/// Go fails (a colon in the first path segment without a scheme).
pub(crate) fn parse_url(s: &str) -> Result<Url, ()> {
    let mut scheme = String::new();
    let mut rest = s;
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i > 0 => {
                scheme = s[..i].to_string();
                rest = &s[i + 1..];
                break;
            }
            ':' => return Err(()),
            _ => break,
        }
    }
    let mut host = String::new();
    let mut path = rest;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let auth = &after[..end];
        host = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth).to_string();
        path = &after[end..];
    } else if scheme.is_empty() {
        let seg = rest.split('/').next().unwrap_or("");
        if seg.contains(':') {
            return Err(());
        }
    }
    Ok(Url { scheme, host, rest: path.to_string() })
}

/// `go tool pprof`'s `adjustURL`: the URL to fetch and its timeout, or `None`
/// when the source is not a URL. A URL without a path means its
/// `/debug/pprof/profile`.
pub fn adjust_url(source: &str, seconds: i64, timeout: i64) -> Option<(String, Duration)> {
    let mut u = parse_url(source);
    if u.as_ref().map_or(true, |u| u.host.is_empty() && !u.scheme.is_empty() && u.scheme != "file") {
        u = parse_url(&format!("http://{source}"));
    }
    let u = u.ok().filter(|u| !u.host.is_empty())?;
    let mut path = u.rest.clone();
    if let Some(h) = path.find('#') {
        path.truncate(h);
    }
    let (mut path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path.clone(), String::new()),
    };
    if path.is_empty() || path == "/" {
        path = "/debug/pprof/profile".to_string();
    }
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    let mut duration = 0i64;
    if seconds > 0 {
        params.retain(|(k, _)| k != "seconds");
        params.push(("seconds".into(), seconds.to_string()));
        duration = seconds;
    } else if let Some((_, v)) = params.iter().find(|(k, _)| k == "seconds")
        && let Ok(s) = v.parse::<i32>()
    {
        duration = s as i64;
    }
    let timeout = if timeout > 0 {
        Duration::from_secs(timeout as u64)
    } else if duration > 0 {
        // pprof allows 1.5 × the duration; 5 s more leave time for a server that
        // symbolizes before answering (rustprof's does) on a short profile.
        Duration::from_millis(duration as u64 * 1500 + 5000)
    } else {
        Duration::from_secs(60)
    };
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut url = format!("{}://{}{}", u.scheme, u.host, path);
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q.join("&"));
    }
    Some((url, timeout))
}

/// Fetches one source; the bool is true for a remote (saved) profile.
pub fn fetch_source(src: &str, s: &Source, ui: &mut dyn Ui) -> Result<(Profile, bool), String> {
    if let Some((url, timeout)) = adjust_url(src, s.seconds, s.timeout) {
        return crate::remote::fetch_url(&url, timeout, s, ui).map(|p| (p, true));
    }
    crate::trace::load::read_source(src, s, ui).map(|p| (p, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_like_pprof() {
        assert_eq!(adjust_url("profiles/x.pb.gz", -1, -1), None);
        assert_eq!(adjust_url("/tmp/x", -1, -1), None);
        assert_eq!(adjust_url("file:///tmp/x", -1, -1), None);
        let s = Duration::from_secs;
        assert_eq!(
            adjust_url("1.2.3.4:80", -1, -1),
            Some(("http://1.2.3.4:80/debug/pprof/profile".to_string(), s(60)))
        );
        assert_eq!(
            adjust_url("localhost:6060/", 5, -1),
            Some((
                "http://localhost:6060/debug/pprof/profile?seconds=5".to_string(),
                Duration::from_millis(12500)
            ))
        );
        assert_eq!(
            adjust_url("http://h:1/debug/pprof/heap", -1, 9),
            Some(("http://h:1/debug/pprof/heap".to_string(), s(9)))
        );
        assert_eq!(
            adjust_url("h:1/debug/pprof/profile?seconds=4", -1, -1),
            Some(("http://h:1/debug/pprof/profile?seconds=4".to_string(), s(11)))
        );
    }
}
