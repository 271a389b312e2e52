//! The page around every view: the header with its menus (View, Sample,
//! Refine, Download), the search box, the title that shows the report's header
//! lines, the warnings of the report, and the view itself. Links carry the
//! current query so that every state stays in the URL.

use std::fmt::Write as _;

use super::http::{Request, Response, percent_encode};
use crate::report::flame::html_escape;

/// The views, in menu order.
pub const VIEWS: &[(&str, &str, &str)] = &[
    ("top", "Top", "Functions by flat or cumulative value"),
    ("graph", "Graph", "Call graph drawn by graphviz"),
    ("flamegraph", "Flame Graph", "Call tree: width is value, click to zoom"),
    ("peek", "Peek", "Callers and callees of the selected functions"),
    ("source", "Source", "Annotated source of the selected functions"),
];

/// Refine actions: URL parameter, label, whether the selection is added to
/// the current value (`|`) rather than replacing it, help.
pub const REFINES: &[(&str, &str, bool, &str)] = &[
    ("f", "Focus", false, "Keep only samples through the selection"),
    ("i", "Ignore", true, "Drop samples through the selection"),
    ("h", "Hide", true, "Remove the selected frames from stacks"),
    ("s", "Show", false, "Keep only the selected frames in stacks"),
    ("sf", "Show from", false, "Drop frames above the selection"),
];

/// Query parameters that filter samples: what Reset removes.
pub const FILTER_PARAMS: &[&str] =
    &["f", "i", "h", "s", "sf", "tf", "ti", "ts", "th", "tagroot", "tagleaf", "prunefrom"];

/// The filters shown as chips under the menu bar: URL parameter, the
/// option's name (as `-top`'s "Active filters" names it).
pub const CHIPS: &[(&str, &str)] = &[
    ("f", "focus"),
    ("i", "ignore"),
    ("h", "hide"),
    ("s", "show"),
    ("sf", "show_from"),
    ("prunefrom", "prune_from"),
    ("tf", "tagfocus"),
    ("ti", "tagignore"),
    ("ts", "tagshow"),
    ("th", "taghide"),
    ("tagroot", "tagroot"),
    ("tagleaf", "tagleaf"),
];

/// Query parameters that belong to one view and are dropped when switching.
pub const VIEW_PARAMS: &[&str] = &["fz", "path", "match"];

/// The query of `req` without the parameters `drop`, with `set` replacing or
/// adding its parameters; `?`-prefixed, or empty.
pub fn query_with(req: &Request, drop: &[&str], set: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in &req.query {
        if drop.contains(&k.as_str()) || set.iter().any(|(s, _)| s == k) {
            continue;
        }
        parts.push(format!("{}={}", percent_encode(k), percent_encode(v)));
    }
    for (k, v) in set {
        parts.push(format!("{}={}", percent_encode(k), percent_encode(v)));
    }
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

/// What a page shows besides its view.
pub struct Chrome<'a> {
    /// The view's path name (`top`), or `""` for an error page.
    pub view: &'a str,
    /// The page title (`<File> <Type>`).
    pub title: &'a str,
    /// The report's header lines (shown by clicking the title).
    pub legend: &'a [String],
    /// Warnings and errors of the report.
    pub errors: &'a [String],
    /// The profile's sample types (a Sample menu when more than one).
    pub sample_types: &'a [String],
    /// The sample type shown.
    pub current_sample: &'a str,
    /// The request (its query is carried by the links).
    pub req: &'a Request,
    /// JSON for the page's script.
    pub data_json: &'a str,
    /// Load the flame graph's script and styles.
    pub flame: bool,
    /// The profile's labels (the *Tags* menu).
    pub tags: &'a super::tags::Tags,
    /// The profile's comments.
    pub comments: &'a [String],
}

/// The active filters of `req` as chips, each a link to the same page
/// without it; empty when there is none.
pub fn chips(req: &Request, view: &str) -> String {
    let mut h = String::new();
    for (param, name) in CHIPS {
        let Some(v) = req.param(param).filter(|v| !v.is_empty()) else { continue };
        let without = query_with(req, &[VIEW_PARAMS, &[param]].concat(), &[]);
        let _ = writeln!(
            h,
            "<a class=\"rp-chip\" data-param=\"{param}\" href=\"./{view}{}\" title=\"Remove this filter\">\
             <span class=\"rp-chip-name\">{name}</span>={}<span class=\"rp-chip-x\" aria-label=\"remove\">\u{00d7}</span></a>",
            html_escape(&without),
            html_escape(v)
        );
    }
    if h.is_empty() {
        return h;
    }
    format!("<div id=\"rp-chips\" class=\"rp-chips\">\n{h}</div>\n")
}

