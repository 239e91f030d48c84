// The first page: totals, the top tenants' load over the last hour, and every tenant in a table
// (model, tier, status, size, requests per second, p99, error rate, cost this month, noisy) with its
// actions. A refresh updates the rows in place: only changed text is touched, nothing flickers.

import { call } from './api.js';
import { lineChart } from './chart.js';
import { el, setAttr, setText } from './dom.js';
import * as f from './format.js';
import { moveText } from './move-view.js';

/** How often the slower figures are asked for again (the month's cost, the hour's chart). */
const USAGE_EVERY_MS = 30_000;
const RECENT_EVERY_MS = 10_000;

const COLUMNS = [
  { key: 'id', label: 'Tenant' },
  { key: 'strategy', label: 'Model' },
  { key: 'tier', label: 'Tier' },
  { key: 'status', label: 'Status' },
  { key: 'size', label: 'Size', numeric: true },
  { key: 'rps', label: 'Requests/s', numeric: true },
  { key: 'p99', label: 'p99', numeric: true },
  { key: 'errorRate', label: 'Errors', numeric: true },
  { key: 'cost', label: 'Cost (month)', numeric: true },
  { key: 'noisy', label: 'Noisy', numeric: true },
  { key: 'actions', label: '', sortable: false },
];

export class Overview {
  /** `ctx`: { actions, moves, optional } (see main.js). */
  constructor(ctx) {
    this.ctx = ctx;
    this.rows = new Map();
    this.sort = { key: 'id', descending: false };
    this.cache = { usage: { at: 0, value: null }, recent: { at: 0, value: null } };
    this.filter = el('input', {
      type: 'search',
      placeholder: 'Filter by id, name, model or tier',
      'aria-label': 'Filter tenants',
      on: { input: () => this.render() },
    });
    this.tiles = el('section', { class: 'tiles', 'aria-label': 'Totals' });
    this.chart = el('div', { class: 'chart-slot' });
    this.chartNote = el('p', { class: 'muted note' });
    this.head = el(
      'tr',
      {},
      COLUMNS.map((c) => this.header(c)),
    );
    this.body = el('tbody');
    this.usageNote = el('p', { class: 'muted note' });
    this.element = el(
      'div',
      { class: 'overview' },
      this.tiles,
      el(
        'section',
        { class: 'panel' },
        el('h2', {}, 'Load of the top tenants, last hour'),
        el('p', { class: 'muted' }, 'Requests per minute, the five busiest tenants.'),
        this.chart,
        this.chartNote,
      ),
      el(
        'section',
        { class: 'panel' },
        el('div', { class: 'panel-head' }, el('h2', {}, 'Tenants'), this.filter),
        el('div', { class: 'table-wrap' }, el('table', { class: 'tenants', id: 'tenants' }, el('thead', {}, this.head), this.body)),
        this.usageNote,
      ),
    );
  }

  header(column) {
    const th = el('th', { scope: 'col', class: column.numeric ? 'num' : undefined, 'data-key': column.key });
    if (column.sortable === false) return th;
    th.append(el('button', { type: 'button', class: 'sort', on: { click: () => this.sortBy(column.key) } }, column.label));
    return th;
  }

