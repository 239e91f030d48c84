import type { UnitPrices } from '../config/tenancy-options';

/** Hours in the month of a GB-month, as cloud bills count them (8,760 / 12). */
export const HOURS_PER_MONTH = 730;
/** A GB of a GB-month: 2^30 bytes, as cloud bills count them. */
export const BYTES_PER_GB = 2 ** 30;

/** What a tenant used over a period, as the cost estimate needs it. */
export interface UsageFigures {
  /** Units of work (HTTP requests and `TenancyService.run` calls). */
  requests: number;
  /** Database milliseconds of those units. */
  databaseMs: number;
  /** Bytes the tenant holds now (null when unknown: then no storage cost). */
  storageBytes: number | null;
}

/** A cost estimate in the prices' currency, each part rounded to 1e-6. */
export interface UsageCost {
  compute: number;
  database: number;
  storage: number;
  total: number;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * The estimated cost of `figures` over a period of `hours` at `prices`:
 * compute = requests / 10^6 × computePerMillionRequests;
 * database = databaseMs / 3.6 × 10^6 × databasePerHour;
 * storage = storageBytes / 2^30 × storagePerGbMonth × hours / 730 (today's size held over the
 * whole period: the ledger keeps no size history).
 */
export function estimateCost(figures: UsageFigures, prices: UnitPrices, hours: number): UsageCost {
  const compute = (figures.requests / 1e6) * prices.computePerMillionRequests;
  const database = (figures.databaseMs / 3.6e6) * prices.databasePerHour;
  const storage = ((figures.storageBytes ?? 0) / BYTES_PER_GB) * prices.storagePerGbMonth * (hours / HOURS_PER_MONTH);
  return { compute: round(compute), database: round(database), storage: round(storage), total: round(compute + database + storage) };
}
