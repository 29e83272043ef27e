/* chainscope's dashboard: one page per view, each drawn from its JSON API
 * (docs/dashboard.md) every two seconds; the live events page reads the
 * Server-Sent Events feed. Plain DOM and SVG, no library. */
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const REFRESH_MS = 2000;
const FEED_MAX = 500;
let timer = null;
let source = null;
const hist = {};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function card(title, wide, ...kids) {
  return el('section', { class: wide ? 'card wide' : 'card' }, el('h2', {}, title), ...kids);
}

function fmt(n, d) {
  if (n === null || n === undefined) return '';
  if (typeof n !== 'number') return String(n);
  return d === undefined ? n.toLocaleString('en') : n.toFixed(d);
}

function table(cols, rows, rowClass) {
  const head = el('tr', {}, cols.map(c => el('th', { class: c.num ? 'num' : '' }, c.title)));
  const body = rows.map(r => {
    const tr = el('tr', { class: rowClass ? rowClass(r) : '' },
      cols.map(c => {
        const v = c.get(r);
        return el('td', { class: c.num ? 'num' : '' }, v instanceof Node ? v : fmt(v, c.digits));
      }));
    return tr;
  });
  return el('table', {}, el('thead', {}, head), el('tbody', {}, body));
}

/* A line chart of series [{points: [[x, y]...], color}], x and y scaled to fit. */
function lineChart(series, opts) {
  const W = 600, H = 180, L = 44, B = 18;
  const s = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
  const pts = series.flatMap(x => x.points);
  s.append(svg('rect', { x: L, y: 0, width: W - L, height: H - B, fill: '#fafbfc', stroke: '#e0e0e0' }));
  if (!pts.length) {
    const t = svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' });
    t.textContent = (opts && opts.empty) || 'no data yet';
    s.append(t);
    return s;
  }
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y1 = Math.max(...pts.map(p => p[1]), 1e-9);
  if (x1 === x0) x1 = x0 + 1;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - 4);
  const Y = y => (H - B) - y / y1 * (H - B - 8);
  for (const f of [0, 0.5, 1]) {
    const t = svg('text', { x: L - 4, y: Y(y1 * f) + 3, 'text-anchor': 'end' });
    t.textContent = fmt(+(y1 * f).toPrecision(3));
    s.append(t, svg('line', { x1: L, x2: W, y1: Y(y1 * f), y2: Y(y1 * f), stroke: '#eceff1' }));
  }
  if (opts && opts.xlabel) {
    const t = svg('text', { x: W - 2, y: H - 4, 'text-anchor': 'end' });
    t.textContent = opts.xlabel;
    s.append(t);
  }
  for (const ser of series) {
    if (!ser.points.length) continue;
    const d = ser.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
    s.append(svg('path', { d, fill: 'none', stroke: ser.color || '#1565c0', 'stroke-width': 1.5 }));
    if (ser.dots) for (const p of ser.points) s.append(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2, fill: ser.color || '#1565c0' }));
  }
  return s;
}

/* Horizontal bars [{label, value, color}]; opts.max, opts.mark (a vertical
 * line at that value, e.g. the SLA), opts.unit. */
function barChart(items, opts) {
  opts = opts || {};
  const W = 600, row = 18, L = 170, H = Math.max(1, items.length) * row + 6;
  const s = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
  s.style.height = H + 'px';
  const max = opts.max || Math.max(1e-9, ...items.map(i => i.value));
  const X = v => L + v / max * (W - L - 60);
  items.forEach((it, i) => {
    const y = 3 + i * row;
    const t = svg('text', { x: L - 6, y: y + 12, 'text-anchor': 'end' });
    t.textContent = String(it.label).slice(0, 32);
    const v = svg('text', { x: X(it.value) + 4, y: y + 12 });
    v.textContent = fmt(+it.value.toPrecision(4)) + (opts.unit || '');
    s.append(t, svg('rect', { x: L, y, width: Math.max(1, X(it.value) - L), height: row - 5, fill: it.color || '#1565c0' }), v);
  });
  if (!items.length) {
    const t = svg('text', { x: W / 2, y: 14, 'text-anchor': 'middle' });
    t.textContent = opts.empty || 'nothing yet';
    s.append(t);
  }
  if (opts.mark !== undefined) {
    s.append(svg('line', { x1: X(opts.mark), x2: X(opts.mark), y1: 0, y2: H, stroke: '#c62828', 'stroke-dasharray': '4 3' }));
  }
  return s;
}

