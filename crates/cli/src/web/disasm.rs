//! The web UI's disassembly view (`/ui/disasm?f=RE`): `disasm` of the symbols
//! matching `RE`, the heaviest [`MAX_ENTRIES`] by flat value, as text (as
//! pprof's web UI shows it).

use std::fmt::Write as _;

use super::WebUi;
use super::http::{Request, Response};
use super::views::{MAX_ENTRIES, ViewError};
use crate::report::asm;
use crate::report::flame::html_escape;

impl WebUi {
    /// `/ui/disasm`.
    pub(super) fn disasm(&self, req: &Request) -> Result<Response, ViewError> {
        let _work = self.gate.enter();
        let cfg = self.config_for(req)?;
        let f = req.param("f").unwrap_or("");
        let (mut rpt, errors) = self.make_report(&["disasm", f], &cfg)?;
        let legend = rpt.profile_labels();
        let mut errors = errors;
        let assembly = asm::assembly(&mut rpt, Some(MAX_ENTRIES), &mut |e| errors.push(e))
            .map_err(|message| ViewError { status: 400, message })?;
        let mut text = String::new();
        asm::write_assembly(&mut text, &rpt, &assembly);
        let mut body = String::with_capacity(text.len() + 256);
        let _ = write!(body, "<pre id=\"rp-disasm\" class=\"rp-text\">{}</pre>", html_escape(&text));
        Ok(self.page(req, "source", &cfg, &legend, &errors, "{\"view\":\"disasm\"}", &body))
    }
}
