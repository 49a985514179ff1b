// The console of `kubefn up`: reads api/v1/cost and api/v1/history from the server that served
// this page, every 5 s, and shows them as a table and inline SVG charts drawn here (no
// framework, no resource from anywhere else).

const REFRESH_MS = 5000;
const REQUEST_TIMEOUT_MS = 10000;
const WINDOWS = new Map([[900, '15m'], [3600, '1h'], [21600, '6h'], [86400, '24h'], [604800, '7d']]);
const COMPONENTS = [['requests', 'requests'], ['cpu', 'CPU'], ['memory', 'memory'], ['idle', 'idle']];
const SERIES_COLOURS = 8;    // console.css defines .s0 ... .s7
const MAX_BUCKETS = 120;     // points per time series, whatever the window
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = {
  window: 3600,
  cost: null,
  history: null,
  shown: 3600,  // the window the figures shown were asked for
  seq: 0,
  timer: 0,
  abort: null,
  colours: new Map(),  // "namespace/name" -> colour index, stable while the page lives
};

// ---------------------------------------------------------------------------------- formatting

const numberFormats = new Map();
function format(value, options) {
  const key = JSON.stringify(options);
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(undefined, options);
    numberFormats.set(key, f);
  }
  return f.format(value);
}

function fmtCount(n) {
  return format(n, { maximumFractionDigits: 0 });
}

// Three significant digits below 1000, whole numbers above.
function fmtNumber(x) {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  return Math.abs(x) >= 1000 ? format(x, { maximumFractionDigits: 0 })
                             : format(x, { maximumSignificantDigits: 3 });
}

// Cents from 1 up, three significant digits below, in powers of ten below a millionth.
function fmtMoney(x, currency = state.cost?.currency || 'USD') {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  const options = a >= 1 || x === 0 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 }
    : a >= 1e-6 ? { maximumSignificantDigits: 3 }
    : { notation: 'scientific', maximumSignificantDigits: 3 };
  try {
    return format(x, { style: 'currency', currency, ...options });
  } catch {
    return `${format(x, options)} ${currency}`;
  }
}

function fmtSeconds(s) {
  if (!Number.isFinite(s) || s <= 0) return s === 0 ? '0' : '–';
  if (s < 1e-3) return `${format(s * 1e6, { maximumSignificantDigits: 3 })} µs`;
  if (s < 1) return `${format(s * 1e3, { maximumSignificantDigits: 3 })} ms`;
  return `${format(s, { maximumSignificantDigits: 3 })} s`;
}

// A price, as precise as the sheet gives it.
function fmtPrice(x, currency) {
  if (!Number.isFinite(x)) return '–';
  const options = { maximumSignificantDigits: 6, minimumFractionDigits: x === 0 || Math.abs(x) >= 0.01 ? 2 : 0 };
  try {
    return format(x, { style: 'currency', currency, ...options });
  } catch {
    return `${format(x, options)} ${currency}`;
  }
}

function fmtShare(x) {
  return Number.isFinite(x) ? format(x, { style: 'percent', maximumFractionDigits: 1 }) : '–';
}

function fmtRate(x) {
  return `${fmtNumber(x)}/s`;
}

