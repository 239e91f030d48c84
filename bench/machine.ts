import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** The 1-minute load average. */
export const load1 = (): number => loadavg()[0];

/** What the machine is, for the record of a run: CPU model and count. */
export const machine = (): string => `${cpus()[0]?.model.trim() ?? 'unknown CPU'} × ${cpus().length}`;

/**
 * Waits until the 1-minute load average is under `below` (checked every 5 s), at most `seconds`.
 * Says on the console what it waits for and how it ended; resolves whether the machine got quiet.
 */
export async function waitForQuiet(below: number, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  if (load1() < below) return true;
  console.log(`waiting for a quiet machine: 1-minute load ${load1().toFixed(2)}, want under ${below}, for at most ${seconds} s`);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(5000, Math.max(0, deadline - Date.now()))));
    if (load1() < below) {
      console.log(`quiet: 1-minute load ${load1().toFixed(2)}`);
      return true;
    }
  }
  console.log(
    `NOT QUIET: the 1-minute load is still ${load1().toFixed(2)} after ${seconds} s; measuring anyway (every figure is understated)`,
  );
  return false;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, in µs) the process `pid` has used so far, from /proc/<pid>/stat
 * (utime and stime, fields 14 and 15, in clock ticks: 10 ms each on most Linux machines).
 */
export function cpuMicros(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / clockTicks) * 1e6;
}
