import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppModule } from './app.module';
import { AppLogger } from './common/app-logger';
import { ShutdownDrain } from './common/shutdown-drain';
import { applyHttpTimeouts, httpTimeoutsFromEnv } from './http-timeouts';

/** Builds the service as `npm start` runs it; the e2e tests use the same wiring. */
export async function createApp(options: { logger?: false | ('error' | 'warn' | 'log')[] } = {}): Promise<INestApplication> {
  // abortOnError: false makes a start-up error (say, an invalid tenants file) reject here, so the
  // caller prints its message and exits, instead of Nest exiting the process on its own.
  const logger = options.logger === false ? false : new AppLogger({ logLevels: options.logger ?? ['error', 'warn', 'log'] });
  const app = await NestFactory.create(AppModule, { bodyParser: false, abortOnError: false, logger });
  // Before every route (Nest registers its routes when the app initializes).
  app.use(app.get(ShutdownDrain).middleware);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      // Validation messages name the field and the rule, never echo the value.
      validationError: { target: false, value: false },
    }),
  );
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nest-tenancy reference API')
      .setDescription('Users and projects, isolated per tenant (shared tables with RLS, schema per tenant or database per tenant).')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  applyHttpTimeouts(app.getHttpServer(), httpTimeoutsFromEnv());
  answerClientErrorsAsJson(app.getHttpServer());
  return app;
}

const CLIENT_ERROR_MESSAGES: Record<number, string> = {
  400: 'The request is not valid HTTP: a header or the URL holds a character that is not allowed (send ASCII, percent-encode the URL).',
  408: 'The request took too long to arrive.',
  413: 'The request chunk extensions are too large.',
  431: 'The request headers are too large.',
};

/**
 * A request Node's HTTP parser refuses (a NUL or control character in a header, a raw non-ASCII
 * byte in the URL, headers over the size limit) never reaches Nest, and Node answers it with a bare
 * status line. Answer it with the same JSON error body as every other error instead.
 */
function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? 413
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? 408
            : 400;
    const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message: CLIENT_ERROR_MESSAGES[status] });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
}
