// Schema and database names derive injectively from the tenant id, fit PostgreSQL's 63-byte
// identifiers, can never be the name of something else, and are always quoted.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { DEPLOYMENT_KEY_PATTERN, deriveDeploymentKey, resolveTenancyOptions, TenancyModuleOptions } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';
import { TenantNaming } from './tenant-naming';
import { quoteIdent, quoteLiteral } from '../core/sql';

function naming(overrides: Partial<TenancyModuleOptions> = {}): TenantNaming {
  return new TenantNaming(
    resolveTenancyOptions({
      databaseUrl: 'postgres://owner:pw@localhost:5432/control',
      catalog: { tiers: {}, tenants: [] },
      entities: [],
      migrations: [],
      ...overrides,
    }),
  );
}

/** Every valid id of 1 to 3 characters (37 + 37*37 + 37*38*37 of them), plus long ones. */
function manyIds(): string[] {
  const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const all = [...alnum, '-'];
  const ids = new Set<string>();
  for (const a of all) {
    ids.add(a);
    for (const b of all) {
      ids.add(a + b);
      for (const c of all) ids.add(a + b + c);
    }
  }
  for (let i = 0; i < 2000; i++) {
    const len = 30 + (i % 11);
    let id = '';
    for (let j = 0; j < len; j++) id += all[(i * 7919 + j * 104729 + ((i * j) % 13)) % all.length];
    ids.add(id);
    ids.add(id.replace(/-/g, 'x'));
  }
  return [...ids].filter(isValidTenantId);
}

describe('TenantNaming', () => {
  it('derives schema and database names from the id with the configured prefixes and the deployment key', () => {
    const n = naming();
    assert.equal(n.deploymentKey, 'control');
    assert.equal(n.schemaFor('acme'), 'tenant_acme');
    assert.equal(n.databaseFor('acme'), 'tenant_control_acme');
    assert.equal(n.legacyDatabaseFor('acme'), 'tenant_acme');
    assert.equal(n.schemaFor('big-corp-2'), 'tenant_big_corp_2');
    const custom = naming({ naming: { schemaPrefix: 's_', databasePrefix: 'db_' }, deploymentKey: 'prod' });
    assert.equal(custom.schemaFor('acme'), 's_acme');
    assert.equal(custom.databaseFor('acme'), 'db_prod_acme');
    assert.equal(custom.controlSchema, 'tenancy');
    assert.equal(custom.sharedSchema, 'tenancy_shared');
  });

  it('is injective: different ids never share a schema or database name', () => {
    const ids = manyIds();
    assert.ok(ids.length > 40_000, `only ${ids.length} ids`);
    assert.ok(ids.some((id) => id.includes('-')) && ids.some((id) => id.length === 40));
    const n = naming();
    const schemas = new Map<string, string>();
    const databases = new Map<string, string>();
    for (const id of ids) {
      const schema = n.schemaFor(id);
      const database = n.databaseFor(id);
      assert.equal(schemas.get(schema) ?? id, id, `"${id}" and "${schemas.get(schema)}" share the schema ${schema}`);
      assert.equal(databases.get(database) ?? id, id, `"${id}" and "${databases.get(database)}" share the database ${database}`);
      schemas.set(schema, id);
      databases.set(database, id);
    }
    assert.equal(schemas.size, ids.length);
    assert.equal(databases.size, ids.length);
  });

  it('keeps every name within 63 bytes, even with the longest id, key and prefix allowed', () => {
    const longest = 'a' + '-'.repeat(38) + 'z';
    assert.ok(isValidTenantId(longest));
    const n = naming({ naming: { schemaPrefix: 'p'.repeat(23), databasePrefix: 'p'.repeat(12) }, deploymentKey: 'k'.repeat(10) });
    assert.equal(Buffer.byteLength(n.schemaFor(longest)), 63);
    assert.equal(Buffer.byteLength(n.databaseFor(longest)), 63);
    const defaults = naming();
    for (const id of manyIds()) assert.ok(Buffer.byteLength(defaults.databaseFor(id)) <= 63);
  });

  it('refuses a prefix that would let a name be truncated (and so collide)', () => {
    assert.throws(
      () => naming({ naming: { databasePrefix: 'p'.repeat(16) } }),
      (err: Error) =>
        err instanceof TenancyConfigError &&
        /naming\.databasePrefix: "p{16}" must be 1 to 15 characters .*deploymentKey "control"/.test(err.message),
    );
    assert.equal(naming({ naming: { databasePrefix: 'p'.repeat(15) } }).databaseFor('x'), `${'p'.repeat(15)}control_x`);
    assert.throws(() => naming({ naming: { schemaPrefix: 'p'.repeat(24) } }), /naming\.schemaPrefix/);
  });

  it('refuses an empty or oddly spelled prefix', () => {
    for (const prefix of ['', 'Tenant_', 't-', '1t_', 't"', 'tenant ']) {
      assert.throws(() => naming({ naming: { schemaPrefix: prefix } }), TenancyConfigError, JSON.stringify(prefix));
      assert.throws(() => naming({ naming: { databasePrefix: prefix } }), TenancyConfigError, JSON.stringify(prefix));
    }
  });

  it('refuses a schema prefix under which a tenant could take the control or shared schema', () => {
    // With prefix "tenan", tenant "cy" would live in "tenancy", the control schema.
    assert.throws(
      () => naming({ naming: { schemaPrefix: 'tenan' } }),
      (err: Error) =>
        /naming\.controlSchema: "tenancy" could be the schema of a tenant/.test(err.message) && /naming\.sharedSchema/.test(err.message),
    );
    assert.throws(() => naming({ naming: { schemaPrefix: 'app_', sharedSchema: 'app_shared' } }), /naming\.sharedSchema: "app_shared"/);
    // A control schema the prefix cannot produce is fine.
    assert.equal(naming({ naming: { schemaPrefix: 'app_', controlSchema: 'app_' } }).schemaFor('x'), 'app_x');
  });

  it('refuses a database prefix under which a tenant could take a server’s home database', () => {
    assert.throws(
      () => naming({ databaseUrl: 'postgres://o@h/tenant_k_main', deploymentKey: 'k' }),
      /naming\.databasePrefix: "tenant_" with deploymentKey "k" could name a tenant database "tenant_k_main", the home database of server "default"/,
    );
    assert.throws(() => naming({ servers: { eu: 'postgres://o@eu/tenant_k_eu' }, deploymentKey: 'k' }), /home database of server "eu"/);
    assert.equal(naming({ databaseUrl: 'postgres://o@h/tenancy' }).databaseFor('main'), 'tenant_tenancy_main');
  });

  it('refuses an invalid id instead of deriving a name from it', () => {
    const n = naming();
    for (const id of ['', 'ACME', 'ac_me', 'a"; DROP SCHEMA public; --', '-a', 'a'.repeat(41), 'acme\n']) {
      assert.throws(() => n.schemaFor(id), /invalid tenant id reached naming/);
      assert.throws(() => n.databaseFor(id), /invalid tenant id reached naming/);
    }
    assert.throws(() => n.schemaFor(undefined as unknown as string), /invalid tenant id/);
  });

  it('never lets the id in its error message run long', () => {
    assert.throws(
      () => naming().schemaFor('X'.repeat(10_000)),
      (err: Error) => err.message.length < 120,
    );
  });
});

