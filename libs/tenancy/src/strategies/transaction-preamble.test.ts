// The SELECT that follows BEGIN in a unit of work: transaction-scoped settings, quoted.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { citusPreamble, fenceCheck, transactionPreamble } from './transaction-preamble';

/** The set_config calls of a preamble as [setting, value literal, is_local]. */
function setConfigCalls(sql: string): [string, string, string][] {
  const calls: [string, string, string][] = [];
  const re = /set_config\(\s*'([^']*)'\s*,\s*('(?:[^']|'')*')\s*,\s*(\w+)\s*\)/gi;
  for (let m = re.exec(sql); m; m = re.exec(sql)) calls.push([m[1], m[2], m[3]]);
  return calls;
}

/** Splits on semicolons outside quotes. */
function statements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === ';') {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

describe('transactionPreamble', () => {
  it('sets the tenant and the search path, both transaction-scoped, in one SELECT whose last column is the fence', () => {
    const sql = transactionPreamble('acme', 'tenant_acme');
    const select =
      `SELECT set_config('app.tenant_id', 'acme', true), set_config('search_path', '"tenant_acme", pg_temp', true), ` +
      `"tenant_acme".tenancy_fenced('acme') AS fenced`;
    assert.equal(sql, select);
    assert.deepEqual(statements(sql), [select]);
    assert.equal(fenceCheck('acme', 'tenant_acme'), `"tenant_acme".tenancy_fenced('acme') AS fenced`);
    assert.deepEqual(setConfigCalls(sql), [
      ['app.tenant_id', "'acme'", 'true'],
      ['search_path', `'"tenant_acme", pg_temp'`, 'true'],
    ]);
  });

  it('uses set_config(..., true) only: never SET, SET SESSION or a session-scoped set_config', () => {
    for (const [id, schema] of [
      ['acme', 'public'],
      ['big-corp', 'tenant_big_corp'],
      ['x', 'tenancy_shared'],
    ]) {
      const sql = transactionPreamble(id, schema);
      const calls = setConfigCalls(sql);
      assert.equal(calls.length, 2);
      assert.ok(calls.every(([, , local]) => local === 'true'));
      assert.equal((sql.match(/set_config\(/g) ?? []).length, 2);
      assert.doesNotMatch(sql, /\bSET\s+(SESSION|LOCAL|search_path|app\.)/i);
      assert.doesNotMatch(sql, /\b(BEGIN|COMMIT|ROLLBACK|RESET|DISCARD)\b/i);
      assert.equal(statements(sql).length, 1);
      assert.match(sql, /^SELECT /);
    }
  });

  it('names pg_temp last, so a temporary table can never shadow the tenant’s tables', () => {
    const [, [, path]] = setConfigCalls(transactionPreamble('acme', 'tenant_acme'));
    const entries = path
      .slice(1, -1)
      .split(',')
      .map((e) => e.trim());
    assert.deepEqual(entries, ['"tenant_acme"', 'pg_temp']);
  });

  it('quotes the schema as an identifier inside a literal', () => {
    const sql = transactionPreamble('acme', 'we"ird');
    assert.deepEqual(setConfigCalls(sql)[1], ['search_path', `'"we""ird", pg_temp'`, 'true']);
    const quoted = transactionPreamble('acme', "o'hara; DROP SCHEMA public");
    assert.deepEqual(setConfigCalls(quoted)[1], ['search_path', `'"o''hara; DROP SCHEMA public", pg_temp'`, 'true']);
    assert.equal(statements(quoted).length, 1, 'a quote in the schema cannot end the literal');
  });

  it('passes the tenant id as a quoted literal', () => {
    const [[, value]] = setConfigCalls(transactionPreamble('a-1', 'tenant_a_1'));
    assert.equal(value, "'a-1'");
  });

  it('refuses an invalid tenant id before building any SQL', () => {
    for (const id of ["acme'); DROP TABLE users; --", 'ACME', '', 'a'.repeat(41), 'acme\n', 'ac_me', undefined as unknown as string]) {
      assert.throws(() => transactionPreamble(id, 'public'), /refusing to build a preamble for an invalid tenant id/, JSON.stringify(id));
    }
  });

  it('refuses a schema name holding a NUL byte', () => {
    assert.throws(() => transactionPreamble('acme', 'a\0b'), /NUL/);
  });
});

describe('citusPreamble', () => {
  it('turns SET propagation on, then sets the tenant, each a statement of its own, none of them BEGIN', () => {
    const sql = citusPreamble('acme');
    assert.deepEqual(sql, [`SET LOCAL citus.propagate_set_commands = 'local'`, `SET LOCAL app.tenant_id = 'acme'`]);
    for (const s of sql) {
      assert.equal(statements(s).length, 1, s);
      assert.doesNotMatch(s, /\bBEGIN\b/i);
    }
  });

  it('adds the other settings the workers must see, values quoted', () => {
    const sql = citusPreamble('a-1', { TimeZone: 'UTC', DateStyle: "ISO, MDY'; RESET ALL; --" });
    assert.equal(sql[2], `SET LOCAL TimeZone = 'UTC'`);
    assert.equal(sql[3], `SET LOCAL DateStyle = 'ISO, MDY''; RESET ALL; --'`);
    assert.equal(statements(sql[3]).length, 1, 'a quote in a value cannot end the literal');
  });

  it('refuses an invalid tenant id before building any SQL', () => {
    for (const id of ["acme'; RESET ALL; --", 'ACME', '', 'a'.repeat(41), 'ac_me']) {
      assert.throws(() => citusPreamble(id), /refusing to build a preamble for an invalid tenant id/, JSON.stringify(id));
    }
  });
});