function topCounts(list, key, n) {
  return (list || []).slice().sort((a, b) => b.count - a.count).slice(0, n || 20)
    .map(x => ({ label: x[key], value: x.count }));
}

function metricsTable(metrics) {
  if (!metrics || !metrics.length) return el('p', { class: 'muted' }, 'no metrics of this component in /metrics');
  return el('div', { class: 'metrics' }, table([
    { title: 'metric', get: m => m.name + (m.labels ? '{' + m.labels + '}' : '') },
    { title: 'value', num: true, get: m => m.value },
  ], metrics));
}

function metric(metrics, name, labelPart) {
  return (metrics || []).filter(m => m.name === name && (!labelPart || m.labels.includes(labelPart)))
    .reduce((a, m) => a + m.value, 0);
}

/* One label's value of a metric sample ("" when absent). */
function label(m, name) {
  const r = new RegExp('(?:^|,)' + name + '="([^"]*)"').exec(m.labels || '');
  return r ? r[1] : '';
}

function remember(key, value, max) {
  const h = hist[key] || (hist[key] = []);
  h.push([Date.now() / 1000, value]);
  while (h.length > (max || 300)) h.shift();
  return h;
}

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) { location.href = '/login'; throw new Error('login needed'); }
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

/* ---- pages ---------------------------------------------------------------- */

const pages = {};

pages.overview = async () => {
  const d = await api('/api/overview');
  const now = d.rate.length ? d.rate[d.rate.length - 1] : 0;
  const comps = d.process && d.process.components ? d.process.components.join(', ') : 'unknown (started before the dashboard saw chainscope.started)';
  return [
    card('What runs', true,
      el('div', { class: 'kpis' },
        el('div', {}, el('div', { class: 'big' }, fmt(Math.round(d.uptime_s)) + ' s'), 'uptime'),
        el('div', {}, el('div', { class: 'big' }, fmt(d.events)), 'events seen'),
        el('div', {}, el('div', { class: 'big' }, fmt(now)), 'events in the last second'),
        el('div', {}, el('div', { class: 'big' }, fmt(d.feed_clients)), 'live feed clients'),
        el('div', {}, el('div', { class: 'big' + (d.feed_cut ? ' bad' : '') }, fmt(d.feed_cut)), 'slow clients cut off')),
      el('p', {}, 'components: ', el('b', {}, comps),
        d.process && d.process.version ? ' · version ' + d.process.version : '',
        d.process && d.process.node ? ' · node ' + d.process.node : '')),
    card('Events per second (last 5 minutes)', true,
      lineChart([{ points: d.rate.map((v, i) => [i - d.rate.length + 1, v]) }], { xlabel: 'seconds ago → now' })),
    card('Events by type', false, barChart(topCounts(d.types, 'type', 15))),
    card('Errors', false, d.errors.length
      ? barChart(topCounts(d.errors, 'type', 15).map(x => ({ ...x, color: '#c62828' })))
      : el('p', { class: 'ok' }, 'no failure events')),
    card('Bus and HTTP', true, metricsTable(d.metrics)),
  ];
};

pages.peers = async () => {
  const d = await api('/api/peers');
  const prev = hist.cmds;
  const t = Date.now() / 1000;
  hist.cmds = { t, counts: Object.fromEntries(d.commands.map(c => [c.command, c.count])) };
  const rates = d.commands.map(c => {
    const before = prev && prev.counts[c.command] !== undefined ? prev.counts[c.command] : null;
    return { label: c.command, value: before === null ? 0 : (c.count - before) / Math.max(0.5, t - prev.t) };
  }).sort((a, b) => b.value - a.value).slice(0, 20);
  const rtt = d.rtt.map(s => [s[0] / 1000, s[1]]);
  const total = rates.reduce((a, r) => a + r.value, 0);
  const overTime = prev ? remember('msgs', total) : (hist.msgs || []);
  return [
    card('Peers connected: ' + fmt(d.count), true, table([
      { title: 'id', get: p => p.id },
      { title: 'address', get: p => p.addr + ':' + p.port },
      { title: 'dir', get: p => p.direction },
      { title: 'version', num: true, get: p => p.version },
      { title: 'user agent', get: p => p.user_agent },
      { title: 'height', num: true, get: p => p.start_height },
      { title: 'RTT ms', num: true, digits: 1, get: p => p.rtt_ms },
      { title: 'msgs in', num: true, get: p => p.msgs_in },
      { title: 'msgs out', num: true, get: p => p.msgs_out },
    ], d.peers.slice(0, 500))),
    card('Ping round trip (ms) over time', false, lineChart([{ points: rtt, dots: true }], { empty: 'no pong yet', xlabel: 'time' })),
    card('Messages per second by command', false, barChart(rates, { empty: 'no messages yet', unit: '/s' })),
    card('Messages per second over time', false, lineChart([{ points: overTime }], { empty: 'measuring…', xlabel: 'since the page opened' })),
    card('Anomalies: connections closed, by reason', false,
      barChart(topCounts(d.closes, 'code', 15).map(x => ({ ...x, color: '#ef6c00' })), { empty: 'no connection closed' })),
    card('Connector metrics', true, metricsTable(d.metrics)),
  ];
};

