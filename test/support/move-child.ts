/**
 * Runs one tenant move in a process of its own, as another instance of the service would, so that a
 * test can kill it midway. The environment names the databases (see TestApp.serviceEnv).
 *
 *   node move-child.js <tenant> <strategy> [freezeGraceMillis]
 *
 * Prints `ready` once the app context is up and the move report (JSON) when it is done.
 */
import { NestFactory } from '@nestjs/core';
import type { IsolationModel } from '../../libs/tenancy/src';

async function main(): Promise<void> {
  const [tenantId, strategy, grace] = process.argv.slice(2);
  const { AppModule } = await import('../../src/app.module.js');
  const { TenantMover } = await import('../../libs/tenancy/src/index.js');
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error'] });
  const mover = app.get(TenantMover);
  if (grace) mover.freezeGraceMillis = Number(grace);
  console.log('ready');
  const report = await mover.move(tenantId, { strategy: strategy as IsolationModel });
  console.log(JSON.stringify(report));
  await app.close();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
