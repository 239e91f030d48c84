// Validation of config/tenants.yaml and TENANT_DB_SERVERS: every mistake fails with a
// TenancyConfigError that names the key and, where there is one, the tenant.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { loadTenantsFile, parseServerList, validateTenantsDefinition } from './tenants-file';
import { DEFAULT_UNIT_PRICES, pricesFor } from './tenancy-options';

const TIERS = {
  free: { strategy: 'shared' },
  pro: { strategy: 'schema' },
  enterprise: { strategy: 'database', pool: { max: 10 } },
};

/** A valid file, as parsed YAML; each test breaks one thing in a fresh copy. */
function good(): any {
  return {
    tiers: structuredClone(TIERS),
    tenants: [
      { id: 'acme', name: 'Acme Corp', tier: 'enterprise' },
      { id: 'widget', name: 'Widget Inc', tier: 'pro' },
      { id: 'gadget', name: 'Gadget LLC', tier: 'free' },
      { id: 'eu-corp', name: 'EU Corp', strategy: 'database', server: 'eu' },
    ],
  };
}

/** Runs `fn`, asserts it throws a TenancyConfigError, and returns its problems. */
function problemsOf(fn: () => unknown): string[] {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof TenancyConfigError,
    `expected a TenancyConfigError, got ${caught === undefined ? 'no error' : String(caught)}`,
  );
  assert.ok(caught.problems.length > 0);
  // The message carries every problem, so a start-up log shows them all.
  for (const p of caught.problems) assert.ok(caught.message.includes(p));
  return caught.problems;
}

/** Exactly one problem, starting with `key`, naming `tenant` when given, matching `detail`. */
function assertOneProblem(problems: string[], key: string, tenant: string | undefined, detail: RegExp): void {
  assert.equal(problems.length, 1, `expected one problem, got:\n${problems.join('\n')}`);
  const [p] = problems;
  assert.ok(p.startsWith(`${key}:`) || p.startsWith(`${key} (`), `"${p}" should start with the key ${key}`);
  if (tenant) assert.ok(p.includes(`(tenant "${tenant}")`), `"${p}" should name the tenant ${tenant}`);
  assert.match(p, detail);
}

const SERVERS = ['default', 'eu'];