function octets(addr) {
  const m = /^(\d+)\.(\d+)\./.exec(addr || '');
  if (m) return [+m[1], +m[2]];
  let h = 0;
  for (const c of String(addr)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return [h & 255, (h >> 8) & 255];
}

pages.crawl = async () => {
  const d = await api('/api/crawl');
  const reach = d.nodes.filter(n => n.reachable);
  const by = key => {
    const m = {};
    for (const n of reach) { const k = n[key] === undefined ? '?' : n[key]; m[k] = (m[k] || 0) + 1; }
    return Object.entries(m).map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value).slice(0, 15);
  };
  const map = svg('svg', { class: 'chart', viewBox: '0 0 256 256', role: 'img' });
  map.style.height = '256px';
  map.append(svg('rect', { x: 0, y: 0, width: 256, height: 256, fill: '#fafbfc', stroke: '#e0e0e0' }));
  for (const n of d.nodes.slice(0, 5000)) {
    const [x, y] = octets(n.addr);
    map.append(svg('circle', { cx: x, cy: y, r: 2, fill: n.reachable ? '#2e7d32' : '#bdbdbd' }));
  }
  const done = d.done;
  return [
    card('Crawl', true, el('div', { class: 'kpis' },
      el('div', {}, el('div', { class: 'big' }, fmt(d.count)), 'nodes reported'),
      el('div', {}, el('div', { class: 'big ok' }, fmt(reach.length)), 'reachable'),
      el('div', {}, el('div', { class: 'big' }, done ? fmt(done.known) : '…'), 'known'),
      el('div', {}, el('div', { class: 'big' }, done ? fmt(done.seconds, 1) + ' s' : 'running or none'), 'duration'))),
    card('Reachable nodes by version', false, barChart(by('version'))),
    card('Reachable nodes by user agent', false, barChart(by('user_agent'))),
    card('Map of what was found (first two octets; green reachable)', false, map),
    card('Nodes', true, table([
      { title: 'address', get: n => n.addr + ':' + n.port },
      { title: 'network', get: n => n.network },
      { title: 'reachable', get: n => el('span', { class: n.reachable ? 'ok' : 'bad' }, n.reachable ? 'yes' : 'no') },
      { title: 'version', num: true, get: n => n.version },
      { title: 'user agent', get: n => n.user_agent },
      { title: 'RTT ms', num: true, digits: 1, get: n => n.rtt_ms },
      { title: 'failure', get: n => n.failure },
    ], d.nodes.slice(0, 300))),
  ];
};

/* The tip tree of one network of /api/forks (docs/btc.md): a column per
 * branch, the best chain on the left, a block per header, lines to parents,
 * the nodes' names at their tips. */
function tipTree(net) {
  const hs = (net.headers || []).slice().sort((a, b) => a.height - b.height);
  const col = {};
  let next = 1;
  for (const h of hs) col[h.hash] = h.best_chain ? 0 : (col[h.prev] > 0 ? col[h.prev] : next++);
  const hmin = hs.length ? hs[0].height : 0, hmax = hs.length ? hs[hs.length - 1].height : 0;
  const R = 22, W = 160 + next * 220, H = (hmax - hmin + 1) * R + 10;
  const s = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
  s.style.height = Math.min(H, 600) + 'px';
  const X = h => 60 + col[h.hash] * 220, Y = h => 5 + (hmax - h.height) * R;
  const byHash = Object.fromEntries(hs.map(h => [h.hash, h]));
  for (const h of hs) {
    const p = byHash[h.prev];
    if (p) s.append(svg('line', { x1: X(h) + 40, y1: Y(h) + 16, x2: X(p) + 40, y2: Y(p), stroke: '#90a4ae' }));
  }
  for (const h of hs) {
    s.append(svg('rect', { x: X(h), y: Y(h), width: 80, height: 16, rx: 3, fill: h.best_chain ? '#1565c0' : '#ef6c00' }));
    const t = svg('text', { x: 4, y: Y(h) + 12 });
    t.textContent = String(h.height);
    const id = svg('text', { x: X(h) + 84, y: Y(h) + 12 });
    id.textContent = String(h.hash).slice(0, 10) + ((h.tip_of || []).length ? ' ← ' + h.tip_of.join(', ') : '');
    s.append(t, id);
  }
  return s;
}

