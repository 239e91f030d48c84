// The admin API's actions on a tenant, as buttons: suspend, resume, move (a dialog, then the move
// followed to its end) and export (a download of its NDJSON).

import { call, download } from './api.js';
import { el } from './dom.js';

/**
 * What the buttons need from the console: `notify(text, kind)` shows a notice, `changed()` asks
 * the view to refresh, `moves` follows moves, `failed(err)` handles an error (a refused token signs out).
 */
export class TenantActions {
  constructor({ notify, changed, moves, failed }) {
    this.notify = notify;
    this.changed = changed;
    this.moves = moves;
    this.failed = failed;
    this.dialog = document.getElementById('move-dialog');
    this.form = document.getElementById('move-form');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.startMove();
    });
    document.getElementById('move-cancel').addEventListener('click', () => this.dialog.close());
  }

  /** The action buttons of a tenant (`tenant` as GET /admin/tenants lists it), in a <div>. */
  buttons(tenant) {
    const group = el('div', { class: 'actions' });
    this.updateButtons(group, tenant);
    return group;
  }

  /** Rebuilds the buttons only when what they offer changed (a refresh keeps focus and hover). */
  updateButtons(group, tenant) {
    const key = [tenant.id, tenant.status, tenant.strategy, tenant.tier, tenant.server].join('|');
    if (group.dataset.key === key) return;
    group.dataset.key = key;
    const id = tenant.id;
    const active = tenant.status === 'active';
    const suspended = tenant.status === 'suspended';
    group.replaceChildren(
      active
        ? el('button', { type: 'button', class: 'quiet', 'data-action': 'suspend', on: { click: () => this.suspend(id) } }, 'Suspend')
        : el(
            'button',
            { type: 'button', class: 'quiet', 'data-action': 'resume', disabled: !suspended, on: { click: () => this.resume(id) } },
            'Resume',
          ),
      el(
        'button',
        { type: 'button', class: 'quiet', 'data-action': 'move', disabled: !active, on: { click: () => this.openMove(tenant) } },
        'Move…',
      ),
      el(
        'button',
        {
          type: 'button',
          class: 'quiet',
          'data-action': 'export',
          disabled: !(active || suspended),
          on: { click: () => this.exportRows(id) },
        },
        'Export',
      ),
    );
  }

  async suspend(id) {
    if (!window.confirm(`Suspend tenant '${id}'? Every instance answers its requests with 403 until it is resumed.`)) return;
    await this.run(async () => {
      await call('POST', `/admin/tenants/${encodeURIComponent(id)}/suspend`);
      this.notify(`Suspended ${id}: its requests are answered with 403.`);
    });
  }

  async resume(id) {
    await this.run(async () => {
      await call('POST', `/admin/tenants/${encodeURIComponent(id)}/resume`);
      this.notify(`Resumed ${id}: it is served again.`);
    });
  }

  async exportRows(id) {
    await this.run(async () => {
      this.notify(`Exporting ${id}…`);
      await download(`/admin/tenants/${encodeURIComponent(id)}/export`, `${id}.ndjson`);
      this.notify(`Exported ${id}: every row, one JSON object a line (${id}.ndjson).`);
    });
  }

  /** Opens the move dialog for the tenant; `tiers` fill the tier field's suggestions. */
  openMove(tenant, tiers = this.knownTiers ?? []) {
    this.moving = tenant;
    document.getElementById('move-tenant').textContent = tenant.id;
    document.getElementById('move-from').textContent =
      `Now: the ${tenant.strategy} model, tier ${tenant.tier ?? 'none'}, server ${tenant.server}.`;
    const strategy = document.getElementById('move-strategy');
    strategy.value = ['shared', 'schema', 'database'].find((m) => m !== tenant.strategy);
    document.getElementById('move-tier').value = '';
    document.getElementById('move-server').value = '';
    document.getElementById('move-error').textContent = '';
    document.getElementById('known-tiers').replaceChildren(...tiers.map((t) => el('option', { value: t })));
    this.dialog.showModal();
  }

  async startMove() {
    const tenant = this.moving;
    const data = new FormData(this.form);
    const body = { strategy: String(data.get('strategy')) };
    const tier = String(data.get('tier') ?? '').trim();
    const server = String(data.get('server') ?? '').trim();
    if (tier) body.tier = tier;
    if (server) body.server = server;
    const submit = document.getElementById('move-submit');
    submit.disabled = true;
    try {
      await call('POST', `/admin/tenants/${encodeURIComponent(tenant.id)}/move`, body);
      this.dialog.close();
      this.notify(`Moving ${tenant.id} from the ${tenant.strategy} model to the ${body.strategy} model…`);
      this.moves.follow(tenant.id, tenant.strategy, body.strategy);
      this.changed();
    } catch (err) {
      if (err.refused) {
        this.dialog.close();
        this.failed(err);
      } else {
        document.getElementById('move-error').textContent = err.message;
      }
    } finally {
      submit.disabled = false;
    }
  }

  async run(action) {
    try {
      await action();
    } catch (err) {
      this.failed(err);
    }
    this.changed();
  }
}
