// The built-in page: draws /graph.svg with the chosen filters, lists the
// unresolved span links, refreshes itself. Server strings go into the page
// through textContent only; the one exception is the SVG from our own
// renderer, parsed as XML and stripped of scripts and event handlers.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const started = performance.now();
  const serverNow = Number(document.body.dataset.now) || Date.now();
  const refreshMs = 1000 * Math.max(1, Number(document.body.dataset.refresh) || 10);
  let timer = null;
  let seq = 0;

  // nowSeconds follows the server's clock, so windows end at its "now".
  function nowSeconds() {
    return Math.floor((serverNow + performance.now() - started) / 1000);
  }

  function checkedKinds() {
    const boxes = [...document.querySelectorAll('#kinds input[type=checkbox]')];
    const on = boxes.filter((b) => b.checked).map((b) => b.value);
    return { on, all: on.length === boxes.length };
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
    p.set('rankdir', $('rankdir').value);
    if (!$('autorefresh').checked) p.set('refresh', '0');
    return p;
  }

  // apiParams are the filters as the API takes them.
  function apiParams() {
    const to = nowSeconds();
    const secs = Number($('window').selectedOptions[0].dataset.secs) || 3600;
    const q = new URLSearchParams();
    q.set('from', String(to - secs));
    q.set('to', String(to));
    const service = $('service').value.trim();
    if (service) q.set('service', service);
    if ($('depth').value !== '') q.set('depth', $('depth').value);
    const kinds = checkedKinds();
    if (!kinds.all) q.set('kinds', kinds.on.join(','));
    q.set('rankdir', $('rankdir').value);
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

  async function fetchSVG(q) {
    const res = await fetch('graph.svg?' + q.toString(), { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorMessage(res));
    const doc = new DOMParser().parseFromString(await res.text(), 'image/svg+xml');
    const svg = doc.documentElement;
    if (doc.getElementsByTagName('parsererror').length > 0 || svg.localName !== 'svg') {
      throw new Error('the server sent an SVG this browser cannot read');
    }
    sanitize(svg);
    return document.importNode(svg, true);
  }

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  async function loadLinks() {
    const q = new URLSearchParams({ limit: '100' });
    const service = $('service').value.trim();
    if (service) q.set('service', service);
    const res = await fetch('api/links/unresolved?' + q.toString(), { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorMessage(res));
    const problems = (await res.json()).problems || [];
    const body = $('links').tBodies[0];
    const rows = problems.map((p) => {
      const tr = document.createElement('tr');
      cell(tr, p.time ? new Date(p.time).toLocaleString() : '');
      cell(tr, p.result);
      cell(tr, p.service);
      cell(tr, p.span_name);
      cell(tr, p.trace_id, 'id');
      cell(tr, p.span_id, 'id');
      cell(tr, p.link_trace_id, 'id');
      cell(tr, p.link_span_id, 'id');
      cell(tr, p.likely_cause);
      return tr;
    });
    body.replaceChildren(...rows);
    $('links').hidden = rows.length === 0;
    $('links-status').textContent = rows.length === 0 ? 'None.' : rows.length + ' recent, newest first.';
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if ($('autorefresh').checked) timer = setTimeout(refresh, refreshMs);
  }

  async function refresh() {
    const mine = ++seq;
    const graph = $('graph');
    history.replaceState(null, '', '?' + pageParams().toString());
    if (checkedKinds().on.length === 0) {
      showError('Choose at least one kind.');
      schedule();
      return;
    }
    const q = apiParams();
    $('status').textContent = 'loading…';
    try {
      const svg = await fetchSVG(q);
      if (mine !== seq) return; // a newer refresh took over
      graph.replaceChildren(svg);
      graph.dataset.state = 'ok';
      graph.dataset.query = q.toString();
      showError('');
    } catch (e) {
      if (mine !== seq) return;
      graph.replaceChildren();
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

  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });
  for (const id of ['depth', 'window', 'rankdir', 'autorefresh']) {
    $(id).addEventListener('change', refresh);
  }
  $('service').addEventListener('change', refresh);
  $('kinds').addEventListener('change', refresh);
  refresh();
})();
