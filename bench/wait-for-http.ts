import type { ChildProcess } from 'node:child_process';

/**
 * Resolves once `url` answers 2xx (asked with `headers`); polls every 100 ms. Throws when `child`
 * exits first, or after 60 s, naming `what` (say, 'the service').
 */
export async function waitForHttp(
  url: string,
  child: ChildProcess,
  what = 'the service',
  headers: Record<string, string> = {},
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within 60 s`);
}
