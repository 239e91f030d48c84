// Jest's globalTeardown: stops what global-setup.ts (or pooler-setup.ts) started and deletes its folders.
import { rmSync } from 'node:fs';
import { runState } from './run-state';

export default async function globalTeardown(): Promise<void> {
  const state = runState();
  const pooler = state.pooler;
  if (pooler) {
    if (pooler.process.exitCode === null && pooler.process.signalCode === null) {
      const exited = new Promise((ok) => pooler.process.once('exit', ok));
      pooler.process.kill('SIGTERM');
      await exited;
    }
    rmSync(pooler.dir, { recursive: true, force: true });
    state.pooler = undefined;
  }
  const embedded = state.embedded;
  if (embedded) {
    await embedded.server.stop().catch((err: Error) => console.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
    rmSync(embedded.dir, { recursive: true, force: true });
    state.embedded = undefined;
  }
}