describe('validateTenantsDefinition', () => {
  it('accepts a good file and keeps only the known keys', () => {
    const def = validateTenantsDefinition(good(), 'tenants.yaml', SERVERS);
    assert.deepEqual(def.tiers, {
      free: { strategy: 'shared', pool: undefined },
      pro: { strategy: 'schema', pool: undefined },
      enterprise: { strategy: 'database', pool: { max: 10 } },
    });
    assert.deepEqual(
      def.tenants.map((t) => [t.id, t.tier, t.strategy, t.server]),
      [
        ['acme', 'enterprise', undefined, undefined],
        ['widget', 'pro', undefined, undefined],
        ['gadget', 'free', undefined, undefined],
        ['eu-corp', undefined, 'database', 'eu'],
      ],
    );
  });

  it('accepts a database tier tenant on a named server', () => {
    const raw = good();
    raw.tenants[0].server = 'eu';
    assert.equal(validateTenantsDefinition(raw, 'f', SERVERS).tenants[0].server, 'eu');
  });

  it('refuses an unknown tier, naming the key, the tenant and the known tiers', () => {
    const raw = good();
    raw.tenants[2].tier = 'gold';
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assertOneProblem(problems, 'tenants.2.tier', 'gadget', /unknown tier "gold".*known tiers: free, pro, enterprise/);
  });

  it('refuses a tier that only exists on Object.prototype', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const raw = good();
      raw.tenants[1].tier = name;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assertOneProblem(problems, 'tenants.1.tier', 'widget', new RegExp(`unknown tier "${name}"`));
    }
  });

  it('refuses a tenant tier when "tiers" is not a mapping, without crashing', () => {
    for (const tiers of [5, 'abc', ['free']]) {
      const raw = good();
      raw.tiers = tiers;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.ok(
        problems.some((p) => p.startsWith('tiers:')),
        problems.join('\n'),
      );
      assert.ok(
        problems.some((p) => p.startsWith('tenants.0.tier:') && p.includes('(tenant "acme")')),
        problems.join('\n'),
      );
    }
  });

  it('refuses a bad strategy on a tier and on a tenant', () => {
    const onTier = good();
    onTier.tiers.pro.strategy = 'bridge';
    const tierProblems = problemsOf(() => validateTenantsDefinition(onTier, 'f', SERVERS));
    assert.ok(
      tierProblems.some((p) => /^tiers\.pro\.strategy: .*shared, schema, database/.test(p)),
      tierProblems.join('\n'),
    );

    const onTenant = good();
    onTenant.tenants[3].strategy = 'silo';
    const tenantProblems = problemsOf(() => validateTenantsDefinition(onTenant, 'f', SERVERS));
    assert.ok(
      tenantProblems.some((p) => p.startsWith('tenants.3.strategy (tenant "eu-corp"):') && /shared, schema, database/.test(p)),
      tenantProblems.join('\n'),
    );
  });

  it('refuses a bad id, naming the key and the id as written', () => {
    for (const id of ['Acme', 'acme_corp', '-acme', 'acme-', '', 'a'.repeat(41), 'acme corp', 'acmé']) {
      const raw = good();
      raw.tenants[1].id = id;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assertOneProblem(problems, 'tenants.1.id', id, /1 to 40 characters of a-z, 0-9 and "-"/);
    }
  });

  it('refuses a non-string id', () => {
    const raw = good();
    raw.tenants[0].id = 42;
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assert.ok(
      problems.some((p) => p.startsWith('tenants.0.id')),
      problems.join('\n'),
    );
  });

  it('refuses a duplicate id on the later entry', () => {
    const raw = good();
    raw.tenants.push({ id: 'widget', name: 'Widget again', tier: 'free' });
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assertOneProblem(problems, 'tenants.4.id', 'widget', /duplicate tenant id/);
  });

  it('refuses a tenant with neither tier nor strategy', () => {
    const raw = good();
    delete raw.tenants[2].tier;
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assertOneProblem(problems, 'tenants.2', 'gadget', /name a tier or a strategy/);
  });

  it('refuses a server on a tenant that is not in the database model, by tier or by strategy', () => {
    const byTier = good();
    byTier.tenants[1].server = 'default';
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(byTier, 'f', SERVERS)),
      'tenants.1.server',
      'widget',
      /only the database model/,
    );

    const byStrategy = good();
    byStrategy.tenants[3].strategy = 'schema';
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(byStrategy, 'f', SERVERS)),
      'tenants.3.server',
      'eu-corp',
      /only the database model/,
    );

    // A tenant's own strategy overrides its tier's: database over a shared tier takes a server.
    const overridden = good();
    Object.assign(overridden.tenants[2], { strategy: 'database', server: 'eu' });
    assert.equal(validateTenantsDefinition(overridden, 'f', SERVERS).tenants[2].server, 'eu');
  });

  it('refuses an unknown server and lists the known ones', () => {
    const raw = good();
    raw.tenants[0].server = 'us';
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assertOneProblem(problems, 'tenants.0.server', 'acme', /unknown server "us".*known servers: default, eu.*come from servers\)/);
    // The app names its own setting.
    const named = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS, { servers: 'TENANT_DB_SERVERS' }));
    assertOneProblem(named, 'tenants.0.server', 'acme', /unknown server "us".*come from TENANT_DB_SERVERS\)/);
    // Without extra servers, "eu" is unknown too.
    const problems2 = problemsOf(() => validateTenantsDefinition(good(), 'f'));
    assertOneProblem(problems2, 'tenants.3.server', 'eu-corp', /unknown server "eu"/);
  });

  it('refuses unknown keys at every level', () => {
    const top = good();
    top.tennants = [];
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(top, 'f', SERVERS)),
      'tennants',
      undefined,
      /should not exist/,
    );

    const tenant = good();
    tenant.tenants[1].teir = 'pro';
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(tenant, 'f', SERVERS)),
      'tenants.1.teir',
      'widget',
      /should not exist/,
    );

    const tier = good();
    tier.tiers.enterprise.pools = { max: 2 };
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(tier, 'f', SERVERS)),
      'tiers.enterprise.pools',
      undefined,
      /should not exist/,
    );

    const pool = good();
    pool.tiers.enterprise.pool.min = 1;
    assertOneProblem(
      problemsOf(() => validateTenantsDefinition(pool, 'f', SERVERS)),
      'tiers.enterprise.pool.min',
      undefined,
      /should not exist/,
    );
  });

  it('refuses pool.max out of range or not an integer', () => {
    for (const max of [0, -1, 101, 2.5, '10']) {
      const raw = good();
      raw.tiers.enterprise.pool.max = max;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.ok(problems.length >= 1);
      assert.ok(
        problems.every((p) => p.startsWith('tiers.enterprise.pool.max:')),
        problems.join('\n'),
      );
    }
    for (const max of [1, 100]) {
      const raw = good();
      raw.tiers.enterprise.pool.max = max;
      assert.equal(validateTenantsDefinition(raw, 'f', SERVERS).tiers.enterprise.pool?.max, max);
    }
  });

  it('keeps a tier concurrency and refuses one out of range or not an integer', () => {
    for (const concurrency of [0, -1, 100_001, 2.5, '10']) {
      const raw = good();
      raw.tiers.pro.concurrency = concurrency;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.ok(
        problems.every((p) => p.startsWith('tiers.pro.concurrency:')),
        problems.join('\n'),
      );
    }
    const raw = good();
    raw.tiers.pro.concurrency = 20;
    const tiers = validateTenantsDefinition(raw, 'f', SERVERS).tiers;
    assert.equal(tiers.pro.concurrency, 20);
    assert.equal(Object.hasOwn(tiers.free, 'concurrency'), false, 'unset stays unset: the module default applies');
  });

  it('keeps a tier rate and refuses one without perSecond, out of range, or with unknown keys', () => {
    for (const rate of [
      {},
      { perSecond: 0 },
      { perSecond: -1 },
      { perSecond: '5' },
      { perSecond: 5, burst: 0 },
      { perSecond: 5, burst: 1.5 },
      { perSecond: 5, every: 2 },
      5,
    ]) {
      const raw = good();
      raw.tiers.pro.rate = rate;
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.ok(
        problems.every((p) => p.startsWith('tiers.pro.rate')),
        problems.join('\n'),
      );
    }
    const raw = good();
    raw.tiers.pro.rate = { perSecond: 0.5, burst: 4 };
    raw.tiers.free.rate = { perSecond: 200 };
    const tiers = validateTenantsDefinition(raw, 'f', SERVERS).tiers;
    assert.deepEqual(tiers.pro.rate, { perSecond: 0.5, burst: 4 });
    assert.deepEqual(tiers.free.rate, { perSecond: 200 });
  });

  it('refuses a missing or empty name', () => {
    const raw = good();
    raw.tenants[2].name = '';
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
    assertOneProblem(problems, 'tenants.2.name', 'gadget', /should not be empty/);
  });

  it('refuses a document that is not a mapping, and missing sections', () => {
    for (const raw of [null, undefined, 'tenants', 42, ['acme']]) {
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.deepEqual(problems, ['the file must hold a mapping with keys "tiers" and "tenants"']);
    }
    assert.ok(problemsOf(() => validateTenantsDefinition({ tiers: TIERS }, 'f')).some((p) => /^tenants: .*array/.test(p)));
    assert.ok(problemsOf(() => validateTenantsDefinition({ tenants: [] }, 'f')).some((p) => /^tiers: .*object/.test(p)));
  });

  it('reports every problem at once, each with its own tenant', () => {
    const raw = good();
    raw.tenants[0].tier = 'gold';
    raw.tenants[1].id = 'Bad';
    raw.tenants[2].server = 'default';
    const problems = problemsOf(() => validateTenantsDefinition(raw, 'tenants.yaml', SERVERS));
    assert.ok(problems.some((p) => p.startsWith('tenants.0.tier:') && p.includes('(tenant "acme")')));
    assert.ok(problems.some((p) => p.startsWith('tenants.1.id (tenant "Bad")')));
    assert.ok(problems.some((p) => p.startsWith('tenants.2.server:') && p.includes('(tenant "gadget")')));
  });

  it('names the file in the message', () => {
    const raw = good();
    raw.tenants[0].tier = 'gold';
    assert.throws(
      () => validateTenantsDefinition(raw, '/etc/app/tenants.yaml', SERVERS),
      (err: Error) => {
        assert.match(err.message, /^Invalid tenancy configuration in \/etc\/app\/tenants\.yaml:\n {2}- tenants\.0\.tier: /);
        return true;
      },
    );
  });
});

