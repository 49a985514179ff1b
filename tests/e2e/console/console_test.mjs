// The console of `kubefn up` in a real headless Chromium: the real CLI binary runs the local
// platform on examples/hello, the test calls hello through the gateway, then opens the console
// on the metrics port and checks what a person would see: hello's row with every call counted,
// charts with data, the same figures as /api/v1/cost, a window picker that changes what the page
// asks for. Screenshots (light and dark) go to KUBEFN_ARTIFACTS_DIR.
//
// Environment (tests/e2e/console/CMakeLists.txt sets it): KUBEFN_CLI_BIN, KUBEFN_RUNTIME_BIN,
// KUBEFN_SOURCE_DIR, KUBEFN_NODE_MODULES (where scripts/setup installed playwright-core),
// KUBEFN_ARTIFACTS_DIR; CHROMIUM (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const CALLS = 12;
const SETUP_HINT = 'scripts/setup installs Chromium (Debian\'s chromium) and playwright-core';

let passed = 0;
const log = (...a) => console.log('console.browser:', ...a);
function fail(message) {
  throw new Error(message);
}
function check(condition, message) {
  if (!condition) fail(message);
  passed += 1;
  log(`ok - ${message}`);
}

// Polls `probe` until it returns a truthy value, for at most `ms`; the value, or a failure naming
// `what` and the last thing seen.
async function until(what, probe, ms, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) fail(`${what}: not within ${ms / 1000} s (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

function env(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set (ctest sets it: run the test through ctest)`);
  return v;
}

// ------------------------------------------------------------------------------- prerequisites

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
try {
  fs.accessSync(chromiumPath, fs.constants.X_OK);
} catch {
  console.error(`console.browser: FAILED: no Chromium at ${chromiumPath}: ${SETUP_HINT}`);
  process.exit(1);
}
const nodeModules = env('KUBEFN_NODE_MODULES');
let chromium;
try {
  ({ chromium } = createRequire(path.join(nodeModules, 'noop.js'))('playwright-core'));
} catch (e) {
  console.error(`console.browser: FAILED: no playwright-core in ${nodeModules} (${e.code || e.message}): ${SETUP_HINT}`);
  process.exit(1);
}

const cli = env('KUBEFN_CLI_BIN');
const runtime = env('KUBEFN_RUNTIME_BIN');
const source = env('KUBEFN_SOURCE_DIR');
const artifacts = env('KUBEFN_ARTIFACTS_DIR');
fs.mkdirSync(artifacts, { recursive: true });

// ----------------------------------------------------------------------------------- kubefn up

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefn-console-'));
const functionsDir = path.join(dir, 'functions');
fs.cpSync(path.join(source, 'examples', 'hello'), path.join(functionsDir, 'hello'), { recursive: true });
const out = fs.openSync(path.join(dir, 'up.out'), 'w');
const err = fs.openSync(path.join(dir, 'up.err'), 'w');
const up = spawn(cli, ['up', functionsDir, '--gateway-port', '0', '--metrics-port', '0', '--runtime', runtime], {
  env: { ...process.env, KUBEFN_HOME: path.join(dir, 'home') },
  stdio: ['ignore', out, err],
});
let exited = null;
const exit = new Promise((resolve) => up.on('exit', (code, signal) => {
  exited = { code, signal };
  resolve(exited);
}));
const upLog = () => fs.readFileSync(path.join(dir, 'up.err'), 'utf8');
// Stopped from outside (ctest's timeout, Ctrl-C): kubefn up stops too.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (!exited) up.kill('SIGTERM');
    console.error(`console.browser: FAILED: ${signal}; kubefn up's log is in ${dir}`);
    process.exit(1);
  });
}

let browser = null;
async function stop() {
  if (browser) await browser.close().catch(() => {});
  if (exited) return exited;
  up.kill('SIGTERM');
  const timer = new Promise((r) => setTimeout(() => r(null), 60000));
  const result = await Promise.race([exit, timer]);
  if (!result) {
    up.kill('SIGKILL');
    fail('kubefn up did not stop within 60 s of SIGTERM');
  }
  return result;
}