describe('quoteIdent', () => {
  it('wraps in double quotes and doubles embedded ones', () => {
    assert.equal(quoteIdent('tenant_acme'), '"tenant_acme"');
    assert.equal(quoteIdent('Mixed Case'), '"Mixed Case"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteIdent('"; DROP TABLE x; --'), '"""; DROP TABLE x; --"');
    assert.equal(quoteIdent(''), '""');
  });

  it('leaves no unpaired quote inside', () => {
    for (const name of ['a"', '"a', '""', 'a""b"', "'\"'"]) {
      const inner = quoteIdent(name).slice(1, -1);
      assert.equal(inner.replace(/""/g, ''), name.replace(/"/g, ''));
      assert.doesNotMatch(inner.replace(/""/g, ''), /"/);
    }
  });
});

describe('quoteLiteral', () => {
  it('wraps in single quotes and doubles embedded ones', () => {
    assert.equal(quoteLiteral('acme'), "'acme'");
    assert.equal(quoteLiteral("o'brien"), "'o''brien'");
    assert.equal(quoteLiteral("'; DROP TABLE x; --"), "'''; DROP TABLE x; --'");
    assert.equal(quoteLiteral(''), "''");
  });

  it('leaves backslashes alone (standard_conforming_strings)', () => {
    assert.equal(quoteLiteral('a\\b'), "'a\\b'");
    assert.equal(quoteLiteral("a\\'b"), "'a\\''b'");
  });

  it('refuses a NUL byte', () => {
    assert.throws(() => quoteLiteral('a\0b'), /NUL/);
  });

  it('names two deployments on one server apart: control databases ctl_a and ctl_b get different keys, databases and roles', () => {
    const a = naming({ databaseUrl: 'postgres://o@h/ctl_a' });
    const b = naming({ databaseUrl: 'postgres://o@h/ctl_b' });
    assert.notEqual(a.deploymentKey, b.deploymentKey);
    assert.notEqual(a.databaseFor('acme'), b.databaseFor('acme'));
    const roleA = resolveTenancyOptions({
      databaseUrl: 'postgres://o@h/ctl_a',
      catalog: { tiers: {}, tenants: [] },
      entities: [],
      migrations: [],
    }).runtimeRole;
    const roleB = resolveTenancyOptions({
      databaseUrl: 'postgres://o@h/ctl_b',
      catalog: { tiers: {}, tenants: [] },
      entities: [],
      migrations: [],
    }).runtimeRole;
    assert.equal(roleA, `tenancy_app_${a.deploymentKey}`);
    assert.notEqual(roleA, roleB);
  });

  it('derives a valid key from any control database name, the name itself when it is one', () => {
    assert.equal(deriveDeploymentKey('control'), 'control');
    assert.equal(deriveDeploymentKey('prod2'), 'prod2');
    for (const name of ['ctl_a', 'ctl_b', 'My-App Production', 'a'.repeat(63), 'x', 'ÄÖÜ', '12345678901']) {
      const key = deriveDeploymentKey(name);
      assert.match(key, DEPLOYMENT_KEY_PATTERN, name);
      assert.equal(deriveDeploymentKey(name), key, 'stable');
    }
    assert.notEqual(deriveDeploymentKey('ctl_a'), deriveDeploymentKey('ctl_b'));
    assert.match(deriveDeploymentKey('ctl_a'), /^ctla[0-9a-f]{6}$/);
  });

  it('refuses a deployment key that is not 1 to 10 characters of a-z and 0-9', () => {
    for (const key of ['', 'Prod', 'pro_d', 'k'.repeat(11), 'a-b']) {
      assert.throws(() => naming({ deploymentKey: key }), /deploymentKey: .* must be 1 to 10 characters/, JSON.stringify(key));
    }
  });
});
