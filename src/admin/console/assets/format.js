// How figures read in the console: sizes in IEC units, rates and latencies with their units, money
// in the prices' currency. A figure the API did not give shows as an em dash.

const NONE = '—';
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

const missing = (value) => value === null || value === undefined || Number.isNaN(value);

/** 1536 -> "1.5 KiB" (powers of 1024, IEC 80000-13). */
export function bytes(value) {
  if (missing(value)) return NONE;
  let n = Number(value);
  let unit = 0;
  while (n >= 1024 && unit < BYTE_UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${n >= 100 || unit === 0 ? Math.round(n) : n.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** Requests per second: "12.3/s", "0.05/s". */
export function perSecond(value) {
  if (missing(value)) return NONE;
  const n = Number(value);
  return `${n === 0 ? '0' : n < 1 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n)}/s`;
}

/** Milliseconds: "4.2 ms", "120 ms", "1.5 s". */
export function millis(value) {
  if (missing(value)) return NONE;
  const n = Number(value);
  if (n >= 1000) return `${(n / 1000).toFixed(1)} s`;
  return `${n === 0 ? '0' : n < 10 ? n.toFixed(1) : Math.round(n)} ms`;
}

/** A ratio as a percentage: 0.012 -> "1.2 %". */
export function percent(value) {
  if (missing(value)) return NONE;
  const n = Number(value) * 100;
  return `${n === 0 ? '0' : n < 10 ? n.toFixed(1) : Math.round(n)} %`;
}

/** A count with thousands separators. */
export function count(value) {
  return missing(value) ? NONE : Number(value).toLocaleString('en');
}

/** An amount of money in `currency` (ISO 4217; falls back to a plain number with the code). */
export function money(value, currency = 'USD') {
  if (missing(value)) return NONE;
  const n = Number(value);
  const digits = n !== 0 && Math.abs(n) < 1 ? 4 : 2;
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: digits }).format(n);
  } catch {
    return `${n.toFixed(digits)} ${currency}`;
  }
}

/** An ISO timestamp as local date and time, "2026-11-30 11:42:05". */
export function dateTime(value) {
  if (!value) return NONE;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return NONE;
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "HH:MM" of a timestamp, for chart axes. */
export function clock(value) {
  const d = new Date(value);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The model's name with its usual pattern name: "schema (bridge)". */
export function model(strategy) {
  return { shared: 'shared (pool)', schema: 'schema (bridge)', database: 'database (silo)' }[strategy] ?? strategy ?? NONE;
}
