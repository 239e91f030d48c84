// Shutdown is not a fault: the service stopped with Ctrl-C (SIGINT) and a CLI command that ends
// both close their connections without a warning or an error line, and exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/database/embedded-postgres';
import { prepareServiceRun, type ServiceRun } from './support/service-run';
import { ENTRY } from './support/cli-run';

describe('shutdown', () => {
  let service: ServiceRun;
  let env: Record<string, string>;

  beforeAll(async () => {
    service = await prepareServiceRun();
    env = service.env;
  });

  afterAll(() => service?.cleanup());

  /** Runs an entry point until it exits (after `stopWhen` matches its output, with `signal`). */
  function run(
    entry: string,
    args: string[],
    stop?: { when: RegExp; signal: NodeJS.Signals; group?: boolean; after?: Promise<unknown> },
    where: { env?: Record<string, string>; cwd?: string } = {},
  ): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [ENTRY(entry), ...args], {
        env: { ...(where.env ?? env), PORT: String(port) },
        cwd: where.cwd,
        // A process group of its own, as a terminal gives a command: Ctrl-C signals all of it.
        detached: stop?.group === true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      let signalled = false;
      const onData = (d: Buffer) => {
        output += d;
        if (stop && !signalled && stop.when.test(output)) {
          signalled = true;
          const kill = () => (stop.group ? process.kill(-child.pid!, stop.signal) : child.kill(stop.signal));
          // Let the catalog listener and the timers settle into their running state first.
          if (stop.after) void stop.after.finally(kill);
          else setTimeout(kill, 500);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }
  let port = 0;

  it('Ctrl-C stops the service cleanly: exit 0, no WARN or ERROR line', async () => {
    port = await freePort();
    const { code, output } = await run('main', [], { when: /is running at/, signal: 'SIGINT' });
    assert.match(output, /is running at/);
    assert.match(output, /SIGINT: closing pools and stopping/);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
  });

  it('Ctrl-C in a terminal (the whole process group, its embedded PostgreSQL too) stops cleanly', async () => {
    port = await freePort();
    const cwd = mkdtempSync(join(tmpdir(), 'nt-shutdown-embedded-'));
    // As a project folder is: readable by the `postgres` user the embedded server runs as under root.
    chmodSync(cwd, 0o755);
    try {
      const withoutDatabase = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'DATABASE_URL'));
      const { code, output } = await run(
        'main',
        [],
        { when: /is running at/, signal: 'SIGINT', group: true },
        { env: withoutDatabase, cwd },
      );
      assert.match(output, /No DATABASE_URL: starting an embedded PostgreSQL/);
      assert.match(output, /SIGINT: closing pools and stopping/);
      assert.equal(code, 0, output);
      assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('stopped under load (SIGTERM with writes in flight on all three models): no 500, no ERROR line, exit 0, every 201 kept', async () => {
    port = await freePort();
    const base = () => `http://127.0.0.1:${port}`;
    const statuses = new Map<number, number>();
    const acknowledged = new Map<string, string[]>([
      ['acme', []],
      ['widget', []],
      ['gadget', []],
    ]);
    let running = true;
    let signalledAt = 0;
    // The stop comes once the writers run and a write was served, or 15 s after they started (a
    // fixed delay after the start was too short on a loaded machine: the service was stopped
    // before its first write, or before it was ready, and the wait for readiness never ended).
    let firstWrite!: () => void;
    const writing = new Promise<void>((ok) => (firstWrite = ok));
    let writersStarted!: () => void;
    const writers = new Promise<void>((ok) => (writersStarted = ok));
    const stopAfter = writers.then(() => Promise.race([writing, sleep(15_000, undefined, { ref: false })])).then(() => sleep(300));
    const load = async (worker: number) => {
      const tenant = [...acknowledged.keys()][worker % 3];
      for (let i = 0; running; i++) {
        const email = `stop-${worker}-${i}@${tenant}.test`;
        try {
          const res = await fetch(`${base()}/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
            // The name repeats the email's tag: the email is encrypted, so `q` finds users by name.
            body: JSON.stringify({ email, name: `stop-${worker}-${i}` }),
          });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201) {
            acknowledged.get(tenant)!.push(email);
            firstWrite();
          }
        } catch {
          // Refused or reset: the service has stopped listening.
          if (signalledAt) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const stopped = run('main', [], { when: /is running at/, signal: 'SIGTERM', after: stopAfter });
    let exited = false;
    void stopped.then(() => (exited = true));
    while (
      !exited &&
      !(await fetch(`${base()}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 100));
    const workers = Array.from({ length: 12 }, (_, w) => load(w));
    writersStarted();
    const { code, output } = await stopped;
    signalledAt = Date.now();
    running = false;
    await Promise.all(workers);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|Driver not Connected|Connection terminated/, output);
    assert.ok((statuses.get(201) ?? 0) > 0, `no write was served before the stop: ${JSON.stringify([...statuses])}`);
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s !== 201 && s !== 503),
      [],
      `answers other than 201 and 503: ${JSON.stringify([...statuses])}`,
    );

    // Every acknowledged write is there after a restart.
    port = await freePort();
    let checked!: () => void;
    const again = run('main', [], { when: /is running at/, signal: 'SIGINT', after: new Promise<void>((ok) => (checked = ok)) });
    while (
      !(await fetch(`${base()}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 100));
    try {
      for (const [tenant, emails] of acknowledged) {
        const stored = new Set<string>();
        let cursor: string | null = null;
        do {
          const res = await fetch(`${base()}/users?limit=100&q=stop-${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
            headers: { 'x-tenant-id': tenant },
          });
          assert.equal(res.status, 200);
          const page = (await res.json()) as { items: { email: string }[]; nextCursor: string | null };
          for (const u of page.items) stored.add(u.email);
          cursor = page.nextCursor;
        } while (cursor);
        const lost = emails.filter((e) => !stored.has(e));
        assert.deepEqual(lost, [], `${tenant}: ${lost.length} of ${emails.length} acknowledged writes lost`);
      }
    } finally {
      checked();
      await again;
    }
  });

  it('a CLI command ends cleanly: exit 0, no WARN or ERROR line', async () => {
    const { code, output } = await run('cli', ['list']);
    assert.equal(code, 0, output);
    assert.match(output, /acme/);
    assert.doesNotMatch(output, /\bWARN\b|\bERROR\b|lost its connection|Connection terminated/, output);
  });
});