describe('loadTenantsFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenants-file-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a good YAML file', () => {
    const path = file(
      'good.yaml',
      [
        'tiers:',
        '  free:       { strategy: shared }',
        '  enterprise: { strategy: database, pool: { max: 4 } }',
        'tenants:',
        '  - { id: acme,   name: Acme Corp,  tier: enterprise }',
        '  - { id: gadget, name: Gadget LLC, tier: free }',
        '  - { id: solo,   name: Solo,       strategy: schema }',
      ].join('\n'),
    );
    const def = loadTenantsFile(path);
    assert.deepEqual(
      def.tenants.map((t) => t.id),
      ['acme', 'gadget', 'solo'],
    );
    assert.equal(def.tiers.enterprise.pool?.max, 4);
    assert.equal(def.tenants[2].strategy, 'schema');
  });

  it('names the key and the tenant of a mistake in the file', () => {
    const path = file(
      'bad-tier.yaml',
      'tiers:\n  free: { strategy: shared }\ntenants:\n  - { id: acme, name: Acme, tier: free }\n  - { id: beta, name: Beta, tier: gold }\n',
    );
    assert.throws(
      () => loadTenantsFile(path),
      (err: Error) => {
        assert.ok(err instanceof TenancyConfigError);
        assert.equal(err.file, path);
        assert.match(err.message, /tenants\.1\.tier: unknown tier "gold" \(tenant "beta"\)/);
        return true;
      },
    );
  });

  it('checks servers against the list it is given', () => {
    const path = file('server.yaml', 'tiers: {}\ntenants:\n  - { id: acme, name: Acme, strategy: database, server: eu }\n');
    assert.equal(loadTenantsFile(path, ['default', 'eu']).tenants[0].server, 'eu');
    assert.throws(() => loadTenantsFile(path), /tenants\.0\.server: unknown server "eu" \(tenant "acme"\)/);
  });

  it('refuses a file that is not YAML', () => {
    const path = file('broken.yaml', 'tiers:\n  free: { strategy: shared\ntenants: [\n');
    const problems = problemsOf(() => loadTenantsFile(path));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^not valid YAML: /);
    assert.doesNotMatch(problems[0], /\n/);
  });

  it('refuses an empty file and a YAML list', () => {
    assert.deepEqual(
      problemsOf(() => loadTenantsFile(file('empty.yaml', ''))),
      ['the file must hold a mapping with keys "tiers" and "tenants"'],
    );
    assert.deepEqual(
      problemsOf(() => loadTenantsFile(file('list.yaml', '- acme\n- widget\n'))),
      ['the file must hold a mapping with keys "tiers" and "tenants"'],
    );
  });

  it('refuses a missing file and says how to point at one', () => {
    const path = join(dir, 'nope.yaml');
    const problems = problemsOf(() => loadTenantsFile(path));
    assert.deepEqual(problems, ['cannot read the file (ENOENT); give loadTenantsFile the path of a readable file']);
    assert.deepEqual(
      problemsOf(() => loadTenantsFile(path, undefined, { tenantsFile: 'TENANCY_CONFIG' })),
      ['cannot read the file (ENOENT); set TENANCY_CONFIG to its path'],
    );
    assert.throws(
      () => loadTenantsFile(path),
      (err: TenancyConfigError) => err.file === path && err.message.includes(path),
    );
  });
});

