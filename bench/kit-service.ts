import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../src/database/embedded-postgres';
import { waitForHttp } from './wait-for-http';

/**
 * The key-encryption key of every kit this bench process starts (production requires one for the
 * encrypted columns): one per run, so two kits on the same databases read each other's rows.
 */
export const BENCH_KEKS = `bench:${randomBytes(32).toString('base64')}`;

/** A service of the benches, running as a child process. */
export interface BenchService {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  child: ChildProcess;
  /** SIGTERM, and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Stops `child` with SIGTERM and resolves once it has exited (at once if it has already). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/**
 * The kit as `npm start` runs it (`node dist/src/main.js`, NODE_ENV=production) on `databaseUrl`,
 * with the tiers and tenants of `tenants` written to `<dir>/tenants.yaml` and `env` on top.
 * `nodeArgs` go before the script (say, `--require` of a probe); `ipc` opens a channel to the child
 * (`child.send`, `child.on('message')`). Resolves once `/health/ready` answers.
 */
export async function startKit(options: {
  dir: string;
  databaseUrl: string;
  tenants: { tiers: object; tenants: object[] };
  env?: Record<string, string>;
  nodeArgs?: string[];
  ipc?: boolean;
}): Promise<BenchService & { configFile: string }> {
  const configFile = join(options.dir, 'tenants.yaml');
  writeFileSync(configFile, stringify(options.tenants));
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    TENANCY_KEKS: BENCH_KEKS,
    DATABASE_URL: options.databaseUrl,
    TENANCY_CONFIG: configFile,
    PORT: String(port),
    ...options.env,
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'dist/src/main.js'], {
    env,
    stdio: options.ipc ? ['ignore', 'ignore', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/health/ready`, child, 'the kit');
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { base, child, configFile, stop: () => stopChild(child) };
}