function fmtDuration(seconds) {
  if (seconds >= 86400 && seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${fmtNumber(seconds)} s`;
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const secondsFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

// ------------------------------------------------------------------------------------ the data

const keyOf = (f) => `${f.namespace}/${f.name}`;

function colourOf(key) {
  if (!state.colours.has(key)) state.colours.set(key, state.colours.size % SERIES_COLOURS);
  return state.colours.get(key);
}

function invocationsOf(totals) {
  const inv = totals.invocations || {};
  if (Number.isFinite(inv.total)) return inv.total;
  return (inv.success || 0) + (inv.error || 0) + (inv.timeout || 0) + (inv.throttled || 0);
}

// The history's samples grouped into at most MAX_BUCKETS intervals of [t0, t1] (the sample just
// before t0, which gives the window its start, in a group of its own).
function groups(samples, t0, t1, step) {
  const width = Math.max(step || 1, (t1 - t0) / MAX_BUCKETS);
  const out = [];
  let current = null;
  let currentKey = null;
  for (const s of samples) {
    const key = s.t < t0 ? -1 : Math.floor((s.t - t0) / width);
    if (key !== currentKey) {
      current = [];
      out.push(current);
      currentKey = key;
    }
    current.push(s);
  }
  return out;
}

// Per function, what the charts draw: replicas (gauges: the most in each interval) and
// invocations per second (differences of the cumulative totals between intervals' last
// samples; a total that went backwards counts from zero, as after a restart without history).
function seriesFromHistory(history, t0, t1) {
  const samples = (history?.samples || []).filter((s) => Number.isFinite(s.t)).sort((a, b) => a.t - b.t);
  const step = history?.step_seconds || 10;
  const buckets = groups(samples, t0, t1, step);
  const replicas = new Map();  // key -> {label, ready: [[ta, tb, v]], starting: [...]}
  const load = new Map();      // key -> {label, segments: [[ta, tb, v]]}
  const costs = [];            // [[ta, tb, {requests, cpu, memory, idle}]] all functions
  const ensure = (map, f, make) => {
    const key = keyOf(f);
    if (!map.has(key)) map.set(key, { key, label: key, ...make() });
    return map.get(key);
  };
  buckets.forEach((group, i) => {
    const start = group[0].t;
    const end = i + 1 < buckets.length ? buckets[i + 1][0].t : Math.min(t1, group[group.length - 1].t + step);
    const peak = new Map();
    for (const s of group) {
      for (const f of s.functions || []) {
        const p = peak.get(keyOf(f)) || { f, ready: 0, starting: 0 };
        p.ready = Math.max(p.ready, f.replicas?.ready || 0);
        p.starting = Math.max(p.starting, f.replicas?.starting || 0);
        peak.set(keyOf(f), p);
      }
    }
    for (const { f, ready, starting } of peak.values()) {
      const r = ensure(replicas, f, () => ({ ready: [], starting: [] }));
      r.ready.push([start, end, ready]);
      r.starting.push([start, end, starting]);
    }
  });
  // Rates and cost between the last samples of consecutive intervals.
  const lasts = buckets.map((g) => g[g.length - 1]);
  for (let i = 1; i < lasts.length; i++) {
    const a = lasts[i - 1];
    const b = lasts[i];
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    const before = new Map((a.functions || []).map((f) => [keyOf(f), f]));
    const spent = { requests: 0, cpu: 0, memory: 0, idle: 0 };
    for (const f of b.functions || []) {
      const prev = before.get(keyOf(f));
      const increase = (now, then) => (then === undefined || now < then ? now : now - then);
      const calls = increase(invocationsOf(f), prev ? invocationsOf(prev) : undefined);
      ensure(load, f, () => ({ segments: [] })).segments.push([a.t, b.t, calls / dt]);
      for (const [c] of COMPONENTS) {
        spent[c] += increase(f.cost?.[c] || 0, prev ? prev.cost?.[c] || 0 : undefined);
      }
    }
    costs.push([a.t, b.t, spent]);
  }
  return { replicas: [...replicas.values()], load: [...load.values()], costs, samples: samples.length };
}

// ------------------------------------------------------------------------------------- drawing

function el(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// Round numbers for an axis from 0 to at least `max`.
function niceTicks(max, count = 4) {
  if (!(max > 0)) return { top: 1, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || 10 * magnitude;
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { top, ticks };
}

function timeTicks(t0, t1) {
  const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800];
  const step = steps.find((s) => (t1 - t0) / s <= 6) || 172800;
  const offset = -new Date(t1 * 1000).getTimezoneOffset() * 60;  // ticks on local round times
  const ticks = [];
  for (let t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1; t += step) ticks.push(t);
  const f = t1 - t0 > 2 * 86400 ? dayFormat : step < 60 ? secondsFormat : clockFormat;
  return ticks.map((t) => [t, f.format(new Date(t * 1000))]);
}

// An <svg> with its title and description (the chart's text alternative), sized to `plot`.
function canvas(figure, titleText, descText, height) {
  const plot = figure.querySelector('.plot');
  const width = Math.max(280, Math.floor(plot.clientWidth || 600));
  const id = figure.id;
  const svg = el('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`, class: 'chart-svg',
  });
  el('title', { id: `${id}-title` }, svg, titleText);
  el('desc', { id: `${id}-desc` }, svg, descText);
  plot.replaceChildren(svg);
  figure.dataset.points = '0';
  return { svg, width, height };
}

