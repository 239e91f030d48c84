// A NestJS engineer adopting the library, trying the README's "Using the library" forms one by one on
// a scratch app of their own: cls: 'app' as the README writes it, module import order, isGlobal: false
// with cls: 'app', a tenant source whose dependency comes from forRootAsync's `imports`, useExisting
// on a global provider, useClass with an imported dependency, forFeature-only entities and
// @InjectTenantRepository as a property. Each scenario boots the library for real.
import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import { Controller, Get, Global, Inject, Injectable, INestApplication, Module, Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ClsModule } from 'nestjs-cls';
import request from 'supertest';
import { Repository } from 'typeorm';
import {
  InjectTenantRepository,
  TenancyExceptionFilter,
  TenancyModule,
  TenancyModuleOptions,
  TenancyOptionsFactory,
  TenancyService,
  TenantDataSource,
  type TenantRequest,
  type TenantSource,
} from '../libs/tenancy/src';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { User } from '../src/users/user.entity';
import { DEFAULT_TIERS, dropEverything } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { startNestApp } from './support/nest-app';

const logger: false | ('error' | 'warn' | 'log')[] = process.env.TEST_LOG ? ['error', 'warn', 'log'] : false;

const suffix = uniqueSuffix();
const names = { controlDatabase: `nt_${suffix}`, runtimeRole: `nt_app_${suffix}`, databasePrefix: `nt${suffix}_` };
let created = false;

function options(): TenancyModuleOptions {
  return {
    databaseUrl: urlFor(names.controlDatabase),
    catalog: {
      tiers: DEFAULT_TIERS,
      tenants: [
        { id: 'ad-a', name: 'Adopter A', tier: 'free' },
        { id: 'ad-b', name: 'Adopter B', tier: 'pro' },
      ],
    },
    migrations: TENANT_MIGRATIONS,
    runtimeRole: names.runtimeRole,
    naming: { databasePrefix: names.databasePrefix },
  };
}

@Controller('whoami')
class WhoAmIController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly data: TenantDataSource,
  ) {}

  @Get()
  async get() {
    const [row] = await this.data.query<{ t: string }[]>(`SELECT current_setting('app.tenant_id') AS t`);
    return { tenant: this.tenancy.currentTenantId, databaseTenant: row.t };
  }
}

/** Boots `imports` (+ the whoami controller and the exception filter) as an HTTP app. */
async function boot(imports: unknown[], controllers: Type[] = [WhoAmIController]): Promise<INestApplication> {
  if (!created) await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${names.controlDatabase}"`));
  created = true;
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    controllers,
    providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }],
  }).compile();
  return startNestApp(moduleRef, { logger });
}

async function whoami(app: INestApplication, tenant: string, set: Record<string, string> = { 'X-Tenant-ID': tenant }) {
  const res = await request(app.getHttpServer()).get('/whoami').set(set);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { tenant, databaseTenant: tenant });
}

afterAll(async () => {
  if (created) await dropEverything(names.controlDatabase, names.databasePrefix, names.runtimeRole);
});

// --- cls: 'app' --------------------------------------------------------------------------------------

describe("cls: 'app' as the README writes it", () => {
  it("ClsModule.forRoot({ middleware: { mount: true } }) (the README's form, not global) serves a tenant request", async () => {
    const app = await boot([
      ClsModule.forRoot({ middleware: { mount: true } }),
      TenancyModule.forRootAsync({ cls: 'app', useFactory: options }),
    ]);
    try {
      await whoami(app, 'ad-a');
    } finally {
      await app.close();
    }
  });

  it('the order of ClsModule and TenancyModule in imports does not matter', async () => {
    const app = await boot([
      TenancyModule.forRootAsync({ cls: 'app', useFactory: options }),
      ClsModule.forRoot({ global: true, middleware: { mount: true } }),
    ]);
    try {
      await whoami(app, 'ad-b');
    } finally {
      await app.close();
    }
  });

  it('with isGlobal: false', async () => {
    const app = await boot([
      ClsModule.forRoot({ global: true, middleware: { mount: true } }),
      TenancyModule.forRootAsync({ cls: 'app', isGlobal: false, useFactory: options }),
    ]);
    try {
      await whoami(app, 'ad-a');
    } finally {
      await app.close();
    }
  });
});

// --- tenant sources through DI -----------------------------------------------------------------------

const API_KEYS = Symbol('api-keys');

/** An app module that owns the API-key table, imported into forRootAsync for the source. */
@Module({ providers: [{ provide: API_KEYS, useValue: new Map([['key-a', 'ad-a']]) }], exports: [API_KEYS] })
class ApiKeysModule {}

@Injectable()
class ApiKeySource implements TenantSource {
  readonly name = 'api-key';
  readonly description = 'the X-Api-Key header';
  constructor(@Inject(API_KEYS) private readonly keys: Map<string, string>) {}
  read(req: TenantRequest): string | undefined {
    const key = req.headers['x-api-key'];
    return typeof key === 'string' ? this.keys.get(key) : undefined;
  }
}

