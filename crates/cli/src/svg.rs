//! Post-processing of graphviz SVG output for `-svg` and `-web`: makes the graph
//! fill the window and adds pan and zoom with the mouse (self-contained script).
//!
//! pprof wraps the same graphviz output in the SVGPan library (a third-party
//! script, ~7 KB) inside a `viewport` group scaled to one half. rustprof keeps
//! graphviz's `viewBox`, so the whole graph first fits the window, and adds its
//! own ~1 KB script: the wheel zooms around the pointer, a drag pans. Everything
//! graphviz drew (the `<g id="graph0">` element and all inside it) is byte for
//! byte pprof's; only the `<svg>` tag's size attributes and the script differ.
//! pprof's wrapper is not reproduced: it would mean shipping that library's
//! code. To compare with pprof byte for byte, compare `-dot` (identical) or the
//! graph element.

/// Adds an id, full-window sizing and a pan/zoom script to graphviz's SVG.
pub fn massage(svg: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(svg);
    // graphviz leaves some ampersands unquoted (`&;`), which no XML parser
    // accepts; pprof repairs them the same way.
    let s = s.replace("&;", "&amp;;");
    let Some(start) = s.find("<svg") else { return svg.to_vec() };
    let Some(end) = s[start..].find('>').map(|e| start + e) else { return svg.to_vec() };
    let Some(close) = s.rfind("</svg>") else { return svg.to_vec() };
    let mut out = String::with_capacity(s.len() + PANZOOM.len() + 256);
    out.push_str(&s[..start]);
    // Replace the fixed size so the drawing fills the browser window.
    let tag = &s[start..end];
    let mut new_tag = String::new();
    for part in tag.split(' ') {
        if part.starts_with("width=") || part.starts_with("height=") {
            continue;
        }
        if !new_tag.is_empty() {
            new_tag.push(' ');
        }
        new_tag.push_str(part);
    }
    out.push_str(&new_tag);
    out.push_str(" width=\"100%\" height=\"100%\" id=\"rustprof-graph\">");
    out.push_str(&s[end + 1..close]);
    out.push_str(PANZOOM);
    out.push_str(&s[close..]);
    out.into_bytes()
}

const PANZOOM: &str = r#"<script type="text/ecmascript"><![CDATA[
(function () {
  var svg = document.getElementById('rustprof-graph');
  if (!svg) return;
  var g = svg.querySelector('g');
  if (!g) return;
  var base = g.getAttribute('transform') || '';
  var scale = 1, tx = 0, ty = 0, drag = null;
  function apply() { g.setAttribute('transform', 'translate(' + tx + ',' + ty + ') scale(' + scale + ') ' + base); }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var f = e.deltaY < 0 ? 1.1 : 1 / 1.1;
    var pt = svg.createSVGPoint(); pt.x = e.clientX; pt.y = e.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    tx = p.x - (p.x - tx) * f; ty = p.y - (p.y - ty) * f; scale *= f; apply();
  }, {passive: false});
  svg.addEventListener('mousedown', function (e) { drag = {x: e.clientX - tx, y: e.clientY - ty}; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return; tx = e.clientX - drag.x; ty = e.clientY - drag.y; apply();
  });
})();
]]></script>
"#;