async function forksCard(o) {
  if (!o.forks) return card('Chain tips and forks', true, el('p', { class: 'muted' }, 'no fork watch configured'));
  const f = await api('/api/forks');
  const nets = Array.isArray(f.networks) ? f.networks : [];
  if (!nets.length) return card('Chain tips and forks', true, el('p', { class: 'muted' }, 'no tip seen yet'));
  return card('Chain tips and forks', true, nets.map(n => el('div', {},
    el('h2', {}, n.network + (n.best ? ' · best ' + n.best.height : '')),
    table([
      { title: 'node', get: x => x.node },
      { title: 'height', num: true, get: x => x.height },
      { title: 'behind', num: true, get: x => x.behind },
      { title: 'state', get: x => el('span', { class: x.state === 'ok' ? 'ok' : 'bad' }, x.state) },
      { title: 'tip', get: x => String(x.hash || '').slice(0, 18) },
    ], n.nodes || []),
    tipTree(n))));
}

pages.evm = async () => {
  const [d, o] = await Promise.all([api('/api/evm'), api('/api/overview')]);
  const cards = [card('EVM networks', true, d.networks.length ? table([
    { title: 'network', get: n => n.network },
    { title: 'head', num: true, get: n => n.head },
    { title: 'node head', num: true, get: n => n.node_head || '' },
    { title: 'cursor (next)', num: true, get: n => metric(d.metrics, 'chainscope_evm_next_block', 'network="' + n.network + '"') || '' },
    { title: 'lag', num: true, get: n => el('span', { class: n.lag > 5 ? 'bad' : '' }, fmt(n.lag)) },
    { title: 'blocks/s', num: true, digits: 2, get: n => n.blocks_per_s },
    { title: 'blocks seen', num: true, get: n => n.blocks },
    { title: 'reorgs', num: true, get: n => n.reorgs },
    { title: 'deepest last', num: true, get: n => n.last_reorg_depth },
    { title: 'hash', get: n => n.hash.slice(0, 18) + '…' },
  ], d.networks) : el('p', { class: 'muted' }, 'no evm.block yet'))];
  for (const n of d.networks) {
    const h = remember('head:' + n.network, n.head);
    cards.push(card('Head of ' + n.network + ' over time', false, lineChart([{ points: h.map(p => [p[0], p[1] - h[0][1]]) }], { xlabel: 'blocks since the page opened' })));
  }
  cards.push(await forksCard(o));
  cards.push(card('Follower metrics', true, metricsTable(d.metrics)));
  return cards;
};

pages.monitors = async () => {
  const d = await api('/api/monitors');
  const m = d.metrics;
  const sup = m.filter(x => x.name === 'chainscope_monitor_suppressed_total')
    .map(x => ({ label: label(x, 'reason') + ' · ' + label(x, 'monitor'), value: x.value, color: '#ef6c00' }));
  return [
    card('Alerts (newest first)', true, el('div', { id: 'alerts' }, d.alerts.length ? table([
      { title: 'time', get: a => new Date(a.time).toISOString().replace('T', ' ').slice(0, 19) },
      { title: 'severity', get: a => el('span', { class: a.severity === 'high' ? 'bad' : '' }, a.severity) },
      { title: 'monitor', get: a => a.monitor },
      { title: 'network', get: a => a.network },
      { title: 'risk', get: a => a.risk },
      { title: 'why it matched', get: a => a.reasons },
    ], d.alerts) : el('p', { class: 'muted' }, 'no alert fired yet'))),
    card('Alerts per monitor', false, barChart(topCounts(d.monitors, 'monitor'), { empty: 'no alert yet' })),
    card('Outbox', false, el('div', { class: 'kpis' },
      el('div', {}, el('div', { class: 'big' }, fmt(metric(m, 'chainscope_monitor_matches_total'))), 'matches'),
      el('div', {}, el('div', { class: 'big' }, fmt(metric(m, 'chainscope_monitor_notified_total'))), 'notified'),
      el('div', {}, el('div', { class: 'big' }, fmt(metric(m, 'chainscope_notify_queued_total'))), 'queued'),
      el('div', {}, el('div', { class: 'big' }, fmt(metric(m, 'chainscope_notify_sent_total'))), 'sent'),
      el('div', {}, el('div', { class: 'big' + (metric(m, 'chainscope_notify_dead_total') ? ' bad' : '') }, fmt(metric(m, 'chainscope_notify_dead_total'))), 'dead letters'))),
    card('Suppressed, by reason', false, barChart(sup, { empty: 'nothing suppressed' })),
    card('Monitor and notifier metrics', true, metricsTable(m)),
  ];
};

