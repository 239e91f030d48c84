// The table-sync engine against real PostgreSQL: the SQL bucket sums agree with the arithmetic of
// bucket-diff.ts, and a catch-up brings the target to the source's rows (one tenant's only) or fails
// its verification.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import type { TenantTable } from '../../migrations/tenant-tables';
import type { BucketSums } from './bucket-diff';
import { bucketSums, rowHashes } from './bucket-sums';
import { beginSide, type MoveSide } from './move-side';
import { catchUpAndVerify, MoveVerificationError } from './table-sync';

const ITEMS: TenantTable = { name: 'items', key: ['tenant_id', 'id'], columns: ['tenant_id', 'id', 'name'] };
const NOTES: TenantTable = { name: 'notes', key: ['tenant_id', 'id'], columns: ['tenant_id', 'id', 'item_id', 'body'] };
const ALL_BUCKETS = Array.from({ length: 4096 }, (_, i) => i);

function url(database?: string): string {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` (it starts an embedded PostgreSQL).');
  const u = new URL(base);
  if (database) u.pathname = `/${database}`;
  return u.toString();
}

describe('table sync against PostgreSQL', () => {
  const database = `sync_${randomBytes(4).toString('hex')}`;
  let src: MoveSide;
  let dst: MoveSide;
  const clients: Client[] = [];

  const side = async (schema: string): Promise<MoveSide> => {
    const client = new Client({ connectionString: url(database) });
    await client.connect();
    clients.push(client);
    return {
      client: client as never,
      runner: undefined as never,
      location: { server: 'default', database, schema },
      citus: false,
      close: async () => undefined,
    };
  };

  beforeAll(async () => {
    const admin = new Client({ connectionString: url() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    src = await side('a');
    dst = await side('b');
    for (const s of ['a', 'b']) {
      await src.client.query(`CREATE SCHEMA ${s}`);
      await src.client.query(`CREATE TABLE ${s}.items (tenant_id text, id int, name text, PRIMARY KEY (tenant_id, id))`);
      await src.client.query(
        `CREATE TABLE ${s}.notes (tenant_id text, id int, item_id int, body text, PRIMARY KEY (tenant_id, id),
           FOREIGN KEY (tenant_id, item_id) REFERENCES ${s}.items (tenant_id, id))`,
      );
    }
  });

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    const admin = new Client({ connectionString: url() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  const reset = async () => {
    for (const s of ['a', 'b']) await src.client.query(`TRUNCATE ${s}.notes, ${s}.items`);
    for (const s of ['a', 'b']) {
      await src.client.query(
        `INSERT INTO ${s}.items SELECT t, i, 'item ' || i FROM unnest(ARRAY['acme', 'other']) t, generate_series(1, 1000) i`,
      );
      await src.client.query(
        `INSERT INTO ${s}.notes SELECT t, i, i, 'note ' || i FROM unnest(ARRAY['acme', 'other']) t, generate_series(1, 300) i`,
      );
    }
  };

  /** Runs `fn` in a transaction on each side, as the mover does; commits both, or rolls both back and rethrows. */
  const inTransactions = async <T>(fn: () => Promise<T>): Promise<T> => {
    await beginSide(src, 'READ COMMITTED', 'acme');
    await beginSide(dst, 'READ COMMITTED', 'acme');
    try {
      const out = await fn();
      await dst.client.query('COMMIT');
      await src.client.query('COMMIT');
      return out;
    } catch (err) {
      await dst.client.query('ROLLBACK');
      await src.client.query('ROLLBACK');
      throw err;
    }
  };

  const rows = async (s: string, table: string, tenant: string) =>
    (await src.client.query(`SELECT * FROM ${s}.${table} WHERE tenant_id = $1 ORDER BY id`, [tenant])).rows;

  it('sums buckets in SQL as the arithmetic does in JS: 12-bit buckets of the key, 60-bit prefixes of the row hash', async () => {
    await reset();
    const hashes = await rowHashes(src, ITEMS, 'acme', ALL_BUCKETS);
    assert.equal(hashes.size, 1000);
    const expected: BucketSums = new Map();
    const acc = new Map<number, { n: number; sum: bigint }>();
    const { rows: keys } = await src.client.query(`SELECT k, ('x' || substr(md5(k), 1, 3))::bit(12)::int AS b FROM unnest($1::text[]) k`, [
      [...hashes.keys()],
    ]);
    for (const { k, b } of keys as { k: string; b: number }[]) {
      const cur = acc.get(b) ?? { n: 0, sum: 0n };
      acc.set(b, { n: cur.n + 1, sum: cur.sum + BigInt(`0x${hashes.get(k)!.slice(0, 15)}`) });
    }
    for (const [b, { n, sum }] of acc) expected.set(b, `${n}:${sum}`);
    const actual = await bucketSums(src, ITEMS, 'acme');
    assert.deepEqual(new Map([...actual].sort((x, y) => x[0] - y[0])), new Map([...expected].sort((x, y) => x[0] - y[0])));
    assert.ok([...actual.keys()].every((b) => b >= 0 && b < 4096));
    const some = [...actual.keys()].slice(0, 3);
    assert.deepEqual([...(await bucketSums(src, ITEMS, 'acme', some)).keys()].sort(), some.sort());
  });

  it('catches the target up with the source for one tenant: children deleted first, a referenced parent changed in place, other tenants untouched', async () => {
    await reset();
    // Item 5 is referenced by a note: a changed parent is updated in place, never deleted.
    await src.client.query(`UPDATE a.items SET name = 'renamed' WHERE tenant_id = 'acme' AND id IN (5, 500, 501)`);
    await src.client.query(`INSERT INTO a.items VALUES ('acme', 2001, 'new'), ('acme', 2002, 'newer')`);
    await src.client.query(`INSERT INTO a.notes VALUES ('acme', 901, 2001, 'on a new item')`);
    await src.client.query(`DELETE FROM a.notes WHERE tenant_id = 'acme' AND item_id = 9`);
    await src.client.query(`DELETE FROM a.items WHERE tenant_id = 'acme' AND id = 9`);
    await src.client.query(`UPDATE b.items SET name = 'other changed at the target' WHERE tenant_id = 'other' AND id = 1`);
    const done = await inTransactions(() => catchUpAndVerify(src, dst, [ITEMS, NOTES], 'acme'));
    // items: 3 changed, 2 new, 1 gone; notes: 1 new, 1 gone.
    assert.equal(done.items.caughtUp, 3 + 2 + 1);
    assert.equal(done.notes.caughtUp, 2);
    assert.match(done.items.checksum, /^[0-9a-f]{32}$/);
    assert.deepEqual(await rows('b', 'items', 'acme'), await rows('a', 'items', 'acme'));
    assert.deepEqual(await rows('b', 'notes', 'acme'), await rows('a', 'notes', 'acme'));
    assert.equal((await rows('b', 'items', 'other'))[0].name, 'other changed at the target', 'another tenant’s rows are not touched');
  });

  it('fails its verification when the target does not keep what was copied, naming the table', async () => {
    await reset();
    await src.client.query(`UPDATE a.items SET name = 'renamed' WHERE tenant_id = 'acme' AND id = 600`);
    await src.client.query(
      `CREATE FUNCTION b.garble() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := 'garbled'; RETURN NEW; END $$`,
    );
    await src.client.query(`CREATE TRIGGER garble BEFORE INSERT ON b.items FOR EACH ROW EXECUTE FUNCTION b.garble()`);
    try {
      await assert.rejects(
        inTransactions(() => catchUpAndVerify(src, dst, [ITEMS, NOTES], 'acme')),
        (err: Error) => err instanceof MoveVerificationError && /Verification failed for items: source 1000 rows/.test(err.message),
      );
    } finally {
      await src.client.query(`DROP TRIGGER garble ON b.items`);
    }
  });
});
