import { Type, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/**
 * Serves `module` as the benchmarks' apps do (the plain app and the peer, bench/peer): NestJS on
 * the platform `HTTP_PLATFORM` names (`fastify`, the reference app's default, or `express`; anything
 * else is refused rather than measured on the wrong platform), the reference app's global ValidationPipe options
 * (src/app.factory.ts), Nest's default JSON body parser, on 127.0.0.1:`PORT`. Stops on
 * SIGTERM/SIGINT. Exits 1 when it cannot start.
 */
export function serve(module: Type): void {
  start(module).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

async function start(module: Type): Promise<void> {
  const platform = process.env.HTTP_PLATFORM || 'fastify';
  if (platform !== 'express' && platform !== 'fastify') throw new Error(`HTTP_PLATFORM=${platform}: give fastify or express`);
  const options = { logger: ['error', 'warn'] as ('error' | 'warn')[], abortOnError: false };
  const app =
    platform === 'express' ? await NestFactory.create(module, options) : await NestFactory.create(module, new FastifyAdapter(), options);
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
