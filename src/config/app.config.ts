import { registerAs } from '@nestjs/config';
import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength, validateSync } from 'class-validator';
import type { ConfigNames } from '../../libs/tenancy/src';

/** How the tenancy library's configuration messages name the environment variables this app reads. */
export const TENANCY_CONFIG_NAMES: ConfigNames = {
  tenantsFile: 'TENANCY_CONFIG',
  servers: 'TENANT_DB_SERVERS',
  defaultServer: 'DATABASE_URL',
};

/** pino's levels, for LOG_LEVEL (default info). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The HTTP platforms the service runs on (HTTP_PLATFORM); the first is the default. */
export const HTTP_PLATFORMS = ['fastify', 'express'] as const;
export type HttpPlatform = (typeof HTTP_PLATFORMS)[number];

/** HTTP_PLATFORM (validated at start with the rest of the environment), default fastify. */
export function httpPlatformFromEnv(env: NodeJS.ProcessEnv = process.env): HttpPlatform {
  return env.HTTP_PLATFORM === 'express' ? 'express' : 'fastify';
}

/** The environment the service reads, validated at start. */
class Environment {
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// URL of an owner (or superuser) connection' })
  DATABASE_URL!: string;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, {
    message: 'DATABASE_DIRECT_URL must be a postgres:// URL of the same database as DATABASE_URL, not through a pooler',
  })
  DATABASE_DIRECT_URL?: string;

  @IsOptional() @IsString() TENANT_DB_SERVERS?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(65535) PORT?: number;

  @IsOptional() @IsString() @MinLength(32, { message: 'JWT_SECRET must hold at least 32 characters' }) JWT_SECRET?: string;

  @IsOptional() @IsUrl({ require_tld: false, protocols: ['http', 'https'] }) JWKS_URL?: string;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'RESPONSE_CACHE_TTL_SECONDS must be a whole number of seconds (0 turns the response cache off)' })
  @Min(0)
  @Max(86_400)
  RESPONSE_CACHE_TTL_SECONDS?: number;

  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: string;

  @IsOptional() @IsIn(HTTP_PLATFORMS, { message: 'HTTP_PLATFORM must be fastify (the default) or express' }) HTTP_PLATFORM?: string;

  @IsOptional() @IsString() TENANCY_CONFIG?: string;

  @IsOptional() @Matches(/^[a-z_][a-z0-9_]{0,40}$/) TENANCY_RUNTIME_ROLE?: string;

  @IsOptional()
  @Matches(/^[a-z0-9]{1,10}$/, { message: 'TENANCY_DEPLOYMENT_KEY must be 1 to 10 characters of a-z and 0-9' })
  TENANCY_DEPLOYMENT_KEY?: string;

  @IsOptional() @Matches(/^[a-z_][a-z0-9_]{0,15}$/) TENANCY_DATABASE_PREFIX?: string;

  @IsOptional() @IsString() TENANCY_BASE_DOMAIN?: string;

  @IsOptional()
  @Matches(/^\s*(dev|[a-z0-9][a-z0-9._-]{0,39}:[A-Za-z0-9+/]+={0,2})\s*(,\s*(dev|[a-z0-9][a-z0-9._-]{0,39}:[A-Za-z0-9+/]+={0,2})\s*)*$/, {
    message:
      "TENANCY_KEKS must be <id>:<base64 of 32 random bytes>, several separated by commas, the current one first ('dev' alone: the development key)",
  })
  TENANCY_KEKS?: string;

  @IsOptional()
  @IsIn(['on', 'off'], { message: 'TENANCY_ENCRYPTION must be on (the default) or off' })
  TENANCY_ENCRYPTION?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) TENANCY_POOL_MAX?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10_000_000) TENANCY_POOL_MAX_USES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10000) TENANCY_SERVER_CONNECTION_BUDGET?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(86_400_000) TENANCY_POOL_IDLE_MILLIS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600_000) TENANCY_ACQUIRE_TIMEOUT_MILLIS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(3_600_000) TENANCY_STATEMENT_TIMEOUT_MILLIS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100_000) TENANCY_TENANT_CONCURRENCY?: number;

  @IsOptional() @Type(() => Number) @IsNumber() @Min(0.001) @Max(1_000_000) TENANCY_TENANT_RATE?: number;

  @IsOptional() @IsIn(['auto', 'on', 'off'], { message: 'TENANCY_CITUS must be auto (the default), on or off' }) TENANCY_CITUS?: string;

  @IsOptional()
  @IsIn(['on', 'off'], { message: 'TENANCY_TENANT_PREDICATE must be on (the default) or off' })
  TENANCY_TENANT_PREDICATE?: string;
  @IsOptional()
  @IsIn(['on', 'off'], { message: 'TENANCY_USAGE must be on (the default) or off (no usage recorded, no noisy-neighbour detection)' })
  TENANCY_USAGE?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600_000) HTTP_HEADERS_TIMEOUT_MILLIS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(3_600_000) HTTP_REQUEST_TIMEOUT_MILLIS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600_000) HTTP_KEEP_ALIVE_TIMEOUT_MILLIS?: number;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: string;

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must hold at least 16 characters (a bearer token for GET /metrics)' })
  METRICS_TOKEN?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(65535) METRICS_PORT?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1000) METRICS_TOP_TENANTS?: number;

  @IsOptional()
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'] },
    { message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP collector' },
  )
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
}