describe('parseServerList', () => {
  it('reads name=url pairs, trimming blanks', () => {
    assert.deepEqual(parseServerList(' eu=postgres://u:p@eu-db:5432/postgres , us-east=postgresql://u:p@us/postgres ,'), {
      eu: 'postgres://u:p@eu-db:5432/postgres',
      'us-east': 'postgresql://u:p@us/postgres',
    });
  });

  it('is empty when unset or blank', () => {
    assert.deepEqual(parseServerList(undefined), {});
    assert.deepEqual(parseServerList(''), {});
    assert.deepEqual(parseServerList(' , '), {});
  });

  it('refuses malformed entries without echoing the URL (it holds a password)', () => {
    for (const value of [
      'eu',
      '=postgres://u:secret@h/db',
      'EU=postgres://u:secret@h/db',
      'eu=mysql://u:secret@h/db',
      'e u=postgres://u:secret@h/db',
    ]) {
      const problems = problemsOf(() => parseServerList(value));
      assert.equal(problems.length, 1);
      assert.match(problems[0], /must read name=postgres:\/\/user:password@host:port\/database/);
      assert.doesNotMatch(problems[0], /secret/);
    }
    assert.throws(
      () => parseServerList('eu=postgres://h/db,bad'),
      (err: TenancyConfigError) => err.file === 'servers' && /entry "bad"/.test(err.message),
    );
    const names = { servers: 'TENANT_DB_SERVERS' };
    assert.throws(
      () => parseServerList('bad', names),
      (err: TenancyConfigError) => err.file === 'TENANT_DB_SERVERS' && /entry "bad"/.test(err.message),
    );
  });

  it('refuses a server named twice and the reserved name "default"', () => {
    assert.throws(() => parseServerList('eu=postgres://a/db,eu=postgres://b/db'), /in servers:[\s\S]*server "eu" is named twice/);
    assert.throws(
      () => parseServerList('default=postgres://a/db'),
      /in servers:[\s\S]*"default" is reserved: the default server is databaseUrl/,
    );
    const names = { servers: 'TENANT_DB_SERVERS', defaultServer: 'DATABASE_URL' };
    assert.throws(
      () => parseServerList('default=postgres://a/db', names),
      /TENANT_DB_SERVERS[\s\S]*"default" is reserved: the default server is DATABASE_URL/,
    );
  });
});

