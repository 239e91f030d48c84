import type { MigrationOutcome, MigrationRunReport, MigrationStatusRow } from '../../libs/tenancy/src';

/**
 * What happened to one target, as the operator reads it: applied now (and what), migrated at this
 * command's own start-up (the service's modules provision and migrate as they start), up to date,
 * or failed (and why).
 */
export function describeOutcome(o: MigrationOutcome): string {
  if (o.result === 'failed') return `FAILED: ${o.error}`;
  if (o.result === 'applied' && o.applied.length) return `applied now: ${o.applied.join(', ')}`;
  if (o.appliedEarlier?.length) return `migrated at start-up: ${o.appliedEarlier.join(', ')}`;
  return 'up to date';
}

/** One line per target: its name, model and `describeOutcome`. */
export function outcomeLine(o: MigrationOutcome): string {
  return `${o.target.padEnd(42)} ${o.model.padEnd(9)} ${describeOutcome(o)}`;
}

/** The run's last line: how many targets were migrated now, at start-up, found up to date, or failed. */
export function summarizeRun(report: MigrationRunReport): string {
  const now = report.outcomes.filter((o) => o.result === 'applied' && o.applied.length).length;
  const upToDate = report.outcomes.filter(
    (o) => o.result !== 'failed' && !(o.result === 'applied' && o.applied.length) && !o.appliedEarlier?.length,
  ).length;
  return `${report.outcomes.length} targets: ${now} migrated now, ${report.migratedEarlier} migrated at start-up, ${upToDate} up to date, ${report.failed} failed, ${report.millis} ms`;
}

/** One line of `--status`: target, model, status, version, and the last error of a failed one. */
export function statusLine(r: MigrationStatusRow): string {
  return `${r.target.padEnd(42)} ${r.model.padEnd(9)} ${r.status.padEnd(8)} ${r.version ?? '-'}${r.error ? `  (${r.error})` : ''}`;
}
