// The built-in page: draws /graph.svg with the chosen filters and makes it
// explorable (pan, zoom, hover, search, a side panel with each node's and
// edge's numbers from /api/graph/details), lists the unresolved span links,
// refreshes itself. Server strings go into the page through textContent
// only; the one exception is the SVG from our own renderer, parsed as XML
// and stripped of scripts and event handlers.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const started = performance.now();
  const serverNow = Number(document.body.dataset.now) || Date.now();
  const refreshMs = 1000 * Math.max(1, Number(document.body.dataset.refresh) || 10);
  const svgNS = 'http://www.w3.org/2000/svg';
  let timer = null;
  let seq = 0;

  // The drawing as wired: its data, its elements by node name and edge
  // key, the fitted and the current viewBox, the selection.
  const view = {
    svg: null, source: '', details: null, nodes: new Map(), edges: new Map(),
    fit: null, box: null, selected: null, filters: '',
  };

  // nowSeconds follows the server's clock, so windows end at its "now".
  function nowSeconds() {
    return Math.floor((serverNow + performance.now() - started) / 1000);
  }

  function checkedKinds() {
    const boxes = [...document.querySelectorAll('#kinds input[type=checkbox]')];
    const on = boxes.filter((b) => b.checked).map((b) => b.value);
    return { on, all: on.length === boxes.length };
  }

  // pickerSeconds reads a datetime-local picker, which shows UTC.
  function pickerSeconds(id) {
    const v = $(id).value;
    if (!v) return NaN;
    return Math.floor(Date.parse(v + (v.length === 16 ? ':00Z' : 'Z')) / 1000);
  }

  function pickerValue(secs) {
    return new Date(secs * 1000).toISOString().slice(0, 19);
  }

  function custom() { return $('window').value === 'custom'; }

  // windowSeconds is the chosen window as [from, to), Unix seconds.
  function windowSeconds() {
    if (custom()) return [pickerSeconds('from'), pickerSeconds('to')];
    const to = nowSeconds();
    const secs = Number($('window').selectedOptions[0].dataset.secs) || 3600;
    return [to - secs, to];
  }

  // baselineSeconds is the diff's baseline window as [from, to), Unix
  // seconds: the window before, the same window a day or a week earlier,
  // or the custom pickers; null when the diff is off.
  function baselineSeconds() {
    const [from, to] = windowSeconds();
    switch ($('baseline').value) {
      case 'previous': return [from - (to - from), from];
      case 'day': return [from - 86400, to - 86400];
      case 'week': return [from - 7 * 86400, to - 7 * 86400];
      case 'custom': return [pickerSeconds('baseline-from'), pickerSeconds('baseline-to')];
      default: return null;
    }
  }

  // pageParams are the filters as the page's own URL keeps them.
  function pageParams() {
    const p = new URLSearchParams();
    const service = $('service').value.trim();
    if (service) p.set('service', service);
    p.set('depth', $('depth').value);
    const kinds = checkedKinds();
    if (!kinds.all) p.set('kinds', kinds.on.join(','));
    p.set('window', $('window').value);
    if (custom()) {
      const [from, to] = windowSeconds();
      if (from) p.set('from', String(from));
      if (to) p.set('to', String(to));
    }
    const mode = $('baseline').value;
    if (mode) {
      p.set('baseline', mode);
      if (mode === 'custom') {
        const [bf, bt] = baselineSeconds();
        if (bf) p.set('baseline_from', String(bf));
        if (bt) p.set('baseline_to', String(bt));
      }
    }
    p.set('rankdir', $('rankdir').value);
    if (!$('autorefresh').checked) p.set('refresh', '0');
    return p;
  }

  // filterParams are the filters as the API takes them, without the window.
  function filterParams() {
    const q = new URLSearchParams();
    const service = $('service').value.trim();
    if (service) q.set('service', service);
    if ($('depth').value !== '') q.set('depth', $('depth').value);
    const kinds = checkedKinds();
    if (!kinds.all) q.set('kinds', kinds.on.join(','));
    return q;
  }

  // apiParams are the filters as the API takes them.
  function apiParams() {
    const [from, to] = windowSeconds();
    const q = new URLSearchParams();
    q.set('from', String(from));
    q.set('to', String(to));
    for (const [k, v] of filterParams()) q.set(k, v);
    const base = baselineSeconds();
    if (base) {
      q.set('baseline_from', String(base[0]));
      q.set('baseline_to', String(base[1]));
    }
    return q;
  }

  async function errorMessage(res) {
    const text = await res.text();
    if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
      try {
        const body = JSON.parse(text);
        if (body && typeof body.error === 'string') {
          return body.parameter ? body.error + ' (parameter: ' + body.parameter + ')' : body.error;
        }
      } catch (e) { /* fall through to the raw text */ }
    }
    return text.trim() || res.status + ' ' + res.statusText;
  }

  function showError(msg) {
    const el = $('error');
    el.textContent = msg;
    el.hidden = !msg;
  }

  // sanitize removes what could run code from a parsed SVG.
  function sanitize(svg) {
    svg.querySelectorAll('script, foreignObject, iframe').forEach((n) => n.remove());
    for (const el of [svg, ...svg.querySelectorAll('*')]) {
      for (const a of [...el.attributes]) {
        const name = a.name.toLowerCase();
        const value = a.value.replace(/\s+/g, '').toLowerCase();
        if (name.startsWith('on') || ((a.localName === 'href') && value.startsWith('javascript:'))) {
          el.removeAttribute(a.name);
        }
      }
    }
  }

  // notePartial shows that a cluster answer lacks some instances' part
  // (X-Servicegraph-Partial, or "partial" in a JSON object).
  function notePartial(res, body) {
    if (res.headers.get('X-Servicegraph-Partial') !== 'true' && !(body && body.partial === true)) return;
    const missing = res.headers.get('X-Servicegraph-Missing-Peers') ||
      (body && Array.isArray(body.missing_peers) ? body.missing_peers.map((m) => m.peer).join(', ') : '');
    const note = $('partial');
    note.textContent = 'Partial result: ' + (missing ? 'these cluster members did not answer: ' + missing : 'some cluster members did not answer') +
      '. Counts may be low and edges missing.';
    note.hidden = false;
  }

  async function fetchSVG(q) {
    const r = new URLSearchParams(q);
    r.set('rankdir', $('rankdir').value);
    const res = await fetch('graph.svg?' + r.toString(), { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorMessage(res));
    notePartial(res, null);
    const text = await res.text();
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const svg = doc.documentElement;
    if (doc.getElementsByTagName('parsererror').length > 0 || svg.localName !== 'svg') {
      throw new Error('the server sent an SVG this browser cannot read');
    }
    sanitize(svg);
    // The sanitized source, legend included, is kept for the PNG export.
    return { node: document.importNode(svg, true), source: new XMLSerializer().serializeToString(svg) };
  }

  // exportPNG draws the last picture (the server's SVG, legend included)
  // at two pixels per point of the SVG's view box, in this
  // browser, and downloads it. Canvases are bounded: a huge drawing gets
  // the largest scale that fits 16384 pixels a side and 120 megapixels.
  async function exportPNG() {
    const src = view.svg && view.source;
    const status = $('export-status');
    if (!src) { status.textContent = 'Nothing to export.'; return; }
    const doc = new DOMParser().parseFromString(src, 'image/svg+xml');
    const vb = doc.documentElement.viewBox.baseVal;
    const w0 = vb && vb.width ? vb.width : 800, h0 = vb && vb.height ? vb.height : 600;
    const scale = Math.min(2, 16384 / w0, 16384 / h0, Math.sqrt(120e6 / (w0 * h0)));
    const w = Math.round(w0 * scale), h = Math.round(h0 * scale);
    doc.documentElement.setAttribute('width', String(w));
    doc.documentElement.setAttribute('height', String(h));
    const data = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(doc));
    const img = new Image();
    img.src = data;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.drawImage(img, 0, 0, w, h);
    const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
    if (!blob) { status.textContent = 'This browser could not make the PNG.'; return; }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'servicegraph.png';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    $('export-png').dataset.size = w + 'x' + h;
    status.textContent = 'PNG ' + w + '×' + h + (scale < 2 ? ' (scaled ' + scale.toFixed(2) + '× to fit a canvas)' : '');
  }

  async function fetchJSON(path) {
    const res = await fetch(path, { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorMessage(res));
    const body = await res.json();
    notePartial(res, body);
    return body;
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function cell(row, text, cls) {
    row.appendChild(el('td', text == null ? '' : text, cls));
  }

  // traceLink is a link to url (a trace viewer's, from --trace-url-template)
  // opening in a new tab, or null without one.
  function traceLink(url, text) {
    if (!url) return null;
    const a = el('a', text, 'trace-link');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  // sampleTrace is the side panel's line about d's sample trace: a link
  // "Open a sample trace" when a trace URL template is configured, else
  // the trace id; null when the window has none.
  function sampleTrace(d) {
    if (!d.trace_id) return null;
    const p = el('p', null, 'sample-trace');
    const a = traceLink(d.trace_url, 'Open a sample trace');
    if (a) p.append(a, ' ');
    else p.append('Sample trace ');
    p.append(el('span', d.trace_id, 'id'));
    return p;
  }

  async function loadLinks() {
    const q = new URLSearchParams({ limit: '100' });
    const service = $('service').value.trim();
    if (service) q.set('service', service);
    const problems = (await fetchJSON('api/links/unresolved?' + q.toString())).problems || [];
    const body = $('links').tBodies[0];
    const rows = problems.map((p) => {
      const tr = document.createElement('tr');
      cell(tr, p.time ? new Date(p.time).toLocaleString() : '');
      cell(tr, p.result);
      cell(tr, p.service);
      cell(tr, p.span_name);
      const tid = el('td', null, 'id');
      tid.append(traceLink(p.trace_url, p.trace_id) || p.trace_id || '');
      tr.append(tid);
      cell(tr, p.span_id, 'id');
      const lid = el('td', null, 'id');
      lid.append(traceLink(p.link_trace_url, p.link_trace_id) || p.link_trace_id || '');
      tr.append(lid);
      cell(tr, p.link_span_id, 'id');
      cell(tr, p.likely_cause);
      return tr;
    });
    body.replaceChildren(...rows);
    $('links').hidden = rows.length === 0;
    $('links-status').textContent = rows.length === 0 ? 'None.' : rows.length + ' recent, newest first.';
  }

  // --- numbers, formatted the same way everywhere ---

  function fmtRate(r) {
    if (r === 0) return '0/s';
    if (r >= 100) return r.toFixed(0) + '/s';
    if (r >= 1) return r.toFixed(2) + '/s';
    return Number(r.toPrecision(3)) + '/s';
  }

  function fmtPercent(p) { return p.toFixed(2) + ' %'; }

  function fmtSeconds(s) {
    if (s == null) return '–';
    if (s >= 1) return Number(s.toPrecision(4)) + ' s';
    return Number((s * 1000).toPrecision(3)) + ' ms';
  }

  function fmtTime(t) {
    if (!t || t.startsWith('0001-')) return '–';
    return new Date(t).toISOString().replace('.000Z', 'Z');
  }

  function fmtCount(n) { return String(n); }

  // --- element ids: the renderer names each node "n_…_<hash>" and each
  // edge "e_…_<hash>", hash being 64-bit FNV-1a of the name(s) and kind,
  // each followed by a zero byte (render/picture elementID). ---

  const fnvOffset = 0xcbf29ce484222325n;
  const fnvPrime = 0x100000001b3n;
  const mask64 = (1n << 64n) - 1n;
  const utf8 = new TextEncoder();

  function fnv(parts) {
    let h = fnvOffset;
    for (const p of parts) {
      for (const b of utf8.encode(p)) h = ((h ^ BigInt(b)) * fnvPrime) & mask64;
      h = (h * fnvPrime) & mask64; // the zero byte: h ^ 0 == h
    }
    return h.toString(16).padStart(16, '0');
  }

  function edgeKey(e) { return e.client + '\u0000' + e.server + '\u0000' + e.kind; }

  // wire connects the drawing to the data: each node and edge element
  // gets its datum, a tab stop, and its neighbours for hovering.
  function wire(svg, details) {
    view.nodes.clear();
    view.edges.clear();
    const byHash = new Map();
    for (const n of details.nodes) byHash.set('n' + fnv([n.name]), { node: n });
    for (const e of details.edges) byHash.set('e' + fnv([e.client, e.server, e.kind]), { edge: e });
    const byName = new Map(details.nodes.map((n) => [n.name, n]));
    for (const g of svg.querySelectorAll('g.node, g.edge')) {
      const m = /^([ne])_.*_([0-9a-f]{16})$/.exec(g.id || '');
      let hit = m ? byHash.get(m[1] + m[2]) : null;
      if (!hit && g.classList.contains('node')) { // a renderer without our ids
        const title = g.querySelector('title');
        const n = title && byName.get(title.textContent);
        if (n) hit = { node: n };
      }
      if (!hit) continue;
      g.setAttribute('tabindex', '0');
      g.setAttribute('role', 'button');
      g.setAttribute('focusable', 'true');
      if (hit.node) {
        g.dataset.node = hit.node.name;
        g.setAttribute('aria-label', hit.node.kind + ' ' + hit.node.name + ': ' + fmtRate(hit.node.rate) + ', ' + fmtPercent(hit.node.error_percent) + ' errors');
        view.nodes.set(hit.node.name, { datum: hit.node, el: g, edges: [], neighbours: new Set() });
      } else {
        const e = hit.edge;
        g.dataset.edge = edgeKey(e);
        g.setAttribute('aria-label', e.kind + ' edge ' + e.client + ' to ' + e.server + ': ' + fmtRate(e.rate) + ', ' + fmtPercent(e.error_percent) + ' errors');
        view.edges.set(edgeKey(e), { datum: e, el: g });
      }
    }
    for (const [, e] of view.edges) {
      const a = view.nodes.get(e.datum.client);
      const b = view.nodes.get(e.datum.server);
      if (a) { a.edges.push(e); if (b) a.neighbours.add(b); }
      if (b && b !== a) { b.edges.push(e); if (a) b.neighbours.add(a); }
    }
  }

  // clearLoopLabels moves each self-loop's label off its loop: Graphviz
  // places the label beside the loop by its own estimate of the text's
  // width, and a browser's font can be wider (in top-to-bottom layouts
  // the centred widest line reached into the loop). The label moves away
  // from the loop's centre by the overlap plus a gap, as one block.
  function clearLoopLabels() {
    for (const [, e] of view.edges) {
      if (e.datum.client !== e.datum.server) continue;
      const g = e.el;
      const path = g.querySelector('path');
      const texts = [...g.querySelectorAll('text')];
      if (!path || texts.length === 0) continue;
      const p = path.getBBox();
      let dx = 0, dy = 0;
      const gap = 2;
      for (const t of texts) {
        const r = t.getBBox();
        if (!(r.x < p.x + p.width && r.x + r.width > p.x && r.y < p.y + p.height && r.y + r.height > p.y)) continue;
        const cx = r.x + r.width / 2 - (p.x + p.width / 2), cy = r.y + r.height / 2 - (p.y + p.height / 2);
        if (Math.abs(cx) * p.height >= Math.abs(cy) * p.width) { // beside the loop: move sideways
          dx = cx >= 0 ? Math.max(dx, p.x + p.width - r.x + gap) : Math.min(dx, p.x - (r.x + r.width) - gap);
        } else { // above or below it
          dy = cy >= 0 ? Math.max(dy, p.y + p.height - r.y + gap) : Math.min(dy, p.y - (r.y + r.height) - gap);
        }
      }
      if (dx === 0 && dy === 0) continue;
      for (const t of texts) {
        t.setAttribute('x', String(Number(t.getAttribute('x')) + dx));
        t.setAttribute('y', String(Number(t.getAttribute('y')) + dy));
      }
    }
  }

  // --- legend outside the drawing, pan and zoom ---

  // fitBox removes the renderer's legend (the page shows its own beside
  // the drawing) and returns the box of what is left, in the SVG's user
  // units.
  function fitBox(svg) {
    svg.querySelectorAll('[id^="legend"]').forEach((n) => n.remove());
    const root = svg.querySelector('g.graph') || svg;
    // Graphviz's background polygon covers the old extent: hide it.
    const bg = root.querySelector(':scope > polygon');
    if (bg) bg.setAttribute('visibility', 'hidden');
    const items = root.querySelectorAll(':scope > g');
    const inv = svg.getScreenCTM() ? svg.getScreenCTM().inverse() : null;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const g of items) {
      const b = g.getBBox();
      if (b.width === 0 && b.height === 0) continue;
      const m = inv && g.getScreenCTM() ? inv.multiply(g.getScreenCTM()) : null;
      for (const [x, y] of [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]) {
        const p = m ? new DOMPoint(x, y).matrixTransform(m) : { x, y };
        x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
      }
    }
    if (!isFinite(x0)) {
      const vb = svg.viewBox.baseVal;
      return { x: vb.x, y: vb.y, w: vb.width || 100, h: vb.height || 100 };
    }
    const pad = 8;
    return { x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad };
  }

  function setBox(b) {
    view.box = b;
    if (view.svg) view.svg.setAttribute('viewBox', [b.x, b.y, b.w, b.h].map((v) => +v.toFixed(2)).join(' '));
    $('graph').dataset.zoom = view.fit ? (view.fit.w / b.w).toFixed(3) : '1';
  }

  // zoom scales the view by f around (cx, cy), in user units; bounded to
  // 1/4 to 40 times the fitted size.
  function zoom(f, cx, cy) {
    if (!view.box) return;
    const b = view.box;
    const w = Math.min(view.fit.w * 4, Math.max(view.fit.w / 40, b.w / f));
    const k = w / b.w;
    if (cx == null) { cx = b.x + b.w / 2; cy = b.y + b.h / 2; }
    setBox({ x: cx - (cx - b.x) * k, y: cy - (cy - b.y) * k, w, h: b.h * k });
  }

  function pan(dx, dy) {
    if (!view.box) return;
    const b = view.box;
    setBox({ x: b.x + dx, y: b.y + dy, w: b.w, h: b.h });
  }

  function userPoint(ev) {
    const m = view.svg.getScreenCTM();
    return m ? new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse()) : null;
  }

  function userPerPixel() {
    const r = view.svg.getBoundingClientRect();
    return r.width > 0 ? Math.max(view.box.w / r.width, view.box.h / r.height) : 1;
  }

  // centre shows element g in the middle, zoomed in enough to read it.
  function centre(g) {
    const m = view.svg.getScreenCTM();
    const gm = g.getScreenCTM();
    if (!m || !gm) return;
    const b = g.getBBox();
    const p = new DOMPoint(b.x + b.width / 2, b.y + b.height / 2).matrixTransform(m.inverse().multiply(gm));
    // Eight times the element's width, at the drawing area's aspect ratio.
    const r = view.svg.getBoundingClientRect();
    const aspect = r.width > 0 && r.height > 0 ? r.height / r.width : view.box.h / view.box.w;
    const w = Math.max(b.width * 8, b.height * 8 / aspect);
    const h = w * aspect;
    setBox({ x: p.x - w / 2, y: p.y - h / 2, w, h });
  }

  const graph = $('graph');
  let drag = null;
  graph.addEventListener('wheel', (ev) => {
    if (!view.svg) return;
    ev.preventDefault();
    const p = userPoint(ev);
    zoom(ev.deltaY < 0 ? 1.2 : 1 / 1.2, p && p.x, p && p.y);
  }, { passive: false });
  graph.addEventListener('pointerdown', (ev) => {
    if (!view.svg || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, box: view.box, moved: false, id: ev.pointerId };
  });
  graph.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) { drag.moved = true; graph.setPointerCapture(drag.id); graph.classList.add('dragging'); }
    const k = userPerPixel();
    setBox({ x: drag.box.x - dx * k, y: drag.box.y - dy * k, w: drag.box.w, h: drag.box.h });
  });
  const endDrag = () => {
    if (drag && drag.moved) {
      graph.classList.remove('dragging');
      // The click that ends a drag selects nothing.
      graph.addEventListener('click', (e) => e.stopPropagation(), { capture: true, once: true });
    }
    drag = null;
  };
  graph.addEventListener('pointerup', endDrag);
  graph.addEventListener('pointercancel', endDrag);
  graph.addEventListener('keydown', (ev) => {
    if (!view.svg) return;
    const target = ev.target.closest && ev.target.closest('[data-node], [data-edge]');
    if (target && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      select(target, true);
      return;
    }
    const step = view.box.w / 10;
    const keys = {
      ArrowLeft: () => pan(-step, 0), ArrowRight: () => pan(step, 0),
      ArrowUp: () => pan(0, -step), ArrowDown: () => pan(0, step),
      '+': () => zoom(1.25), '=': () => zoom(1.25), '-': () => zoom(0.8), '0': () => setBox(view.fit),
    };
    if (keys[ev.key] && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      keys[ev.key]();
    }
  });
  graph.addEventListener('click', (ev) => {
    const target = ev.target.closest && ev.target.closest('[data-node], [data-edge]');
    if (target) select(target, false);
  });
  $('export-png').addEventListener('click', () => exportPNG().catch((e) => { $('export-status').textContent = 'PNG export failed: ' + e.message; }));
  $('zoom-in').addEventListener('click', () => zoom(1.25));
  $('zoom-out').addEventListener('click', () => zoom(0.8));
  $('zoom-reset').addEventListener('click', () => view.fit && setBox(view.fit));

  // --- hover: a node and its neighbours, or an edge and its ends ---

  function highlight(g) {
    clearHighlight();
    if (!view.svg || !g) return;
    const hl = [g];
    if (g.dataset.node) {
      const n = view.nodes.get(g.dataset.node);
      if (n) { for (const e of n.edges) hl.push(e.el); for (const m of n.neighbours) hl.push(m.el); }
    } else if (g.dataset.edge) {
      const e = view.edges.get(g.dataset.edge);
      for (const name of e ? [e.datum.client, e.datum.server] : []) {
        const n = view.nodes.get(name);
        if (n) hl.push(n.el);
      }
    }
    for (const x of hl) x.classList.add('hl');
    view.svg.classList.add('dim');
  }

  function clearHighlight() {
    if (!view.svg) return;
    view.svg.classList.remove('dim');
    view.svg.querySelectorAll('.hl').forEach((x) => x.classList.remove('hl'));
  }

  for (const [ev, fn] of [['mouseover', highlight], ['focusin', highlight]]) {
    graph.addEventListener(ev, (e) => fn(e.target.closest && e.target.closest('[data-node], [data-edge]')));
  }
  graph.addEventListener('mouseleave', clearHighlight);
  graph.addEventListener('focusout', (e) => { if (!graph.contains(e.relatedTarget)) clearHighlight(); });

  // --- the side panel ---

  function row(dl, key, label, value) {
    const dt = el('dt', label);
    const dd = el('dd', value);
    dd.dataset.k = key;
    dl.append(dt, dd);
  }

  function select(g, focusPanel) {
    if (g.dataset.node) showNode(g.dataset.node, focusPanel);
    else if (g.dataset.edge) showEdge(g.dataset.edge, focusPanel);
  }

  function markSelected(g) {
    if (view.svg) view.svg.querySelectorAll('.sel').forEach((x) => x.classList.remove('sel'));
    if (g) g.classList.add('sel');
  }

  function openPanel(title, kind, body, focusPanel) {
    $('details-title').textContent = title;
    $('details').dataset.kind = kind;
    $('details-body').replaceChildren(...body);
    $('details').hidden = false;
    if (focusPanel) $('details-title').focus();
  }

  function closePanel() {
    const g = view.selected && view.selected.el;
    view.selected = null;
    markSelected(null);
    $('details').hidden = true;
    if (g && g.isConnected) g.focus();
  }
  $('details-close').addEventListener('click', closePanel);
  $('details').addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closePanel(); });

  function edgeButton(e, text) {
    const b = el('button', text, 'link');
    b.type = 'button';
    b.addEventListener('click', () => showEdge(edgeKey(e), true));
    return b;
  }

  function showNode(name, focusPanel) {
    const n = view.nodes.get(name);
    if (!n) return;
    const d = n.datum;
    view.selected = { node: name, el: n.el };
    markSelected(n.el);
    let dl;
    if (d.diff) {
      dl = diffRows(d, false);
    } else {
      dl = el('dl');
      row(dl, 'kind', 'Kind', d.kind);
      row(dl, 'requests', 'Requests in window', fmtCount(d.requests));
      row(dl, 'rate', 'Rate', fmtRate(d.rate));
      row(dl, 'failed', 'Failed', fmtCount(d.failed));
      row(dl, 'errors', 'Errors', fmtPercent(d.error_percent));
    }
    const trace = d.diff ? null : sampleTrace(d);
    const ins = n.edges.filter((e) => e.datum.server === name);
    const outs = n.edges.filter((e) => e.datum.client === name);
    const body = trace ? [dl, trace] : [dl];
    for (const [label, list, other] of [['Incoming', ins, 'client'], ['Outgoing', outs, 'server']]) {
      if (list.length === 0) continue;
      body.push(el('h3', label + ' (' + list.length + ')'));
      const ul = el('ul', null, 'edges');
      for (const e of list) {
        const li = el('li');
        li.append(edgeButton(e.datum, e.datum[other] + ' · ' + e.datum.kind + ' · ' + fmtRate(e.datum.rate)));
        ul.append(li);
      }
      body.push(ul);
    }
    if (d.kind === 'service' && !d.diff) {
      body.push(el('h3', 'Link health'));
      const lh = el('dl', null, 'links');
      for (const r of ['resolved', 'unresolved', 'invalid', 'dropped']) row(lh, 'links_' + r, r, fmtCount((d.links || {})[r] || 0));
      body.push(lh);
      const problems = el('div', 'loading…', 'problems');
      problems.id = 'details-problems';
      body.push(problems);
      loadProblems(name, problems);
    }
    const centreOn = el('button', 'Show only its neighbourhood');
    centreOn.type = 'button';
    centreOn.addEventListener('click', () => { $('service').value = name; refresh(); });
    body.push(centreOn);
    openPanel(name, 'node', body, focusPanel);
  }

  async function loadProblems(name, box) {
    try {
      const q = new URLSearchParams({ service: name, limit: '20' });
      const problems = (await fetchJSON('api/links/unresolved?' + q.toString())).problems || [];
      if (problems.length === 0) { box.textContent = 'No unresolved span links recently.'; return; }
      const ul = el('ul');
      for (const p of problems) {
        const li = el('li');
        const ids = el('span', 'trace ', 'id');
        ids.append(traceLink(p.trace_url, p.trace_id) || p.trace_id);
        if (p.link_trace_id) ids.append(' → ', traceLink(p.link_trace_url, p.link_trace_id) || p.link_trace_id);
        li.append(el('span', p.result + ': ' + (p.span_name || '')), el('br'), ids, el('br'),
          el('span', (p.likely_cause || '') + (p.time ? ' · ' + fmtTime(p.time) : ''), 'muted'));
        ul.append(li);
      }
      box.replaceChildren(el('h3', 'Unresolved span links (' + problems.length + ')'), ul);
    } catch (e) {
      box.textContent = 'Could not load the unresolved links: ' + e.message;
    }
  }

  function showEdge(key, focusPanel) {
    const e = view.edges.get(key);
    if (!e) return;
    const d = e.datum;
    view.selected = { edge: key, el: e.el };
    markSelected(e.el);
    const ends = el('p');
    for (const name of [d.client, d.server]) {
      const b = el('button', name, 'link');
      b.type = 'button';
      b.addEventListener('click', () => showNode(name, true));
      ends.append(b, ' ');
    }
    if (d.diff) {
      openPanel(d.client + ' → ' + d.server, 'edge', [diffRows(d, true), ends], focusPanel);
      return;
    }
    const what = d.async ? 'delay' : 'duration';
    const dl = el('dl');
    row(dl, 'kind', 'Kind', d.kind + (d.async ? ' (async)' : ' (sync)'));
    row(dl, 'requests', 'Requests in window', fmtCount(d.requests));
    row(dl, 'rate', 'Rate', fmtRate(d.rate));
    row(dl, 'failed', 'Failed', fmtCount(d.failed));
    row(dl, 'errors', 'Errors', fmtPercent(d.error_percent));
    row(dl, 'mean', 'Mean ' + what + ' (window)', d.mean_seconds > 0 ? fmtSeconds(d.mean_seconds) : '–');
    row(dl, 'p50', 'p50 ' + what, fmtSeconds(d.p50_seconds));
    row(dl, 'p95', 'p95 ' + what, fmtSeconds(d.p95_seconds));
    row(dl, 'p99', 'p99 ' + what, fmtSeconds(d.p99_seconds));
    row(dl, 'first_seen', 'First seen', fmtTime(d.first_seen));
    row(dl, 'last_seen', 'Last seen', fmtTime(d.last_seen));
    const note = el('p', 'Percentiles are over the ' + fmtCount(d.histogram_count) + ' ' + what +
      's observed since first seen (the history keeps no histograms per window).', 'muted');
    const trace = sampleTrace(d);
    openPanel(d.client + ' → ' + d.server, 'edge', trace ? [dl, trace, note, ends] : [dl, note, ends], focusPanel);
  }

  // --- diff mode: /api/graph/diff as the drawing's data ---

  // fromDiff turns a diff into the shape of /api/graph/details, each node
  // and edge keeping its diff; its numbers are the current window's, the
  // baseline's for what was removed.
  function fromDiff(body) {
    const side = (x) => x.current || x.baseline || {};
    return {
      from: body.from, to: body.to, diff: body,
      nodes: body.nodes.map((n) => ({ name: n.id, kind: n.kind, rate: side(n).rate || 0, error_percent: side(n).error_percent || 0, diff: n })),
      edges: body.edges.map((e) => ({ client: e.source, server: e.target, kind: e.kind, async: e.async, rate: side(e).rate || 0, error_percent: side(e).error_percent || 0, diff: e })),
    };
  }

  function both(x, f) {
    const b = x.baseline ? f(x.baseline) : '–';
    const c = x.current ? f(x.current) : '–';
    return b + ' → ' + c;
  }

  function signed(v, f) { return v == null ? '–' : (v > 0 ? '+' : v < 0 ? '−' : '±') + f(Math.abs(v)); }

  // diffRows shows both windows' numbers and the change of a node or edge.
  function diffRows(d, isEdge) {
    const x = d.diff;
    const dl = el('dl');
    row(dl, 'status', 'Status', x.status);
    dl.lastChild.classList.add('st-' + x.status);
    row(dl, 'reasons', 'Why', (x.reasons || []).join(', ') || '–');
    row(dl, 'kind', 'Kind', d.kind + (isEdge ? (d.async ? ' (async)' : ' (sync)') : ''));
    row(dl, 'requests', 'Requests (baseline → now)', both(x, (s) => fmtCount(s.requests)));
    row(dl, 'rate', 'Rate', both(x, (s) => fmtRate(s.rate)));
    row(dl, 'errors', 'Errors', both(x, (s) => fmtPercent(s.error_percent)));
    if (isEdge) {
      const what = x.measure === 'delay' ? 'delay' : 'latency';
      row(dl, 'mean', 'Mean ' + what, both(x, (s) => s.mean_seconds == null ? '–' : fmtSeconds(s.mean_seconds)));
      row(dl, 'p50', 'p50 ' + what, both(x, (s) => fmtSeconds(s.p50_seconds)));
      row(dl, 'p95', 'p95 ' + what, both(x, (s) => fmtSeconds(s.p95_seconds)));
    }
    if (x.change) {
      row(dl, 'rate_change', 'Rate change', signed(x.change.rate, fmtRate) +
        (x.change.rate_ratio == null ? '' : ' (' + signed(100 * x.change.rate_ratio, (v) => v.toFixed(0) + ' %') + ')'));
      row(dl, 'error_change', 'Error change', signed(x.change.error_points, (v) => v.toFixed(2) + ' points'));
      if (isEdge && x.change.p95_seconds != null) row(dl, 'p95_change', 'p95 change', signed(x.change.p95_seconds, fmtSeconds));
    }
    const seen = x.current || x.baseline;
    if (isEdge && seen) {
      row(dl, 'first_seen', 'First seen', fmtTime(seen.first_seen));
      row(dl, 'last_seen', 'Last seen', fmtTime(seen.last_seen));
    }
    return dl;
  }

  function showDiffSummary(body) {
    const box = $('diff-legend');
    box.hidden = !body;
    $('legend-colour').hidden = !!body; // a diff colours by status
    if (!body) return;
    const e = body.summary.edges, n = body.summary.nodes;
    $('diff-summary').textContent = 'Baseline ' + fmtTime(body.baseline_from) + ' to ' + fmtTime(body.baseline_to) + ': edges ' +
      e.added + ' added, ' + e.removed + ' removed, ' + e.changed + ' changed, ' + e.same + ' same; nodes ' +
      n.added + ' added, ' + n.removed + ' removed, ' + n.changed + ' changed.';
  }

  // --- search ---

  function find(text) {
    const want = text.trim();
    const status = $('find-status');
    if (!want || view.nodes.size === 0) { status.textContent = want ? 'Nothing is drawn.' : ''; return; }
    let n = view.nodes.get(want);
    if (!n) {
      const lower = want.toLowerCase();
      const hits = [...view.nodes.keys()].filter((k) => k.toLowerCase().includes(lower)).sort();
      n = hits.length > 0 ? view.nodes.get(hits[0]) : null;
      status.textContent = hits.length > 1 ? hits.length + ' match; showing ' + hits[0] : '';
    } else {
      status.textContent = '';
    }
    if (!n) {
      status.textContent = 'No service named like “' + want + '” in this drawing.';
      return;
    }
    centre(n.el);
    highlight(n.el);
    n.el.focus({ preventScroll: true });
    showNode(n.datum.name, false);
  }
  $('find-form').addEventListener('submit', (ev) => { ev.preventDefault(); find($('find').value); });

  // --- refresh ---

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if ($('autorefresh').checked) timer = setTimeout(refresh, refreshMs);
  }

  function setExports(q) {
    const r = new URLSearchParams(q);
    r.set('rankdir', $('rankdir').value);
    $('export-svg').href = 'graph.svg?' + r.toString();
    $('export-dot').href = 'graph.dot?' + r.toString();
    const snap = new URLSearchParams(q);
    snap.delete('baseline_from');
    snap.delete('baseline_to');
    $('export-snapshot').href = 'api/graph/snapshot?' + snap.toString();
  }

  function showEmpty(details) {
    const msg = $('empty');
    if (details && details.nodes.length === 0) {
      const parts = [];
      if ($('service').value.trim()) parts.push('service ' + $('service').value.trim());
      if (!checkedKinds().all) parts.push('kinds ' + checkedKinds().on.join(', '));
      msg.textContent = 'Nothing matches: no edge had requests between ' + fmtTime(details.from) + ' and ' +
        fmtTime(details.to) + (details.diff ? ' nor between ' + fmtTime(details.diff.baseline_from) + ' and ' + fmtTime(details.diff.baseline_to) : '') +
        (parts.length ? ' with ' + parts.join(' and ') : '') +
        '. Try a longer window' + (parts.length ? ', fewer filters' : '') + '.';
      msg.hidden = false;
      return true;
    }
    msg.hidden = true;
    return false;
  }

  function fillFindList(details) {
    const opts = details.nodes.slice(0, 2000).map((n) => { const o = document.createElement('option'); o.value = n.name; return o; });
    $('find-list').replaceChildren(...opts);
  }

  async function refresh() {
    const mine = ++seq;
    history.replaceState(null, '', '?' + pageParams().toString());
    if (checkedKinds().on.length === 0) {
      showError('Choose at least one kind.');
      schedule();
      return;
    }
    const [from, to] = windowSeconds();
    if (!(from < to)) {
      showError(isNaN(from) || isNaN(to) ? 'Choose both ends of the custom window.' : 'The window must start before it ends.');
      schedule();
      return;
    }
    const base = baselineSeconds();
    if (base && !(base[0] < base[1])) {
      showError(isNaN(base[0]) || isNaN(base[1]) ? 'Choose both ends of the baseline.' : 'The baseline must start before it ends.');
      schedule();
      return;
    }
    const q = apiParams();
    // The view box is kept across refreshes of the same picture (filters,
    // direction and diff mode); anything else fits anew.
    const filters = filterParams().toString() + '|' + $('rankdir').value + '|' + $('baseline').value;
    setExports(q);
    $('status').textContent = 'loading…';
    $('partial').hidden = true;
    const diffing = q.has('baseline_from');
    const detailsP = diffing ? fetchJSON('api/graph/diff?' + q.toString()).then(fromDiff) : fetchJSON('api/graph/details?' + q.toString());
    detailsP.catch(() => {}); // read below
    try {
      const { node: svg, source } = await fetchSVG(q);
      // Without its numbers the drawing is still shown, not explorable.
      let details = null, detailsError = '';
      try { details = await detailsP; } catch (e) { detailsError = e.message; }
      if (mine !== seq) return; // a newer refresh took over
      const t = performance.now();
      const keep = view.svg && view.filters === filters ? view.box : null;
      graph.replaceChildren(svg);
      view.svg = svg;
      view.source = source;
      view.details = details;
      view.filters = filters;
      svg.removeAttribute('width');
      svg.removeAttribute('height');
      svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
      if (details) {
        wire(svg, details);
      } else {
        view.nodes.clear();
        view.edges.clear();
      }
      clearLoopLabels();
      view.fit = fitBox(svg);
      setBox(keep || view.fit);
      fillFindList(details || { nodes: [] });
      showDiffSummary(details && details.diff);
      graph.dataset.diff = details && details.diff ? 'on' : 'off';
      graph.dataset.wireMs = (performance.now() - t).toFixed(0); // show and wire: the page's own cost
      graph.dataset.state = showEmpty(details) ? 'empty' : 'ok';
      graph.dataset.query = q.toString();
      graph.dataset.rankdir = $('rankdir').value;
      graph.dataset.draws = String((Number(graph.dataset.draws) || 0) + 1);
      showError(detailsError ? 'The drawing is shown, but its numbers could not be loaded: ' + detailsError : '');
      const sel = view.selected;
      if (sel && sel.node && view.nodes.has(sel.node)) showNode(sel.node, false);
      else if (sel && sel.edge && view.edges.has(sel.edge)) showEdge(sel.edge, false);
      else if (sel) closePanel();
    } catch (e) {
      if (mine !== seq) return;
      graph.replaceChildren();
      view.svg = null;
      view.nodes.clear();
      view.edges.clear();
      $('empty').hidden = true;
      showDiffSummary(null);
      graph.dataset.state = 'error';
      graph.dataset.query = q.toString();
      showError(e.message);
    }
    try {
      await loadLinks();
    } catch (e) {
      $('links-status').textContent = 'Could not load: ' + e.message;
    }
    if (mine !== seq) return;
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    schedule();
  }

  // The window picker: a preset, or custom from/to (prefilled with the
  // preset's last window when first chosen).
  let lastPreset = $('window').value === 'custom' ? '1h' : $('window').value;
  $('window').addEventListener('change', () => {
    if (custom()) {
      if (!$('from').value || !$('to').value) {
        const to = nowSeconds();
        const secs = Number(document.querySelector('#window option[value="' + lastPreset + '"]').dataset.secs) || 3600;
        $('from').value = pickerValue(to - secs);
        $('to').value = pickerValue(to);
      }
    } else {
      lastPreset = $('window').value;
    }
    $('custom').hidden = !custom();
    refresh();
  });

  // The baseline picker: off, a shifted window, or custom pickers
  // (prefilled with the window before). The page's URL keeps it.
  {
    const u = new URLSearchParams(location.search);
    const mode = u.get('baseline') || '';
    if ([...$('baseline').options].some((o) => o.value === mode)) $('baseline').value = mode;
    if (mode === 'custom') {
      const bf = Number(u.get('baseline_from')), bt = Number(u.get('baseline_to'));
      if (bf) $('baseline-from').value = pickerValue(bf);
      if (bt) $('baseline-to').value = pickerValue(bt);
    }
    $('baseline-custom').hidden = mode !== 'custom';
  }
  $('baseline').addEventListener('change', () => {
    if ($('baseline').value === 'custom' && (!$('baseline-from').value || !$('baseline-to').value)) {
      const [from, to] = windowSeconds();
      $('baseline-from').value = pickerValue(from - (to - from));
      $('baseline-to').value = pickerValue(from);
    }
    $('baseline-custom').hidden = $('baseline').value !== 'custom';
    refresh();
  });

  // The snapshot export appears when the server has it.
  fetch('api/graph/snapshot', { method: 'HEAD', cache: 'no-store' }).then((res) => {
    $('export-snapshot').hidden = res.status === 404 || res.status === 405;
  }).catch(() => {});

  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });
  for (const id of ['depth', 'rankdir', 'autorefresh', 'from', 'to', 'baseline-from', 'baseline-to']) {
    $(id).addEventListener('change', refresh);
  }
  $('service').addEventListener('change', refresh);
  $('kinds').addEventListener('change', refresh);
  refresh();
})();