describe('prices and throttleWhenNoisy in the tenants file', () => {
  it('keeps the prices given, a tier overriding some of them, and pricesFor fills in the rest from the defaults', () => {
    const raw = good();
    raw.prices = { currency: 'EUR', databasePerHour: 2 };
    raw.tiers.pro.prices = { computePerMillionRequests: 7 };
    raw.tiers.pro.throttleWhenNoisy = true;
    const def = validateTenantsDefinition(raw, 'f', SERVERS);
    assert.deepEqual(def.prices, { currency: 'EUR', databasePerHour: 2 });
    assert.deepEqual(def.tiers.pro.prices, { computePerMillionRequests: 7 });
    assert.equal(def.tiers.pro.throttleWhenNoisy, true);
    assert.deepEqual(pricesFor(def, 'pro'), { ...DEFAULT_UNIT_PRICES, currency: 'EUR', databasePerHour: 2, computePerMillionRequests: 7 });
    assert.deepEqual(pricesFor(def, 'free'), { ...DEFAULT_UNIT_PRICES, currency: 'EUR', databasePerHour: 2 });
    assert.deepEqual(pricesFor(validateTenantsDefinition(good(), 'f', SERVERS), null), DEFAULT_UNIT_PRICES);
  });

  it('refuses a negative price, a price that is not a number, a bad currency, an unknown price key and a non-boolean throttleWhenNoisy', () => {
    const cases: [(raw: any) => void, string, RegExp][] = [
      [(raw) => (raw.prices = { storagePerGbMonth: -1 }), 'prices.storagePerGbMonth', /must not be less than 0/],
      [(raw) => (raw.prices = { databasePerHour: 'cheap' }), 'prices.databasePerHour', /number/],
      [(raw) => (raw.prices = { currency: 'euro' }), 'prices.currency', /ISO 4217/],
      [(raw) => (raw.prices = { perRequest: 1 }), 'prices.perRequest', /should not exist/],
      [(raw) => (raw.tiers.pro.throttleWhenNoisy = 'yes'), 'tiers.pro.throttleWhenNoisy', /boolean/],
      [(raw) => (raw.tiers.free.prices = { computePerMillionRequests: -3 }), 'tiers.free.prices.computePerMillionRequests', /less than 0/],
    ];
    for (const [breakIt, key, detail] of cases) {
      const raw = good();
      breakIt(raw);
      // A value of the wrong type breaks every rule of its key at once: each names the key.
      const problems = problemsOf(() => validateTenantsDefinition(raw, 'f', SERVERS));
      assert.ok(
        problems.every((p) => p.startsWith(`${key}:`)),
        problems.join('\n'),
      );
      assert.ok(
        problems.some((p) => detail.test(p)),
        problems.join('\n'),
      );
    }
  });
});