function legend(figure, items) {
  const ul = figure.querySelector('.legend');
  ul.replaceChildren();
  for (const { label, cls, dashed } of items) {
    const li = html('li', {}, ul);
    html('span', { class: `swatch ${cls}${dashed ? ' dashed' : ''}`, 'aria-hidden': 'true' }, li);
    html('span', {}, li, label);
  }
}

function emptyNote(svg, width, height, text) {
  el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty-note' }, svg, text);
}

const MARGIN = { left: 56, right: 14, top: 12, bottom: 28 };

// The axes of a time chart; returns the scales.
function timeAxes(svg, width, height, t0, t1, yMax, yFormat) {
  const { top, ticks } = niceTicks(yMax);
  const labels = ticks.map(yFormat);
  const x0 = Math.max(MARGIN.left, 12 + 6.6 * Math.max(...labels.map((l) => l.length)));
  const x1 = width - MARGIN.right;
  const y0 = height - MARGIN.bottom;
  const y1 = MARGIN.top;
  const x = (t) => x0 + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0 || 1)) * (x1 - x0);
  const y = (v) => y0 - (v / top) * (y0 - y1);
  const axes = el('g', { class: 'axes', 'aria-hidden': 'true' }, svg);
  ticks.forEach((v, i) => {
    el('line', { x1: x0, x2: x1, y1: y(v), y2: y(v), class: v === 0 ? 'baseline' : 'grid' }, axes);
    el('text', { x: x0 - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, axes, labels[i]);
  });
  for (const [t, label] of timeTicks(t0, t1)) {
    el('line', { x1: x(t), x2: x(t), y1: y0, y2: y0 + 4, class: 'baseline' }, axes);
    el('text', { x: x(t), y: y0 + 17, 'text-anchor': 'middle', class: 'tick' }, axes, label);
  }
  return { x, y, x0, x1, y0, y1 };
}

// A step path through segments [ta, tb, v] (a gap between segments starts a new subpath).
function stepPath(segments, x, y) {
  let d = '';
  let lastEnd = null;
  for (const [ta, tb, v] of segments) {
    const xa = x(ta).toFixed(1);
    const xb = x(tb).toFixed(1);
    const yv = y(v).toFixed(1);
    d += lastEnd !== null && Math.abs(lastEnd - ta) < 1e-6 ? `V${yv}H${xb}` : `M${xa} ${yv}H${xb}`;
    lastEnd = tb;
  }
  return d;
}

function lineChart(figure, { title, series, t0, t1, yFormat, describe, empty }) {
  const drawn = series.filter((s) => s.segments.length > 0);
  const yMax = Math.max(0, ...drawn.flatMap((s) => s.segments.map((g) => g[2])));
  const desc = drawn.length ? drawn.map(describe).join('; ') : empty;
  const { svg, width, height } = canvas(figure, title, desc, 220);
  const { x, y } = timeAxes(svg, width, height, t0, t1, yMax, yFormat);
  if (!drawn.length) emptyNote(svg, width, height, empty);
  let points = 0;
  for (const s of drawn) {
    const path = el('path', {
      d: stepPath(s.segments, x, y), class: `series s${s.colour}${s.dashed ? ' dashed' : ''}`,
      'data-series': s.id,
    }, svg);
    el('title', {}, path, s.title);
    points += s.segments.length;
  }
  figure.dataset.points = String(points);
}

