//! The views of the web UI, one function per path. Each applies the URL's
//! options to the command line's, generates its report with the driver's code
//! (so that values, percentages and filters are those of the command line) and
//! renders it into the page of [`super::page`].
//!
//! | path | what |
//! |---|---|
//! | `/ui/` | redirects to the flame graph (as pprof) |
//! | `/ui/top` | `top`, at most 500 rows unless `n` says otherwise, sortable |
//! | `/ui/graph` | `dot` drawn by graphviz, with pan, zoom and selection |
//! | `/ui/flamegraph` | the flame graph; `/ui/flamegraph.json?path=P` a subtree, `?match=RE` an exact search |
//! | `/ui/peek?f=RE` | `peek` of `RE` at line granularity (the 50 heaviest nodes) |
//! | `/ui/source?f=RE` | `list` of `RE` (the 50 heaviest functions) |
//! | `/ui/download` | the profile |

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::http::{Request, Response};
use super::page::{self, Chrome};
use super::{CachedTree, WebUi};
use crate::config::Config;
use crate::driver::{self, Ui};
use crate::measurement::percentage;
use crate::report::flame::{Emit, FlameTree, html_escape, page_title, push_json_str};
use crate::report::{Report, dot, source, text};

/// Most entries of the Peek and Source views (as pprof's web UI).
pub const MAX_ENTRIES: usize = 50;
/// Rows of the Top view when the URL does not set `n`.
pub const TOP_ROWS: i64 = 500;
/// How long graphviz may take to draw a graph.
pub const DOT_LIMIT: Duration = Duration::from_secs(30);
/// Flame trees kept for later requests (zooming asks for subtrees).
pub const FLAME_CACHE: usize = 2;

const UI_JS: &str = include_str!("assets/ui.js");
const UI_CSS: &str = include_str!("assets/ui.css");

/// Why a view could not be shown: the status and the message of its page.
#[derive(Debug)]
pub struct ViewError {
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for the user.
    pub message: String,
}

fn bad(message: impl Into<String>) -> ViewError {
    ViewError { status: 400, message: message.into() }
}

/// Collects a report's warnings for its page.
#[derive(Default)]
struct Catcher {
    errors: Vec<String>,
}

impl Ui for Catcher {
    fn print(&mut self, _msg: &str) {}
    fn print_err(&mut self, msg: &str) {
        self.errors.push(msg.trim_end().to_string());
    }
    fn is_terminal(&self) -> bool {
        false
    }
}

