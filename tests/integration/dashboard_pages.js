// Drives Debian's chromium through the dashboard for test_dashboard.py and
// bench/dashboard: prints one JSON object with what a user would have seen.
// Usage: node dashboard_pages.js MODE URL OUTDIR
//   MODE plain:  every page, console errors, charts, the live feed (SSE and
//                WebSocket) timed against `chainscope publish`, alerts, audit
//   MODE locked: the token is asked for, the login form, then no IP address
//                in the text of any page (http.mask_ips)
//   MODE bench:  time to first render of the overview
// Environment: CHAINSCOPE (binary), CS_SOCKET (log server socket), CS_TOKEN.
'use strict';
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const { chromium } = require(path.join(process.env.CS_SOURCE_DIR || path.join(__dirname, '..', '..'),
  'tests', 'node', 'node_modules', 'playwright-core'));

const [mode, base, outdir] = process.argv.slice(2);
const PAGES = ['overview', 'peers', 'crawl', 'evm', 'monitors', 'audit', 'events'];
// IPv4, and IPv6 with all eight groups or with "::"
const IP = /\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|[0-9a-f]{0,4}(?::[0-9a-f]{1,4})*::(?:[0-9a-f]{1,4})?/i;

function publish(type, json) {
  execFileSync(process.env.CHAINSCOPE, ['publish', '-s', process.env.CS_SOCKET, '--type', type,
    '--json', JSON.stringify(json)]);
}

async function visit(page, name, errors) {
  const before = errors.length;
  await page.goto(base + '/#' + name);
  await page.waitForFunction(n => document.getElementById('main').dataset.page === n, name,
    { timeout: 10000 });
  await page.waitForTimeout(300);
  if (outdir) await page.screenshot({ path: path.join(outdir, name + '.png'), fullPage: true });
  return errors.length - before;
}

// SVG charts with something drawn beyond their background and axes.
async function charts(page) {
  return page.evaluate(() => [...document.querySelectorAll('svg.chart')].map(s =>
    s.querySelectorAll('path, circle').length + s.querySelectorAll('rect').length - 1));
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
  });
  const out = { errors: [], pages: {} };
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('console', m => { if (m.type() === 'error') out.errors.push(m.text()); });
    page.on('pageerror', e => out.errors.push(String(e)));
    page.on('response', r => { if (r.status() >= 500) out.errors.push(r.status() + ' ' + r.url()); });
    if (outdir) fs.mkdirSync(outdir, { recursive: true });

    if (mode === 'bench') {
      const t0 = Date.now();
      await page.goto(base + '/#overview');
      await page.waitForSelector('svg.chart');
      out.first_render_ms = Date.now() - t0;
      const sizes = await page.evaluate(() => performance.getEntriesByType('resource')
        .concat(performance.getEntriesByType('navigation'))
        .map(r => [r.name, r.decodedBodySize]));
      out.resources = sizes;
      return out;
    }

    if (mode === 'locked') {
      const r = await page.goto(base + '/');
      out.first_url = page.url();
      out.first_status = r.status();
      out.api_status = (await page.request.get(base + '/api/overview')).status();
      await page.fill('#token', 'wrong-token-wrong-token');
      await page.click('button[type=submit]');
      out.after_wrong = page.url();
      await page.fill('#token', process.env.CS_TOKEN);
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      out.after_login = page.url();
      out.texts = {};
      for (const name of PAGES) {
        await visit(page, name, out.errors);
        if (name === 'events') {
          publish('p2p.conn.open', { peer: { id: 77, addr: '198.51.100.23', port: 8333, direction: 'out' } });
          await page.waitForFunction(() => document.getElementById('feed').textContent.includes('p2p.conn.open'),
            null, { timeout: 5000 });
        }
        const text = await page.evaluate(() => document.body.innerText);
        out.texts[name] = text;
        const m = IP.exec(text);
        out.pages[name] = { ip: m ? m[0] : null };
      }
      return out;
    }

    for (const name of PAGES) {
      const errs = await visit(page, name, out.errors);
      out.pages[name] = { errors: errs, charts: await charts(page) };
      if (name === 'evm') out.evm_text = await page.evaluate(() => document.body.innerText);
      if (name === 'peers') out.peers_text = await page.evaluate(() => document.body.innerText);
      if (name === 'audit') {
        out.audit = await page.evaluate(() => [...document.querySelectorAll('#main tbody tr')].map(tr => ({
          text: tr.innerText, cls: tr.className, color: getComputedStyle(tr.cells[0]).color,
        })));
      }
      if (name === 'events') {
        await page.waitForTimeout(300); // the EventSource connects
        const t0 = Date.now();
        publish('demo.sample', { n: 1, text: 'marker-sse' });
        await page.waitForFunction(() => document.getElementById('feed').textContent.includes('marker-sse'),
          null, { timeout: 5000 });
        out.sse_ms = Date.now() - t0;
        // the same over WebSocket, from the browser's own client
        const ws = page.evaluate(() => new Promise((resolve, reject) => {
          const w = new WebSocket(location.origin.replace('http', 'ws') + '/api/ws?filter=demo.*');
          w.onopen = () => resolve('open');
          w.onerror = () => reject(new Error('websocket error'));
          window.wsGot = [];
          w.onmessage = m => window.wsGot.push(JSON.parse(m.data));
        }));
        await ws;
        const t1 = Date.now();
        publish('demo.sample', { n: 2, text: 'marker-ws' });
        await page.waitForFunction(() => window.wsGot.some(e => e.payload.text === 'marker-ws'), null,
          { timeout: 5000 });
        out.ws_ms = Date.now() - t1;
      }
    }
    // an alert fired while the monitors page is open appears there
    await visit(page, 'monitors', out.errors);
    publish('demo.sample', { n: 7, text: 'fire' });
    const t2 = Date.now();
    await page.waitForFunction(() => {
      const t = document.querySelector('#alerts tbody'); // the alerts table, once there is one
      return t && t.innerText.includes('dash-alert');
    }, null, { timeout: 10000 });
    out.alert_ms = Date.now() - t2;
    out.alerts_text = await page.evaluate(() => document.getElementById('alerts').innerText);
    if (outdir) await page.screenshot({ path: path.join(outdir, 'monitors.png'), fullPage: true });
    return out;
  } finally {
    await browser.close();
  }
}

main().then(o => { console.log(JSON.stringify(o)); }, e => { console.log(JSON.stringify({ fatal: String(e.stack || e) })); process.exit(1); });
