// rustprof flame graph: draws the call tree sent by the analyzer on a canvas.
// Root at the top, callees below, children heaviest first. Frames narrower than
// a pixel are drawn as one grey block per parent; frames the analyzer left out
// (too light for the budget) are grey too and, in the web UI, loaded when a zoom
// makes them visible. Hover shows name, value and percentage; click zooms; the
// search box highlights matches and shows the matched share of the total.
//
// Runtime plumbing (the C runtime's and std's entry frames, thread start,
// catch_unwind and FnOnce shims, libtest's and rustprof's bench harness) is
// folded: each run of such frames under the root is drawn as one frame, of the
// same value, that expands on click. The toggle "Fold runtime frames" turns
// folding off (`fold=0` in the URL or the hash). Folding only changes what is
// drawn: values, percentages, zoom paths and search shares are the tree's.
//
// Data (from FlameTree::to_json): names[] with their ids nameIds[], nodes[]
// in depth-first order, each `name, pos, neg, selfPos, selfNeg, [div, selfDiv
// if mean], k` where k >= 0 is the number of children that follow and k < 0
// means -k-1 children follow and lighter ones were left out. A frame's path
// (the name ids of its callers and itself, from the root) names it for the
// server when the web UI loads what was left out.
(function () {
  'use strict';

  var ROW = 18;
  var MIN_PX = 0.75;

  function parse(data) {
    var names = data.names, ids = data.nameIds || [], a = data.nodes, i = 0, mean = !!data.mean;
    var root = null, stack = [], count = 0;
    while (i < a.length) {
      var n = {
        name: names[a[i]], gid: ids[a[i]], pos: a[i + 1], neg: a[i + 2], sp: a[i + 3], sn: a[i + 4],
        div: 0, sdiv: 0, kids: [], parent: null, idx: 0, depth: 0, cut: false, hit: false
      };
      i += 5;
      if (mean) { n.div = a[i]; n.sdiv = a[i + 1]; i += 2; }
      var k = a[i++];
      if (k < 0) { k = -k - 1; n.cut = true; }
      n.nk = k;
      n.w = n.pos + n.neg;
      count++;
      if (stack.length) {
        var top = stack[stack.length - 1];
        n.parent = top;
        n.idx = top.kids.length;
        n.depth = top.depth + 1;
        top.kids.push(n);
        if (top.kids.length === top.nk) stack.pop();
      } else {
        root = n;
      }
      if (k > 0) stack.push(n);
    }
    return { root: root, count: count };
  }

  // Frame names that are runtime plumbing (README: "Folded frames"). A Rust
  // path may carry generic arguments and closure or shim suffixes (or the
  // `::` left where generic arguments were cut out of the name).
  var RUST_SUFFIX = '(?:::(?:\\{\\{closure\\}\\}|\\{closure#\\d+\\}|\\{shim:vtable#\\d+\\}|<.*>|)|\\{\\{vtable\\.shim\\}\\})*';
  var PLUMBING = new RegExp('^(?:' + [
    // The C runtime and thread start (glibc, musl, macOS).
    '_start', 'start', '__libc_start_main', '__libc_start_main_impl', '__libc_start_call_main',
    '__libc_start_main_alias_\\d+', 'libc_start_main_stage2', 'start_thread', '_pthread_start',
    'thread_start', '(?:__)?clone3?', '__thread_start'
  ].join('|') + ')$|^(?:' + [
    // std's runtime: lang_start, thread spawn, panics caught at the entry.
    'std::rt::lang_start', 'std::rt::lang_start_internal',
    'std::sys(?:_common)?::backtrace::__rust_begin_short_backtrace',
    'std::panicking::try', 'std::panicking::try::do_call',
    'std::panicking::catch_unwind', 'std::panicking::catch_unwind::do_call', 'std::panic::catch_unwind',
    '__rust_try', 'std::sys::.*::thread_start', '<std::sys::[^ ]*>::new::thread_start',
    'std::thread::Builder::spawn_unchecked_', 'std::thread::lifecycle::spawn_unchecked',
    // Calls through closures and boxed closures.
    'core::ops::function::FnOnce::call_once', 'core::ops::function::impls::(?:<impl .*>)?::call_once',
    '<.* as core::ops::function::FnOnce<.*>>::call_once',
    // Test and benchmark harnesses.
    'test::.*', 'rustprof::bench::(?:main|run|Harness::.*|B::(?:run1|run_n|run_sub|process|launch|run))'
  ].join('|') + ')' + RUST_SUFFIX + '$');

  function plumbingName(name) { return PLUMBING.test(name); }

  // Whether frame `n` is plumbing: by its name, or a `main` (the C `main` of
  // a Rust program, a bench's own `main`) with no self value that only calls
  // plumbing.
  function isPlumbing(n) {
    if (plumbingName(n.name)) return true;
    if (!(n.name === 'main' || /::main$/.test(n.name)) || !n.kids.length || n.sp || n.sn) return false;
    for (var i = 0; i < n.kids.length; i++) if (!plumbingName(n.kids[i].name)) return false;
    return true;
  }

  // A frame's children and parent as drawn (folding replaces some).
  function kidsOf(n) { return n.dk || n.kids; }
  function parentOf(n) { return n.dp || n.parent; }

  function trimZeros(s) {
    if (s.slice(-3) === '.00') s = s.slice(0, -3);
    return (s === '0' || s === '-0') ? '0' : s;
  }

  // Mirrors measurement::scaled_label.
  function formatValue(v, d) {
    if (d.ratio > 0 && d.ratio !== 1) v = Math.trunc(v * d.ratio);
    var u = d.units;
    if (u.list.length) {
      var unit = u.fixed;
      if (!unit) {
        var best = null, av = Math.abs(v);
        for (var j = 0; j < u.list.length; j++) {
          var c = u.list[j];
          if ((!best || c[1] >= best[1]) && av / c[1] >= 1) best = c;
        }
        unit = best || u['default'];
      }
      var s = trimZeros((v / unit[1]).toFixed(2));
      return s === '0' ? s : s + unit[0];
    }
    var t = trimZeros(v.toFixed(2));
    return t === '0' ? t : t + u.suffix;
  }

  // Go's %g with precision 2.
  function g2(x) {
    if (x === 0) return '0';
    var e = x.toExponential(1).split('e');
    var exp = parseInt(e[1], 10);
    if (exp < -4 || exp >= 2) {
      var m = String(Number(e[0]));
      var ae = Math.abs(exp);
      return m + 'e' + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' : '') + ae;
    }
    return String(Number(x.toPrecision(2)));
  }

  // Mirrors measurement::percentage (trimmed).
  function percent(v, total) {
    var r = total !== 0 ? Math.abs(v / total) * 100 : 0;
    if (r >= 99.95 && r <= 100.05) return '100%';
    if (r >= 1) return r.toFixed(2) + '%';
    return g2(r) + '%';
  }

  function shortName(name) {
    var s = name;
    // A trailing argument list (C++), not a Go receiver such as `.(*T).M`.
    if (s.charAt(s.length - 1) === ')') {
      var depth = 0;
      for (var i = s.length - 1; i > 0; i--) {
        var ch = s.charAt(i);
        if (ch === ')') depth++;
        else if (ch === '(' && --depth === 0) {
          if (s.charAt(i - 1) !== '.' && s.slice(i) !== '(anonymous namespace)') s = s.slice(0, i);
          break;
        }
      }
    }
    var slash = s.lastIndexOf('/');
    if (slash >= 0 && s.indexOf(' ', slash) < 0) s = s.slice(slash + 1);
    var parts = s.split('::');
    if (parts.length > 2) s = parts.slice(-2).join('::');
    return s;
  }

  function packageOf(name) {
    var s = name;
    var c = s.indexOf('::');
    if (c > 0) return s.slice(0, c).replace(/^</, '');
    var slash = s.lastIndexOf('/');
    var dot = s.indexOf('.', slash + 1);
    if (dot > 0) return s.slice(0, dot);
    return s.split(' ')[0];
  }

  function hash(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 16777619);
    }
    return h >>> 0;
  }

  function Flame(opts) {
    this.o = opts;
    this.data = opts.data;
    this.total = this.data.total;
    var p = parse(this.data);
    this.root = p.root;
    this.count = p.count;
    this.zoom = this.root;
    this.re = null;
    this.matched = '';
    this.pending = {};
    this.inflight = 0;
    this.rects = [];
    this.rows = [];
    this.tipNode = null;
    this.colors = {};
    this.fold = !(opts.state && opts.state.fold === '0');
    this.expanded = {};
    this.groups = [];
    this.touched = [];
    this.container = opts.container;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'fg-canvas';
    this.container.appendChild(this.canvas);
    this.tip = document.createElement('div');
    this.tip.className = 'fg-tip';
    this.tip.hidden = true;
    document.body.appendChild(this.tip);
    this.ctx = this.canvas.getContext('2d');
    this.font = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace';
    this.ctx.font = this.font;
    this.charW = this.ctx.measureText('MMMMMMMMMM').width / 10 || 7.2;
    this.refold();
    this.bind();
  }

  // Rebuilds the folded frames: each run of plumbing frames starting under
  // the root (and not expanded by a click) becomes one frame whose children
  // are the first frames below the run that are not plumbing.
  Flame.prototype.refold = function () {
    for (var t = 0; t < this.touched.length; t++) {
      var o = this.touched[t];
      delete o.dk;
      delete o.dp;
      delete o.inGroup;
    }
    this.touched = [];
    this.groups = [];
    if (!this.fold) return;
    // Runs start under the root, or under the label frames `tagroot` puts
    // at the top of the stacks (opts.labelRows of them).
    // (samples without the label have no such frame).
    var level = [this.root], bases = [this.root];
    for (var d = 0; d < (this.o.labelRows || 0); d++) {
      var next = [];
      for (var b = 0; b < level.length; b++) {
        for (var c = 0; c < level[b].kids.length; c++) if (!isPlumbing(level[b].kids[c])) next.push(level[b].kids[c]);
      }
      bases = bases.concat(next);
      level = next;
    }
    for (var bi = 0; bi < bases.length; bi++) this.foldUnder(bases[bi]);
  };

  // Folds the runs of plumbing frames starting at the children of `root`.
  Flame.prototype.foldUnder = function (root) {
    var dk = [], any = false;
    for (var i = 0; i < root.kids.length; i++) {
      var k = root.kids[i];
      if (!isPlumbing(k) || this.expanded[this.pathOf(k)]) { dk.push(k); continue; }
      var members = [], frontier = [], stack = [k], sp = 0, sn = 0, sdiv = 0;
      while (stack.length) {
        var m = stack.pop();
        members.push(m);
        sp += m.sp;
        sn += m.sn;
        sdiv += m.sdiv;
        for (var j = m.kids.length - 1; j >= 0; j--) {
          var c = m.kids[j];
          if (isPlumbing(c)) stack.push(c); else frontier.push(c);
        }
      }
      if (members.length < 2) { dk.push(k); continue; }
      frontier.sort(function (a, b) { return b.w - a.w; });
      var g = {
        name: members.length + ' runtime frames: ' + members[0].name + ' \u2026 ' + members[members.length - 1].name,
        group: true, members: members, first: k, pos: k.pos, neg: k.neg, w: k.w, sp: sp, sn: sn,
        div: k.div, sdiv: sdiv, kids: frontier, nk: frontier.length, parent: root, idx: k.idx,
        depth: root.depth + 1, cut: false, hit: false
      };
      for (var f = 0; f < frontier.length; f++) { frontier[f].dp = g; this.touched.push(frontier[f]); }
      for (var q = 0; q < members.length; q++) { members[q].inGroup = g; this.touched.push(members[q]); }
      this.groups.push(g);
      dk.push(g);
      any = true;
    }
    if (any) { root.dk = dk; this.touched.push(root); }
  };

  // Shows the frames of a folded frame.
  Flame.prototype.expand = function (g) {
    this.expanded[this.pathOf(g.first)] = true;
    this.refold();
  };

  // Turns folding on or off (on again: every folded frame folded again).
  Flame.prototype.setFold = function (on) {
    this.fold = !!on;
    this.expanded = {};
    this.refold();
    if (this.zoom.inGroup) this.expand(this.zoom.inGroup);
    this.draw();
  };

  Flame.prototype.truncated = function () {
    var stack = [this.root];
    while (stack.length) {
      var n = stack.pop();
      if (n.cut) return true;
      for (var i = 0; i < n.kids.length; i++) stack.push(n.kids[i]);
    }
    return false;
  };

  Flame.prototype.value = function (n, self) {
    var v = self ? n.sp - n.sn : n.pos - n.neg;
    if (this.data.mean) {
      var d = self ? n.sdiv : n.div;
      if (d !== 0) v = Math.trunc(v / d);
    }
    return v;
  };

  Flame.prototype.color = function (n, ancestor) {
    var hit = n.hit;
    if (n.group) for (var m = 0; m < n.members.length && !hit; m++) hit = n.members[m].hit;
    if (hit) return ancestor ? '#e9a6ea' : '#d64fd8';
    if (n.group && !this.data.diff) return ancestor ? '#dfe5e8' : '#c5ced3';
    if (this.data.diff) {
      if (!n.w) return '#e6e6e6';
      var r = (n.pos - n.neg) / n.w;
      var a = Math.min(1, Math.abs(r));
      var light = ancestor ? 92 - 10 * a : 88 - 30 * a;
      if (Math.abs(r) < 0.02) return 'hsl(0, 0%, ' + (ancestor ? 92 : 86) + '%)';
      return r > 0 ? 'hsl(0, ' + Math.round(40 + 50 * a) + '%, ' + light + '%)'
        : 'hsl(215, ' + Math.round(40 + 50 * a) + '%, ' + light + '%)';
    }
    if (n.parent === null) return ancestor ? '#e8e8e8' : '#d8d8d8';
    var pkg = packageOf(n.name);
    var c = this.colors[pkg];
    if (!c) {
      var h = hash(pkg);
      c = this.colors[pkg] = [h % 360, 45 + (h >> 9) % 25, 72 + (h >> 17) % 10];
    }
    return 'hsl(' + c[0] + ', ' + c[1] + '%, ' + (ancestor ? Math.min(93, c[2] + 12) : c[2]) + '%)';
  };

  // The server's name for frame `n`: name ids from the root ("" for the root).
  Flame.prototype.serverPath = function (n) {
    var p = [];
    for (; n && n.parent; n = n.parent) p.push(n.gid);
    return p.reverse().join('.');
  };

  // The path of child indexes from the root to `n` ("" for the root).
  Flame.prototype.pathOf = function (n) {
    var p = [];
    for (; n && n.parent; n = n.parent) p.push(n.idx);
    return p.reverse().join('.');
  };

  Flame.prototype.nodeAt = function (path) {
    var n = this.root;
    if (!path) return n;
    var parts = String(path).split('.');
    for (var i = 0; i < parts.length; i++) {
      var k = parseInt(parts[i], 10);
      if (!(k >= 0) || k >= n.kids.length) break;
      n = n.kids[k];
    }
    return n;
  };

  Flame.prototype.layout = function () {
    var W = Math.max(200, this.container.clientWidth);
    var rects = [];
    var chain = [];
    for (var a = this.zoom; a; a = parentOf(a)) chain.unshift(a);
    for (var d = 0; d < chain.length - 1; d++) rects.push([0, d, W, chain[d], 1]);
    var base = chain.length - 1;
    var scale = this.zoom.w > 0 ? W / this.zoom.w : 0;
    var stack = [[this.zoom, 0, base]];
    var maxDepth = base;
    while (stack.length) {
      var e = stack.pop(), n = e[0], x = e[1], depth = e[2];
      var w = n.w * scale;
      rects.push([x, depth, w, n, 0]);
      if (depth > maxDepth) maxDepth = depth;
      var cx = x, used = 0, kids = kidsOf(n);
      for (var i = 0; i < kids.length; i++) {
        var kid = kids[i], kw = kid.w * scale;
        if (kw < MIN_PX) break;
        stack.push([kid, cx, depth + 1]);
        cx += kw;
        used += kid.w;
      }
      // Children too narrow to draw, and children left out by the analyzer.
      var rest = n.w - (n.sp + n.sn) - used;
      var rw = rest * scale;
      if (rw >= 1) {
        rects.push([cx, depth + 1, rw, n, 2]);
        if (depth + 1 > maxDepth) maxDepth = depth + 1;
      }
    }
    this.rects = rects;
    this.width = W;
    this.height = (maxDepth + 1) * ROW + 4;
    var rows = [];
    for (var r = 0; r < rects.length; r++) {
      var rr = rects[r];
      (rows[rr[1]] = rows[rr[1]] || []).push(rr);
    }
    for (var q = 0; q < rows.length; q++) if (rows[q]) rows[q].sort(function (l, m) { return l[0] - m[0]; });
    this.rows = rows;
  };

  Flame.prototype.label = function (name, w, n) {
    var fit = Math.floor((w - 6) / this.charW);
    if (fit < 3) return '';
    if (n && n.group) {
      var alts = ['\u25b8 ' + name, '\u25b8 ' + n.members.length + ' runtime frames', '\u25b8 ' + n.members.length];
      for (var a = 0; a < alts.length; a++) if (alts[a].length <= fit) return alts[a];
      return '';
    }
    if (name.length <= fit) return name;
    var s = shortName(name);
    if (s.length <= fit) return s;
    return s.slice(0, fit - 1) + '\u2026';
  };

  Flame.prototype.draw = function () {
    this.layout();
    var dpr = window.devicePixelRatio || 1;
    var c = this.canvas, ctx = this.ctx;
    c.style.width = this.width + 'px';
    c.style.height = this.height + 'px';
    c.width = Math.round(this.width * dpr);
    c.height = Math.round(this.height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    ctx.font = this.font;
    ctx.textBaseline = 'middle';
    for (var i = 0; i < this.rects.length; i++) {
      var r = this.rects[i], x = r[0], y = r[1] * ROW, w = r[2], n = r[3], kind = r[4];
      if (kind === 2) {
        ctx.fillStyle = n.cut ? '#c9c9c9' : '#dcdcdc';
        ctx.fillRect(x, y, Math.max(1, w - 0.5), ROW - 1);
        continue;
      }
      ctx.fillStyle = this.color(n, kind === 1);
      ctx.fillRect(x, y, Math.max(0.5, w - 0.5), ROW - 1);
      var text = this.label(n.name, w, n);
      if (text) {
        ctx.fillStyle = kind === 1 ? '#555' : '#111';
        ctx.fillText(text, x + 3, y + ROW / 2);
      }
    }
    this.loadVisible();
  };

  Flame.prototype.hit = function (ev) {
    var b = this.canvas.getBoundingClientRect();
    var x = ev.clientX - b.left, y = ev.clientY - b.top;
    var row = this.rows[Math.floor(y / ROW)];
    if (!row) return null;
    var lo = 0, hi = row.length - 1, found = null;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, r = row[mid];
      if (x < r[0]) hi = mid - 1;
      else if (x >= r[0] + Math.max(r[2], 1)) lo = mid + 1;
      else { found = r; break; }
    }
    return found;
  };

  Flame.prototype.describe = function (r) {
    var n = r[3], d = this.data, t = this.total;
    if (r[4] === 2) {
      return [n.cut ? 'Smaller frames (zoom in to see them)' : 'Frames too narrow to draw (zoom in)',
        'under ' + n.name];
    }
    var lines = [n.group ? n.members.length + ' runtime frames, folded (click to expand):' : n.name];
    var v = this.value(n, false), s = this.value(n, true);
    if (d.diff) {
      var before = d.diffBase ? 'base ' : '\u2212';
      var after = d.diffBase ? 'new ' : '+';
      lines.push(before + formatValue(n.neg, d) + ' (' + percent(n.neg, t) + ') \u2192 ' +
        after + formatValue(n.pos, d) + ' (' + percent(n.pos, t) + ')');
      lines.push('\u0394 ' + (v > 0 ? '+' : '') + formatValue(v, d) + ' (' + (v < 0 ? '-' : '+') +
        percent(v, t) + ' of total)');
    } else {
      lines.push(formatValue(v, d) + ' (' + percent(v, t) + ')' +
        '   self ' + formatValue(s, d) + ' (' + percent(s, t) + ')');
    }
    if (n.group) {
      for (var i = 0; i < n.members.length && i < 40; i++) lines.push('  ' + n.members[i].name);
      if (n.members.length > 40) lines.push('  \u2026');
    }
    return lines;
  };

  Flame.prototype.showTip = function (ev, r) {
    var tip = this.tip;
    if (!r) { tip.hidden = true; this.tipNode = null; return; }
    var lines = this.describe(r);
    tip.textContent = '';
    for (var i = 0; i < lines.length; i++) {
      var div = document.createElement('div');
      div.textContent = lines[i];
      if (i === 0) div.className = 'fg-tip-name';
      tip.appendChild(div);
    }
    tip.hidden = false;
    this.tipNode = r[3];
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    if (x + tw > window.innerWidth - 4) x = Math.max(4, ev.clientX - tw - 10);
    if (y + th > window.innerHeight - 4) y = Math.max(4, ev.clientY - th - 10);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  };

  Flame.prototype.bind = function () {
    var self = this;
    this.canvas.addEventListener('mousemove', function (ev) { self.showTip(ev, self.hit(ev)); });
    this.canvas.addEventListener('mouseleave', function () { self.tip.hidden = true; });
    this.canvas.addEventListener('click', function (ev) {
      var r = self.hit(ev);
      if (!r) return;
      if (r[3].group && r[4] !== 2) {
        self.expand(r[3]);
        self.tip.hidden = true;
        self.draw();
        return;
      }
      self.setZoom(r[3], true);
    });
    this.canvas.addEventListener('contextmenu', function (ev) {
      var r = self.hit(ev);
      if (!r || r[4] === 2 || !self.o.onContext || r[3].parent === null || r[3].group) return;
      ev.preventDefault();
      self.o.onContext(r[3].name, ev);
    });
    var timer = null;
    window.addEventListener('resize', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.draw(); }, 100);
    });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && ev.target === document.body) self.setZoom(self.root, true);
    });
  };

  Flame.prototype.setZoom = function (n, user) {
    if (!n) n = this.root;
    if (n.inGroup) this.expand(n.inGroup);
    this.zoom = n;
    this.tip.hidden = true;
    this.draw();
    if (user && this.o.onZoom) this.o.onZoom(this.pathOf(n), n.parent ? n.name : '');
  };

  // Marks the frames matching `text` and computes their share of the total,
  // counting each stack once (matches under a match add nothing).
  Flame.prototype.search = function (text) {
    var re = null, err = '';
    if (text) {
      try { re = new RegExp(text); } catch (e) { err = 'bad regexp: ' + e.message; }
    }
    this.re = re;
    var sum = 0, any = false;
    var stack = [[this.root, false]];
    while (stack.length) {
      var e = stack.pop(), n = e[0];
      n.hit = !!(re && n.parent && re.test(n.name));
      var under = e[1];
      if (n.hit && !under) { sum += n.pos - n.neg; any = true; }
      for (var i = 0; i < n.kids.length; i++) stack.push([n.kids[i], under || n.hit]);
    }
    var msg = '';
    if (err) msg = err;
    else if (re) msg = any ? 'Matched: ' + formatValue(sum, this.data) + ' (' + percent(sum, this.total) + ')'
      : 'No match';
    this.matched = msg;
    if (this.o.onMatched) this.o.onMatched(msg, text, re && this.truncated());
    this.draw();
    return msg;
  };

  // Web UI only: fetch the frames the analyzer left out once a zoom shows them.
  Flame.prototype.loadVisible = function () {
    if (!this.o.fetchSubtree) return;
    var want = [];
    for (var i = 0; i < this.rects.length; i++) {
      var r = this.rects[i];
      if (r[4] !== 2 || r[2] < 2) continue;
      var cands = r[3].group ? r[3].members : [r[3]];
      for (var c = 0; c < cands.length; c++) if (cands[c].cut) want.push(cands[c]);
    }
    var self = this;
    want.forEach(function (n) {
      var path = self.serverPath(n);
      if (self.pending[path] || self.inflight >= 6) return;
      self.pending[path] = true;
      self.inflight++;
      self.o.fetchSubtree(path, function (data) {
        self.inflight--;
        if (data && data.nodes) self.splice(n, data);
      });
    });
  };

  Flame.prototype.splice = function (n, data) {
    var sub = parse(data).root;
    if (!sub) return;
    n.kids = sub.kids;
    n.nk = sub.nk;
    n.cut = sub.cut;
    n.sp = sub.sp;
    n.sn = sub.sn;
    var stack = [n];
    while (stack.length) {
      var m = stack.pop();
      for (var i = 0; i < m.kids.length; i++) {
        var k = m.kids[i];
        k.parent = m;
        k.idx = i;
        k.depth = m.depth + 1;
        k.hit = !!(this.re && this.re.test(k.name));
        stack.push(k);
      }
    }
    this.refold();
    this.draw();
  };

  // For tests and the page: where the frames named `name` are on screen.
  Flame.prototype.framesNamed = function (name) {
    var b = this.canvas.getBoundingClientRect(), out = [];
    for (var i = 0; i < this.rects.length; i++) {
      var r = this.rects[i];
      if (r[4] !== 2 && r[3].name === name) {
        out.push({ x: b.left + r[0], y: b.top + r[1] * ROW, w: r[2], h: ROW - 1, depth: r[1], ancestor: r[4] === 1 });
      }
    }
    return out;
  };

  // For tests: the folded frames on screen and what they hold.
  Flame.prototype.folds = function () {
    var b = this.canvas.getBoundingClientRect(), out = [];
    for (var i = 0; i < this.rects.length; i++) {
      var r = this.rects[i];
      if (r[4] !== 2 && r[3].group) {
        out.push({
          x: b.left + r[0], y: b.top + r[1] * ROW, w: r[2], h: ROW - 1, depth: r[1],
          members: r[3].members.map(function (m) { return m.name; }), value: r[3].pos - r[3].neg
        });
      }
    }
    return out;
  };

  // For tests: the labels drawn, with their font size in CSS pixels.
  Flame.prototype.labels = function () {
    var b = this.canvas.getBoundingClientRect(), out = [], px = parseFloat(this.font) || 0;
    for (var i = 0; i < this.rects.length; i++) {
      var r = this.rects[i];
      if (r[4] === 2) continue;
      var text = this.label(r[3].name, r[2], r[3]);
      if (text) out.push({ text: text, x: b.left + r[0], y: b.top + r[1] * ROW, px: px });
    }
    return out;
  };

  function hashState() {
    var out = {};
    var h = location.hash.replace(/^#/, '');
    h.split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('=');
      var k = i < 0 ? kv : kv.slice(0, i);
      out[decodeURIComponent(k)] = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }

  function setHash(state) {
    var parts = [];
    Object.keys(state).forEach(function (k) {
      if (state[k]) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(state[k]));
    });
    history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname + location.search);
  }

  // Starts a flame graph. Without options (the standalone file) it finds its
  // data, search box and buttons in the page and keeps its state in the hash.
  function start(opts) {
    opts = opts || {};
    if (!opts.data) opts.data = JSON.parse(document.getElementById('fg-data').textContent);
    if (!opts.container) opts.container = document.getElementById('flame');
    var standalone = !opts.onZoom;
    var search = opts.noSearch ? null : (opts.search || document.getElementById('search'));
    var matchedEl = opts.matchedEl || document.getElementById('fg-matched');
    var state = standalone ? hashState() : (opts.state || {});
    opts.state = state;
    if (standalone) {
      opts.onZoom = function (path) { state.fz = path; setHash(state); };
    }
    var userMatched = opts.onMatched;
    opts.onMatched = function (msg, text, partial) {
      if (matchedEl) matchedEl.textContent = msg;
      if (standalone) { state.q = text; setHash(state); }
      if (userMatched) userMatched(msg, text, partial);
    };
    var f = new Flame(opts);
    window.rustprofFlame.current = f;
    f.zoom = f.nodeAt(state.fz || '');
    if (search) {
      if (state.q) search.value = state.q;
      var timer = null;
      search.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(function () { f.search(search.value); }, 150);
      });
    }
    var reset = document.getElementById('fg-reset');
    if (reset) reset.addEventListener('click', function () { f.setZoom(f.root, true); });
    if (f.zoom.inGroup) f.expand(f.zoom.inGroup);
    // The folding toggle, after the reset button.
    var label = document.createElement('label');
    label.className = 'fg-fold';
    label.title = 'Draw each run of runtime frames (_start, std::rt::lang_start, catch_unwind, ' +
      'FnOnce::call_once, test harness...) as one frame; click it to expand';
    var box = document.createElement('input');
    box.type = 'checkbox';
    box.id = 'fg-fold';
    box.checked = f.fold;
    label.appendChild(box);
    label.appendChild(document.createTextNode(' Fold runtime frames'));
    if (reset && reset.parentNode) reset.parentNode.insertBefore(label, reset.nextSibling);
    else opts.container.parentNode.insertBefore(label, opts.container);
    box.addEventListener('change', function () {
      f.setFold(box.checked);
      if (standalone) { state.fold = box.checked ? '' : '0'; setHash(state); }
      if (opts.onFold) opts.onFold(box.checked);
    });
    if (search && search.value) f.search(search.value); else f.draw();
    if (standalone) {
      window.addEventListener('hashchange', function () {
        var s = hashState();
        f.zoom = f.nodeAt(s.fz || '');
        if (f.zoom.inGroup) f.expand(f.zoom.inGroup);
        f.draw();
      });
    }
    return f;
  }

  window.rustprofFlame = {
    start: start,
    plumbingName: plumbingName,
    formatValue: formatValue,
    percent: percent,
    current: null
  };
})();
