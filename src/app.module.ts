import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { KeyProvider, loadTenantsFile, parseServerList, TenancyExceptionFilter, TenancyModule } from '../libs/tenancy/src';
import { AdminModule } from './admin/admin.module';
import { JsonBodyMiddleware } from './common/json-body.middleware';
import { ShutdownDrain } from './common/shutdown-drain';
import { AppConfig, appConfig, TENANCY_CONFIG_NAMES, validateEnvironment } from './config/app.config';
import { ownerDataSourceOptions } from './database/owner-data-source';
import { keyProviderFromEnv } from './config/encryption.config';
import { HealthController } from './health/health.controller';
import { ObservabilityModule } from './observability/observability.module';
import { TENANT_MIGRATIONS } from './migrations';
import { ProjectsModule } from './projects/projects.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';

const encryptionOf = (keyProvider: KeyProvider | undefined) => (keyProvider ? { keyProvider } : undefined);

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig], validate: validateEnvironment }),
    // The app's owner DataSource: TenancyModule's owner connection too (ownerDataSource below).
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ownerDataSourceOptions(config.getOrThrow<AppConfig>('app')),
    }),
    TenancyModule.forRootAsync({
      ownerDataSource: getDataSourceToken(),
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const app = config.getOrThrow<AppConfig>('app');
        const servers = parseServerList(app.tenantDbServers, TENANCY_CONFIG_NAMES);
        return {
          databaseUrl: app.databaseUrl,
          directUrl: app.directUrl,
          servers,
          catalog: loadTenantsFile(app.tenantsFile, ['default', ...Object.keys(servers)], TENANCY_CONFIG_NAMES),
          // The entities come from the feature modules' TenancyModule.forFeature([...]).
          migrations: TENANT_MIGRATIONS,
          runtimeRole: app.runtimeRole,
          deploymentKey: app.deploymentKey,
          naming: app.databasePrefix ? { databasePrefix: app.databasePrefix } : undefined,
          pool: { max: app.poolMax, maxUses: app.poolMaxUses },
          databasePools: { budgetPerServer: app.serverConnectionBudget, idleMillis: app.poolIdleMillis },
          concurrency: app.tenantConcurrency,
          rate: app.tenantRate ? { perSecond: app.tenantRate } : undefined,
          rateLimitStore: { redisUrl: app.redisUrl },
          // The tenant cache in Redis when REDIS_URL is set (shared by every instance), else in memory;
          // the GET routes' response cache on when RESPONSE_CACHE_TTL_SECONDS is above 0.
          cache: { redisUrl: app.redisUrl, responseTtlSeconds: app.responseCacheTtlSeconds },
          usage: { record: app.usageRecording },
          timeouts: { acquireMillis: app.acquireTimeoutMillis, statementMillis: app.statementTimeoutMillis },
          citus: app.citus,
          tenantPredicate: app.tenantPredicate,
          // After the tenants file: a bad file is reported before a missing key.
          encryption: encryptionOf(keyProviderFromEnv()),
          resolution: {
            baseDomain: app.baseDomain,
            jwt: app.jwtSecret || app.jwksUrl ? { secret: app.jwtSecret, jwksUrl: app.jwksUrl } : undefined,
            // /docs serves the OpenAPI page; its document is at /docs-json (and /docs-yaml).
            exclude: ['/health', '/docs', '/docs-json', '/docs-yaml', '/admin', '/metrics'],
          },
        };
      },
    }),
    ObservabilityModule,
    UsersModule,
    ProjectsModule,
    // Before AdminModule: its /admin/tenants/:id must not take /admin/tenants/noisy (Express matches in order).
    UsageModule,
    AdminModule,
  ],
  controllers: [HealthController],
  providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }, ShutdownDrain],
})
export class AppModule implements NestModule {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  configure(consumer: MiddlewareConsumer): void {
    // On Express; Fastify parses JSON bodies with its content-type parser (app.factory.ts).
    if (this.adapterHost.httpAdapter?.getType() === 'express') consumer.apply(JsonBodyMiddleware).forRoutes('/');
  }
}