/// The whole page: header, details, warnings, the view's body, scripts.
pub fn render(c: &Chrome, body: &str) -> String {
    let mut h = String::with_capacity(body.len() + 8192);
    let title = if c.title.is_empty() { "rustprof".to_string() } else { format!("{} — rustprof", c.title) };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"static/ui.css\">\n",
        html_escape(&title)
    );
    if c.flame {
        h.push_str("<link rel=\"stylesheet\" href=\"static/flame.css\">\n");
    }
    let _ = write!(
        h,
        "</head>\n<body data-view=\"{}\">\n<header id=\"rp-header\" class=\"rp-header\">\n",
        c.view
    );
    let _ = writeln!(h, "<a class=\"rp-brand\" href=\"./{}\" title=\"All defaults\">rustprof</a>", c.view);

    // View.
    let keep = query_with(c.req, VIEW_PARAMS, &[]);
    h.push_str(
        "<div class=\"rp-menu\" id=\"rp-view\"><button type=\"button\" class=\"rp-menu-name\">View</button>\
         <div class=\"rp-sub\">\n",
    );
    for (path, label, help) in VIEWS {
        let cur = if *path == c.view { " class=\"rp-current\"" } else { "" };
        let _ = writeln!(
            h,
            "<a href=\"./{path}{}\" data-view=\"{path}\" id=\"rp-view-{path}\" title=\"{help}\"{cur}>{label}</a>",
            html_escape(&keep)
        );
    }
    h.push_str("</div></div>\n");

    // Sample.
    if c.sample_types.len() > 1 {
        h.push_str(
            "<div class=\"rp-menu\" id=\"rp-sample\"><button type=\"button\" class=\"rp-menu-name\">Sample</button>\
             <div class=\"rp-sub\">\n",
        );
        for t in c.sample_types {
            let href = query_with(c.req, VIEW_PARAMS, &[("si", t)]);
            let cur = if t == c.current_sample { " class=\"rp-current\"" } else { "" };
            let _ = writeln!(
                h,
                "<a href=\"./{}{}\" data-si=\"{}\"{cur}>{}</a>",
                c.view,
                html_escape(&href),
                html_escape(t),
                html_escape(t)
            );
        }
        h.push_str("</div></div>\n");
    }

    // Refine.
    h.push_str(
        "<div class=\"rp-menu\" id=\"rp-refine\"><button type=\"button\" class=\"rp-menu-name\">Refine</button>\
         <div class=\"rp-sub\">\n",
    );
    for (param, label, add, help) in REFINES {
        let _ = writeln!(
            h,
            "<a href=\"#\" data-refine=\"{param}\" data-add=\"{add}\" id=\"rp-refine-{param}\" title=\"{help} (the selection or the search regexp)\">{label}</a>"
        );
    }
    let reset = query_with(c.req, &[FILTER_PARAMS, VIEW_PARAMS].concat(), &[]);
    let _ = write!(
        h,
        "<hr><a href=\"./{}{}\" id=\"rp-reset\" title=\"Remove every filter\">Reset</a>\n</div></div>\n",
        c.view,
        html_escape(&reset)
    );
    h.push_str(&super::tags::menu(c.tags, c.req, c.view));
    let _ = writeln!(
        h,
        "<a class=\"rp-link\" id=\"rp-download\" href=\"./download\" title=\"The profile (profile.proto)\">Download</a>"
    );
    let q = c.req.param("q").unwrap_or("");
    let _ = writeln!(
        h,
        "<input id=\"search\" class=\"rp-search\" type=\"search\" placeholder=\"Search regexp\" autocomplete=\"off\" \
         spellcheck=\"false\" value=\"{}\" title=\"Highlight matches; Enter focuses on them\">",
        html_escape(q)
    );
    h.push_str("<span id=\"rp-matched\" class=\"rp-matched\"></span>\n");
    let _ = writeln!(
        h,
        "<button type=\"button\" id=\"rp-title\" class=\"rp-title\" title=\"Show the report's details\">{}</button>",
        html_escape(c.title)
    );
    h.push_str("</header>\n");
    if !c.view.is_empty() {
        h.push_str(&chips(c.req, c.view));
    }
    if !c.comments.is_empty() {
        h.push_str(
            "<details id=\"rp-comments\" class=\"rp-comments\" open><summary>Profile comments</summary>\n",
        );
        for cm in c.comments {
            let _ = writeln!(h, "<div class=\"rp-comment\">{}</div>", html_escape(cm));
        }
        h.push_str("</details>\n");
    }
    h.push_str("<div id=\"rp-details\" class=\"rp-details\" hidden>\n");
    for l in c.legend {
        let _ = writeln!(h, "<div>{}</div>", html_escape(l));
    }
    h.push_str("</div>\n<div id=\"rp-errors\" class=\"rp-errors\"");
    if c.errors.is_empty() {
        h.push_str(" hidden");
    }
    h.push_str(">\n");
    for e in c.errors {
        let _ = writeln!(h, "<div>{}</div>", html_escape(e));
    }
    let _ = write!(h, "</div>\n<main id=\"rp-main\" class=\"rp-main rp-view-{}\">\n", c.view);
    h.push_str(body);
    h.push_str("\n</main>\n<div id=\"rp-context\" class=\"rp-context\" hidden></div>\n");
    h.push_str("<script type=\"application/json\" id=\"rp-data\">");
    h.push_str(c.data_json);
    h.push_str("</script>\n");
    if c.flame {
        h.push_str("<script src=\"static/flame.js\"></script>\n");
    }
    h.push_str("<script src=\"static/ui.js\"></script>\n</body>\n</html>\n");
    h
}

