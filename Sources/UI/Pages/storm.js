/* storm.js: what the storm ui pages share (no dependencies, no build step).
 *
 * Stable hooks for tests and scripts. Every table row is <tr data-key=...>; numeric cells carry
 * data-value (the raw number) and are right-aligned; a table with nothing to show has one td.empty.
 *  all pages     #error-banner (hidden while every request succeeds; one div per distinct failure, data-key =
 *                the failing requests' keys),
 *                #problems (ul; li.bad / li.warn, most urgent first), #last-updated, #window (select: 600,
 *                10800, 86400, :all-time), #sys (checkbox: sends sys=true)
 *  index.html    #cluster-summary, #topologies tr[data-topology], #nimbuses tr[data-host][data-leader],
 *                #supervisors tr[data-supervisor][data-host]
 *  topology.html #topology-name, #topology-status, #topology-id, #topology-summary, #topology-emitted
 *                (count in the selected window, data-value), #topology-emitted-rate, #topology-acked,
 *                #topology-failed, #topology-latency, #topology-stats tr[data-window] (tr.sel = selected),
 *                #spouts / #bolts tr[data-component] (td.capacity, .hot when > 0.8), #errors tr[data-component],
 *                #workers tr[data-host][data-port], #topology-graph svg (g.node[data-component],
 *                path.edge[data-from][data-to][data-stream]), #actions (hidden when ui.actions.enabled is
 *                false), #btn-activate, #btn-deactivate, #btn-rebalance, #btn-kill (disabled when the status
 *                does not allow them), dialog #confirm with #confirm-text, #confirm-wait, #confirm-ok,
 *                #confirm-cancel, and #action-status (.ok / .bad) for the answer
 *  component.html #component-id, #component-type, #component-topology, #component-summary, #component-stats
 *                tr[data-window], #input-stats, #output-stats, #executors tr[data-executor], #component-errors
 *  supervisor.html #supervisor-host, #supervisors tr[data-supervisor], #workers tr[data-port]
 */
