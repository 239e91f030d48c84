/**
 * The plain single-tenant app `npm run bench:compare` measures the kit against: NestJS on Express
 * (the reference app's platform), TypeORM on one pool, the reference app's global ValidationPipe
 * options (src/app.factory.ts), Nest's default JSON body parser. Environment: DATABASE_URL (its
 * own database), PORT, PLAIN_POOL_MAX (10). Stops on SIGTERM/SIGINT, closing its pool.
 */
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PlainAppModule } from './app.module';

async function main(): Promise<void> {
  const app = await NestFactory.create(PlainAppModule, { logger: ['error', 'warn'], abortOnError: false });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      validationError: { target: false, value: false },
    }),
  );
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