function replicasChart(data, t0, t1) {
  const figure = document.getElementById('chart-replicas');
  const series = [];
  for (const r of data.replicas) {
    const colour = colourOf(r.key);
    series.push({ id: `${r.key} ready`, title: `${r.label}: ready replicas`, colour, segments: r.ready, r });
    if (r.starting.some((g) => g[2] > 0)) {
      series.push({ id: `${r.key} starting`, title: `${r.label}: starting replicas`, colour, dashed: true, segments: r.starting, r });
    }
  }
  lineChart(figure, {
    title: 'Replicas over time, per function: ready and starting',
    series, t0, t1, yFormat: (v) => (Number.isInteger(v) ? fmtCount(v) : ''),
    empty: 'No replica samples in this window yet.',
    describe: (s) => {
      const peak = Math.max(...s.segments.map((g) => g[2]));
      const now = s.segments[s.segments.length - 1][2];
      return `${s.title}: at most ${fmtCount(peak)}, ${fmtCount(now)} at the end`;
    },
  });
  legend(figure, data.replicas.map((r) => ({ label: r.label, cls: `s${colourOf(r.key)}` })));
}

function loadChart(data, t0, t1) {
  const figure = document.getElementById('chart-load');
  const series = data.load.map((l) => ({
    id: l.key, title: `${l.label}: invocations per second`, colour: colourOf(l.key), segments: l.segments, l,
  }));
  lineChart(figure, {
    title: 'Load over time: invocations per second, per function',
    series, t0, t1, yFormat: fmtNumber,
    empty: 'No invocations sampled in this window yet.',
    describe: (s) => {
      const peak = Math.max(...s.segments.map((g) => g[2]));
      const calls = s.segments.reduce((sum, [ta, tb, v]) => sum + v * (tb - ta), 0);
      return `${s.l.label}: peak ${fmtRate(peak)}, ${fmtCount(calls)} invocations sampled`;
    },
  });
  legend(figure, data.load.map((l) => ({ label: l.label, cls: `s${colourOf(l.key)}` })));
}

function costTimeChart(data, t0, t1) {
  const figure = document.getElementById('chart-cost-time');
  const bars = data.costs.filter(([, , c]) => COMPONENTS.some(([k]) => c[k] > 0));
  const totals = Object.fromEntries(COMPONENTS.map(([k]) => [k, bars.reduce((s, b) => s + b[2][k], 0)]));
  const sum = COMPONENTS.reduce((s, [k]) => s + totals[k], 0);
  // The usual interval (the last one, up to now, is shorter).
  const widths = data.costs.map(([ta, tb]) => tb - ta).sort((a, b) => a - b);
  const interval = widths.length ? widths[Math.floor(widths.length / 2)] : 0;
  const desc = bars.length
    ? `${fmtMoney(sum)} in the samples of this window: ` +
      COMPONENTS.map(([k, label]) => `${label} ${fmtMoney(totals[k])}`).join(', ')
    : 'Nothing cost anything in the samples of this window yet.';
  const every = fmtDuration(Math.round(interval) || 10);
  const title = `Cost over time, per interval of about ${every}, stacked by component`;
  figure.querySelector('figcaption .unit').textContent = `(per ${every}, by component, all functions)`;
  const { svg, width, height } = canvas(figure, title, desc, 220);
  const yMax = Math.max(0, ...bars.map(([, , c]) => COMPONENTS.reduce((s, [k]) => s + c[k], 0)));
  const { x, y } = timeAxes(svg, width, height, t0, t1, yMax, (v) => fmtMoney(v));
  if (!bars.length) emptyNote(svg, width, height, 'Nothing cost anything in this window yet.');
  const g = el('g', { class: 'bars' }, svg);
  let rects = 0;
  for (const [ta, tb, c] of bars) {
    let base = 0;
    const xa = x(ta);
    const w = Math.max(1, x(tb) - xa - (x(tb) - xa > 4 ? 1 : 0));
    for (const [k, label] of COMPONENTS) {
      if (!(c[k] > 0)) continue;
      const top = y(base + c[k]);
      const rect = el('rect', {
        x: xa.toFixed(1), y: top.toFixed(1), width: w.toFixed(1),
        height: Math.max(0.5, y(base) - top).toFixed(1), class: `bar c-${k}`,
      }, g);
      el('title', {}, rect, `${fullFormat.format(new Date(tb * 1000))}: ${label} ${fmtMoney(c[k])}`);
      base += c[k];
      rects += 1;
    }
  }
  figure.dataset.points = String(rects);
  legend(figure, COMPONENTS.map(([k, label]) => ({ label, cls: `c-${k}` })));
}