/** What is wrong with an environment, one `KEY: problem` a line; empty when it is valid. */
export function environmentProblems(raw: Record<string, unknown>): string[] {
  const env = plainToInstance(Environment, raw, { enableImplicitConversion: false });
  const errors = validateSync(env, { skipMissingProperties: false, whitelist: false });
  return errors.flatMap((e) => Object.values(e.constraints ?? {}).map((m) => `${e.property}: ${m}`));
}

/** `Invalid environment:` and the problems, one a line (what the entry points print). */
export function describeEnvironmentProblems(problems: string[]): string {
  return `Invalid environment:\n  - ${problems.join('\n  - ')}`;
}

export function validateEnvironment(raw: Record<string, unknown>): Record<string, unknown> {
  const problems = environmentProblems(raw);
  if (problems.length) throw new Error(describeEnvironmentProblems(problems));
  return raw;
}

export interface AppConfig {
  databaseUrl: string;
  /** The same database without a transaction pooler (LISTEN, session locks, DDL, COPY); default databaseUrl. */
  directUrl?: string;
  port: number;
  tenantsFile: string;
  tenantDbServers?: string;
  jwtSecret?: string;
  jwksUrl?: string;
  /**
   * A Redis every instance shares (REDIS_URL) for the tenants' rate counts and the tenant cache;
   * unset: each process counts and caches on its own.
   */
  redisUrl?: string;
  /** Seconds a GET route's answer is kept in the tenant response cache (RESPONSE_CACHE_TTL_SECONDS); 0 or unset: off. */
  responseCacheTtlSeconds: number;
  runtimeRole?: string;
  deploymentKey?: string;
  databasePrefix?: string;
  baseDomain?: string;
  poolMax?: number;
  /** Home pool: a connection is closed after serving this many units of work. */
  poolMaxUses?: number;
  serverConnectionBudget?: number;
  /** Database model: a tenant pool idle this long is closed. */
  poolIdleMillis?: number;
  /** Opening a connection or waiting for a free one. */
  acquireTimeoutMillis?: number;
  /** statement_timeout of a request's statements (tiers may override it). */
  statementTimeoutMillis?: number;
  /** Units of work in flight per tenant, for tiers that set no `concurrency`. */
  tenantConcurrency?: number;
  /** Requests per second one tenant may start (TENANCY_TENANT_RATE); unset: no rate limit. */
  tenantRate?: number;
  /** Citus mode (TENANCY_CITUS: auto, on, off); default auto, from the control database's extensions. */
  citus: 'auto' | boolean;
  /** The explicit tenant_id predicate on every query the tenant repositories build (TENANCY_TENANT_PREDICATE); default on. */
  tenantPredicate: boolean;
  /** Record usage and detect noisy neighbours (TENANCY_USAGE, default on). */
  usageRecording: boolean;
  /** Bearer token of GET /metrics (METRICS_TOKEN); unset and no metricsPort: /metrics is 404. */
  metricsToken?: string;
  /** A port of its own for GET /metrics (METRICS_PORT); then the service's port answers /metrics with 404. */
  metricsPort?: number;
  /** Tenants labelled by name in the per-tenant metrics, the busiest first (METRICS_TOP_TENANTS); default 10. */
  metricsTopTenants: number;
}

export const appConfig = registerAs('app', (): AppConfig => ({
  databaseUrl: process.env.DATABASE_URL!,
  directUrl: process.env.DATABASE_DIRECT_URL || undefined,
  port: Number(process.env.PORT ?? 3000),
  tenantsFile: process.env.TENANCY_CONFIG ?? 'config/tenants.yaml',
  tenantDbServers: process.env.TENANT_DB_SERVERS,
  jwtSecret: process.env.JWT_SECRET,
  jwksUrl: process.env.JWKS_URL,
  redisUrl: process.env.REDIS_URL || undefined,
  responseCacheTtlSeconds: optionalNumber(process.env.RESPONSE_CACHE_TTL_SECONDS) ?? 0,
  runtimeRole: process.env.TENANCY_RUNTIME_ROLE,
  deploymentKey: process.env.TENANCY_DEPLOYMENT_KEY,
  databasePrefix: process.env.TENANCY_DATABASE_PREFIX,
  baseDomain: process.env.TENANCY_BASE_DOMAIN,
  poolMax: optionalNumber(process.env.TENANCY_POOL_MAX),
  poolMaxUses: optionalNumber(process.env.TENANCY_POOL_MAX_USES),
  serverConnectionBudget: optionalNumber(process.env.TENANCY_SERVER_CONNECTION_BUDGET),
  poolIdleMillis: optionalNumber(process.env.TENANCY_POOL_IDLE_MILLIS),
  acquireTimeoutMillis: optionalNumber(process.env.TENANCY_ACQUIRE_TIMEOUT_MILLIS),
  statementTimeoutMillis: optionalNumber(process.env.TENANCY_STATEMENT_TIMEOUT_MILLIS),
  tenantConcurrency: optionalNumber(process.env.TENANCY_TENANT_CONCURRENCY),
  tenantRate: optionalNumber(process.env.TENANCY_TENANT_RATE),
  citus: process.env.TENANCY_CITUS === 'on' ? true : process.env.TENANCY_CITUS === 'off' ? false : 'auto',
  tenantPredicate: process.env.TENANCY_TENANT_PREDICATE !== 'off',
  usageRecording: process.env.TENANCY_USAGE !== 'off',
  metricsToken: process.env.METRICS_TOKEN || undefined,
  metricsPort: optionalNumber(process.env.METRICS_PORT),
  metricsTopTenants: optionalNumber(process.env.METRICS_TOP_TENANTS) ?? 10,
}));

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}