/// Whether graphviz's `dot` runs (checked once).
pub fn dot_available() -> bool {
    static DOT: OnceLock<bool> = OnceLock::new();
    *DOT.get_or_init(|| {
        std::process::Command::new("dot")
            .arg("-V")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::new(200, content_type, body).with_header("Cache-Control", "max-age=300")
}

fn json_response(status: u16, body: String) -> Response {
    Response::new(status, "application/json", body).with_header("Cache-Control", "no-store")
}

fn json_error(status: u16, message: &str) -> Response {
    let mut body = String::from("{\"error\":");
    push_json_str(&mut body, message);
    body.push('}');
    json_response(status, body)
}

impl WebUi {
    /// Answers one request.
    pub fn route(&self, req: &Request) -> Response {
        let view = match req.path.as_str() {
            "/" | "/ui" => {
                let q = if req.raw_query.is_empty() { String::new() } else { format!("?{}", req.raw_query) };
                return Response::redirect(307, format!("/ui/{q}"));
            }
            "/ui/static/ui.js" => return asset("text/javascript; charset=utf-8", UI_JS),
            "/ui/static/ui.css" => return asset("text/css; charset=utf-8", UI_CSS),
            "/ui/static/flame.js" => {
                return asset("text/javascript; charset=utf-8", crate::report::flame::FLAME_JS);
            }
            "/ui/static/flame.css" => {
                return asset("text/css; charset=utf-8", crate::report::flame::FLAME_CSS);
            }
            "/ui/download" => return self.download(),
            "/ui/flamegraph.json" => return self.flame_json(req),
            "/ui/" => {
                // As pprof's web UI since 2025: the flame graph opens first
                // (legible at any size, runtime frames folded).
                let q = if req.raw_query.is_empty() { String::new() } else { format!("?{}", req.raw_query) };
                return Response::redirect(301, format!("flamegraph{q}"));
            }
            "/ui/graph" => "graph",
            "/ui/top" => "top",
            "/ui/flamegraph" | "/ui/flamegraph2" | "/ui/flamegraphold" => "flamegraph",
            "/ui/peek" => "peek",
            "/ui/source" => "source",
            "/ui/disasm" => {
                return self.error_page(
                    req,
                    "source",
                    501,
                    "disasm is not supported: rustprof has no disassembler",
                );
            }
            _ => return page::plain_error(404, &format!("no such page: {}", req.path)),
        };
        let result = match view {
            "graph" => self.graph(req),
            "top" => self.top(req),
            "flamegraph" => self.flame(req),
            "peek" => self.peek(req),
            _ => self.source(req),
        };
        result.unwrap_or_else(|e| {
            crate::driver::errln(&format!("{}: {}", req.path, e.message));
            self.error_page(req, view, e.status, &e.message)
        })
    }

    /// The command line's options with the URL's applied.
    fn config_for(&self, req: &Request) -> Result<Config, ViewError> {
        let mut cfg = self.cfg.clone();
        cfg.apply_url(&req.query).map_err(bad)?;
        Ok(cfg)
    }

    /// Generates the report of `cmd` on a copy of the profile.
    fn make_report(&self, cmd: &[&str], cfg: &Config) -> Result<(Report, Vec<String>), ViewError> {
        let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let mut catcher = Catcher::default();
        let (_, rpt) =
            driver::generate_raw_report(self.prof.clone(), &cmd, cfg, &mut catcher).map_err(bad)?;
        Ok((rpt, catcher.errors))
    }

    fn current_sample(&self, cfg: &Config) -> String {
        driver::sample_index(&self.prof, &cfg.sample_index)
            .ok()
            .and_then(|i| self.sample_types.get(i).cloned())
            .unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        req: &Request,
        view: &str,
        cfg: &Config,
        legend: &[String],
        errors: &[String],
        data_json: &str,
        body: &str,
    ) -> Response {
        let title = page_title(legend);
        let current = self.current_sample(cfg);
        let chrome = Chrome {
            view,
            title: &title,
            legend,
            errors,
            sample_types: &self.sample_types,
            current_sample: &current,
            req,
            data_json,
            flame: view == "flamegraph",
            tags: &self.tags,
            comments: &self.comments,
        };
        page::page_response(200, page::render(&chrome, body))
    }

    /// A page with the menus and what went wrong, with links out of it.
    pub fn error_page(&self, req: &Request, view: &str, status: u16, message: &str) -> Response {
        let reset = page::query_with(req, &[page::FILTER_PARAMS, page::VIEW_PARAMS].concat(), &[]);
        let body = format!(
            "<div id=\"rp-error\" class=\"rp-error-page\"><h2>{status} {}</h2><p class=\"rp-error-message\">{}</p>\n\
             <p><a href=\"./{view}{}\">Remove the filters</a> · <a href=\"./{view}\">All defaults</a></p></div>",
            super::http::reason(status),
            html_escape(message),
            html_escape(&reset)
        );
        let current = self.cfg.clone();
        let chrome = Chrome {
            view,
            title: "rustprof",
            legend: &[],
            errors: &[],
            sample_types: &self.sample_types,
            current_sample: &self.current_sample(&current),
            req,
            data_json: "{\"error\":true}",
            flame: false,
            tags: &self.tags,
            comments: &self.comments,
        };
        page::page_response(status, page::render(&chrome, &body))
    }

    fn top(&self, req: &Request) -> Result<Response, ViewError> {
        let _work = self.gate.enter();
        let mut cfg = self.config_for(req)?;
        if req.param("n").is_none_or(str::is_empty) {
            cfg.nodecount = TOP_ROWS;
        }
        let (mut rpt, errors) = self.make_report(&["top"], &cfg)?;
        let (items, legend) = text::text_items(&mut rpt);
        let total = rpt.total;
        let mut body = String::with_capacity(items.len() * 300 + 1024);
        body.push_str(
            "<table id=\"rp-top\" class=\"rp-top\"><thead><tr>\
             <th class=\"num\" data-sort=\"flat\">Flat</th><th class=\"num\" data-sort=\"flat\">Flat%</th>\
             <th class=\"num\" data-sort=\"sum\">Sum%</th><th class=\"num\" data-sort=\"cum\">Cum</th>\
             <th class=\"num\" data-sort=\"cum\">Cum%</th><th data-sort=\"name\">Name</th>\
             <th data-sort=\"inline\">Inlined?</th></tr></thead>\n<tbody>\n",
        );
        let mut sum = 0i64;
        for item in &items {
            sum += item.flat;
            let name = html_escape(&item.name);
            let _ = writeln!(
                body,
                "<tr data-name=\"{name}\" data-flat=\"{}\" data-cum=\"{}\"><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num rp-sum\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"rp-name\">{name}</td><td>{}</td></tr>",
                item.flat,
                item.cum,
                html_escape(&item.flat_format),
                percentage(item.flat, total).trim(),
                percentage(sum, total).trim(),
                html_escape(&item.cum_format),
                percentage(item.cum, total).trim(),
                html_escape(&item.inline_label),
            );
        }
        body.push_str("</tbody></table>\n");
        if items.is_empty() {
            body.push_str("<p class=\"rp-note\">No samples.</p>\n");
        }
        let data = format!("{{\"view\":\"top\",\"total\":{total}}}");
        Ok(self.page(req, "top", &cfg, &legend, &errors, &data, &body))
    }

    fn graph(&self, req: &Request) -> Result<Response, ViewError> {
        let _work = self.gate.enter();
        let cfg = self.config_for(req)?;
        let (mut rpt, errors) = self.make_report(&["svg"], &cfg)?;
        let wd = dot::web_dot(&mut rpt);
        drop(rpt);
        let svg = crate::post::run_dot_limited(wd.dot.as_bytes(), "svg", Some(DOT_LIMIT)).map_err(|e| {
            ViewError {
                status: 501,
                message: format!("Could not execute dot; may need to install graphviz. {e}"),
            }
        })?;
        let svg = String::from_utf8_lossy(&svg);
        let svg = &svg[svg.find("<svg").unwrap_or(0)..];
        // graphviz leaves `&;` unescaped in some labels.
        let svg = svg.replace("&;", "&amp;;");
        let body = format!(
            "<div class=\"rp-graph-help\"><button type=\"button\" id=\"rp-fit\" title=\"Switch between the whole graph and a readable scale (key f)\">Fit (f)</button> \
             Opens at a readable scale on the heaviest nodes. Drag to pan, wheel to zoom, click nodes to select them for Refine.</div>\n\
             <div id=\"rp-graph\" class=\"rp-graph\">{svg}</div>"
        );
        let mut data = String::from("{\"view\":\"graph\",\"nodes\":[");
        for (i, n) in wd.names.iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            push_json_str(&mut data, n);
        }
        data.push_str("]}");
        Ok(self.page(req, "graph", &cfg, &wd.labels, &errors, &data, &body))
    }

    /// The flame tree of these options, from the cache or built.
    fn flame_tree(&self, cfg: &Config) -> Result<CachedTree, ViewError> {
        let key = format!("{cfg:?}");
        {
            let mut cache = self.flames.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = cache.iter().position(|(k, _)| *k == key) {
                let hit = cache.remove(i);
                let value = hit.1.clone();
                cache.insert(0, hit);
                return Ok(value);
            }
        }
        let _work = self.gate.enter();
        let (mut rpt, errors) = self.make_report(&["flame"], cfg)?;
        let tree = Arc::new(FlameTree::build(&mut rpt));
        drop(rpt);
        let value = (tree, errors);
        let mut cache = self.flames.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _)| *k != key);
        cache.insert(0, (key, value.clone()));
        cache.truncate(FLAME_CACHE);
        Ok(value)
    }

    fn flame(&self, req: &Request) -> Result<Response, ViewError> {
        let cfg = self.config_for(req)?;
        let (tree, errors) = self.flame_tree(&cfg)?;
        let json = tree.to_json(&[], Emit::WEB).map_err(bad)?;
        let mut body = String::with_capacity(json.len() + 1024);
        body.push_str(
            "<div class=\"fg-toolbar\"><button type=\"button\" id=\"fg-reset\">Reset zoom</button>\n\
             <span class=\"fg-hint\">Click a frame to zoom (a ▸ folded frame to expand it), right-click it to refine; the search box highlights.</span>\n",
        );
        if tree.diff {
            let (shrink, grow) = if tree.diff_base { ("base", "new") } else { ("removed", "added") };
            let _ = writeln!(
                body,
                "<span class=\"fg-diff-legend\"><span class=\"fg-grew\">grew</span> \
                 <span class=\"fg-shrank\">shrank</span> (width: {shrink} + {grow})</span>"
            );
        }
        body.push_str("</div>\n<div id=\"flame\" class=\"fg-container\"></div>\n");
        body.push_str("<script type=\"application/json\" id=\"fg-data\">");
        body.push_str(&json);
        body.push_str("</script>");
        let data = format!("{{\"view\":\"flamegraph\",\"diff\":{}}}", tree.diff);
        Ok(self.page(req, "flamegraph", &cfg, &tree.legend, &errors, &data, &body))
    }

    fn flame_json(&self, req: &Request) -> Response {
        let cfg = match self.config_for(req) {
            Ok(c) => c,
            Err(e) => return json_error(e.status, &e.message),
        };
        let (tree, _) = match self.flame_tree(&cfg) {
            Ok(t) => t,
            Err(e) => return json_error(e.status, &e.message),
        };
        if let Some(path) = req.param("path") {
            return match tree.parse_path(path).and_then(|p| tree.to_json(&p, Emit::SUBTREE)) {
                Ok(json) => json_response(200, json),
                Err(e) => json_error(400, &e),
            };
        }
        if let Some(m) = req.param("match") {
            let re = match regex::Regex::new(m) {
                Ok(re) => re,
                Err(e) => {
                    return json_error(
                        400,
                        &format!("parsing match regexp: {}", crate::report::go_regex_error(&e)),
                    );
                }
            };
            let v = tree.matched(&re);
            let mut body = format!("{{\"value\":{v},\"text\":");
            let text = format!("Matched: {} ({})", tree.format_value(v), percentage(v, tree.total).trim());
            push_json_str(&mut body, &text);
            body.push('}');
            return json_response(200, body);
        }
        match tree.to_json(&[], Emit::WEB) {
            Ok(json) => json_response(200, json),
            Err(e) => json_error(400, &e),
        }
    }

    fn peek(&self, req: &Request) -> Result<Response, ViewError> {
        let _work = self.gate.enter();
        let mut cfg = self.config_for(req)?;
        if req.param("g").is_none_or(str::is_empty) {
            // As pprof's web UI: callers and callees by line.
            cfg.granularity = "lines".into();
        }
        let f = req.param("f").unwrap_or("");
        let (mut rpt, errors) = self.make_report(&["peek", f], &cfg)?;
        let legend = rpt.profile_labels();
        let mut out = String::new();
        let (shown, matched) = text::print_tree_limited(&mut out, &mut rpt, MAX_ENTRIES).map_err(bad)?;
        let mut body = String::with_capacity(out.len() + 1024);
        if shown < matched {
            let _ = writeln!(
                body,
                "<p class=\"rp-note\">Showing the {shown} heaviest of {matched} matching nodes: select \
                 functions or search, then choose Peek again.</p>"
            );
        }
        let _ = write!(body, "<pre id=\"rp-peek\" class=\"rp-text\">{}</pre>", html_escape(&out));
        Ok(self.page(req, "peek", &cfg, &legend, &errors, "{\"view\":\"peek\"}", &body))
    }

    fn source(&self, req: &Request) -> Result<Response, ViewError> {
        let _work = self.gate.enter();
        let cfg = self.config_for(req)?;
        let f = req.param("f").unwrap_or("");
        let (mut rpt, errors) = self.make_report(&["list", f], &cfg)?;
        let legend = rpt.profile_labels();
        let listing = source::listing(&mut rpt, MAX_ENTRIES).map_err(bad)?;
        let body = recursion_toggle(req, rpt.opts.list_recursion_once) + &render_listing(&rpt, &listing);
        Ok(self.page(req, "source", &cfg, &legend, &errors, "{\"view\":\"source\"}", &body))
    }

    fn download(&self) -> Response {
        let data = rustprof_profile::encode_as_pprof(&self.prof);
        Response::new(200, "application/vnd.google.protobuf+gzip", data)
            .with_header("Content-Disposition", "attachment;filename=profile.pb.gz")
            .with_header("Cache-Control", "no-store")
    }
}