  sortBy(key) {
    this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : COLUMNS.find((c) => c.key === key).numeric };
    this.render();
  }

  async refresh() {
    const now = Date.now();
    const { optional } = this.ctx;
    const cached = (name, every, path) =>
      now - this.cache[name].at < every
        ? this.cache[name].value
        : optional(path).then((value) => {
            this.cache[name] = { at: now, value };
            return value;
          });
    const [list, activity, noisy, usage, recent] = await Promise.all([
      call('GET', '/admin/tenants'),
      optional('/admin/tenants/activity?seconds=60'),
      optional('/admin/tenants/noisy?seconds=300'),
      cached('usage', USAGE_EVERY_MS, '/admin/usage?period=month'),
      cached('recent', RECENT_EVERY_MS, '/admin/usage/recent?minutes=60&top=5'),
    ]);
    this.data = { list: list.items, activity, noisy, usage, recent };
    if (usage?.prices?.currency) this.ctx.currency = usage.prices.currency;
    for (const t of list.items) if (t.status === 'moving') this.ctx.moves.follow(t.id);
    this.ctx.actions.knownTiers = [...new Set(list.items.map((t) => t.tier).filter(Boolean))].sort();
    this.render();
  }

  /** Draws the page again from the figures last fetched (a move's progress, a new sort or filter). */
  render() {
    if (!this.data) return;
    const tenants = this.figures();
    this.renderTiles(tenants);
    this.renderChart();
    this.renderTable(tenants);
  }

  /** Each tenant of the list joined with its live figures, noisy flag and cost. */
  figures() {
    const { list, activity, noisy, usage } = this.data;
    const live = new Map((activity?.tenants ?? []).map((a) => [a.tenantId, a]));
    const loud = new Map((noisy?.tenants ?? []).map((n) => [n.tenantId, n]));
    const costs = new Map((usage?.tenants ?? []).map((u) => [u.tenantId, u]));
    return list.map((t) => {
      const a = live.get(t.id);
      const n = loud.get(t.id);
      const u = costs.get(t.id);
      return {
        tenant: t,
        id: t.id,
        strategy: t.strategy,
        tier: t.tier ?? '',
        status: t.status,
        size: t.sizeBytes ?? u?.storageBytes ?? null,
        rps: a ? a.requestsPerSecond : activity ? 0 : null,
        p99: a?.p99Ms ?? null,
        errorRate: a ? a.errorRate : activity ? 0 : null,
        cost: u?.cost?.total ?? null,
        noisy: n ? (n.throttled ? 2 : 1) : a?.noisy ? 1 : activity || noisy ? 0 : null,
        ratio: n?.ratio ?? null,
      };
    });
  }

  renderTiles(tenants) {
    const { usage, activity, noisy } = this.data;
    const byModel = ['shared', 'schema', 'database'].map((m) => `${tenants.filter((t) => t.strategy === m).length} ${m}`).join(' · ');
    const running = tenants.filter((t) => t.status === 'moving').length;
    const currency = usage?.prices?.currency;
    const tiles = [
      ['Tenants', f.count(tenants.length), byModel],
      ['Requests/s', activity ? f.perSecond(tenants.reduce((s, t) => s + (t.rps ?? 0), 0)) : '—', 'this instance, last minute'],
      [
        'Noisy',
        noisy || activity ? f.count(tenants.filter((t) => t.noisy).length) : '—',
        noisy ? `over ${noisy.factor}× the median, ${noisy.seconds} s` : 'noisy neighbours',
      ],
      [
        'Cost this month',
        usage
          ? f.money(
              usage.tenants.reduce((s, t) => s + (t.cost?.total ?? 0), 0),
              currency,
            )
          : '—',
        'estimate from the unit prices',
      ],
      [
        'Moves running',
        f.count(running),
        running
          ? tenants
              .filter((t) => t.status === 'moving')
              .map((t) => t.id)
              .join(', ')
          : 'none',
      ],
    ];
    if (this.tiles.children.length !== tiles.length) {
      this.tiles.replaceChildren(
        ...tiles.map(() => el('div', { class: 'tile' }, el('h3'), el('p', { class: 'figure' }), el('p', { class: 'muted' }))),
      );
    }
    tiles.forEach(([title, figure, note], i) => {
      const [h, p, small] = this.tiles.children[i].children;
      setText(h, title);
      setText(p, figure);
      setText(small, note);
    });
  }

  renderChart() {
    const { recent } = this.data;
    const key = JSON.stringify(recent);
    if (key === this.chartKey) return;
    this.chartKey = key;
    if (!recent) {
      this.chart.replaceChildren(el('p', { class: 'empty' }, 'The service reports no usage figures (GET /admin/usage/recent).'));
      return;
    }
    this.chart.replaceChildren(
      lineChart({
        times: recent.minutes,
        series: recent.tenants.map((t) => ({ label: t.tenantId, values: t.requests })),
        yFormat: (v) => f.count(v),
        integers: true,
        xFormat: f.clock,
        label: 'Requests per minute of the top tenants over the last hour',
        empty: 'No requests in the last hour.',
      }),
    );
  }

  renderTable(tenants) {
    const { key, descending } = this.sort;
    const query = this.filter.value.trim().toLowerCase();
    const sorted = [...tenants].sort((a, b) => compare(a[key], b[key]) * (descending ? -1 : 1) || compare(a.id, b.id));
    for (const th of this.head.children)
      setAttr(th, 'aria-sort', th.dataset.key === key ? (descending ? 'descending' : 'ascending') : null);
    const seen = new Set();
    sorted.forEach((t, i) => {
      seen.add(t.id);
      let row = this.rows.get(t.id);
      if (!row) {
        row = this.makeRow(t.tenant);
        this.rows.set(t.id, row);
      }
      this.updateRow(row, t);
      const shown =
        !query ||
        [t.id, t.tenant.name, t.strategy, t.tier, t.status].some((v) =>
          String(v ?? '')
            .toLowerCase()
            .includes(query),
        );
      setAttr(row.tr, 'hidden', !shown);
      if (this.body.children[i] !== row.tr) this.body.insertBefore(row.tr, this.body.children[i] ?? null);
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    const { usage, activity } = this.data;
    setText(
      this.usageNote,
      [
        activity ? 'Requests/s, p99 and errors: this instance, the last 60 s.' : 'Live figures: not reported by this service.',
        usage
          ? `Cost: ${f.dateTime(usage.from)} to now, in ${usage.prices?.currency ?? 'the prices’ currency'}.`
          : 'Cost: not reported by this service.',
      ].join(' '),
    );
  }

  makeRow(tenant) {
    const cells = {};
    const td = (name, numeric) => (cells[name] = el('td', { class: numeric ? 'num' : undefined, 'data-col': name }));
    const link = el('a', { href: `#/tenant/${encodeURIComponent(tenant.id)}`, class: 'tenant-id' });
    const name = el('span', { class: 'tenant-name' });
    const badge = el('span', { class: 'badge' });
    const detail = el('span', { class: 'move-detail' });
    const noisy = el('span', { class: 'flag' });
    const actions = this.ctx.actions.buttons(tenant);
    const tr = el(
      'tr',
      { 'data-tenant': tenant.id },
      el('th', { scope: 'row' }, link, name),
      td('strategy'),
      td('tier'),
      el('td', { 'data-col': 'status' }, badge, detail),
      td('size', true),
      td('rps', true),
      td('p99', true),
      td('errorRate', true),
      td('cost', true),
      el('td', { class: 'num', 'data-col': 'noisy' }, noisy),
      el('td', { class: 'actions-cell' }, actions),
    );
    return { tr, cells, link, name, badge, detail, noisy, actions };
  }

  updateRow(row, t) {
    const currency = this.data.usage?.prices?.currency;
    setText(row.link, t.id);
    setText(row.name, t.tenant.name);
    setText(row.cells.strategy, f.model(t.strategy));
    setText(row.cells.tier, t.tier || '—');
    setText(row.badge, t.status);
    setAttr(row.badge, 'class', `badge status-${t.status}`);
    setText(row.detail, moveText(this.ctx.moves.get(t.id)));
    setText(row.cells.size, f.bytes(t.size));
    setText(row.cells.rps, f.perSecond(t.rps));
    setText(row.cells.p99, f.millis(t.p99));
    setText(row.cells.errorRate, f.percent(t.errorRate));
    setText(row.cells.cost, f.money(t.cost, currency));
    setText(row.noisy, t.noisy === 2 ? 'throttled' : t.noisy === 1 ? 'noisy' : t.noisy === 0 ? 'no' : '—');
    setAttr(row.noisy, 'class', t.noisy ? 'flag flag-on' : 'flag');
    setAttr(row.noisy, 'title', t.ratio ? `${t.ratio.toFixed(1)}× the median load` : null);
    this.ctx.actions.updateButtons(row.actions, t.tenant);
  }
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}