function costByFunctionChart(report) {
  const figure = document.getElementById('chart-cost');
  const fns = report.functions || [];
  const rowHeight = 30;
  const height = Math.max(90, MARGIN.top + MARGIN.bottom + rowHeight * fns.length + 8);
  const desc = fns.length
    ? fns.map((f) => `${keyOf(f)}: ${fmtMoney(f.cost.total)} (` +
        COMPONENTS.map(([k, label]) => `${label} ${fmtMoney(f.cost[k])}`).join(', ') + ')').join('; ')
    : 'No function in this window.';
  const { svg, width } = canvas(figure, 'Cost by component, per function, over the window', desc, height);
  if (!fns.length) {
    emptyNote(svg, width, height, 'No function in this window.');
    legend(figure, COMPONENTS.map(([k, label]) => ({ label, cls: `c-${k}` })));
    return;
  }
  const longest = Math.max(...fns.map((f) => keyOf(f).length));
  const x0 = Math.min(200, 16 + longest * 7);
  const x1 = width - MARGIN.right - 80;  // room for the total at the end of a bar
  const max = Math.max(0, ...fns.map((f) => f.cost.total || 0));
  const { top, ticks } = niceTicks(max);
  const x = (v) => x0 + (v / top) * (x1 - x0);
  const yBottom = height - MARGIN.bottom;
  const axes = el('g', { class: 'axes', 'aria-hidden': 'true' }, svg);
  for (const v of ticks) {
    el('line', { x1: x(v), x2: x(v), y1: MARGIN.top, y2: yBottom, class: v === 0 ? 'baseline' : 'grid' }, axes);
    el('text', { x: x(v), y: yBottom + 17, 'text-anchor': 'middle', class: 'tick' }, axes, fmtMoney(v));
  }
  let rects = 0;
  fns.forEach((f, i) => {
    const yTop = MARGIN.top + 4 + i * rowHeight;
    const g = el('g', { class: 'bar-row', 'data-function': keyOf(f) }, svg);
    el('text', { x: x0 - 8, y: yTop + rowHeight / 2 + 1, 'text-anchor': 'end', class: 'label' }, g, keyOf(f));
    let base = 0;
    for (const [k, label] of COMPONENTS) {
      const v = f.cost[k] || 0;
      if (!(v > 0)) continue;
      const rect = el('rect', {
        x: x(base).toFixed(2), y: yTop + 4, width: Math.max(0.5, x(base + v) - x(base)).toFixed(2),
        height: rowHeight - 10, class: `bar c-${k}`,
      }, g);
      el('title', {}, rect, `${keyOf(f)}: ${label} ${fmtMoney(v)}`);
      base += v;
      rects += 1;
    }
    el('text', { x: x(base) + 6, y: yTop + rowHeight / 2 + 1, class: 'value' }, g, fmtMoney(f.cost.total || 0));
  });
  figure.dataset.points = String(rects);
  legend(figure, COMPONENTS.map(([k, label]) => ({ label, cls: `c-${k}` })));
}

// --------------------------------------------------------------------------------- the table

// The figures of a row: [field, value, text]; each cell keeps the exact value it shows.
function rowFigures(f) {
  const rs = f.replica_seconds || {};
  return [
    ['invocations', f.invocations?.total ?? invocationsOf(f), fmtCount(f.invocations?.total ?? invocationsOf(f))],
    ['latency_p50_seconds', f.latency_p50_seconds, fmtSeconds(f.latency_p50_seconds)],
    ['latency_p99_seconds', f.latency_p99_seconds, fmtSeconds(f.latency_p99_seconds)],
    ['gb_seconds', f.gb_seconds, fmtNumber(f.gb_seconds)],
    ['replica_seconds.busy', rs.busy, fmtNumber(rs.busy)],
    ['replica_seconds.idle', rs.idle, fmtNumber(rs.idle)],
    ['replica_seconds.starting', rs.starting, fmtNumber(rs.starting)],
    ['utilisation', f.utilisation, fmtShare(f.utilisation)],
    ['cost.requests', f.cost?.requests, fmtMoney(f.cost?.requests)],
    ['cost.cpu', f.cost?.cpu, fmtMoney(f.cost?.cpu)],
    ['cost.memory', f.cost?.memory, fmtMoney(f.cost?.memory)],
    ['cost.idle', f.cost?.idle, fmtMoney(f.cost?.idle)],
    ['cost.total', f.cost?.total, fmtMoney(f.cost?.total)],
    ['lambda_cost', f.lambda_cost, fmtMoney(f.lambda_cost)],
    ['always_on_cost', f.always_on_cost, fmtMoney(f.always_on_cost)],
    ['idle_share', f.idle_share, fmtShare(f.idle_share)],
  ];
}