/// The Source view's choice of how recursion counts (`-list_recursion`): two
/// links that set the `recursion` URL parameter, the current one marked.
fn recursion_toggle(req: &Request, once: bool) -> String {
    let pprof = page::query_with(req, &["recursion"], &[]);
    let single = page::query_with(req, &[], &[("recursion", "once")]);
    let choice = |href: &str, current: bool, id: &str, label: &str, help: &str| {
        let cur = if current { " class=\"rp-current\" aria-current=\"true\"" } else { "" };
        format!("<a href=\"./source{}\" id=\"{id}\" title=\"{help}\"{cur}>{label}</a>", html_escape(href))
    };
    format!(
        "<p class=\"rp-note rp-recursion\">Recursion: {} | {}</p>\n",
        choice(
            &pprof,
            !once,
            "rp-recursion-pprof",
            "as pprof",
            "A routine's cum is the sum of its lines' (go tool pprof's numbers; recursion can exceed 100%)"
        ),
        choice(
            &single,
            once,
            "rp-recursion-once",
            "each sample once",
            "Each sample counts once per routine and per line (-list_recursion=once)"
        )
    )
}

/// The Source view: each routine as a table of lines, hot lines shaded.
fn render_listing(rpt: &Report, listing: &source::Listing) -> String {
    let mut h = String::new();
    let _ = write!(h, "<p class=\"rp-note\">Total: {}", html_escape(&rpt.format_value(rpt.total)));
    if listing.shown < listing.matched {
        let _ = write!(
            h,
            ". Showing the {} heaviest of {} matching functions: select functions or search, then choose \
             Source again.",
            listing.shown, listing.matched
        );
    }
    h.push_str("</p>\n");
    let dot_or = |v: i64| if v == 0 { ".".to_string() } else { html_escape(&rpt.format_value(v)) };
    for entry in &listing.entries {
        match entry {
            source::Entry::NoSource(name) => {
                let _ = writeln!(
                    h,
                    "<section class=\"rp-routine\"><h3 class=\"rp-routine-name\">{}</h3>\
                     <p class=\"rp-note\">No source information.</p></section>",
                    html_escape(name)
                );
            }
            source::Entry::Routine(r) => {
                let _ = writeln!(
                    h,
                    "<section class=\"rp-routine\" data-name=\"{}\"><h3 class=\"rp-routine-name\">{}</h3>\
                     <div class=\"rp-routine-file\">{}</div><div class=\"rp-routine-sum\">{} {} (flat, cum) {} \
                     of Total</div>",
                    html_escape(&r.name),
                    html_escape(&r.name),
                    html_escape(&r.file),
                    html_escape(&rpt.format_value(r.flat)),
                    html_escape(&rpt.format_value(r.cum)),
                    percentage(r.cum, rpt.total).trim()
                );
                match &r.lines {
                    Err(e) => {
                        let _ = writeln!(h, "<p class=\"rp-src-error\">Error: {}</p>", html_escape(e));
                    }
                    Ok(lines) => {
                        let max = lines.iter().map(|l| l.cum.unsigned_abs()).max().unwrap_or(0).max(1);
                        h.push_str("<table class=\"rp-src\"><tbody>\n");
                        for l in lines {
                            let heat = if l.cum == 0 && l.flat == 0 {
                                0
                            } else {
                                1 + (8 * l.cum.unsigned_abs() / max).min(8)
                            };
                            let _ = writeln!(
                                h,
                                "<tr class=\"h{heat}\"><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                                 <td class=\"rp-ln\">{}</td><td class=\"rp-code\">{}</td></tr>",
                                dot_or(l.flat),
                                dot_or(l.cum),
                                l.lineno,
                                html_escape(&l.text)
                            );
                        }
                        h.push_str("</tbody></table>\n");
                    }
                }
                h.push_str("</section>\n");
            }
        }
    }
    h
}
