// How a move reads: one line for the tenant table, a panel with its journal row for the tenant page.

import { el } from './dom.js';
import * as f from './format.js';
import { rowsCopied } from './moves.js';

/** One line for a followed move ('' when none): "→ schema: copying 1,200 of 5,000 rows". */
export function moveText(entry) {
  if (!entry) return '';
  if (entry.done && entry.ok) return `moved to ${entry.to} (${seconds(entry.endedAt - entry.startedAt)})`;
  if (entry.done) return `move failed: ${entry.error}`;
  const rows = entry.copied ? ` ${f.count(entry.copied)}${entry.total ? ` of ${f.count(entry.total)}` : ''} rows` : '';
  return `→ ${entry.to ?? '…'}: ${entry.phase}${rows}${entry.note ? ` (${entry.note})` : ''}`;
}

/** The move's journal row (GET /admin/tenants/:id `move`) and how a followed move ended, as nodes. */
export function movePanel(journal, followed, rowsTotal) {
  const parts = [];
  if (journal) {
    const copied = rowsCopied(journal);
    parts.push(
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, 'From'),
        el('dd', {}, `${f.model(journal.sourceStrategy)}, server ${journal.sourceServer}`),
        el('dt', {}, 'To'),
        el('dd', {}, `${f.model(journal.targetStrategy)}, server ${journal.targetServer}`),
        el('dt', {}, 'Phase'),
        el('dd', { class: journal.phase === 'failed' ? 'error' : undefined, 'data-move-phase': journal.phase }, journal.phase),
        el('dt', {}, 'Started'),
        el('dd', {}, f.dateTime(journal.startedAt)),
        el('dt', {}, 'Last step'),
        el('dd', {}, f.dateTime(journal.updatedAt)),
        journal.progress?.freezeMillis !== undefined && [
          el('dt', {}, 'Writes refused for'),
          el('dd', {}, f.millis(journal.progress.freezeMillis)),
        ],
        journal.error && [el('dt', {}, 'Error'), el('dd', { class: 'error' }, journal.error)],
      ),
      rowsTotal ? el('progress', { max: rowsTotal, value: Math.min(copied, rowsTotal), 'aria-label': 'Rows copied' }) : null,
    );
    const tables = Object.entries(journal.progress?.tables ?? {});
    if (tables.length) {
      parts.push(
        el(
          'table',
          { class: 'small' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, 'Table'),
              el('th', { class: 'num' }, 'Copied'),
              el('th', { class: 'num' }, 'Caught up'),
              el('th', {}, 'Checksum'),
            ),
          ),
          el(
            'tbody',
            {},
            tables.map(([name, t]) =>
              el(
                'tr',
                {},
                el('td', {}, name),
                el('td', { class: 'num' }, f.count(t.copied)),
                el('td', { class: 'num' }, f.count(t.caughtUp ?? 0)),
                el('td', {}, t.checksum ? 'verified' : '—'),
              ),
            ),
          ),
        ),
      );
    }
  } else {
    parts.push(el('p', { class: 'muted' }, 'No move recorded: none is running, and none failed. A finished move leaves no journal row.'));
  }
  if (followed?.done) parts.push(el('p', { class: followed.ok ? 'ok' : 'error' }, `In this tab: ${moveText(followed)}.`));
  return parts;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