async function main() {
  const { gateway, metrics } = await until('kubefn up printing its gateway and metrics URLs', () => {
    if (exited) fail(`kubefn up exited (${JSON.stringify(exited)}):\n${upLog()}`);
    const text = fs.readFileSync(path.join(dir, 'up.out'), 'utf8');
    const gw = text.match(/kubefn: gateway (http:\/\/127\.0\.0\.1:[0-9]+)/);
    const mx = text.match(/kubefn: metrics (http:\/\/127\.0\.0\.1:[0-9]+)/);
    return gw && mx ? { gateway: gw[1], metrics: mx[1] } : null;
  }, 180000, 100);
  log(`kubefn up: gateway ${gateway}, metrics ${metrics}`);

  const api = async (p) => {
    const r = await fetch(`${metrics}${p}`);
    if (r.status === 404) fail(`GET ${p}: 404: the metering API is not served on kubefn up's metrics port`);
    if (!r.ok) fail(`GET ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  };

  // A first history sample, so that the calls fall between two of them (the load chart draws
  // differences of samples).
  await until('a first history sample', async () => (await api('/api/v1/history?since=900')).samples.length > 0, 60000, 500);

  for (let i = 0; i < CALLS; i++) {
    const r = await fetch(`${gateway}/default/hello?name=console${i}`);
    const body = await r.text();
    if (r.status !== 200 || body !== `hello console${i}\n`) fail(`call ${i}: ${r.status} ${body}\n${upLog()}`);
  }
  check(true, `${CALLS} calls to default/hello through the gateway answered`);

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  const requests = [];
  page.on('request', (r) => {
    requests.push(r.url());
    if (!r.url().startsWith(`${metrics}/`)) problems.push(`a request outside the metrics port: ${r.url()}`);
  });
  const costs = [];  // every /api/v1/cost answer the page read, in order
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname === '/api/v1/cost' && r.ok()) {
      try {
        costs.push({ url: r.url(), report: await r.json() });
      } catch { /* a response the page aborted */ }
    }
  });

  await page.goto(`${metrics}/`);
  check((await page.title()).startsWith('kubefn console'), 'the console loads from the metrics port');

  // hello's row with every call counted.
  await page.waitForFunction((n) => {
    const cell = document.querySelector('tr[data-function="default/hello"] td[data-field="invocations"]');
    return cell && Number(cell.dataset.value) >= n;
  }, CALLS, { timeout: 90000, polling: 250 });
  check(true, `the table shows default/hello with at least ${CALLS} invocations`);

  // Every chart has drawn data: paths and bars with extent, values above the zero line.
  const charts = await until('every chart drawn with data', () => page.evaluate(() => {
    const extent = (sel) => {
      const fig = document.querySelector(sel);
      const zero = fig.querySelector('line.baseline');
      const zeroY = zero ? Number(zero.getAttribute('y1')) : Infinity;
      const shapes = [...fig.querySelectorAll('path.series, rect.bar')].map((e) => {
        const b = e.getBBox();
        return { w: b.width, h: b.height, top: b.y, rect: e.tagName === 'rect' };
      });
      return {
        shapes: shapes.length,
        wide: shapes.filter((s) => s.w > 0 && (!s.rect || s.h > 0)).length,
        aboveZero: shapes.some((s) => (s.rect ? s.h > 0 : s.top < zeroY - 0.5)),
        text: fig.querySelector('svg desc')?.textContent || '',
      };
    };
    const r = {
      replicas: extent('#chart-replicas'),
      load: extent('#chart-load'),
      costTime: extent('#chart-cost-time'),
      cost: extent('#chart-cost'),
    };
    return Object.values(r).every((c) => c.wide > 0 && c.aboveZero) ? r : false;
  }), 120000, 500);
  for (const [name, c] of Object.entries(charts)) {
    check(c.wide > 0 && c.aboveZero, `chart ${name}: ${c.wide} shapes with extent; "${c.text.slice(0, 90)}"`);
  }
  check(charts.load.text.includes('default/hello'), 'the load chart\'s text alternative names default/hello');

  // The page's figures are those of the /api/v1/cost answer it rendered.
  const fieldOf = (f, dotted) => dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), f);
  const compared = await until('the table equal to an /api/v1/cost answer', async () => {
    const shown = await page.evaluate(() => {
      const table = document.getElementById('functions');
      return {
        since: Number(table.dataset.since),
        until: Number(table.dataset.until),
        window: Number(table.dataset.window),
        summaryInvocations: document.querySelector('#summary dd[data-field="invocations"]').textContent,
        rows: [...table.querySelectorAll('tbody tr[data-function]')].map((tr) => ({
          key: tr.dataset.function,
          cells: [...tr.querySelectorAll('td[data-field]')].map((td) => ({
            field: td.dataset.field, value: td.dataset.value, text: td.textContent,
          })),
        })),
      };
    });
    const answer = [...costs].reverse().find((c) => c.url.endsWith(`?since=${shown.window}`) &&
      c.report.since === shown.since && c.report.until === shown.until);
    if (!answer) return false;
    const fns = answer.report.functions;
    if (fns.length !== shown.rows.length) return false;
    let figures = 0;
    for (const row of shown.rows) {
      const f = fns.find((x) => `${x.namespace}/${x.name}` === row.key);
      if (!f) return false;
      for (const cell of row.cells) {
        const want = cell.field === 'invocations' ? f.invocations.total : fieldOf(f, cell.field);
        if (Number(cell.value) !== want) return false;
        if (cell.text.trim() === '' || cell.text === '–') return false;
        figures += 1;
      }
      const invocations = row.cells.find((c) => c.field === 'invocations');
      if (invocations.text.replace(/\D/g, '') !== String(f.invocations.total)) return false;
    }
    const total = fns.reduce((s, f) => s + f.invocations.total, 0);
    if (shown.summaryInvocations.replace(/\D/g, '') !== String(total)) return false;
    return { figures, shown, answer: answer.report };
  }, 30000, 500);
  check(true, `the table's ${compared.figures} figures equal those of the /api/v1/cost answer it shows`);
  check(compared.shown.window === 3600, 'the page opens on the 1h window (since=3600)');

  // Figures that no longer change (no call since) equal the API's as the test reads it.
  const now = await api('/api/v1/cost?since=3600');
  const hello = now.functions.find((f) => f.namespace === 'default' && f.name === 'hello');
  const helloShown = compared.answer.functions.find((f) => f.namespace === 'default' && f.name === 'hello');
  check(hello && hello.invocations.total >= CALLS, `/api/v1/cost counts ${hello?.invocations.total} invocations of hello`);
  for (const field of ['invocations.total', 'latency_p50_seconds', 'latency_p99_seconds', 'gb_seconds']) {
    check(fieldOf(hello, field) === fieldOf(helloShown, field), `hello's ${field} on the page equals /api/v1/cost's (${fieldOf(hello, field)})`);
  }

  // The window picker changes what the page asks for, and what it shows.
  for (const [label, seconds] of [['6h', 21600], ['15m', 900]]) {
    const cost = page.waitForRequest((r) => r.url() === `${metrics}/api/v1/cost?since=${seconds}`, { timeout: 15000 });
    const history = page.waitForRequest((r) => r.url() === `${metrics}/api/v1/history?since=${seconds}`, { timeout: 15000 });
    // As a person does: the radio's label.
    const radio = page.getByRole('radio', { name: label, exact: true });
    await page.locator(`label[for="${await radio.getAttribute('id')}"]`).click();
    await Promise.all([cost, history]);
    check(await radio.isChecked(), `the ${label} radio is checked`);
    await page.waitForFunction((s) => document.getElementById('functions').dataset.window === String(s), seconds, { timeout: 15000 });
    check(await page.evaluate(() => location.hash) === `#${label}`,
      `the ${label} window asks for since=${seconds} and shows it (#${label})`);
  }
  // And it stays the window on the next refreshes.
  const refreshed = await page.waitForRequest((r) => r.url().includes('/api/v1/cost?'), { timeout: 15000 });
  check(refreshed.url().endsWith('since=900'), `the refresh 5 s later asks for since=900 too (${refreshed.url()})`);
  await page.waitForFunction(() => document.querySelector('#chart-load path.series'), null, { timeout: 30000 });

  // Accessibility basics: each chart is an image with a title and a description.
  const alternatives = await page.evaluate(() => [...document.querySelectorAll('figure.chart svg')].map((svg) => ({
    role: svg.getAttribute('role'),
    title: svg.querySelector('title')?.textContent || '',
    desc: svg.querySelector('desc')?.textContent || '',
  })));
  check(alternatives.length === 4 && alternatives.every((a) => a.role === 'img' && a.title && a.desc),
    'each of the 4 charts is an image with a title and a description');

  const shot = path.join(artifacts, 'console.png');
  await page.screenshot({ path: shot, fullPage: true });
  log(`screenshot: ${shot}`);
  const dark = await browser.newPage({ viewport: { width: 1500, height: 1000 }, colorScheme: 'dark' });
  dark.on('pageerror', (e) => problems.push(`page error (dark): ${e.message}`));
  await dark.goto(`${metrics}/#15m`);
  await dark.waitForFunction(() => document.querySelector('#chart-load path.series'), null, { timeout: 30000 });
  const darkShot = path.join(artifacts, 'console-dark.png');
  await dark.screenshot({ path: darkShot, fullPage: true });
  log(`screenshot: ${darkShot}`);

  check(problems.length === 0, `no page error, console error or outside request${problems.length ? `: ${problems.join('; ')}` : ''}`);
  check(requests.some((u) => u.endsWith('/console.js')) && requests.some((u) => u.endsWith('/console.css')),
    'the page loaded its script and style from the metrics port');

  const stopped = await stop();
  check(stopped.code === 0, `kubefn up stopped on SIGTERM with exit code ${stopped.code}`);
}

try {
  await main();
  log(`${passed} checks passed`);
  fs.rmSync(dir, { recursive: true, force: true });
} catch (e) {
  console.error(`console.browser: FAILED: ${e.message}`);
  try {
    await stop();
  } catch (s) {
    console.error(`console.browser: ${s.message}`);
  }
  console.error(`--- kubefn up's log (${dir}) ---\n${upLog().split('\n').slice(-60).join('\n')}`);
  process.exit(1);
}
