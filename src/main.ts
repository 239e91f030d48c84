import { Logger } from '@nestjs/common';
import { httpPlatformFromEnv } from './config/app.config';
import { exitOnInvalidEnvironment } from './config/check-environment';
import { describeStartFailure, ensureDatabase } from './database/ensure-database';
import { currentLogging } from './observability/logging';

async function main(): Promise<void> {
  exitOnInvalidEnvironment();
  const logger = new Logger('Main');
  const embedded = await ensureDatabase();
  // Imported after DATABASE_URL is known: the environment is validated as the module loads.
  const { createApp } = await import('./app.factory.js');
  const app = await createApp();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.log(`${signal}: closing pools and stopping`);
      void app
        .close()
        .then(() => embedded?.stop())
        .finally(() => {
          currentLogging().flush();
          process.exit(0);
        });
    });
  }
  const port = Number(process.env.PORT ?? 3000);
  // Every interface on either platform: Node (so Express) listens on all by default, Fastify on
  // localhost only, which a container's published port would not reach.
  await (httpPlatformFromEnv() === 'fastify' ? app.listen(port, '0.0.0.0') : app.listen(port));
  const base = `http://localhost:${port}`;
  console.log(`
nest-tenancy is running at ${base}   (OpenAPI: ${base}/docs)

Demo tenants: acme (database per tenant), widget (schema per tenant), gadget (shared tables + RLS)

  curl -s -X POST ${base}/users -H 'X-Tenant-ID: acme' -H 'Content-Type: application/json' -d '{"email":"ada@acme.test","name":"Ada"}'
  curl -s ${base}/users -H 'X-Tenant-ID: acme'
  curl -s ${base}/users -H 'X-Tenant-ID: widget'
  curl -s ${base}/t/gadget/users
  curl -s http://gadget.localhost:${port}/users
  curl -s ${base}/health/ready
`);
}

main().catch((err) => {
  console.error(describeStartFailure(err));
  process.exit(1);
});