pages.audit = async () => {
  const d = await api('/api/audit');
  const down = n => n.state === 'fail';
  return [
    card('Nodes (last sweep)', true, d.nodes.length ? table([
      { title: 'node', get: n => n.node },
      { title: 'state', get: n => el('span', { class: down(n) ? 'bad' : 'ok' }, down(n) ? 'DOWN' : 'up') },
      { title: 'last sweep', get: n => new Date(n.sweep * 1000).toISOString().replace('T', ' ').slice(0, 19) },
      { title: 'checks', get: n => n.checks.map(c => c.check + ' ' + c.state + (c.state === 'fail' && c.detail ? ' (' + c.detail.slice(0, 60) + ')' : '')).join(', ') },
      { title: 'days of ' + d.month, get: n => el('div', { class: 'days' }, n.days.map(v => el('span', { class: 'day d' + v }))) },
      { title: 'availability', num: true, get: n => fmt(n.availability, 2) + ' %' },
    ], d.nodes, n => down(n) ? 'down' : '') : el('p', { class: 'muted' }, 'no node.check yet')),
    card('Availability this month against the SLA (' + d.sla + ' %)', true,
      barChart(d.nodes.map(n => ({ label: n.node, value: n.availability, color: n.availability >= d.sla ? '#2e7d32' : '#c62828' })), { max: 100, mark: d.sla, unit: ' %', empty: 'no sweep yet' })),
    card('Audit metrics', true, metricsTable(d.metrics)),
  ];
};

pages.events = async () => {
  const input = el('input', { id: 'filter', size: 40, placeholder: 'filters, comma separated: p2p.msg.*, evm.>', value: sessionStorage.getItem('filter') || '' });
  const feed = el('div', { id: 'feed' });
  const count = el('span', { class: 'muted', id: 'feedcount' }, '0 events');
  const apply = el('button', { type: 'button' }, 'Apply');
  const pause = el('button', { type: 'button' }, 'Pause');
  let paused = false, n = 0;
  const connect = () => {
    if (source) source.close();
    const f = input.value.split(',').map(s => s.trim()).filter(Boolean);
    sessionStorage.setItem('filter', input.value);
    source = new EventSource('/api/events' + (f.length ? '?' + f.map(x => 'filter=' + encodeURIComponent(x)).join('&') : ''));
    source.onmessage = m => {
      n++;
      count.textContent = n + ' events';
      if (paused) return;
      let e;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      const line = el('div', {}, el('b', {}, e.type), ' ', e.network || '', ' ', el('span', { class: 'muted' }, e.key || ''), ' ', JSON.stringify(e.payload));
      feed.prepend(line);
      while (feed.childNodes.length > FEED_MAX) feed.lastChild.remove();
    };
    source.addEventListener('gap', () => feed.prepend(el('div', { class: 'bad' }, 'some events were missed while away')));
  };
  apply.addEventListener('click', connect);
  input.addEventListener('keydown', e => { if (e.key === 'Enter') connect(); });
  pause.addEventListener('click', () => { paused = !paused; pause.textContent = paused ? 'Resume' : 'Pause'; });
  connect();
  return { once: true, cards: [card('Live events', true, el('p', {}, input, ' ', apply, ' ', pause, ' ', count), feed)] };
};

/* ---- routing ------------------------------------------------------------- */

async function show() {
  const name = (location.hash || '#overview').slice(1);
  const page = pages[name] || pages.overview;
  clearTimeout(timer);
  if (source) { source.close(); source = null; }
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('on', a.getAttribute('href') === '#' + name);
  const main = document.getElementById('main');
  const status = document.getElementById('status');
  const draw = async () => {
    try {
      const r = await page();
      if (location.hash.slice(1) !== name && !(name === 'overview' && !location.hash)) return;
      main.replaceChildren(...(r.cards || r));
      main.dataset.page = name;
      status.textContent = 'updated ' + new Date().toLocaleTimeString();
      if (!r.once) timer = setTimeout(draw, REFRESH_MS);
    } catch (e) {
      status.textContent = String(e.message || e);
      timer = setTimeout(draw, REFRESH_MS);
    }
  };
  await draw();
}

window.addEventListener('hashchange', show);
window.addEventListener('DOMContentLoaded', show);
