/**
 * The plain single-tenant app `npm run bench:compare` measures the kit against: NestJS on the
 * reference app's platform (HTTP_PLATFORM: fastify by default, or express, so both run on the
 * same one), TypeORM on one pool, the reference app's global ValidationPipe options
 * (src/app.factory.ts), Nest's default JSON body parser. Environment: DATABASE_URL (its own
 * database), PORT, PLAIN_POOL_MAX (10), HTTP_PLATFORM. Stops on SIGTERM/SIGINT, closing its pool.
 */
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { PlainAppModule } from './app.module';

async function main(): Promise<void> {
  const options = { logger: ['error', 'warn'] as ('error' | 'warn')[], abortOnError: false };
  const app =
    process.env.HTTP_PLATFORM === 'express'
      ? await NestFactory.create(PlainAppModule, options)
      : await NestFactory.create(PlainAppModule, new FastifyAdapter(), options);
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