/// The content security policy of every page: nothing but this server.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An HTML page response with the security headers.
pub fn page_response(status: u16, html: String) -> Response {
    Response::html(status, html)
        .with_header("Content-Security-Policy", CSP)
        .with_header("Cache-Control", "no-store")
}

/// A bare error page (for requests that never reach a view).
pub fn plain_error(status: u16, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {}</title></head>\n\
         <body><h1>{status} {}</h1><p id=\"rp-error\">{}</p><p><a href=\"/ui/\">rustprof</a></p></body></html>\n",
        super::http::reason(status),
        super::http::reason(status),
        html_escape(message)
    );
    page_response(status, html)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::web::http::parse_request_line;

    #[test]
    fn queries_are_carried() {
        let req = parse_request_line("GET /ui/top?f=a%7Cb&fz=1.2&si=alloc_space HTTP/1.1").unwrap();
        assert_eq!(query_with(&req, VIEW_PARAMS, &[]), "?f=a%7Cb&si=alloc_space");
        assert_eq!(query_with(&req, FILTER_PARAMS, &[("si", "inuse space")]), "?fz=1.2&si=inuse%20space");
        let chipped = chips(&req, "top");
        assert!(chipped.contains("data-param=\"f\" href=\"./top?si=alloc_space\""), "{chipped}");
        assert!(chipped.contains("focus</span>=a|b"), "{chipped}");
        let bare = parse_request_line("GET /ui/ HTTP/1.1").unwrap();
        assert_eq!(chips(&bare, "top"), "");
        assert_eq!(query_with(&bare, VIEW_PARAMS, &[]), "");
    }

    #[test]
    fn pages_escape_what_they_show() {
        let req = parse_request_line("GET /ui/top?q=%3Cscript%3E HTTP/1.1").unwrap();
        let legend = vec!["File: <x>".to_string()];
        let errors = vec!["bad & worse".to_string()];
        let types = vec!["alloc<".to_string(), "inuse".to_string()];
        let c = Chrome {
            view: "top",
            title: "a<b",
            legend: &legend,
            errors: &errors,
            sample_types: &types,
            current_sample: "inuse",
            req: &req,
            data_json: "{}",
            flame: false,
            tags: &crate::web::tags::Tags::default(),
            comments: &["a <comment>".to_string()],
        };
        let html = render(&c, "<p>body</p>");
        assert!(html.contains("value=\"&lt;script&gt;\""));
        assert!(html.contains("<div>File: &lt;x&gt;</div>"));
        assert!(html.contains("<div>bad &amp; worse</div>"));
        assert!(html.contains("a&lt;b"));
        assert!(html.contains("data-si=\"alloc&lt;\""));
        assert!(html.contains("<div class=\"rp-comment\">a &lt;comment&gt;</div>"));
        assert!(!html.contains("<script>"));
        let e = plain_error(404, "no <such> page");
        assert_eq!(e.status, 404);
        assert!(String::from_utf8(e.body).unwrap().contains("no &lt;such&gt; page"));
    }
}
