// The DDL tenantTable() writes: every rule of a tenant table, and refusal of a spec that would
// break one (tenant_id in a key or a column list, a name that is not a plain identifier).
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { tenantTable } from './tenant-table';

describe('tenantTable', () => {
  const sql = tenantTable('note_comments', {
    columns: ['note_id uuid NOT NULL', 'body text NOT NULL', 'slug text NOT NULL'],
    unique: [['slug']],
    foreignKeys: [{ columns: ['note_id'], references: 'notes', onDelete: 'SET NULL' }],
    indexes: [['note_id']],
  });
  const create = sql[0];

  it('writes tenant_id, an id, tenant-led keys and composite foreign keys', () => {
    assert.match(create, /^CREATE TABLE "note_comments" \(/);
    assert.match(create, /tenant_id text NOT NULL DEFAULT current_setting\('app.tenant_id'\)/);
    assert.match(create, /id uuid NOT NULL DEFAULT gen_random_uuid\(\)/);
    assert.match(create, /CONSTRAINT "note_comments_pkey" PRIMARY KEY \("tenant_id", "id"\)/);
    assert.match(create, /UNIQUE \("tenant_id", "slug"\)/);
    assert.match(
      create,
      /FOREIGN KEY \("tenant_id", "note_id"\) REFERENCES "notes" \("tenant_id", "id"\) ON DELETE SET NULL \("note_id"\)/,
    );
    assert.ok(sql.includes(`CREATE INDEX "note_comments_note_id_idx" ON "note_comments" ("tenant_id", "note_id")`));
  });

  it('enables and forces row-level security with the tenant policy on USING and WITH CHECK', () => {
    assert.ok(sql.includes(`ALTER TABLE "note_comments" ENABLE ROW LEVEL SECURITY`));
    assert.ok(sql.includes(`ALTER TABLE "note_comments" FORCE ROW LEVEL SECURITY`));
    const policy = sql.find((s) => s.startsWith('CREATE POLICY'))!;
    const predicate = `tenant_id = nullif(current_setting('app.tenant_id', true), '')`;
    assert.equal(policy, `CREATE POLICY tenant_isolation ON "note_comments" USING (${predicate}) WITH CHECK (${predicate})`);
  });

  it('keeps a column named id instead of adding one', () => {
    const [ddl] = tenantTable('codes', { columns: ['id text NOT NULL'] });
    assert.doesNotMatch(ddl, /gen_random_uuid/);
  });

  it('refuses tenant_id in the columns or a key, and names that are not plain identifiers', () => {
    assert.throws(() => tenantTable('notes', { columns: ['tenant_id text'] }), /leave tenant_id out of columns/);
    assert.throws(() => tenantTable('notes', { columns: [], unique: [['tenant_id', 'x']] }), /leave tenant_id out of the unique/);
    assert.throws(() => tenantTable('Notes; DROP TABLE users', { columns: [] }), /must be a lower-case SQL identifier/);
    assert.throws(() => tenantTable('notes', { columns: [], primaryKey: ['id"'] }), /must be a lower-case SQL identifier/);
  });
});
