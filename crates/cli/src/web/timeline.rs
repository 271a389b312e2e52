//! The web UI of a trace (`rustprof -http=:8080 trace.pftrace`): the timeline,
//! the user-task and region latency tables, and the trace-derived profiles
//! in the normal views.
//!
//! | path | what |
//! |---|---|
//! | `/ui/` | the timeline page (`static/timeline.js` draws it on a canvas) |
//! | `/ui/timeline/lanes.json` | lanes and counters ([`timeline_data::lanes_json`]) |
//! | `/ui/timeline/view.json?start=&end=&width=` | one screen, aggregated below a pixel |
//! | `/ui/timeline/slice.json?lane=&row=&i=` | a slice's details and stack (`row=-1`: the states row) |
//! | `/ui/timeline/instant.json?lane=&i=` | a log's or CPU sample's details |
//! | `/ui/timeline/range.json?start=&end=` | time per state inside a range |
//! | `/ui/tasks` | user tasks and regions: count and latency distribution by name |
//! | `/ui/sync/`, `/ui/syscall/`, `/ui/sched/`, `/ui/offcpu/` | the derived profile in the profile views (Top, Graph, Flame Graph...) |
//!
//! Times in the JSON are ns from the trace's start. A derived profile is
//! built on its first request and kept.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use super::http::{Request, Response};
use super::{WebUi, page, timeline_data};
use crate::config::Config;
use crate::driver::{Source, Ui};
use crate::report::flame::html_escape;
use crate::trace::latency::{self, human};
use crate::trace::model::{Class, Model};
use crate::trace::profiles::Kind;

const TIMELINE_JS: &str = include_str!("assets/timeline.js");
const TIMELINE_CSS: &str = include_str!("assets/timeline.css");
const UI_CSS: &str = include_str!("assets/ui.css");

/// What the trace server knows.
pub struct TraceUi {
    /// The indexed trace.
    pub model: Model,
    /// The trace's path, as given.
    pub file: String,
    /// The command line's options (for the profile views).
    pub cfg: Config,
    profiles: [OnceLock<WebUi>; 4],
    lanes: String,
}

impl TraceUi {
    /// The state for serving `model`, read from `file`.
    pub fn new(model: Model, file: &str, cfg: Config) -> TraceUi {
        let lanes = timeline_data::lanes_json(&model);
        TraceUi { model, file: file.to_string(), cfg, profiles: Default::default(), lanes }
    }

    fn profile_ui(&self, kind: Kind) -> &WebUi {
        let i = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.profiles[i].get_or_init(|| {
            let p = crate::trace::profiles::profile(&self.model, kind, &self.file);
            WebUi::new(p, self.cfg.clone(), false)
        })
    }

