import { BadRequestException } from '@nestjs/common';
import { UsageReports, type UsagePeriod } from '../../libs/tenancy/src';

const DAY_MILLIS = 86_400_000;
/** The longest range of `GET /admin/usage` (a little over a year). */
export const MAX_USAGE_RANGE_DAYS = 400;
/** The longest range of `GET /admin/tenants/:id/usage` (hourly points: at most 2,232). */
export const MAX_TENANT_RANGE_DAYS = 93;

/**
 * The range of `GET /admin/usage`: `period` (default month) or `from` (and `to`, default now).
 * @throws BadRequestException (400) for period together with from/to, to without from, from not
 * before to, or a range longer than 400 days.
 */
export function usageRange(q: { period?: UsagePeriod; from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  if (q.period && (q.from || q.to)) throw new BadRequestException('Give either period or from/to, not both.');
  if (!q.from && !q.to) return UsageReports.periodRange(q.period ?? 'month', now);
  if (!q.from) throw new BadRequestException('to needs a from: give from (and to), or a period.');
  return checked(new Date(q.from), q.to ? new Date(q.to) : now, MAX_USAGE_RANGE_DAYS);
}

/**
 * The range of `GET /admin/tenants/:id/usage`: `from` and `to`, by default the 24 hours up to `to` (now).
 * @throws BadRequestException (400) for from not before to, or a range longer than 93 days.
 */
export function tenantUsageRange(q: { from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MILLIS);
  return checked(from, to, MAX_TENANT_RANGE_DAYS);
}

function checked(from: Date, to: Date, maxDays: number): { from: Date; to: Date } {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new BadRequestException('from and to must be valid dates.');
  if (from.getTime() >= to.getTime()) throw new BadRequestException('from must be before to.');
  if (to.getTime() - from.getTime() > maxDays * DAY_MILLIS) throw new BadRequestException(`The range may span at most ${maxDays} days.`);
  return { from, to };
}
