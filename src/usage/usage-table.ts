import type { UsageReport } from '../../libs/tenancy/src';

const bytes = (n: number | null) =>
  n === null
    ? '-'
    : n >= 1 << 30
      ? `${(n / (1 << 30)).toFixed(2)} GiB`
      : n >= 1 << 20
        ? `${(n / (1 << 20)).toFixed(1)} MiB`
        : `${(n / 1024).toFixed(0)} KiB`;
const money = (n: number) => n.toFixed(6);

/**
 * A usage report as a plain-text table, one tenant a line (what `tenancy usage` prints): requests,
 * errors, database seconds, rows written, storage and the estimated cost (compute, database,
 * storage, total), then a total line.
 */
export function usageTable(report: UsageReport): string[] {
  const head = [
    'tenant'.padEnd(24),
    'model'.padEnd(8),
    'tier'.padEnd(12),
    'requests'.padStart(10),
    'errors'.padStart(7),
    'db s'.padStart(9),
    'rows'.padStart(9),
    'storage'.padStart(10),
    'compute'.padStart(11),
    'database'.padStart(11),
    'storage $'.padStart(11),
    'total'.padStart(11),
  ].join(' ');
  const lines = [
    `usage from ${report.from.toISOString()} to ${report.to.toISOString()} (costs in ${report.prices.currency}, estimated from unit prices)`,
    head,
  ];
  let total = 0;
  for (const t of report.tenants) {
    total += t.cost.total;
    lines.push(
      [
        t.tenantId.padEnd(24),
        t.model.padEnd(8),
        (t.tier ?? '-').padEnd(12),
        String(t.requests).padStart(10),
        String(t.errors).padStart(7),
        (t.databaseMs / 1000).toFixed(2).padStart(9),
        String(t.rowsWritten).padStart(9),
        bytes(t.storageBytes).padStart(10),
        money(t.cost.compute).padStart(11),
        money(t.cost.database).padStart(11),
        money(t.cost.storage).padStart(11),
        money(t.cost.total).padStart(11),
      ].join(' '),
    );
  }
  lines.push(`${report.tenants.length} tenant${report.tenants.length === 1 ? '' : 's'}, total ${money(total)}`);
  return lines;
}