    fn page(&self) -> Response {
        let mut h = String::with_capacity(8192);
        let base = self.file.rsplit('/').next().unwrap_or(&self.file);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{} timeline — rustprof</title>\n<link rel=\"icon\" href=\"data:,\">\n\
             <link rel=\"stylesheet\" href=\"static/ui.css\">\n<link rel=\"stylesheet\" href=\"static/timeline.css\">\n\
             </head>\n<body data-view=\"timeline\">\n<header id=\"rp-header\" class=\"rp-header\">\n\
             <a class=\"rp-brand\" href=\"./\" title=\"The whole trace\">rustprof</a>\n",
            html_escape(base)
        );
        h.push_str(
            "<div class=\"rp-menu\" id=\"rp-profiles\"><button type=\"button\" class=\"rp-menu-name\">Profiles</button>\
             <div class=\"rp-sub\">\n",
        );
        for k in Kind::ALL {
            let _ = writeln!(
                h,
                "<a href=\"./{0}/\" id=\"tl-profile-{0}\" title=\"{1}\">{0}: {1}</a>",
                k.name(),
                k.describe()
            );
        }
        h.push_str("</div></div>\n<a class=\"rp-link\" id=\"tl-tasks\" href=\"./tasks\">User tasks &amp; regions</a>\n");
        h.push_str(
            "<span id=\"tl-range\" class=\"tl-range\"></span>\
             <span class=\"tl-help\" title=\"W/S or wheel: zoom · A/D or drag: pan · ↑/↓: scroll lanes · \
             drag on the time axis: select a range · click a slice: details · Escape: clear\">W A S D · wheel · drag</span>\n",
        );
        let _ = writeln!(h, "<span class=\"rp-title\" id=\"rp-title\">{} timeline</span>", html_escape(base));
        h.push_str("</header>\n");
        if let Some(at) = self.model.truncated_at {
            let _ = writeln!(
                h,
                "<div class=\"rp-errors\" id=\"tl-warning\">The trace is cut short at byte {at}: shown up to its last complete packet.</div>"
            );
        }
        h.push_str(
            "<main id=\"tl-main\" class=\"tl-main\">\n<div id=\"tl-lanes\" class=\"tl-lanes\"></div>\n\
             <canvas id=\"tl-canvas\" class=\"tl-canvas\"></canvas>\n</main>\n\
             <section id=\"tl-details\" class=\"tl-details\"><p class=\"rp-note\">Click a slice for its details and stack; \
             drag on the time axis to select a range.</p></section>\n\
             <script type=\"application/json\" id=\"tl-data\">",
        );
        h.push_str(&self.lanes);
        h.push_str("</script>\n<script src=\"static/timeline.js\"></script>\n</body>\n</html>\n");
        page::page_response(200, h)
    }

    fn tasks_page(&self) -> Response {
        let mut h = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>User tasks and regions — rustprof</title>\n\
             <link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"static/ui.css\">\n</head>\n<body>\n\
             <header class=\"rp-header\"><a class=\"rp-brand\" href=\"./\">rustprof</a>\
             <a class=\"rp-link\" href=\"./\">Timeline</a></header>\n<main class=\"rp-main\">\n",
        );
        for (title, id, class) in
            [("User tasks", "tl-task-table", Class::Task), ("Regions", "tl-region-table", Class::Region)]
        {
            let rows = latency::table(&self.model, class);
            let _ = writeln!(h, "<h2>{title}</h2>");
            if rows.is_empty() {
                h.push_str("<p class=\"rp-note\">None in this trace.</p>\n");
                continue;
            }
            let _ = write!(
                h,
                "<table id=\"{id}\" class=\"rp-top\"><thead><tr><th>Name</th><th class=\"num\">Count</th><th class=\"num\">Total</th>\
                 <th class=\"num\">Min</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th>\
                 <th class=\"num\">Max</th></tr></thead>\n<tbody>\n"
            );
            for r in rows {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    html_escape(&r.name),
                    r.count,
                    human(r.total),
                    human(r.min),
                    human(r.p50),
                    human(r.p90),
                    human(r.p99),
                    human(r.max)
                );
            }
            h.push_str("</tbody></table>\n");
        }
        h.push_str("</main>\n</body>\n</html>\n");
        page::page_response(200, h)
    }

    /// Answers one request.
    pub fn answer(&self, req: &Request) -> Response {
        let num = |name: &str| -> Result<u64, Response> {
            let v = req.param(name).unwrap_or("");
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| x as u64)
                .ok_or_else(|| json_error(400, &format!("parameter {name}={v:?} must be a number ≥ 0")))
        };
        let m = &self.model;
        match req.path.as_str() {
            "/" | "/ui" => Response::redirect(307, "/ui/".into()),
            "/ui/" | "/ui/timeline" => self.page(),
            "/ui/tasks" => self.tasks_page(),
            "/ui/static/timeline.js" => asset("text/javascript; charset=utf-8", TIMELINE_JS),
            "/ui/static/timeline.css" => asset("text/css; charset=utf-8", TIMELINE_CSS),
            "/ui/static/ui.css" => asset("text/css; charset=utf-8", UI_CSS),
            "/ui/timeline/lanes.json" => json(self.lanes.clone()),
            "/ui/timeline/view.json" => {
                let (a, b, w) = match (num("start"), num("end"), num("width")) {
                    (Ok(a), Ok(b), Ok(w)) => (a, b, w),
                    (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
                };
                if b <= a {
                    return json_error(400, "end must be after start");
                }
                json(timeline_data::view_json(m, a, b, w.min(20_000) as u32))
            }
            "/ui/timeline/range.json" => match (num("start"), num("end")) {
                (Ok(a), Ok(b)) if b >= a => json(timeline_data::range_json(m, a, b)),
                (Ok(_), Ok(_)) => json_error(400, "end must not be before start"),
                (Err(e), _) | (_, Err(e)) => e,
            },
            "/ui/timeline/slice.json" => {
                let row = req.param("row").and_then(|r| r.parse::<i64>().ok()).unwrap_or(-1);
                let (lane, i) = match (num("lane"), num("i")) {
                    (Ok(l), Ok(i)) => (l as usize, i as usize),
                    (Err(e), _) | (_, Err(e)) => return e,
                };
                timeline_data::slice_json(m, lane, row, i)
                    .map(json)
                    .unwrap_or_else(|| json_error(404, "no such slice"))
            }
            "/ui/timeline/instant.json" => {
                let (lane, i) = match (num("lane"), num("i")) {
                    (Ok(l), Ok(i)) => (l as usize, i as usize),
                    (Err(e), _) | (_, Err(e)) => return e,
                };
                timeline_data::instant_json(m, lane, i)
                    .map(json)
                    .unwrap_or_else(|| json_error(404, "no such instant"))
            }
            path => {
                for k in Kind::ALL {
                    let prefix = format!("/ui/{}", k.name());
                    if path == prefix {
                        return Response::redirect(307, format!("{prefix}/"));
                    }
                    if let Some(rest) = path.strip_prefix(&prefix)
                        && rest.starts_with('/')
                    {
                        let mut sub = req.clone();
                        sub.path = format!("/ui{rest}");
                        return self.profile_ui(k).route(&sub);
                    }
                }
                page::plain_error(404, &format!("no such page: {path}"))
            }
        }
    }
}

impl super::Router for TraceUi {
    fn route(&self, req: &Request) -> Response {
        self.answer(req)
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::new(200, content_type, body).with_header("Cache-Control", "max-age=300")
}

fn json(body: String) -> Response {
    Response::new(200, "application/json", body).with_header("Cache-Control", "no-store")
}

fn json_error(status: u16, message: &str) -> Response {
    let mut body = String::from("{\"error\":");
    crate::report::flame::push_json_str(&mut body, message);
    body.push('}');
    Response::new(status, "application/json", body).with_header("Cache-Control", "no-store")
}

/// Serves the timeline of `model` until the process is stopped.
pub fn serve(model: Model, file: &str, cfg: Config, source: &Source, ui: &mut dyn Ui) -> Result<(), String> {
    let state = Arc::new(TraceUi::new(model, file, cfg));
    super::serve_router(state, source, ui)
}