'use strict';
const Storm = (() => {
  const $ = id => document.getElementById(id);

  // DOM building: strings always become text nodes, never markup.
  function add(e, kids) {
    for (const k of kids.flat(Infinity)) if (k != null && k !== false && k !== '') e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    return add(e, kids);
  }
  const set = (id, ...kids) => { const e = $(id); if (e) { e.replaceChildren(); add(e, kids); } return e; };

  // Numbers, durations, times.
  const num = v => (v == null || v === '' ? NaN : Number(v));
  const int = v => { const n = num(v); return isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–'; };
  function sig(v) {
    const n = num(v);
    if (!isFinite(n)) return '–';
    if (n === 0) return '0';
    const a = Math.abs(n);
    return a >= 100 ? int(n) : String(parseFloat(n.toPrecision(a >= 1 ? 3 : 2)));
  }
  function dur(s) {
    s = num(s);
    if (!isFinite(s)) return '–';
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  }
  // API times come in seconds or (componentErrors) milliseconds since the epoch.
  const epoch = t => { t = num(t); return !isFinite(t) || t <= 0 ? null : t > 1e12 ? t : t * 1000; };
  const pad = n => String(n).padStart(2, '0');
  const clock = ms => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };
  const stamp = ms => { const d = new Date(ms); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`; };
  const ago = ms => dur((Date.now() - ms) / 1000) + ' ago';
  // Seconds a window's counts cover: the window, or the uptime when that is shorter.
  function span(win, uptime) {
    const u = num(uptime), w = win === ':all-time' ? u : num(win);
    return isFinite(u) && u > 0 ? Math.min(w, u) : w;
  }
  const rate = (count, win, uptime) => { const s = span(win, uptime); return s > 0 ? num(count) / s : NaN; };

  // Links between the pages.
  const q = o => Object.entries(o).filter(([, v]) => v != null && v !== '').map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const param = k => new URLSearchParams(location.search).get(k);
  const winParam = () => { const w = param('window'); return w && w !== '600' ? w : null; };
  const a = (href, ...kids) => h('a', { href }, ...kids);
  const topoLink = (id, text) => h('a', { href: 'topology.html?' + q({ id, window: winParam() }), title: id }, text ?? id);
  const compLink = (topo, id, text) => a('component.html?' + q({ topology_id: topo, id, window: winParam() }), text ?? id);
  const hostLink = (host, text) => (host ? a('supervisor.html?' + q({ host }), text ?? host) : '–');
  const extLink = (url, text) => (/^https?:\/\//i.test(url || '') ? h('a', { href: url, target: '_blank', rel: 'noopener' }, text) : '');

  const badge = (text, cls) => h('span', { class: 'badge ' + (cls || '') }, text ?? '–');
  const STATUS = { ACTIVE: 'ok', INACTIVE: 'warn', REBALANCING: 'info', KILLED: 'bad' };
  const status = s => badge(s, STATUS[s] || 'bad');
  const firstLine = (s, n) => { const l = String(s).split('\n')[0].trim(); return l.length > n ? l.slice(0, n - 1) + '…' : l; };
  // An error: its first line, when and where; the whole text unfolds.
  function errorView(text, time, host, port) {
    if (!text) return '';
    const t = epoch(time);
    return h('details', null,
      h('summary', null, h('span', { class: 'err' }, firstLine(text, 100)), ' ',
        h('span', { class: 'muted' }, t ? `${ago(t)} ` : '', host ? ['on ', hostLink(host, port != null ? `${host}:${port}` : host)] : '')),
      h('pre', null, text));
  }

  // Requests. The API answers failures as {"error", "errorMessage"} with a non-200 status.
  async function request(method, path, json) {
    let res;
    const headers = { Accept: 'application/json' };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    try {
      res = await fetch(path, { method, cache: 'no-store', headers, body: json === undefined ? undefined : JSON.stringify(json) });
    } catch (e) {
      throw new Error('no answer from the UI daemon');
    }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { if (res.ok) throw new Error('the answer is not JSON'); }
    if (!res.ok) {
      // The API's error already starts with the status ("503 Service Unavailable").
      const m = body && [body.error, body.errorMessage].filter(Boolean).map(s => firstLine(s, 300)).join(': ');
      throw new Error(m ? `HTTP ${m}` : `HTTP ${res.status}${text ? ' ' + firstLine(text, 200) : ''}`);
    }
    return body;
  }

  // The error banner: one line per failing request, with the time it started failing.
  const failures = new Map();
  let lastGood = 0;
  function banner() {
    const b = $('error-banner'), byMsg = new Map();
    for (const [key, f] of failures) {
      const g = byMsg.get(f.msg) || { keys: [], whats: [], since: f.since };
      g.keys.push(key); g.whats.push(f.what); g.since = Math.min(g.since, f.since);
      byMsg.set(f.msg, g);
    }
    b.hidden = !failures.size;
    b.replaceChildren(...[...byMsg].map(([msg, g]) => h('div', { 'data-key': g.keys.join(' ') }, `Cannot load ${g.whats.join(', ')}: ${msg} `,
      h('span', { class: 'since' }, `— failing since ${clock(g.since)} (${dur((Date.now() - g.since) / 1000)}); the page shows the last good data`))));
  }
  // GET path, hand the JSON to render; on failure keep what is on the page and raise the banner.
  async function load(key, what, path, render) {
    let data;
    try {
      data = await request('GET', path);
    } catch (e) {
      const f = failures.get(key) || { since: Date.now() };
      failures.set(key, Object.assign(f, { what, msg: e.message }));
      banner();
      return undefined;
    }
    if (failures.delete(key)) banner();
    render(data);
    return data;
  }

  // Periodic refresh; never two at once; now() runs one right away (after a change of window or an action).
  function every(ms, fn) {
    let busy = false, again = false;
    async function tick() {
      if (busy) { again = true; return; }
      busy = true;
      try { await fn(); } catch (e) { console.error(e); }
      busy = false;
      if (!failures.size) lastGood = Date.now();
      set('last-updated', lastGood ? (failures.size ? 'last good data ' : 'updated ') + clock(lastGood) : '');
      if (again) { again = false; tick(); }
    }
    tick();
    setInterval(() => { if (!document.hidden) tick(); }, ms);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
    return tick;
  }

  // The window selector and the system-stats toggle; both survive reloads (URL and localStorage).
  function controls(onChange) {
    const sel = $('window'), sys = $('sys');
    if (sel) {
      sel.value = param('window') || '600';
      if (!sel.value) sel.value = '600';
      sel.onchange = () => {
        const u = new URL(location.href);
        if (sel.value === '600') u.searchParams.delete('window'); else u.searchParams.set('window', sel.value);
        history.replaceState(null, '', u);
        onChange();
      };
    }
    if (sys) {
      sys.checked = localStorage.getItem('storm.sys') === 'true';
      sys.onchange = () => { localStorage.setItem('storm.sys', sys.checked); onChange(); };
    }
    return () => q({ window: sel ? sel.value : null, sys: sys && sys.checked ? 'true' : null });
  }
  const win = () => ($('window') || {}).value || '600';

  // Tables. cols: {t: title, v: row => value to sort on, f: row => cell (node or text; default the value,
  // formatted by fmt), num, fmt, c: row => cell class, tip}. Clicking a header sorts by it, and the sort
  // survives refreshes; without one, opts.order decides. Open <details> stay open across refreshes.
  function cmp(x, y) {
    const nx = typeof x === 'number' && !isNaN(x), ny = typeof y === 'number' && !isNaN(y);
    if (nx || ny) return nx && ny ? x - y : nx ? 1 : -1;
    return String(x ?? '').localeCompare(String(y ?? ''), undefined, { numeric: true });
  }
  function table(id, cols, rows, opts = {}) {
    const t = $(id);
    t._args = [id, cols, rows, opts];
    const sig = cols.map(c => c.t).join('|');
    if (t._sig !== sig) {
      t._sig = sig;
      t._sort = null;
      const tr = h('tr');
      cols.forEach((c, i) => tr.append(h('th', {
        class: c.num ? 'num' : null, title: c.tip,
        onclick: () => { const s = t._sort; t._sort = { i, asc: s && s.i === i ? !s.asc : !c.num }; table(...t._args); },
      }, c.t)));
      (t.tHead || t.createTHead()).replaceChildren(tr);
    }
    [...t.tHead.rows[0].cells].forEach((th, i) => {
      th.classList.toggle('sorted', !!t._sort && t._sort.i === i);
      th.classList.toggle('asc', !!t._sort && t._sort.i === i && t._sort.asc);
    });
    const list = (rows || []).slice(), s = t._sort;
    if (s) list.sort((x, y) => cmp(cols[s.i].v(x), cols[s.i].v(y)) * (s.asc ? 1 : -1));
    else if (opts.order) list.sort(opts.order);
    const open = new Set([...t.querySelectorAll('details[open]')].map(d => d.closest('tr').dataset.key));
    const body = h('tbody');
    for (const r of list) {
      const tr = h('tr', opts.attrs ? opts.attrs(r) : null);
      tr.dataset.key = opts.key ? opts.key(r) : '';
      for (const c of cols) {
        const v = c.v(r);
        const cls = [c.num && 'num', c.c && c.c(r)].filter(Boolean).join(' ');
        tr.append(h('td', { class: cls || null, 'data-value': c.num && isFinite(num(v)) ? num(v) : null },
          c.f ? c.f(r) : (c.fmt || (c.num ? int : String))(v ?? '–')));
      }
      if (open.has(tr.dataset.key)) tr.querySelectorAll('details').forEach(d => { d.open = true; });
      body.append(tr);
    }
    if (!list.length) body.append(h('tr', null, h('td', { class: 'empty', colspan: cols.length }, opts.empty || 'None')));
    if (t.tBodies[0]) t.replaceChild(body, t.tBodies[0]); else t.append(body);
    if (opts.count) set(opts.count, `(${list.length})`);
  }

  // Column builders the pages share.
  const fix3 = v => (isFinite(num(v)) ? num(v).toFixed(3) : '–');
  const col = {
    n: (t, key, c) => ({ t, v: r => num(r[key]), num: true, c }),
    ms: (t, key) => ({ t, v: r => num(r[key]), fmt: sig, num: true }),
    rate: (t, key, win, up) => ({ t, v: r => rate(r[key], win(r), up), fmt: sig, num: true }),
    failed: { t: 'Failed', v: r => num(r.failed), num: true, c: r => (num(r.failed) > 0 ? 'bad' : '') },
    cap: { t: 'Capacity', v: r => num(r.capacity), fmt: fix3, num: true, tip: 'executed × execute latency / window; near 1: cannot keep up',
      c: r => 'capacity' + (num(r.capacity) > 0.8 ? ' hot' : num(r.capacity) > 0.5 ? ' warm' : '') },
    host: { t: 'Host', v: r => r.host, f: r => hostLink(r.host) },
    port: { t: 'Port', v: r => num(r.port), f: r => String(r.port ?? '–'), num: true },
    uptime: { t: 'Uptime', v: r => num(r.uptimeSeconds), f: r => dur(r.uptimeSeconds), num: true },
    log: { t: 'Log', v: () => '', f: r => extLink(r.workerLogLink, 'worker log') },
    window: { t: 'Window', v: r => span(r.window, 1e12), f: r => r.windowPretty || r.window },
    // A worker's components with their task counts, each linked.
    tasks: topo => ({ t: 'Components (tasks)', v: r => Object.keys(r.componentNumTasks || {}).join(), c: () => 'wrap',
      f: r => Object.entries(r.componentNumTasks || {}).sort().map(([c, k], i) => [i ? ', ' : '', compLink(topo(r), c), ` ×${k}`]) }),
  };
  const WINDOWS = { 600: '10m', 10800: '3h', 86400: '1d', ':all-time': 'all time' };
  // Options for a per-window stats table: its rows in window order, the selected one marked.
  const windowRows = w => ({ key: r => r.window, attrs: r => ({ 'data-window': r.window, class: String(r.window) === w ? 'sel' : null }),
    order: (x, y) => span(x.window, 1e12) - span(y.window, 1e12) });

  // A definition list of [label, value] pairs.
  const kv = (id, pairs) => set(id, pairs.filter(p => p).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '–')]));
  // Problems first: [{bad: true|false, parts: [...]}], the bad ones on top.
  function problems(list) {
    list.sort((x, y) => y.bad - x.bad);
    set('problems', list.map(p => h('li', { class: p.bad ? 'bad' : 'warn' }, p.parts)));
  }
  // A figure with its label; id and raw (data-value) go on the figure itself.
  const tile = (label, value, o = {}) => h('div', { class: o.bad ? 'bad' : null, title: o.title },
    h('b', { id: o.id, 'data-value': isFinite(num(o.raw)) ? num(o.raw) : null }, value), h('span', null, label));

  // Storm's debug (sampled tuples into the event logger): #btn-debug at the #debug-pct percentage, #btn-stop-debug,
  // against `path` (.../debug), saying how it went in #debug-status; `done` refreshes the page.
  function debugControls(path, done) {
    const go = async (action, pct) => {
      const st = $('debug-status');
      st.className = '';
      try {
        await request('POST', `${path}/${action}/${pct}`);
        st.className = 'ok';
        set('debug-status', `debug ${action === 'enable' ? 'on at ' + pct + ' %' : 'off'} at ${clock(Date.now())}`);
      } catch (e) {
        st.className = 'bad';
        set('debug-status', `debug not changed: ${e.message}`);
      }
      done();
    };
    $('btn-debug').onclick = () => go('enable', num($('debug-pct').value));
    $('btn-stop-debug').onclick = () => go('disable', num($('debug-pct').value) || 0);
  }
  const debugState = x => (x.debug ? `on, sampling ${x.samplingPct} %` : 'off');

  return {
    $, h, set, num, int, sig, dur, epoch, clock, stamp, ago, span, rate, q, param, a, topoLink, compLink, hostLink,
    extLink, badge, status, firstLine, errorView, request, load, every, controls, win, table, kv, problems, tile, fix3, col,
    WINDOWS, windowRows, debugControls, debugState,
  };
})();
