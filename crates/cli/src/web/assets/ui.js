// rustprof web UI: menus, selection, refine, search, and the interactive parts
// of each view (sortable top table, graph pan/zoom, flame graph). Every state
// that matters lives in the URL: the view is the path, options are pprof's
// query parameters (f, i, h, s, sf, si, ...), the search is `q` and the flame
// graph's zoom `fz`, so a page can be bookmarked or shared as it is.
(function () {
  'use strict';

  var data = {};
  try { data = JSON.parse(document.getElementById('rp-data').textContent); } catch (e) { data = {}; }
  var view = document.body.getAttribute('data-view') || '';
  var search = document.getElementById('search');
  var matchedEl = document.getElementById('rp-matched');
  var selected = [];
  var onSelection = [];
  var onSearch = [];
  var flame = null;
  var VIEW_PARAMS = ['fz', 'path', 'match'];

  function params() { return new URLSearchParams(location.search); }

  // `path` with the current query, changed: '' removes a parameter.
  function urlWith(path, changes, drop) {
    var p = params();
    (drop || []).forEach(function (k) { p.delete(k); });
    Object.keys(changes || {}).forEach(function (k) {
      if (changes[k] === '' || changes[k] === null) p.delete(k); else p.set(k, changes[k]);
    });
    var q = p.toString();
    return path + (q ? '?' + q : '');
  }

  // RE2's QuoteMeta, for names made into regexps.
  function quoteMeta(s) { return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'); }

  function exact(name) { return '^' + quoteMeta(name) + '$'; }

  // Peek works at line granularity, where a node is named `function file:line`:
  // its regexp lets the function's name be followed by its place.
  function atAnyLine(name) { return '^' + quoteMeta(name) + '(?: |$)'; }

  function selectionRegexp(perLine) { return selected.map(perLine ? atAnyLine : exact).join('|'); }

  function setSelected(names) {
    selected = names.slice();
    onSelection.forEach(function (f) { f(); });
  }

  function toggleSelected(name) {
    var i = selected.indexOf(name);
    if (i >= 0) selected.splice(i, 1); else selected.push(name);
    onSelection.forEach(function (f) { f(); });
  }

  function showError(msg) {
    var box = document.getElementById('rp-errors');
    if (!box) return;
    var div = document.createElement('div');
    div.textContent = msg;
    box.appendChild(div);
    box.hidden = false;
  }

  function refine(param, add, re) {
    re = re || selectionRegexp() || (search ? search.value.trim() : '');
    if (!re) {
      showError('Select something first (click rows, nodes or frames) or type a regexp in the search box.');
      return;
    }
    var cur = params().get(param);
    var changes = {};
    changes[param] = add && cur ? cur + '|' + re : re;
    location.href = urlWith(location.pathname, changes, VIEW_PARAMS.concat(['q']));
  }

  function goView(v, focusSelection) {
    var changes = {};
    if ((v === 'peek' || v === 'source') && focusSelection && selected.length) changes.f = selectionRegexp(v === 'peek');
    location.href = urlWith('./' + v, changes, VIEW_PARAMS);
  }

  // --- menus ---
  function closeMenus() {
    document.querySelectorAll('.rp-menu.open').forEach(function (m) { m.classList.remove('open'); });
    var ctx = document.getElementById('rp-context');
    if (ctx) ctx.hidden = true;
  }
  document.querySelectorAll('.rp-menu').forEach(function (m) {
    var b = m.querySelector('.rp-menu-name');
    if (!b) return;
    b.addEventListener('click', function (ev) {
      ev.stopPropagation();
      var open = m.classList.contains('open');
      closeMenus();
      if (!open) m.classList.add('open');
    });
  });
  document.addEventListener('click', closeMenus);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closeMenus(); });

  document.querySelectorAll('#rp-view a[data-view]').forEach(function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      goView(a.getAttribute('data-view'), true);
    });
  });
  document.querySelectorAll('[data-refine]').forEach(function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      refine(a.getAttribute('data-refine'), a.getAttribute('data-add') === 'true');
    });
  });

  var title = document.getElementById('rp-title');
  var details = document.getElementById('rp-details');
  if (title && details) {
    title.addEventListener('click', function () { details.hidden = !details.hidden; });
  }

  // A menu of actions on one name (right click on rows, nodes, frames).
  function showContext(name, ev) {
    var menu = document.getElementById('rp-context');
    if (!menu) return;
    menu.textContent = '';
    var head = document.createElement('div');
    head.className = 'rp-context-name';
    head.textContent = name;
    menu.appendChild(head);
    var items = [
      ['Focus', function () { refine('f', false, exact(name)); }],
      ['Ignore', function () { refine('i', true, exact(name)); }],
      ['Hide', function () { refine('h', true, exact(name)); }],
      ['Show', function () { refine('s', false, exact(name)); }],
      ['Show from', function () { refine('sf', false, exact(name)); }],
      ['Peek', function () { setSelected([name]); goView('peek', true); }],
      ['Source', function () { setSelected([name]); goView('source', true); }]
    ];
    items.forEach(function (it) {
      var a = document.createElement('a');
      a.href = '#';
      a.textContent = it[0];
      a.addEventListener('click', function (e) { e.preventDefault(); it[1](); });
      menu.appendChild(a);
    });
    menu.hidden = false;
    var x = Math.min(ev.clientX, window.innerWidth - menu.offsetWidth - 4);
    var y = Math.min(ev.clientY, window.innerHeight - menu.offsetHeight - 4);
    menu.style.left = Math.max(0, x) + 'px';
    menu.style.top = Math.max(0, y) + 'px';
  }

  // --- search ---
  function searchRegexp(text) {
    if (!text) return null;
    try { return new RegExp(text); } catch (e) { return undefined; }
  }

  if (search) {
    var timer = null;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        history.replaceState(history.state, '', urlWith(location.pathname, { q: search.value }, []));
        onSearch.forEach(function (f) { f(search.value); });
      }, 250);
    });
    search.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter') return;
      ev.preventDefault();
      var v = search.value.trim();
      if (v) refine('f', false, v);
    });
  }

  // Percentages as the reports print them (measurement::percentage).
  function percent(v, total) {
    var r = total !== 0 ? Math.abs(v / total) * 100 : 0;
    if (r >= 99.95 && r <= 100.05) return '100%';
    if (r >= 1) return r.toFixed(2) + '%';
    if (r === 0) return '0%';
    var e = r.toExponential(1).split('e');
    var exp = parseInt(e[1], 10);
    if (exp < -4) return String(Number(e[0])) + 'e-' + (Math.abs(exp) < 10 ? '0' : '') + Math.abs(exp) + '%';
    return String(Number(r.toPrecision(2))) + '%';
  }

  // --- top ---
  function initTop() {
    var table = document.getElementById('rp-top');
    if (!table) return;
    var tbody = table.tBodies[0];
    var total = data.total || 0;
    function mark() {
      Array.prototype.forEach.call(tbody.rows, function (tr) {
        tr.classList.toggle('rp-selected', selected.indexOf(tr.getAttribute('data-name')) >= 0);
      });
    }
    onSelection.push(mark);
    tbody.addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr');
      if (tr) toggleSelected(tr.getAttribute('data-name'));
    });
    tbody.addEventListener('contextmenu', function (ev) {
      var tr = ev.target.closest('tr');
      if (!tr) return;
      ev.preventDefault();
      ev.stopPropagation();
      showContext(tr.getAttribute('data-name'), ev);
    });
    var order = { key: 'flat', desc: true };
    table.tHead.addEventListener('click', function (ev) {
      var th = ev.target.closest('th');
      if (!th || !th.getAttribute('data-sort')) return;
      var key = th.getAttribute('data-sort');
      if (key === 'sum') key = 'flat';
      order = { key: key, desc: order.key === key ? !order.desc : key !== 'name' && key !== 'inline' };
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var r;
        if (key === 'name') r = a.getAttribute('data-name').localeCompare(b.getAttribute('data-name'));
        else if (key === 'inline') r = a.cells[6].textContent.localeCompare(b.cells[6].textContent);
        else r = Math.abs(Number(a.getAttribute('data-' + key))) - Math.abs(Number(b.getAttribute('data-' + key)));
        return order.desc ? -r : r;
      });
      var sum = 0;
      rows.forEach(function (tr) {
        sum += Number(tr.getAttribute('data-flat'));
        tr.cells[2].textContent = percent(sum, total);
        tbody.appendChild(tr);
      });
    });
    onSearch.push(function (text) {
      var re = searchRegexp(text), n = 0;
      Array.prototype.forEach.call(tbody.rows, function (tr) {
        var hit = !!(re && re.test(tr.getAttribute('data-name')));
        if (hit) n++;
        tr.classList.toggle('rp-match', hit);
      });
      if (matchedEl) matchedEl.textContent = re === undefined ? 'bad regexp' : re ? n + ' matching rows' : '';
    });
  }

  // --- graph ---
  function initGraph() {
    var box = document.getElementById('rp-graph');
    var svg = box && box.querySelector('svg');
    if (!svg) return;
    var names = data.nodes || [];
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    svg.setAttribute('width', '100%');
    svg.setAttribute('height', '100%');
    var g = svg.querySelector('g');
    var base = g.getAttribute('transform') || '';
    var s = 1, tx = 0, ty = 0, drag = null, moved = false;
    function apply() { g.setAttribute('transform', 'translate(' + tx + ',' + ty + ') scale(' + s + ') ' + base); }
    function point(ev) {
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      return pt.matrixTransform(svg.getScreenCTM().inverse());
    }
    svg.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var f = Math.pow(1.0015, -ev.deltaY);
      var p = point(ev);
      tx = p.x - (p.x - tx) * f;
      ty = p.y - (p.y - ty) * f;
      s *= f;
      apply();
    }, { passive: false });
    svg.addEventListener('mousedown', function (ev) {
      if (ev.button !== 0) return;
      var p = point(ev);
      drag = { x: p.x - tx, y: p.y - ty, cx: ev.clientX, cy: ev.clientY };
      moved = false;
    });
    window.addEventListener('mousemove', function (ev) {
      if (!drag) return;
      if (Math.abs(ev.clientX - drag.cx) + Math.abs(ev.clientY - drag.cy) > 3) moved = true;
      if (!moved) return;
      var p = point(ev);
      tx = p.x - drag.x;
      ty = p.y - drag.y;
      apply();
    });
    window.addEventListener('mouseup', function () { drag = null; });
    function nodeName(el) {
      var n = el && el.closest('g.node');
      if (!n) return null;
      var i = parseInt(String(n.id).replace(/^node/, ''), 10);
      return i >= 1 && i <= names.length ? names[i - 1] : null;
    }
    svg.addEventListener('click', function (ev) {
      if (moved) return;
      var name = nodeName(ev.target);
      if (name !== null) toggleSelected(name);
    });
    svg.addEventListener('contextmenu', function (ev) {
      var name = nodeName(ev.target);
      if (name === null) return;
      ev.preventDefault();
      ev.stopPropagation();
      showContext(name, ev);
    });
    var nodes = svg.querySelectorAll('g.node');

    // The first view is readable: the smallest text at least READABLE_PX
    // screen pixels, centred on the heaviest nodes (the largest labels);
    // `f` or the Fit button switch to the whole graph and back.
    var READABLE_PX = 10;
    function fontOf(t) { return parseFloat(t.getAttribute('font-size')) || 14; }
    function readable() {
      s = 1; tx = 0; ty = 0;
      apply();
      var fit = svg.getScreenCTM().a, texts = svg.querySelectorAll('g.node text, g.edge text');
      var smallest = Infinity, largest = 0;
      texts.forEach(function (t) { var f = fontOf(t); smallest = Math.min(smallest, f); largest = Math.max(largest, f); });
      if (!texts.length || !(fit > 0)) return;
      var k = READABLE_PX / (fit * smallest);
      if (k <= 1) return;
      // The heaviest nodes: those with labels near the largest size.
      var l = Infinity, t = Infinity, r = -Infinity, bt = -Infinity, heaviest = null;
      nodes.forEach(function (n) {
        var big = 0;
        n.querySelectorAll('text').forEach(function (x) { big = Math.max(big, fontOf(x)); });
        if (big < largest * 0.7) return;
        var b = n.getBoundingClientRect();
        if (big === largest && !heaviest) heaviest = b;
        l = Math.min(l, b.left); t = Math.min(t, b.top); r = Math.max(r, b.right); bt = Math.max(bt, b.bottom);
      });
      var area = box.getBoundingClientRect();
      if (heaviest && ((r - l) * k > area.width || (bt - t) * k > area.height)) {
        l = heaviest.left; t = heaviest.top; r = heaviest.right; bt = heaviest.bottom;
      }
      var c = point({ clientX: (l + r) / 2, clientY: (t + bt) / 2 });
      var mid = point({ clientX: area.left + area.width / 2, clientY: area.top + area.height / 2 });
      s = k;
      tx = mid.x - s * c.x;
      ty = mid.y - s * c.y;
      apply();
    }
    var fitted = false;
    function toggleFit() {
      fitted = !fitted;
      if (fitted) { s = 1; tx = 0; ty = 0; apply(); } else readable();
      var b = document.getElementById('rp-fit');
      if (b) b.textContent = fitted ? 'Readable (f)' : 'Fit (f)';
    }
    readable();
    var fitButton = document.getElementById('rp-fit');
    if (fitButton) fitButton.addEventListener('click', function (ev) { ev.stopPropagation(); toggleFit(); });
    document.addEventListener('keydown', function (ev) {
      if (ev.key !== 'f' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var tag = ev.target && ev.target.tagName;
      if (tag === 'INPUT' || tag === 'TEXTAREA') return;
      toggleFit();
    });
    onSelection.push(function () {
      nodes.forEach(function (n) { n.classList.toggle('rp-selected', selected.indexOf(nodeName(n)) >= 0); });
    });
    onSearch.push(function (text) {
      var re = searchRegexp(text), k = 0;
      nodes.forEach(function (n) {
        var name = nodeName(n);
        var hit = !!(re && name !== null && re.test(name));
        if (hit) k++;
        n.classList.toggle('rp-match', hit);
      });
      if (matchedEl) matchedEl.textContent = re === undefined ? 'bad regexp' : re ? k + ' matching nodes' : '';
    });
  }

  // --- flame graph ---
  function initFlame() {
    var el = document.getElementById('fg-data');
    if (!el || !window.rustprofFlame) return;
    var p = params();
    flame = window.rustprofFlame.start({
      data: JSON.parse(el.textContent),
      container: document.getElementById('flame'),
      noSearch: true,
      matchedEl: matchedEl,
      state: { fz: p.get('fz') || '', fold: p.get('fold') || '' },
      // tagroot's label frames: the runtime frames to fold are below them.
      labelRows: (p.get('tagroot') || '').split(',').filter(function (k) { return k; }).length,
      onFold: function (on) {
        history.replaceState(history.state, '', urlWith(location.pathname, { fold: on ? '' : '0' }, []));
      },
      onZoom: function (path, name) {
        history.pushState({ fz: path }, '', urlWith(location.pathname, { fz: path }, []));
        setSelected(name ? [name] : []);
      },
      onContext: function (name, ev) { showContext(name, ev); },
      fetchSubtree: function (path, done) {
        fetch(urlWith('./flamegraph.json', { path: path }, ['fz', 'q', 'match']))
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(done, function () { done(null); });
      },
      onMatched: function (msg, text, partial) {
        if (!partial || !text) return;
        // Some frames were left out: ask the server for the exact share.
        fetch(urlWith('./flamegraph.json', { match: text }, ['fz', 'q', 'path']))
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (d) {
            if (d && d.text && search && search.value === text && matchedEl) matchedEl.textContent = d.text;
          }, function () {});
      }
    });
    if (flame.zoom && flame.zoom.parent) setSelected([flame.zoom.name]);
    onSearch.push(function (text) { flame.search(text); });
    if (search && search.value) flame.search(search.value);
    window.addEventListener('popstate', function () {
      var z = flame.nodeAt(params().get('fz') || '');
      flame.setZoom(z, false);
      setSelected(z.parent ? [z.name] : []);
    });
  }

  // --- source ---
  function initSource() {
    var sections = document.querySelectorAll('.rp-routine[data-name]');
    onSearch.push(function (text) {
      var re = searchRegexp(text), k = 0;
      sections.forEach(function (sec) {
        var hit = !!(re && re.test(sec.getAttribute('data-name')));
        if (hit) k++;
        sec.classList.toggle('rp-match', hit);
      });
      if (matchedEl) matchedEl.textContent = re === undefined ? 'bad regexp' : re ? k + ' matching functions' : '';
    });
  }

  if (view === 'top') initTop();
  else if (view === 'graph') initGraph();
  else if (view === 'flamegraph') initFlame();
  else if (view === 'source') initSource();
  if (search && search.value && view !== 'flamegraph') onSearch.forEach(function (f) { f(search.value); });

  // For tests and the curious.
  window.rustprofUI = {
    selected: function () { return selected.slice(); },
    select: setSelected,
    flame: function () { return flame; }
  };
})();
