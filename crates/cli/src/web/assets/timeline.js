// rustprof timeline: the lanes of a trace drawn on a canvas from the
// server's per-screen data (/ui/timeline/view.json: slices narrower than a
// pixel come merged), details loaded on demand. No dependencies.
//
// Keys: W/S zoom in/out, A/D pan, arrows up/down scroll the lanes, Escape
// clears. Mouse: wheel zooms around the pointer (Shift+wheel pans), drag
// pans, drag on the time axis selects a range, click shows a slice.
(function () {
  'use strict';
  var meta = JSON.parse(document.getElementById('tl-data').textContent);
  var main = document.getElementById('tl-main');
  var canvas = document.getElementById('tl-canvas');
  var ctx = canvas.getContext('2d');
  var lanesDiv = document.getElementById('tl-lanes');
  var details = document.getElementById('tl-details');
  var rangeLabel = document.getElementById('tl-range');

  var AXIS = 24, STATE = 16, ROW = 16, MARK = 10, GAP = 6, COUNTER = 44, MIN_SPAN = 100;
  var COLORS = {
    running: '#43a047', runnable: '#fbc02d', blocked: '#e53935', 'lock wait': '#8e24aa',
    'condvar wait': '#ba68c8', region: '#1e88e5', task: '#00897b', poll: '#7cb342', other: '#90a4ae'
  };
  var MARK_COLORS = ['#283593', '#616161', '#d50000'];
  var duration = Math.max(1, meta.duration);
  var view = { start: 0, end: duration };
  var scrollY = 0, totalHeight = 0;
  var layout = [], counterLayout = [];
  var data = null, names = {}, seq = 0, loaded = 0, timer = 0;
  var selection = null, width = 0, height = 0;

  function human(ns) {
    if (ns < 1e3) return Math.round(ns) + 'ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(2) + '\u00b5s';
    if (ns < 1e9) return (ns / 1e6).toFixed(2) + 'ms';
    return (ns / 1e9).toFixed(3) + 's';
  }

  function computeLayout() {
    var y = AXIS;
    layout = meta.lanes.map(function (l) {
      var e = { y: y, state: -1, rows: 0, marks: -1, h: 0 };
      if (l.states) { e.state = y; e.h += STATE; }
      e.rows = y + e.h; e.h += l.rows * ROW;
      if (l.marks) { e.marks = y + e.h; e.h += MARK; }
      if (e.h === 0) e.h = ROW;
      y += e.h + GAP;
      return e;
    });
    counterLayout = meta.counters.map(function () {
      var e = { y: y, h: COUNTER };
      y += COUNTER + GAP;
      return e;
    });
    totalHeight = y;
    lanesDiv.textContent = '';
    meta.lanes.forEach(function (l, i) {
      var d = document.createElement('div');
      d.className = 'tl-lane tl-lane-' + l.kind;
      d.dataset.lane = i;
      d.textContent = l.kind === 'thread' ? l.name + ' (' + l.tid + ')' : l.name;
      d.title = d.textContent;
      lanesDiv.appendChild(d);
    });
    meta.counters.forEach(function (c, i) {
      var d = document.createElement('div');
      d.className = 'tl-lane tl-counter';
      d.dataset.counter = i;
      d.textContent = c.name;
      lanesDiv.appendChild(d);
    });
  }

  function placeLabels() {
    var kids = lanesDiv.children;
    for (var i = 0; i < kids.length; i++) {
      var e = i < layout.length ? layout[i] : counterLayout[i - layout.length];
      kids[i].style.top = (e.y - scrollY) + 'px';
      kids[i].style.height = e.h + 'px';
    }
  }

  function X(t) { return (t - view.start) / (view.end - view.start) * width; }
  function T(x) { return view.start + x / width * (view.end - view.start); }

  function resize() {
    var r = canvas.getBoundingClientRect();
    width = Math.max(1, r.width);
    height = Math.max(1, r.height);
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    request(0);
    draw();
  }

  function clampView() {
    var span = Math.max(MIN_SPAN, Math.min(duration, view.end - view.start));
    if (view.start < 0) view.start = 0;
    if (view.start + span > duration) view.start = duration - span;
    view.end = view.start + span;
    scrollY = Math.max(0, Math.min(scrollY, Math.max(0, totalHeight - height + 10)));
  }

  function changed() {
    clampView();
    rangeLabel.textContent = '+' + human(view.start) + ' \u2026 +' + human(view.end) + ' (' + human(view.end - view.start) + ')';
    draw();
    request(40);
  }

  function request(delay) {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var my = ++seq;
      var url = 'timeline/view.json?start=' + Math.floor(view.start) + '&end=' + Math.ceil(view.end) +
        '&width=' + Math.max(1, Math.round(width));
      fetch(url).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (!d || my !== seq) return;
        // Times come relative to the screen's start.
        var base = d.start;
        d.lanes.forEach(function (l) {
          l.states.forEach(function (it) { it[0] += base; it[1] += base; });
          l.rows.forEach(function (row) { row.forEach(function (it) { it[0] += base; it[1] += base; }); });
          l.marks.forEach(function (mk) { mk[0] += base; mk[5] += base; });
        });
        d.counters.forEach(function (c) { c.forEach(function (p) { p[0] += base; }); });
        data = d;
        for (var k in d.names) names[k] = d.names[k];
        loaded = my;
        draw();
      });
    }, delay);
  }

  function niceStep(span) {
    var raw = span / Math.max(1, width / 110);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function drawItems(items, y, h) {
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var x0 = X(it[0]), x1 = X(it[1]);
      if (x1 < 0 || x0 > width) continue;
      var w = Math.max(1, x1 - x0);
      var cls = meta.classes[it[2]];
      ctx.fillStyle = COLORS[cls] || COLORS.other;
      ctx.globalAlpha = it[4] < 0 ? 0.65 : 1;
      ctx.fillRect(x0, y, w, h);
      ctx.globalAlpha = 1;
      if (w > 36 && it[3] >= 0) {
        var left = Math.max(0, x0) + 3, right = Math.min(width, x0 + w) - 3;
        if (right - left > 20) {
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, y, right - left, h);
          ctx.clip();
          ctx.fillStyle = cls === 'runnable' ? '#000' : '#fff';
          ctx.fillText(names[it[3]] || cls, left, y + h - 4);
          ctx.restore();
        }
      }
    }
  }

  function draw() {
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px system-ui, sans-serif';
    // Lane backgrounds, then the grid, then what is in the lanes.
    layout.forEach(function (e, i) {
      ctx.fillStyle = i % 2 ? '#fafafa' : '#f3f6f8';
      ctx.fillRect(0, e.y - scrollY, width, e.h);
    });
    var step = niceStep(view.end - view.start), ticks = [];
    for (var t = Math.ceil(view.start / step) * step; t <= view.end; t += step) ticks.push(t);
    ctx.strokeStyle = '#dfe5e8';
    ticks.forEach(function (t) {
      var tx = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(tx, AXIS); ctx.lineTo(tx, height); ctx.stroke();
    });
    if (data) {
      for (var i = 0; i < layout.length && i < data.lanes.length; i++) {
        var e = layout[i], l = data.lanes[i];
        if (e.y - scrollY > height || e.y + e.h - scrollY < AXIS) continue;
        if (e.state >= 0) drawItems(l.states, e.state - scrollY + 1, STATE - 2);
        for (var r = 0; r < l.rows.length; r++) drawItems(l.rows[r], e.rows + r * ROW - scrollY + 1, ROW - 2);
        if (e.marks >= 0) {
          for (var k = 0; k < l.marks.length; k++) {
            var mk = l.marks[k], x = X(mk[0]), y = e.marks - scrollY;
            ctx.fillStyle = MARK_COLORS[mk[1]] || '#000';
            if (mk[3] > 1 && X(mk[5]) - x >= 2) {
              // A run of marks closer than two pixels: a band.
              ctx.globalAlpha = mk[1] === 1 ? 0.45 : 0.7;
              ctx.fillRect(x, y + 2, X(mk[5]) - x + 1, MARK - 4);
              ctx.globalAlpha = 1;
            } else if (mk[1] === 1) {
              ctx.fillRect(x, y + 1, 1, MARK - 2);
            } else {
              ctx.beginPath();
              ctx.moveTo(x, y + 1); ctx.lineTo(x + 4, y + MARK - 1); ctx.lineTo(x - 4, y + MARK - 1);
              ctx.closePath(); ctx.fill();
            }
          }
        }
      }
      // Counters: min..max per pixel, the last value as a line.
      for (var c = 0; c < counterLayout.length && c < data.counters.length; c++) {
        var ce = counterLayout[c], pts = data.counters[c], cm = meta.counters[c];
        var top = ce.y - scrollY, lo = Math.min(0, cm.min), span = Math.max(1, cm.max - lo);
        ctx.fillStyle = '#f3f6f8';
        ctx.fillRect(0, top, width, ce.h);
        ctx.fillStyle = '#80cbc4';
        for (var p = 0; p < pts.length; p++) {
          var x0 = Math.max(0, X(pts[p][0]));
          var x1 = p + 1 < pts.length ? X(pts[p + 1][0]) : width;
          var vy = top + ce.h - (pts[p][2] - lo) / span * (ce.h - 4);
          ctx.fillRect(x0, vy, Math.max(1, x1 - x0), top + ce.h - vy);
        }
      }
    }
    // Axis.
    ctx.fillStyle = '#eceff1';
    ctx.fillRect(0, 0, width, AXIS);
    ctx.fillStyle = '#455a64';
    ctx.strokeStyle = '#90a4ae';
    ticks.forEach(function (t) {
      var tx = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(tx, AXIS - 6); ctx.lineTo(tx, AXIS); ctx.stroke();
      ctx.fillText('+' + human(t), tx + 3, 14);
    });
    if (selection) {
      var sx0 = X(selection.start), sx1 = X(selection.end);
      ctx.fillStyle = 'rgba(30, 136, 229, 0.18)';
      ctx.fillRect(sx0, 0, Math.max(1, sx1 - sx0), height);
      ctx.fillStyle = '#1565c0';
      ctx.fillRect(sx0, 0, 1, height);
      ctx.fillRect(sx1, 0, 1, height);
    }
    placeLabels();
  }

  // Hit testing: which lane, row and item is at canvas point (x, y).
  function hit(x, y) {
    if (!data || y < AXIS) return null;
    var cy = y + scrollY;
    for (var i = 0; i < layout.length; i++) {
      var e = layout[i];
      if (cy < e.y || cy >= e.y + e.h) continue;
      var l = data.lanes[i], items = null, row = -2;
      if (e.state >= 0 && cy < e.state + STATE) { items = l.states; row = -1; }
      else if (e.marks >= 0 && cy >= e.marks) {
        var best = null;
        l.marks.forEach(function (m) {
          var d = x >= X(m[0]) && x <= X(m[5]) ? 0 : Math.min(Math.abs(X(m[0]) - x), Math.abs(X(m[5]) - x));
          if (d <= 4 && (!best || d < best.d)) best = { d: d, m: m };
        });
        return best ? { lane: i, mark: best.m } : null;
      } else {
        row = Math.floor((cy - e.rows) / ROW);
        items = l.rows[row];
      }
      if (!items) return null;
      for (var k = 0; k < items.length; k++) {
        var it = items[k], x0 = X(it[0]), x1 = Math.max(X(it[1]), x0 + 1);
        if (x >= x0 - 1 && x <= x1 + 1) return { lane: i, row: row, item: it };
      }
      return null;
    }
    return null;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function table(rows, id) {
    var t = el('table', 'tl-table');
    if (id) t.id = id;
    rows.forEach(function (r) {
      var tr = el('tr');
      r.forEach(function (c, j) { tr.appendChild(el(j ? 'td' : 'th', '', c)); });
      t.appendChild(tr);
    });
    return t;
  }

  function showSlice(d, kind) {
    details.textContent = '';
    details.appendChild(el('h3', 'tl-title', d.name + ' \u2014 ' + (d.class || d.category || kind)));
    var rows = [['lane', d.lane], ['at', d.at]];
    if (d.dur) rows.push(['duration', d.dur]);
    Object.keys(d.args || {}).forEach(function (k) { rows.push([k, d.args[k]]); });
    if (d.in && d.in.length) rows.push(['in', d.in.join(' < ')]);
    details.appendChild(table(rows, 'tl-fields'));
    if (d.stack && d.stack.length) {
      details.appendChild(el('h4', '', 'Stack'));
      var pre = el('pre', 'tl-stack', d.stack.join('\n'));
      pre.id = 'tl-stack';
      details.appendChild(pre);
    }
    api.details = d;
  }

  function click(x, y) {
    var h = hit(x, y);
    if (!h) return;
    if (h.mark) {
      if (h.mark[2] < 0) {
        details.textContent = '';
        details.appendChild(el('p', 'rp-note', h.mark[3] + ' ' + (h.mark[1] === 1 ? 'CPU samples' : 'events') +
          ' here: zoom in to pick one.'));
        return;
      }
      fetch('timeline/instant.json?lane=' + h.lane + '&i=' + h.mark[2]).then(function (r) { return r.json(); })
        .then(function (d) { showSlice(d, 'instant'); });
      return;
    }
    var it = h.item;
    if (it[4] < 0) {
      details.textContent = '';
      details.appendChild(el('p', 'rp-note', it[5] + ' slices within a pixel (mostly ' + meta.classes[it[2]] +
        ', ' + human(it[1] - it[0]) + '): zoom in to see them.'));
      api.details = { merged: it[5] };
      return;
    }
    fetch('timeline/slice.json?lane=' + h.lane + '&row=' + h.row + '&i=' + it[4]).then(function (r) { return r.json(); })
      .then(function (d) { showSlice(d, 'slice'); });
  }

  function showRange(d) {
    details.textContent = '';
    details.appendChild(el('h3', 'tl-title', 'Selection: ' + d.dur + ' from +' + human(d.start)));
    var t = d.threads;
    details.appendChild(table([['', 'running', 'runnable', 'blocked', 'sync wait'],
      ['all threads', t.running, t.runnable, t.blocked, t['sync wait']]], 'tl-range-threads'));
    var rows = [['lane'].concat(meta.classes)];
    d.lanes.forEach(function (l) {
      rows.push([l.name].concat(meta.classes.map(function (c) { return l.totals[c] ? l.totals[c][1] : ''; })));
    });
    details.appendChild(table(rows, 'tl-range-lanes'));
    api.range = d;
  }

  // A drag's end within 3 pixels of the canvas's edge selects to the edge.
  function edgeT(x) {
    if (x <= 3) return view.start;
    if (x >= width - 3) return view.end;
    return T(x);
  }

  function select(a, b) {
    selection = { start: Math.max(0, Math.min(a, b)), end: Math.min(duration, Math.max(a, b)) };
    draw();
    var s = Math.floor(selection.start), e = Math.ceil(selection.end);
    fetch('timeline/range.json?start=' + s + '&end=' + e).then(function (r) { return r.json(); }).then(showRange);
  }

  function zoom(factor, at) {
    var t = T(at);
    var span = Math.max(MIN_SPAN, Math.min(duration, (view.end - view.start) * factor));
    view.start = t - (at / width) * span;
    view.end = view.start + span;
    changed();
  }

  function pan(dt) {
    view.start += dt;
    view.end += dt;
    changed();
  }

  var drag = null, pointerX = null;
  canvas.addEventListener('mousedown', function (ev) {
    var r = canvas.getBoundingClientRect();
    var x = ev.clientX - r.left, y = ev.clientY - r.top;
    drag = { x: x, y: y, lastX: x, lastY: y, select: y < AXIS, moved: false };
    ev.preventDefault();
  });
  window.addEventListener('mousemove', function (ev) {
    var r = canvas.getBoundingClientRect();
    var x = ev.clientX - r.left, y = ev.clientY - r.top;
    pointerX = x >= 0 && x <= width ? x : null;
    if (!drag) return;
    if (Math.abs(x - drag.x) + Math.abs(y - drag.y) > 3) drag.moved = true;
    if (drag.select) {
      selection = { start: edgeT(drag.x), end: edgeT(x) };
      if (selection.start > selection.end) selection = { start: selection.end, end: selection.start };
      draw();
    } else if (drag.moved) {
      var dt = (drag.lastX - x) / width * (view.end - view.start);
      scrollY += drag.lastY - y;
      view.start += dt;
      view.end += dt;
      changed();
    }
    drag.lastX = x;
    drag.lastY = y;
  });
  window.addEventListener('mouseup', function (ev) {
    if (!drag) return;
    var r = canvas.getBoundingClientRect();
    var x = ev.clientX - r.left, y = ev.clientY - r.top;
    var d = drag;
    drag = null;
    if (d.select && d.moved) {
      select(edgeT(d.x), edgeT(x));
    } else if (!d.moved) {
      click(x, y);
    }
  });
  canvas.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    var x = ev.clientX - r.left;
    if (ev.shiftKey) {
      pan((ev.deltaY || ev.deltaX) / width * (view.end - view.start));
    } else {
      zoom(Math.exp(ev.deltaY * 0.002), x);
    }
  }, { passive: false });
  document.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (ev.target && ev.target.tagName === 'INPUT')) return;
    var at = pointerX === null ? width / 2 : pointerX, span = view.end - view.start;
    switch (ev.key.toLowerCase()) {
      case 'w': zoom(0.8, at); break;
      case 's': zoom(1.25, at); break;
      case 'a': pan(-0.15 * span); break;
      case 'd': pan(0.15 * span); break;
      case 'arrowup': scrollY -= 40; changed(); break;
      case 'arrowdown': scrollY += 40; changed(); break;
      case 'escape': selection = null; details.textContent = ''; draw(); break;
      default: return;
    }
    ev.preventDefault();
  });
  window.addEventListener('resize', resize);

  // For tests and the console: the state, and where items are drawn.
  var api = {
    meta: meta,
    view: view,
    details: null,
    range: null,
    loaded: function () { return loaded === seq && data !== null ? data : null; },
    selection: function () { return selection; },
    // Viewport rectangles of drawn items named `name` (or of class `cls`).
    find: function (name, cls) {
      var out = [], r = canvas.getBoundingClientRect();
      if (!data) return out;
      data.lanes.forEach(function (l, i) {
        var e = layout[i];
        var rows = [[l.states, e.state, STATE]].concat(l.rows.map(function (row, k) { return [row, e.rows + k * ROW, ROW]; }));
        rows.forEach(function (rw) {
          (rw[0] || []).forEach(function (it) {
            if (it[3] < 0 || (name && names[it[3]] !== name) || (cls && meta.classes[it[2]] !== cls)) return;
            var x0 = Math.max(0, X(it[0])), x1 = Math.min(width, X(it[1]));
            if (x1 <= x0) return;
            out.push({ lane: i, x: r.left + x0, y: r.top + rw[1] - scrollY + 1, w: x1 - x0, h: rw[2] - 2 });
          });
        });
      });
      return out;
    },
    axis: function () { var r = canvas.getBoundingClientRect(); return { left: r.left, top: r.top, width: width, height: AXIS }; }
  };
  window.rustprofTimeline = api;

  // The profile menu opens like the other views' menus.
  Array.prototype.forEach.call(document.querySelectorAll('.rp-menu-name'), function (b) {
    b.addEventListener('click', function (ev) {
      ev.stopPropagation();
      b.parentNode.classList.toggle('open');
    });
  });
  document.addEventListener('click', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.rp-menu.open'), function (m) { m.classList.remove('open'); });
  });

  computeLayout();
  resize();
  changed();
  main.focus();
})();
