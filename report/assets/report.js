// metalab report: draws the page's charts and runs table from the data
// block. Written for this page, without a library: see package report's
// documentation. Strings from runs are only ever set as text.
(function () {
  "use strict";
  var D; // the data being drawn: the page's own, or newer data that metalab serve sends
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  var STATUS_COLORS = { completed: "#2e7d32", failed: "#c62828", cancelled: "#b08a00", running: "#1565c0" };

  // --- small helpers ---------------------------------------------------

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }
  function fmt(v) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number") {
      if (!isFinite(v)) return "-";
      if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(3).replace(/\.?0+e/, "e");
      return String(parseFloat(v.toPrecision(5)));
    }
    if (typeof v === "boolean") return v ? "true" : "false";
    return String(v);
  }
  function fmtSeconds(s) {
    if (s === null || s === undefined) return "-";
    if (s < 60) return fmt(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }
  function ref(e) { return e.version ? e.name + "@" + e.version : e.name; }
  function labelled(container, label, control) {
    var l = el("label", {}, label + " ");
    l.appendChild(control);
    container.appendChild(l);
    return control;
  }
  function select(container, label, options, value, onchange) {
    var s = el("select", { "data-control": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o.value }, o.text);
      if (o.value === value) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); });
    return labelled(container, label, s);
  }
  function checkbox(container, label, checked, onchange) {
    var c = el("input", { type: "checkbox", "data-control": label });
    c.checked = checked;
    c.addEventListener("change", function () { onchange(c.checked); });
    return labelled(container, label, c);
  }
  function spansDecades(values) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null || typeof v !== "number") continue;
      if (v <= 0) return false;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return hi > 0 && lo < Infinity && hi / lo >= 100;
  }
  // experimentPicker adds an experiment select when there are several and
  // returns the index picked.
  function experimentPicker(container, state, redraw) {
    if (D.experiments.length < 2) return;
    select(container, "experiment", D.experiments.map(function (e, i) { return { value: String(i), text: ref(e) }; }),
      String(state.exp), function (v) { state.exp = +v; redraw(true); });
  }

  // --- scales and axes -------------------------------------------------

  function niceStep(span, count) {
    var raw = span / Math.max(count, 1), p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
  }
  // scale maps a domain to [r0, r1]: kind linear, log or cat (values are
  // the categories, in order).
  function scale(kind, values, r0, r1) {
    var s = { kind: kind };
    if (kind === "cat") {
      var cats = [];
      values.forEach(function (v) { if (cats.indexOf(String(v)) < 0) cats.push(String(v)); });
      var step = (r1 - r0) / Math.max(cats.length, 1);
      s.map = function (v) { return r0 + step * (cats.indexOf(String(v)) + 0.5); };
      s.ticks = cats.map(function (c) { return { v: c, label: c }; });
      return s;
    }
    var nums = values.filter(function (v) { return typeof v === "number" && isFinite(v) && (kind !== "log" || v > 0); });
    var lo = Math.min.apply(null, nums), hi = Math.max.apply(null, nums);
    if (!nums.length) { lo = kind === "log" ? 1 : 0; hi = kind === "log" ? 10 : 1; }
    if (kind === "log") {
      var l0 = Math.floor(Math.log10(lo) * 100) / 100, l1 = Math.ceil(Math.log10(hi) * 100) / 100;
      if (l1 - l0 < 1e-9) { l0 -= 0.5; l1 += 0.5; }
      s.map = function (v) { return r0 + (Math.log10(v) - l0) / (l1 - l0) * (r1 - r0); };
      s.ticks = [];
      var every = Math.max(1, Math.ceil((Math.floor(l1) - Math.ceil(l0)) / 8));
      for (var e = Math.ceil(l0); e <= Math.floor(l1); e += every) s.ticks.push({ v: Math.pow(10, e), label: fmt(Math.pow(10, e)) });
      if (s.ticks.length < 2) {
        s.ticks = [{ v: Math.pow(10, l0), label: fmt(Math.pow(10, l0)) }, { v: Math.pow(10, l1), label: fmt(Math.pow(10, l1)) }];
      }
      s.ok = function (v) { return typeof v === "number" && v > 0; };
      return s;
    }
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) { lo -= 0.5 * (Math.abs(lo) || 1); hi += 0.5 * (Math.abs(hi) || 1); }
    var st = niceStep(hi - lo, 6);
    var a = Math.floor(lo / st) * st, b = Math.ceil(hi / st) * st;
    s.map = function (v) { return r0 + (v - a) / (b - a) * (r1 - r0); };
    s.ticks = [];
    for (var t = a; t <= b + st / 2; t += st) s.ticks.push({ v: t, label: fmt(parseFloat(t.toPrecision(10))) });
    s.ok = function (v) { return typeof v === "number" && isFinite(v); };
    return s;
  }
  function okCat() { return true; }

  // frame draws an SVG with axes for x and y scales and returns it with
  // the plot area's bounds.
  function frame(container, opts) {
    var W = opts.width || 760, H = opts.height || 360, m = { l: 64, r: 36, t: 12, b: opts.xTickRotate ? 70 : 44 };
    var svg = sv("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
    var x = scale(opts.xKind, opts.xValues, m.l, W - m.r), y = scale(opts.yKind, opts.yValues, H - m.b, m.t);
    if (!x.ok) x.ok = okCat;
    var gx = sv("g", { "class": "axis x" }), gy = sv("g", { "class": "axis y" });
    gx.appendChild(sv("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    gy.appendChild(sv("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
    var xt = x.ticks, every = Math.max(1, Math.ceil(xt.length / 16));
    xt.forEach(function (t, i) {
      var px = x.map(t.v);
      gx.appendChild(sv("line", { x1: px, x2: px, y1: H - m.b, y2: H - m.b + 4 }));
      if (i % every) return;
      var attrs = { x: px, y: H - m.b + 16, "text-anchor": "middle" };
      if (opts.xTickRotate) attrs = { x: px, y: H - m.b + 10, "text-anchor": "end", transform: "rotate(-35 " + px + " " + (H - m.b + 10) + ")" };
      gx.appendChild(sv("text", attrs, opts.xTickFormat ? opts.xTickFormat(t.v) : t.label));
    });
    y.ticks.forEach(function (t) {
      var py = y.map(t.v);
      svg.appendChild(sv("line", { "class": "grid", x1: m.l, x2: W - m.r, y1: py, y2: py }));
      gy.appendChild(sv("text", { x: m.l - 6, y: py + 4, "text-anchor": "end" }, t.label));
    });
    gx.appendChild(sv("text", { x: (m.l + W - m.r) / 2, y: H - 4, "text-anchor": "middle" }, opts.xLabel || ""));
    gy.appendChild(sv("text", { x: 12, y: (m.t + H - m.b) / 2, "text-anchor": "middle", transform: "rotate(-90 12 " + (m.t + H - m.b) / 2 + ")" }, opts.yLabel || ""));
    svg.appendChild(gx);
    svg.appendChild(gy);
    container.appendChild(svg);
    return { svg: svg, x: x, y: y };
  }

  // lineChart draws lines with bands: lines are {name, x[], mean[], lo[],
  // hi[], n[]}; points draws a circle per point.
  function lineChart(container, opts) {
    clear(container);
    var xs = [], ys = [];
    opts.lines.forEach(function (l) {
      xs = xs.concat(l.x);
      ys = ys.concat(l.mean, l.lo.filter(function (v) { return v !== null; }), l.hi.filter(function (v) { return v !== null; }));
    });
    var f = frame(container, { xKind: opts.xKind, yKind: opts.yKind, xValues: xs, yValues: ys, xLabel: opts.xLabel, yLabel: opts.yLabel, xTickRotate: opts.xKind === "cat" && xs.length > 8, xTickFormat: opts.xTickFormat });
    var legend = el("div", { "class": "legend" });
    opts.lines.forEach(function (l, i) {
      var color = COLORS[i % COLORS.length], g = sv("g", { "class": "series", "data-group": l.name });
      var pts = [], upper = [], lower = [];
      for (var j = 0; j < l.x.length; j++) {
        var xv = l.x[j], m = l.mean[j];
        if (!f.x.ok(xv) || !f.y.ok(m)) continue;
        var px = f.x.map(xv);
        pts.push([px, f.y.map(m), j]);
        var lo = l.lo[j], hi = l.hi[j];
        if (lo !== null && hi !== null) {
          if (opts.yKind === "log" && lo <= 0) lo = m / 10;
          upper.push(px + "," + f.y.map(hi));
          lower.unshift(px + "," + f.y.map(lo));
        }
      }
      if (upper.length > 1) g.appendChild(sv("polygon", { "class": "band", fill: color, points: upper.concat(lower).join(" ") }));
      if (pts.length > 1) g.appendChild(sv("path", { "class": "line", stroke: color, d: "M" + pts.map(function (p) { return p[0] + "," + p[1]; }).join("L") }));
      if (opts.points) {
        pts.forEach(function (p) {
          var j = p[2], c = sv("circle", { "class": "pt", cx: p[0], cy: p[1], r: 3.5, fill: color });
          c.appendChild(sv("title", {}, (l.name !== null ? opts.groupLabel + "=" + l.name + ", " : "") + opts.xLabel + "=" + fmt(l.x[j]) +
            ": mean " + fmt(l.mean[j]) + ", 95% CI [" + fmt(l.lo[j]) + ", " + fmt(l.hi[j]) + "], n=" + l.n[j]));
          g.appendChild(c);
        });
      }
      f.svg.appendChild(g);
      if (l.name !== null) {
        var s = el("span");
        var sw = el("i");
        sw.style.background = color;
        s.appendChild(sw);
        s.appendChild(document.createTextNode(opts.groupLabel + " = " + l.name));
        legend.appendChild(s);
      }
    });
    container.appendChild(legend);
    return f;
  }
  function linesOf(curve) {
    return curve.lines.map(function (l) {
      return { name: l.g === null ? null : fmt(l.g), x: l.x, mean: l.mean, lo: l.lo, hi: l.hi, n: l.n };
    });
  }

  // --- metric vs param -------------------------------------------------

  function metricVsParam() {
    var state = { exp: 0 };
    function pick(redo) {
      var e = D.experiments[state.exp];
      if (redo || state.metric === undefined) {
        var xs = e.params.filter(function (p) { return e.curves.some(function (c) { return c.x === p.name; }); });
        state.metric = e.metrics[0];
        state.x = xs.length ? xs[0].name : undefined;
        state.group = "";
        resetLogs(e);
      }
      draw();
    }
    function resetLogs(e) {
      var p = e.params.find(function (p) { return p.name === state.x; });
      state.logx = !!(p && p.log);
      var c = curve(e);
      var means = [];
      if (c) c.lines.forEach(function (l) { means = means.concat(l.mean); });
      state.logy = spansDecades(means);
    }
    function curve(e) {
      return e.curves.find(function (c) { return c.metric === state.metric && c.x === state.x && (c.group || "") === state.group; });
    }
    function draw() {
      var e = D.experiments[state.exp], ctl = clear($("mvp-controls")), chart = $("mvp"), note = $("mvp-note");
      experimentPicker(ctl, state, pick);
      if (!e.metrics.length || state.x === undefined) {
        clear(chart).appendChild(el("p", {}, "No completed run of " + ref(e) + " recorded a metric."));
        note.textContent = "";
        return;
      }
      select(ctl, "metric", e.metrics.map(function (m) { return { value: m, text: m }; }), state.metric, function (v) { state.metric = v; resetLogs(e); draw(); });
      var xs = e.params.filter(function (p) { return e.curves.some(function (c) { return c.x === p.name; }); });
      select(ctl, "param", xs.map(function (p) { return { value: p.name, text: p.name }; }), state.x, function (v) {
        state.x = v;
        if (state.group === v) state.group = "";
        resetLogs(e);
        draw();
      });
      var groups = [{ value: "", text: "(none)" }].concat(e.params.filter(function (p) {
        return p.group && p.name !== state.x && e.curves.some(function (c) { return c.x === state.x && c.group === p.name; });
      }).map(function (p) { return { value: p.name, text: p.name }; }));
      select(ctl, "group by", groups, state.group, function (v) { state.group = v; draw(); });
      var p = e.params.find(function (p) { return p.name === state.x; });
      var c = curve(e);
      var canLogX = p.numeric && c && c.lines.every(function (l) { return l.x.every(function (v) { return v > 0; }); });
      if (canLogX) checkbox(ctl, "log x", state.logx, function (v) { state.logx = v; draw(); });
      checkbox(ctl, "log y", state.logy, function (v) { state.logy = v; draw(); });
      if (!c) { clear(chart); note.textContent = "No completed run has this metric."; return; }
      lineChart(chart, {
        lines: linesOf(c), points: true, xKind: p.numeric ? (state.logx && canLogX ? "log" : "linear") : "cat",
        yKind: state.logy ? "log" : "linear", xLabel: state.x, yLabel: state.metric, groupLabel: state.group
      });
      note.textContent = p.binned ? state.x + " has " + p.n_values + " distinct values: each point is a bin of them, at the bin's mean value." : "";
    }
    pick(true);
  }

  // --- series -----------------------------------------------------------

  function series() {
    var state = { exp: 0 };
    function pick(redo) {
      var e = D.experiments[state.exp];
      if (redo) {
        state.metric = e.series.length ? e.series[0].metric : undefined;
        state.group = "";
        resetLog(e);
      }
      draw();
    }
    function current(e) {
      return e.series.find(function (s) { return s.metric === state.metric && (s.group || "") === state.group; });
    }
    function resetLog(e) {
      var s = current(e), means = [];
      if (s) s.lines.forEach(function (l) { means = means.concat(l.mean); });
      state.logy = spansDecades(means);
    }
    function draw() {
      var e = D.experiments[state.exp], ctl = clear($("series-controls")), chart = $("series-chart"), note = $("series-note");
      experimentPicker(ctl, state, pick);
      if (state.metric === undefined) {
        clear(chart).appendChild(el("p", {}, "No run of " + ref(e) + " recorded a stepped metric."));
        note.textContent = "";
        return;
      }
      var names = [];
      e.series.forEach(function (s) { if (names.indexOf(s.metric) < 0) names.push(s.metric); });
      select(ctl, "series", names.map(function (m) { return { value: m, text: m }; }), state.metric, function (v) { state.metric = v; state.group = ""; resetLog(e); draw(); });
      var groups = [{ value: "", text: "(none)" }];
      e.series.forEach(function (s) { if (s.metric === state.metric && s.group) groups.push({ value: s.group, text: s.group }); });
      select(ctl, "group by", groups, state.group, function (v) { state.group = v; draw(); });
      checkbox(ctl, "log y", state.logy, function (v) { state.logy = v; draw(); });
      var s = current(e);
      lineChart(chart, { lines: linesOf(s), points: false, xKind: "linear", yKind: state.logy ? "log" : "linear", xLabel: "step", yLabel: s.metric, groupLabel: state.group });
      var shown = s.lines.reduce(function (a, l) { return Math.max(a, l.x.length); }, 0);
      note.textContent = s.steps > shown ? s.steps + " distinct steps, " + shown + " of them drawn, evenly spaced." : "";
    }
    pick(true);
  }

  // --- parallel coordinates and importance ------------------------------

  function colorOf(t) { // t in [0,1]: blue to orange through grey
    var a = [49, 104, 178], b = [230, 120, 30];
    return "rgb(" + a.map(function (c, i) { return Math.round(c + (b[i] - c) * t); }).join(",") + ")";
  }
  function parallel() {
    var state = { exp: 0 };
    function pick(redo) {
      if (redo) state.metric = D.experiments[state.exp].metrics[0];
      draw();
    }
    function draw() {
      var e = D.experiments[state.exp], ctl = clear($("pc-controls")), chart = clear($("pc")), note = $("pc-note");
      experimentPicker(ctl, state, pick);
      importance(e);
      if (state.metric === undefined) { chart.appendChild(el("p", {}, "No completed run of " + ref(e) + " recorded a metric.")); note.textContent = ""; return; }
      select(ctl, "metric", e.metrics.map(function (m) { return { value: m, text: m }; }), state.metric, function (v) { state.metric = v; draw(); });
      var P = e.parallel, names = e.params.map(function (p) { return p.name; }).filter(function (n) { return P.params[n]; });
      var mv = P.metrics[state.metric] || [];
      var axes = names.map(function (n) { return { name: n, values: P.params[n], param: e.params.find(function (p) { return p.name === n; }) }; });
      axes.push({ name: state.metric, values: mv, param: { numeric: true, log: spansDecades(mv) } });
      var W = 760, H = 340, top = 24, bottom = H - 30, left = 50, right = W - 50;
      var svg = sv("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H });
      var gap = axes.length > 1 ? (right - left) / (axes.length - 1) : 0;
      axes.forEach(function (a, i) {
        var kind = a.param && a.param.numeric ? (a.param.log && a.values.every(function (v) { return v === null || v > 0; }) ? "log" : "linear") : "cat";
        a.x = left + gap * i;
        a.s = scale(kind, a.values.filter(function (v) { return v !== null; }), bottom, top);
      });
      var lo = Infinity, hi = -Infinity, drawn = 0;
      mv.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
      var lines = sv("g");
      for (var r = 0; r < mv.length; r++) {
        if (mv[r] === null) continue;
        var d = [], ok = true;
        for (var i = 0; i < axes.length; i++) {
          var v = axes[i].values[r];
          if (v === null || v === undefined || (axes[i].s.ok && !axes[i].s.ok(v))) { ok = false; break; }
          d.push(axes[i].x + "," + axes[i].s.map(v).toFixed(1));
        }
        if (!ok) continue;
        lines.appendChild(sv("path", { "class": "pc", d: "M" + d.join("L"), stroke: colorOf(hi > lo ? (mv[r] - lo) / (hi - lo) : 0.5) }));
        drawn++;
      }
      svg.appendChild(lines);
      axes.forEach(function (a) {
        var g = sv("g", { "class": "axis" });
        g.appendChild(sv("line", { x1: a.x, x2: a.x, y1: top, y2: bottom }));
        var every = Math.max(1, Math.ceil(a.s.ticks.length / 10));
        a.s.ticks.forEach(function (t, i) {
          if (i % every) return;
          g.appendChild(sv("text", { x: a.x + 4, y: a.s.map(t.v) + 4 }, t.label));
        });
        g.appendChild(sv("text", { x: a.x, y: H - 10, "text-anchor": "middle", "font-weight": "bold" }, a.name));
        svg.appendChild(g);
      });
      chart.appendChild(svg);
      note.textContent = drawn + " runs drawn" + (P.of > mv.length ? ", an even sample of the " + P.of + " completed runs." : ".");
    }
    pick(true);
  }
  function importance(e) {
    var box = clear($("importance"));
    var metric = e.metrics[0], ctl = el("div", { "class": "controls" });
    box.appendChild(el("h3", {}, "Param importance"));
    if (!e.importance.length) { box.appendChild(el("p", {}, "No metric to rank params by.")); return; }
    box.appendChild(ctl);
    var table = el("table", { "class": "bars", id: "importance-table" });
    function draw() {
      clear(table);
      var imp = e.importance.find(function (i) { return i.metric === metric; });
      imp.ranking.forEach(function (r) {
        var tr = el("tr");
        tr.appendChild(el("td", {}, r.param));
        var td = el("td"), bar = el("div", { "class": "bar" });
        bar.style.width = Math.round(300 * (r.eta2 || 0)) + "px";
        td.appendChild(bar);
        tr.appendChild(td);
        tr.appendChild(el("td", {}, r.eta2 === null ? "-" : "η² = " + r.eta2.toFixed(3)));
        table.appendChild(tr);
      });
    }
    select(ctl, "metric", e.importance.map(function (i) { return { value: i.metric, text: i.metric }; }), metric, function (v) { metric = v; draw(); });
    box.appendChild(table);
    draw();
  }

  // --- runs table ------------------------------------------------------

  function runsTable() {
    var T = D.table, cols = T.columns, rows = T.rows, PAGE = 50;
    var state = { sort: -1, desc: false, page: 0, filters: {}, text: "", open: {} };
    var filters = clear($("table-filters"));
    cols.forEach(function (c, i) {
      if (c.kind !== "param" && c.kind !== "status" && c.kind !== "experiment") return;
      var distinct = [];
      for (var r = 0; r < rows.length && distinct.length <= 100; r++) {
        var v = fmt(rows[r][i]);
        if (distinct.indexOf(v) < 0) distinct.push(v);
      }
      if (distinct.length <= 100) {
        distinct.sort(function (a, b) { var x = parseFloat(a), y = parseFloat(b); return isNaN(x) || isNaN(y) ? (a < b ? -1 : a > b ? 1 : 0) : x - y; });
        var s = select(filters, c.name, [{ value: "", text: "any" }].concat(distinct.map(function (v) { return { value: v, text: v }; })), "", function (v) {
          state.filters[i] = v === "" ? null : { eq: v };
          state.page = 0;
          draw();
        });
        s.setAttribute("data-filter", c.name);
      } else {
        var input = labelled(filters, c.name, el("input", { type: "text", size: 8, placeholder: "<0.1, =3", "data-filter": c.name }));
        input.addEventListener("input", function () { state.filters[i] = parseCond(input.value); state.page = 0; draw(); });
      }
    });
    var search = labelled(filters, "search", el("input", { type: "search", size: 16, placeholder: "run ID, error, host", "data-filter": "search" }));
    search.addEventListener("input", function () { state.text = search.value.toLowerCase(); state.page = 0; draw(); });

    function parseCond(s) {
      var m = /^\s*(<=|>=|!=|=|<|>)?\s*(.*?)\s*$/.exec(s);
      if (!m || m[2] === "") return null;
      return { op: m[1] || "~", v: m[2], n: parseFloat(m[2]) };
    }
    function matches(row) {
      for (var i in state.filters) {
        var f = state.filters[i];
        if (!f) continue;
        var v = row[i];
        if (f.eq !== undefined) { if (fmt(v) !== f.eq) return false; continue; }
        var n = typeof v === "number" ? v : parseFloat(v), s = fmt(v);
        switch (f.op) {
          case "~": if (s.toLowerCase().indexOf(f.v.toLowerCase()) < 0) return false; break;
          case "=": if (s !== f.v && n !== f.n) return false; break;
          case "!=": if (s === f.v || n === f.n) return false; break;
          case "<": if (!(n < f.n)) return false; break;
          case "<=": if (!(n <= f.n)) return false; break;
          case ">": if (!(n > f.n)) return false; break;
          case ">=": if (!(n >= f.n)) return false; break;
        }
      }
      if (state.text) {
        var hit = false;
        for (var j = 0; j < cols.length && !hit; j++) {
          var k = cols[j].kind;
          if ((k === "run_id" || k === "error" || k === "host") && row[j] !== null && String(row[j]).toLowerCase().indexOf(state.text) >= 0) hit = true;
        }
        if (!hit) return false;
      }
      return true;
    }
    function compare(a, b) {
      if (a === b) return 0;
      if (a === null || a === undefined) return 1;
      if (b === null || b === undefined) return -1;
      if (typeof a === "number" && typeof b === "number") return a - b;
      return String(a) < String(b) ? -1 : 1;
    }
    var thead = clear(document.querySelector("#runs-table thead")), tbody = clear(document.querySelector("#runs-table tbody"));
    var hr = el("tr");
    cols.forEach(function (c, i) {
      var th = el("th", { "data-col": c.name }, c.name);
      th.addEventListener("click", function () {
        state.desc = state.sort === i ? !state.desc : false;
        state.sort = i;
        draw();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr);

    function detailRow(idx) {
      var d = T.details[idx] || {}, td = el("td", { colspan: cols.length }), tr = el("tr", { "class": "detail" });
      if (d.error) { td.appendChild(el("strong", {}, "error")); td.appendChild(el("pre", { "class": "error" }, d.error)); }
      if (d.tail) { td.appendChild(el("strong", {}, "end of its stderr")); td.appendChild(el("pre", { "class": "tail" }, d.tail)); }
      if (d.artifacts && d.artifacts.length) {
        td.appendChild(el("strong", {}, "artifacts "));
        d.artifacts.forEach(function (a) {
          var node = a.href ? el("a", { href: a.href }, a.name) : el("span", {}, a.name);
          td.appendChild(node);
          td.appendChild(document.createTextNode(" (" + a.size + " bytes)  "));
        });
        if (!T.artifact_links) td.appendChild(el("div", { "class": "note" }, "No links: the report is not beside the store. Write it next to the store (metalab report -o DIR/report.html for a store under DIR) to link artifacts."));
      }
      // Served live (metalab serve), the run's log is fetched when its row opens.
      if (window.metalabLive) window.metalabLive.log(td, rows[idx][0]);
      else if (!td.childNodes.length) td.appendChild(el("span", { "class": "note" }, "Nothing more was recorded for this run."));
      tr.appendChild(td);
      return tr;
    }
    function draw() {
      var idx = [];
      for (var r = 0; r < rows.length; r++) if (matches(rows[r])) idx.push(r);
      if (state.sort >= 0) {
        var c = state.sort, sign = state.desc ? -1 : 1;
        idx.sort(function (a, b) { return sign * compare(rows[a][c], rows[b][c]) || a - b; });
      }
      Array.prototype.forEach.call(thead.querySelectorAll("th"), function (th, i) {
        th.textContent = cols[i].name + (state.sort === i ? (state.desc ? " ▼" : " ▲") : "");
      });
      var pages = Math.max(1, Math.ceil(idx.length / PAGE));
      if (state.page >= pages) state.page = pages - 1;
      clear(tbody);
      idx.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (r) {
        var row = rows[r], tr = el("tr", { "class": "run", "data-row": r });
        cols.forEach(function (c, i) {
          var v = row[i], td;
          if (c.kind === "duration") td = el("td", {}, v === null ? "-" : fmtSeconds(v));
          else td = el("td", {}, fmt(v));
          if (c.kind === "status") td.className = "st-" + v;
          if (c.kind === "error" && v) td.className = "err";
          if (c.kind === "run_id") td.title = v;
          tr.appendChild(td);
        });
        tr.addEventListener("click", function () { state.open[r] = !state.open[r]; draw(); });
        tbody.appendChild(tr);
        if (state.open[r]) tbody.appendChild(detailRow(r));
      });
      $("table-note").textContent = idx.length + " of " + rows.length + " rows match" +
        (T.total > rows.length ? "; the table holds " + rows.length + " of the " + T.total + " runs (every failed run first, up to " + D.limits.failed + ", then an even sample): 'metalab results' lists them all." : ".");
      var pager = clear($("pager"));
      var prev = el("button", { type: "button" }, "‹ previous"), next = el("button", { type: "button" }, "next ›");
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      prev.addEventListener("click", function () { state.page--; draw(); });
      next.addEventListener("click", function () { state.page++; draw(); });
      pager.appendChild(prev);
      pager.appendChild(el("span", {}, "page " + (state.page + 1) + " of " + pages));
      pager.appendChild(next);
    }
    draw();
  }

  // --- timings ---------------------------------------------------------

  function timings() {
    var T = D.timing, ended = clear($("ended-chart")), hosts = clear($("hosts-chart"));
    clear($("hosts-table"));
    if (!T.start) { ended.appendChild(el("p", {}, "No run has started yet.")); return; }
    var t0 = Date.parse(T.start), bins = 0;
    for (var k in T.ended) bins = Math.max(bins, T.ended[k].length);
    var tick = function (v) {
      var d = new Date(t0 + v * 1000), span = T.bin_s * bins;
      var iso = d.toISOString();
      return span > 2 * 86400 ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, span < 600 ? 19 : 16);
    };
    var xs = [0, bins * T.bin_s];
    var statuses = Object.keys(T.ended).sort();
    var totals = [];
    for (var b = 0; b < bins; b++) totals.push(statuses.reduce(function (a, s) { return a + (T.ended[s][b] || 0); }, 0));
    var f = frame(ended, { xKind: "linear", yKind: "linear", xValues: xs, yValues: [0].concat(totals), xLabel: "time (UTC), bins of " + fmtSeconds(T.bin_s), yLabel: "runs ended", xTickFormat: tick });
    var bw = f.x.map(T.bin_s) - f.x.map(0);
    var g = sv("g", { "class": "bars" });
    for (b = 0; b < bins; b++) {
      var base = 0;
      statuses.forEach(function (s) {
        var n = T.ended[s][b] || 0;
        if (!n) return;
        var y1 = f.y.map(base), y2 = f.y.map(base + n);
        var r = sv("rect", { x: f.x.map(b * T.bin_s), y: y2, width: Math.max(bw - 0.5, 0.5), height: y1 - y2, fill: STATUS_COLORS[s] || "#777" });
        r.appendChild(sv("title", {}, n + " " + s + " from " + tick(b * T.bin_s)));
        g.appendChild(r);
        base += n;
      });
    }
    f.svg.appendChild(g);
    var legend = el("div", { "class": "legend" });
    statuses.forEach(function (s) { var sp = el("span"), i = el("i"); i.style.background = STATUS_COLORS[s] || "#777"; sp.appendChild(i); sp.appendChild(document.createTextNode(s)); legend.appendChild(sp); });
    ended.appendChild(legend);

    var lines = T.hosts.map(function (h) {
      var x = [], m = [], none = [];
      for (var b = 0; b < h.running.length; b++) { x.push((b + 0.5) * T.bin_s); m.push(h.running[b]); none.push(null); }
      return { name: h.host, x: x, mean: m, lo: none, hi: none, n: none };
    });
    if (lines.length) {
      lineChart(hosts, { lines: lines, points: false, xKind: "linear", yKind: "linear", xLabel: "time (UTC)", yLabel: "runs at once", groupLabel: "host", xTickFormat: tick });
    }
    var table = el("table", { "class": "bars" });
    var most = T.hosts.reduce(function (a, h) { return Math.max(a, h.busy_s); }, 0);
    T.hosts.forEach(function (h) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, h.host));
      tr.appendChild(el("td", {}, h.runs + " runs"));
      var td = el("td"), bar = el("div", { "class": "bar" });
      bar.style.width = Math.round(300 * (most ? h.busy_s / most : 0)) + "px";
      td.appendChild(bar);
      tr.appendChild(td);
      tr.appendChild(el("td", {}, fmtSeconds(h.busy_s) + " of run time"));
      table.appendChild(tr);
    });
    $("hosts-table").appendChild(table);
  }

  // render draws every part from data. Each part draws on its own, so
  // that one that fails (and logs its error) leaves the others; each
  // clears what it drew before, so that metalab serve's page can draw
  // newer data in place.
  function render(data) {
    D = data;
    [metricVsParam, series, parallel, runsTable, timings].forEach(function (part) {
      try { part(); } catch (err) { console.error("metalab report: " + part.name + ": " + (err && err.stack || err)); }
    });
  }
  render(JSON.parse(document.getElementById("report-data").textContent));
  window.metalabReport = { renderMs: performance.now(), render: render, data: function () { return D; } };
  document.body.setAttribute("data-rendered", String(Math.round(performance.now())));
})();
