import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';

/** Builds the service as `npm start` runs it; the e2e tests use the same wiring. */
export async function createApp(options: { logger?: false | ('error' | 'warn' | 'log')[] } = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule, { bodyParser: false, logger: options.logger ?? ['error', 'warn', 'log'] });
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
  return app;
}
