import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { TestingModule } from '@nestjs/testing';
import { httpPlatformFromEnv } from '../../src/config/app.config';

/**
 * A testing module as an HTTP app on the platform HTTP_PLATFORM names (Fastify by default, as the
 * service), initialized and ready for requests on `app.getHttpServer()`.
 */
export async function startNestApp(moduleRef: TestingModule, options: NestApplicationOptions = {}): Promise<INestApplication> {
  const app =
    httpPlatformFromEnv() === 'express'
      ? moduleRef.createNestApplication(options)
      : moduleRef.createNestApplication(new FastifyAdapter(), options);
  await initForRequests(app);
  return app;
}

/**
 * `app.init()`, then, on Fastify, `ready()`: Fastify serves requests only once ready, which
 * `listen` makes it, but supertest uses the bare server.
 */
export async function initForRequests(app: INestApplication): Promise<void> {
  await app.init();
  const adapter = app.getHttpAdapter();
  if (adapter.getType() === 'fastify') await (adapter.getInstance() as { ready(): PromiseLike<unknown> }).ready();
}
