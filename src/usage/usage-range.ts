import { BadRequestException } from '@nestjs/common';
import { UsageReports, type UsagePeriod } from '../../libs/tenancy/src';

const DAY_MILLIS = 86_400_000;
/** The longest range of `GET /admin/usage` (a little over a year). */
export const MAX_USAGE_RANGE_DAYS = 400;
/** The longest range of `GET /admin/tenants/:id/usage` (hourly points: at most 2,232). */
export const MAX_TENANT_RANGE_DAYS = 93;

/**
 * The range of `GET /admin/usage`: `period` (default month) or `from` (and `to`, default now). A
 * `to` in the future is capped at now: usage (and storage, billed by the hour) is reported only up
 * to now, and the answer's `to` says so.
 * @throws BadRequestException (400) for period together with from/to, to without from, a from
 * not before now, from not before to, or a range (once capped) longer than 400 days.
 */
export function usageRange(q: { period?: UsagePeriod; from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  if (q.period && (q.from || q.to)) throw new BadRequestException('Give either period or from/to, not both.');
  if (!q.from && !q.to) return UsageReports.periodRange(q.period ?? 'month', now);
  if (!q.from) throw new BadRequestException('to needs a from: give from (and to), or a period.');
  return checked(new Date(q.from), q.to ? new Date(q.to) : now, MAX_USAGE_RANGE_DAYS, now);
}

/**
 * The range of `GET /admin/tenants/:id/usage`: `from` and `to`, by default the 24 hours up to `to`
 * (now); a `to` in the future is capped at now, as for `usageRange`.
 * @throws BadRequestException (400) for a from not before now, from not before to, or a range
 * (once capped) longer than 93 days.
 */
export function tenantUsageRange(q: { from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  const asked = q.to ? new Date(q.to) : now;
  const to = asked.getTime() > now.getTime() ? now : asked;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MILLIS);
  return checked(from, asked, MAX_TENANT_RANGE_DAYS, now);
}

function checked(from: Date, asked: Date, maxDays: number, now: Date): { from: Date; to: Date } {
  if (Number.isNaN(from.getTime()) || Number.isNaN(asked.getTime())) throw new BadRequestException('from and to must be valid dates.');
  if (from.getTime() >= now.getTime()) throw new BadRequestException('from must be in the past: usage is known only up to now.');
  if (from.getTime() >= asked.getTime()) throw new BadRequestException('from must be before to.');
  const to = asked.getTime() > now.getTime() ? now : asked;
  if (to.getTime() - from.getTime() > maxDays * DAY_MILLIS) throw new BadRequestException(`The range may span at most ${maxDays} days.`);
  return { from, to };
}
