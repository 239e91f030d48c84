// A tenant's page (#/tenant/<id>): what it is and where it lives, its live figures, its usage over
// time with its cost, its move and its migrations, and the actions.

import { call } from './api.js';
import { lineChart } from './chart.js';
import { el } from './dom.js';
import * as f from './format.js';
import { movePanel } from './move-view.js';

const RANGES = [
  { label: 'Last hour', ms: 3_600_000 },
  { label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { label: 'Last 24 hours', ms: 24 * 3_600_000 },
  { label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
];
const STEP_MS = { minute: 60_000, hour: 3_600_000 };
const MAX_POINTS = 2000;

export class TenantPage {
  /** `ctx`: { actions, moves, optional } (see main.js); `id` a valid tenant id. */
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.path = `/admin/tenants/${encodeURIComponent(id)}`;
    this.range = el(
      'select',
      { 'aria-label': 'Usage window', on: { change: () => void this.ctx.refreshNow() } },
      RANGES.map((r, i) => el('option', { value: i }, r.label)),
    );
    this.slots = {};
    const slot = (name, ...attrs) => (this.slots[name] = el('div', { class: 'slot', 'data-slot': name, ...Object.assign({}, ...attrs) }));
    this.title = el('h2', {}, id);
    this.name = el('p', { class: 'muted' });
    this.buttons = null;
    this.head = el(
      'div',
      { class: 'page-head' },
      el('div', {}, el('a', { href: '#/', class: 'back' }, '← All tenants'), this.title, this.name),
    );
    this.element = el(
      'div',
      { class: 'tenant-page', 'data-tenant': id },
      this.head,
      el(
        'div',
        { class: 'columns' },
        el('section', { class: 'panel' }, el('h2', {}, 'Tenant'), slot('facts')),
        el('section', { class: 'panel' }, el('h2', {}, 'Live, last minute'), slot('live')),
      ),
      el('section', { class: 'panel' }, el('div', { class: 'panel-head' }, el('h2', {}, 'Usage over time'), this.range), slot('usage')),
      el(
        'div',
        { class: 'columns' },
        el('section', { class: 'panel' }, el('h2', {}, 'Move'), slot('move')),
        el('section', { class: 'panel' }, el('h2', {}, 'Migrations'), slot('migrations')),
      ),
    );
  }

  async refresh() {
    const { optional } = this.ctx;
    const to = new Date();
    const from = new Date(to.getTime() - RANGES[Number(this.range.value)].ms);
    const window = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const [details, migrations, usage, activity, noisy] = await Promise.all([
      call('GET', this.path),
      optional(`${this.path}/migrations`),
      optional(`${this.path}/usage?${window}`),
      optional('/admin/tenants/activity?seconds=60'),
      optional('/admin/tenants/noisy?seconds=300'),
    ]);
    if (details.status === 'moving') this.ctx.moves.follow(this.id);
    this.data = {
      details,
      migrations,
      usage,
      live: activity ? (activity.tenants.find((t) => t.tenantId === this.id) ?? null) : undefined,
      noisy: noisy ? (noisy.tenants.find((t) => t.tenantId === this.id) ?? null) : undefined,
    };
    this.render();
  }

  render() {
    if (!this.data) return;
    const { details, migrations, usage, live, noisy } = this.data;
    this.title.textContent = details.id;
    this.name.textContent = details.name;
    if (!this.buttons) this.head.append((this.buttons = this.ctx.actions.buttons(details)));
    else this.ctx.actions.updateButtons(this.buttons, details);
    this.put('facts', details, () => this.facts(details));
    this.put('live', { live, noisy }, () => this.live(live, noisy));
    this.put('usage', usage, () => this.usage(usage));
    const followed = this.ctx.moves.get(this.id);
    const rowsTotal = Object.values(details.rows ?? {}).reduce((a, b) => a + b, 0);
    this.put('move', { move: details.move, followed, rowsTotal }, () => movePanel(details.move, followed, rowsTotal));
    this.put('migrations', migrations, () => this.migrations(migrations));
  }

  /** Fills a slot again only when its data changed. */
  put(name, data, build) {
    const key = JSON.stringify(data ?? null);
    if (this.slots[name].dataset.key === key) return;
    this.slots[name].dataset.key = key;
    this.slots[name].replaceChildren(...[build()].flat().filter(Boolean));
  }

  facts(d) {
    const rows = Object.entries(d.rows ?? {});
    return [
      el(
        'dl',
        { class: 'facts' },
        fact('Model', f.model(d.strategy)),
        fact('Tier', d.tier ?? '—'),
        fact('Server', d.server),
        fact('Status', el('span', { class: `badge status-${d.status}`, 'data-status': d.status }, d.status)),
        fact('Size', f.bytes(d.sizeBytes)),
        fact('Schema version', d.version ?? '—'),
        fact('Created', f.dateTime(d.createdAt)),
        fact('Last full export', d.exportedAt ? f.dateTime(d.exportedAt) : 'never'),
        fact('Rows', rows.length ? rows.map(([table, n]) => `${table} ${f.count(n)}`).join(' · ') : '—'),
      ),
    ];
  }

  live(a, noisy) {
    if (a === undefined) return el('p', { class: 'muted' }, 'The service reports no live figures (GET /admin/tenants/activity).');
    if (a === null) return el('p', { class: 'muted' }, 'No requests in the last minute.');
    return el(
      'dl',
      { class: 'facts' },
      fact('Requests/s', f.perSecond(a.requestsPerSecond)),
      fact('p99', f.millis(a.p99Ms)),
      fact('Error rate', f.percent(a.errorRate)),
      fact('Database time', `${f.millis(a.databaseMsPerSecond)}/s`),
      fact(
        'Noisy',
        noisy
          ? `yes, ${noisy.ratio.toFixed(1)}× the median since ${f.dateTime(noisy.since)}${noisy.throttled ? ', throttled to its tier' : ''}`
          : a.noisy
            ? 'yes'
            : 'no',
      ),
    );
  }

  usage(u) {
    if (!u) return el('p', { class: 'muted' }, 'The service reports no usage for this tenant (GET /admin/tenants/:id/usage).');
    const { times, series } = timeline(u);
    const xFormat =
      u.step === 'hour' && new Date(u.to) - new Date(u.from) > 2 * 86_400_000 ? (t) => `${new Date(t).getDate()}. ${f.clock(t)}` : f.clock;
    const chart = (label, names, yFormat, integers = false) =>
      lineChart({
        integers,
        times,
        series: names.map(([key, name]) => ({ label: name, values: series[key] })),
        yFormat,
        xFormat,
        label,
        empty: 'No usage recorded in this window.',
        width: 620,
        height: 240,
      });
    const currency = u.prices?.currency ?? this.ctx.currency;
    return [
      el(
        'div',
        { class: 'columns' },
        el(
          'div',
          {},
          el('h3', {}, `Requests and errors per ${u.step}`),
          chart(
            'Requests and errors',
            [
              ['requests', 'requests'],
              ['errors', 'errors'],
            ],
            (v) => f.count(v),
            true,
          ),
        ),
        el('div', {}, el('h3', {}, `Database time per ${u.step}`), chart('Database time', [['databaseMs', 'database time']], f.millis)),
      ),
      el(
        'dl',
        { class: 'facts inline' },
        fact('Requests', f.count(u.totals?.requests)),
        fact('Errors', f.count(u.totals?.errors)),
        fact('Database time', f.millis(u.totals?.databaseMs)),
        fact('Rows written', f.count(u.totals?.rowsWritten)),
        fact('Storage (priced)', f.bytes(u.storageBytes)),
        fact('Cost in this window', u.cost ? f.money(u.cost.total, currency) : '—'),
      ),
    ];
  }

  migrations(m) {
    if (!m) return el('p', { class: 'muted' }, 'The service reports no migration status (GET /admin/tenants/:id/migrations).');
    return [
      el('p', { class: 'muted' }, `Newest migration: ${m.latest ?? 'none'}`),
      el(
        'table',
        { class: 'small' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Place'), el('th', {}, 'Model'), el('th', {}, 'Version'), el('th', {}, 'Status'))),
        el(
          'tbody',
          {},
          m.targets.map((t) =>
            el(
              'tr',
              {},
              el('td', {}, t.target === '@shared' ? 'shared tables' : `its ${t.model}`),
              el('td', {}, t.model),
              el('td', {}, t.version ?? '—'),
              el(
                'td',
                {},
                el('span', { class: `badge migration-${t.status}` }, t.status),
                t.error ? el('span', { class: 'error' }, ` ${t.error}`) : null,
              ),
            ),
          ),
        ),
      ),
    ];
  }
}

function fact(term, value) {
  return [el('dt', {}, term), el('dd', {}, value)];
}

/** The usage points on an even time axis from `from` to `to` by `step`, zero where none was recorded. */
function timeline(u) {
  const step = STEP_MS[u.step] ?? STEP_MS.minute;
  const start = Math.floor(new Date(u.from).getTime() / step) * step;
  const end = new Date(u.to).getTime();
  const n = Math.min(MAX_POINTS, Math.max(1, Math.ceil((end - start) / step)));
  const times = Array.from({ length: n }, (_, i) => start + i * step);
  const series = { requests: new Array(n).fill(0), errors: new Array(n).fill(0), databaseMs: new Array(n).fill(0) };
  for (const p of u.points ?? []) {
    const i = Math.floor((new Date(p.at).getTime() - start) / step);
    if (i < 0 || i >= n) continue;
    for (const key of Object.keys(series)) series[key][i] += p[key] ?? 0;
  }
  return { times, series };
}