function renderTable(report) {
  const body = document.getElementById('functions-body');
  const rows = [];
  for (const f of report.functions || []) {
    const tr = html('tr', { 'data-function': keyOf(f) });
    const th = html('th', { scope: 'row' }, tr);
    html('span', { class: `swatch s${colourOf(keyOf(f))}`, 'aria-hidden': 'true' }, th);
    html('span', { class: 'ns' }, th, `${f.namespace}/`);
    html('span', { class: 'name' }, th, f.name);
    for (const [field, value, text] of rowFigures(f)) {
      const td = html('td', { 'data-field': field, 'data-value': String(value) }, tr, text);
      if (field === 'invocations') {
        const inv = f.invocations || {};
        td.title = `success ${fmtCount(inv.success || 0)}, error ${fmtCount(inv.error || 0)}, ` +
          `timeout ${fmtCount(inv.timeout || 0)}, throttled ${fmtCount(inv.throttled || 0)}; ` +
          `${fmtCount(f.cold_starts || 0)} cold starts`;
      }
      if (field === 'idle_share' && value >= 0.5) td.classList.add('warn');
    }
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = html('tr', { class: 'empty' });
    html('td', { colspan: 17 }, tr, 'No function has run in this window.');
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  const table = document.getElementById('functions');
  table.dataset.since = String(report.since);
  table.dataset.until = String(report.until);
  table.dataset.window = String(state.shown);
  table.dataset.span = String(report.window_seconds);
  // The report's window begins at a sample: the history's first when it is younger.
  const younger = report.window_seconds < state.shown - 60;
  document.getElementById('functions-caption').textContent =
    `Use and cost of each function from ${fullFormat.format(new Date(report.since * 1000))} ` +
    `to ${fullFormat.format(new Date(report.until * 1000))} ` +
    `(${fmtDuration(report.window_seconds)}${younger ? ': the history begins there' : ''})`;
}

function renderSummary(report) {
  const fns = report.functions || [];
  const sum = (get) => fns.reduce((s, f) => s + (get(f) || 0), 0);
  const total = sum((f) => f.cost?.total);
  const idle = sum((f) => f.cost?.idle);
  const values = {
    invocations: fmtCount(sum((f) => f.invocations?.total ?? invocationsOf(f))),
    cost: fmtMoney(total),
    lambda_cost: fmtMoney(sum((f) => f.lambda_cost)),
    always_on_cost: fmtMoney(sum((f) => f.always_on_cost)),
    idle_share: fmtShare(total > 0 ? idle / total : 0),
  };
  for (const dd of document.querySelectorAll('#summary dd')) dd.textContent = values[dd.dataset.field];
}

function renderPrices(report) {
  const p = report.prices || {};
  const m = (v) => fmtPrice(v, report.currency);
  const parts = [];
  if (p.cpuCoreHour !== undefined) parts.push(`CPU ${m(p.cpuCoreHour)}/core-hour`);
  if (p.memoryGBHour !== undefined) parts.push(`memory ${m(p.memoryGBHour)}/GB-hour`);
  if (p.requestsPerMillion !== undefined) parts.push(`${m(p.requestsPerMillion)}/million requests`);
  if (p.lambda) parts.push(`Lambda ${m(p.lambda.requestsPerMillion)}/million and ${m(p.lambda.gbSecond)}/GB-s`);
  if (p.granularity) parts.push(`billed per ${p.granularity}`);
  if (p.defaultMemory) parts.push(`default memory ${p.defaultMemory}`);
  document.getElementById('prices').textContent = parts.join(', ') || '–';
}

// ------------------------------------------------------------------------------------ the page

function render() {
  const report = state.cost;
  if (!report) return;
  for (const f of report.functions || []) colourOf(keyOf(f));
  document.getElementById('currency').textContent = report.currency || '–';
  for (const span of document.querySelectorAll('.currency')) span.textContent = report.currency || '–';
  const updated = document.getElementById('updated');
  updated.dateTime = new Date(report.until * 1000).toISOString();
  updated.textContent = fullFormat.format(new Date(report.until * 1000));
  renderSummary(report);
  renderTable(report);
  renderPrices(report);
  // The window, or less when the history begins later (as the table's figures do).
  const t1 = report.until;
  const first = Math.min(...(state.history?.samples || []).map((s) => s.t).filter(Number.isFinite));
  const t0 = Math.max(t1 - state.shown, Number.isFinite(first) ? Math.min(first, t1 - 60) : -Infinity);
  const data = seriesFromHistory(state.history, t0, t1);
  replicasChart(data, t0, t1);
  loadChart(data, t0, t1);
  costTimeChart(data, t0, t1);
  costByFunctionChart(report);
  document.documentElement.dataset.loaded = String(state.seq);
}

function showError(text) {
  const p = document.getElementById('error');
  p.hidden = !text;
  p.textContent = text;
  document.documentElement.classList.toggle('stale', Boolean(text));
}

async function getJSON(path, signal) {
  const r = await fetch(path, { signal, cache: 'no-store', headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
  return r.json();
}

async function refresh() {
  clearTimeout(state.timer);
  state.abort?.abort();
  const seq = ++state.seq;
  const abort = new AbortController();
  state.abort = abort;
  const timeout = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  const since = state.window;
  try {
    const [cost, history] = await Promise.all([
      getJSON(`api/v1/cost?since=${since}`, abort.signal),
      getJSON(`api/v1/history?since=${since}`, abort.signal),
    ]);
    if (seq !== state.seq) return;
    state.cost = cost;
    state.history = history;
    state.shown = since;
    render();
    showError('');
  } catch (e) {
    if (seq !== state.seq) return;
    const reason = e.name === 'AbortError' ? 'no answer within 10 s' : e.message;
    showError(`Cannot read the figures from kubefn up (${reason}); trying again every 5 s. ` +
      (state.cost ? 'The figures shown are from the last answer.' : ''));
  } finally {
    clearTimeout(timeout);
    if (seq === state.seq) {
      state.abort = null;
      if (!document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
    }
  }
}

function setWindow(seconds, { push } = {}) {
  state.window = seconds;
  const label = WINDOWS.get(seconds);
  const input = document.querySelector(`input[name="window"][value="${seconds}"]`);
  if (input) input.checked = true;
  document.getElementById('api-link').href = `api/v1/cost?since=${seconds}`;
  document.getElementById('history-link').href = `api/v1/history?since=${seconds}`;
  document.title = `kubefn console · ${label}`;
  if (push) history.replaceState(null, '', `#${label}`);
}

function windowFromHash() {
  const wanted = decodeURIComponent(location.hash.replace(/^#/, ''));
  for (const [seconds, label] of WINDOWS) if (label === wanted) return seconds;
  return 3600;
}

function start() {
  setWindow(windowFromHash());
  document.getElementById('window-form').addEventListener('change', (e) => {
    if (e.target.name !== 'window') return;
    setWindow(Number(e.target.value), { push: true });
    refresh();
  });
  document.getElementById('window-form').addEventListener('submit', (e) => e.preventDefault());
  window.addEventListener('hashchange', () => {
    setWindow(windowFromHash());
    refresh();
  });
  // Paused while the page is hidden; at once when it shows again.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
    else clearTimeout(state.timer);
  });
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(render);
  }).observe(document.querySelector('.charts'));
  refresh();
}

start();