describe('resolution.sources through DI', () => {
  it("a source class whose dependency comes from forRootAsync's imports, with order left to its default", async () => {
    const app = await boot([
      TenancyModule.forRootAsync({
        imports: [ApiKeysModule],
        useFactory: () => ({ ...options(), resolution: { sources: [ApiKeySource] } }),
      }),
    ]);
    try {
      await whoami(app, 'ad-a', { 'X-Api-Key': 'key-a' });
      // Appended after the built-in sources, it still agrees with the header.
      await whoami(app, 'ad-a', { 'X-Api-Key': 'key-a', 'X-Tenant-ID': 'ad-a' });
      const conflict = await request(app.getHttpServer()).get('/whoami').set({ 'X-Api-Key': 'key-a', 'X-Tenant-ID': 'ad-b' });
      assert.equal(conflict.status, 400, conflict.text);
      assert.match(conflict.body.message, /the X-Api-Key header names tenant 'ad-a'/);
    } finally {
      await app.close();
    }
  });

  it('a source instance (no class) in resolution.sources', async () => {
    const fixed: TenantSource = {
      name: 'fixed',
      description: 'the fixed source',
      read: (req) => (req.url.startsWith('/whoami') ? 'ad-b' : undefined),
    };
    const app = await boot([TenancyModule.forRoot({ ...options(), resolution: { sources: [fixed], order: ['fixed'] } })]);
    try {
      await whoami(app, 'ad-b', {});
    } finally {
      await app.close();
    }
  });
});

// --- forRootAsync forms ------------------------------------------------------------------------------

const SETTINGS = Symbol('settings');

@Global()
@Module({ providers: [{ provide: SETTINGS, useValue: { build: options } }], exports: [SETTINGS] })
class GlobalSettingsModule {}

@Injectable()
class OptionsFactory implements TenancyOptionsFactory {
  constructor(@Inject(SETTINGS) private readonly settings: { build: () => TenancyModuleOptions }) {}
  createTenancyOptions(): Promise<TenancyModuleOptions> {
    return Promise.resolve(this.settings.build());
  }
}

@Global()
@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class GlobalOptionsModule {}

@Module({ providers: [{ provide: SETTINGS, useValue: { build: options } }], exports: [SETTINGS] })
class SettingsModule {}

describe('forRootAsync forms an app would write', () => {
  it('useExisting on a provider of a global module (no imports)', async () => {
    const app = await boot([GlobalSettingsModule, GlobalOptionsModule, TenancyModule.forRootAsync({ useExisting: OptionsFactory })]);
    try {
      await whoami(app, 'ad-a');
    } finally {
      await app.close();
    }
  });

  it('useClass whose dependency comes from imports (async createTenancyOptions)', async () => {
    const app = await boot([TenancyModule.forRootAsync({ imports: [SettingsModule], useClass: OptionsFactory })]);
    try {
      await whoami(app, 'ad-b');
    } finally {
      await app.close();
    }
  });
});

// --- forFeature only, property injection ------------------------------------------------------------

@Injectable()
class UsersByProperty {
  @InjectTenantRepository(User) readonly users!: Repository<User>;
}

@Module({ imports: [TenancyModule.forFeature([User])], providers: [UsersByProperty], exports: [UsersByProperty] })
class UsersFeatureModule {}

@Controller('users-count')
class UsersCountController {
  constructor(
    private readonly byProperty: UsersByProperty,
    private readonly data: TenantDataSource,
  ) {}

  @Get()
  async get() {
    // The entity was registered by forFeature only: both the property-injected repository and the
    // DataSource's getRepository know it.
    return { property: await this.byProperty.users.count(), dataSource: await this.data.getRepository(User).count() };
  }
}

@Module({ imports: [UsersFeatureModule], controllers: [UsersCountController] })
class UsersHttpModule {}

describe('forFeature registering its entities only there', () => {
  it('@InjectTenantRepository as a property, and TenantDataSource.getRepository', async () => {
    const app = await boot([TenancyModule.forRoot(options()), UsersHttpModule], []);
    try {
      const res = await request(app.getHttpServer()).get('/users-count').set('X-Tenant-ID', 'ad-a');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { property: 0, dataSource: 0 });
    } finally {
      await app.close();
    }
  });
});

// --- invalid options -------------------------------------------------------------------------------

// forRoot's docstring: "@throws TenancyConfigError (at start) when an option is invalid". An app
// that reads its options from the environment meets these first (an unset variable, a typo).
const INVALID: [string, () => TenancyModuleOptions, RegExp][] = [
  ['databaseUrl unset', () => ({ ...options(), databaseUrl: undefined as unknown as string }), /databaseUrl/],
  ['databaseUrl not a URL', () => ({ ...options(), databaseUrl: 'localhost:5432/app' }), /databaseUrl/],
  ['migrations unset', () => ({ ...options(), migrations: undefined as never }), /migrations/],
  [
    'a tier strategy that is no model',
    () => ({
      ...options(),
      catalog: { tiers: { free: { strategy: 'shard' as never } }, tenants: [{ id: 'ad-x', name: 'X', tier: 'free' }] },
    }),
    // The option's key and the models allowed (the value itself is not echoed).
    /catalog\):\n {2}- tiers\.free\.strategy: .*shared, schema, database/,
  ],
  ['pool.max of 0', () => ({ ...options(), pool: { max: 0 } }), /pool\.max/],
  ['pool.maxUses of 0', () => ({ ...options(), pool: { maxUses: 0 } }), /pool\.maxUses/],
  ['timeouts.statementMillis below 0', () => ({ ...options(), timeouts: { statementMillis: -5 } }), /statementMillis/],
  ['concurrency of 0', () => ({ ...options(), concurrency: 0 }), /concurrency/],
];

describe('invalid options fail at start with a TenancyConfigError naming the option', () => {
  for (const [what, bad, names] of INVALID) {
    it(what, async () => {
      let app: INestApplication | undefined;
      try {
        app = await boot([TenancyModule.forRoot(bad())]);
      } catch (err) {
        assert.equal((err as Error).name, 'TenancyConfigError', String(err));
        assert.match((err as Error).message, names);
        return;
      } finally {
        await app?.close();
      }
      assert.fail(`${what}: the module started`);
    });
  }
});
