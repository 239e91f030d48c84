import autocannon from 'autocannon';
import { cpuMicros } from './machine';

/** One load's figures: requests per second, latency (ms), the server's CPU per request (µs), failures. */
export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  cpuMicrosPerRequest: number;
  /** Answers that were not 2xx, and errors. */
  failures: number;
}

/**
 * Runs autocannon with `options` against the server process `pid` and gives its figures, the CPU
 * time being the process's own (utime + stime from /proc, so autocannon's is not counted).
 */
export async function loadFigures(pid: number, options: autocannon.Options): Promise<LoadFigures> {
  const cpuBefore = cpuMicros(pid);
  const r = await autocannon(options);
  const cpu = cpuMicros(pid) - cpuBefore;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuMicrosPerRequest: r.requests.total > 0 ? cpu / r.requests.total : NaN,
    failures: r.non2xx + r.errors,
  };
}
