import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/database/embedded-postgres';

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'].find((p) => existsSync(p));

export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops the server (SIGTERM) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway redis-server on 127.0.0.1 (a free port, or `port` to start one again where a
 * stopped one listened), with no persistence. The suites of `npm run test:redis` use it; the binary
 * is Debian's redis-server, which `.ci/run` installs.
 */
export async function startRedis(port?: number): Promise<TestRedis> {
  if (!REDIS_SERVER) {
    throw new Error("redis-server is not installed: apt-get install redis-server (this suite runs Debian's redis-server on a free port)");
  }
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nt-redis-'));
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await new Promise<boolean>((ok) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), ok(true)));
      s.once('error', () => ok(false));
    });
    if (open) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not listen on port ${port}`);
    await sleep(50);
  }
  const exited = new Promise<void>((ok) => (child.exitCode !== null ? ok() : child.once('exit', () => ok())));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
