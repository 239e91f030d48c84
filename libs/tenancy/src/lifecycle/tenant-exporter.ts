import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { quoteIdent } from '../core/sql';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { TenantRecord } from '../core/tenant-record';
import { OwnerConnections } from '../connections/owner-connections';
import { CitusMode } from '../connections/citus-mode';
import { citusPreamble } from '../strategies/transaction-preamble';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { tenantTables } from '../migrations/tenant-tables';
import { TenantKeyring } from '../encryption/tenant-keyring';
import { encryptedColumnsOf, type EncryptedColumnSpec } from '../encryption/encrypted-column';
import { openWith } from '../encryption/tenant-keys-context';
import { UndecryptableValueError } from '../errors/encryption.errors';
import type { TenantDataKeys } from '../encryption/tenant-data-keys';

/**
 * Streams all of a tenant's rows as NDJSON, whatever its model: a header line, then one line per
 * row (`{"table":"users","row":{...}}`), parents before children and each table in key order, all
 * read from one consistent snapshot. Rows stream through a cursor, so memory stays flat.
 * Encrypted columns (`@EncryptedColumn`) are exported decrypted: the export is the tenant's
 * plaintext (UndecryptableValueError when a value does not decrypt with its keys); their blind
 * indexes, derived from them under this deployment's key, are left out.
 * A finished export is recorded in the catalog with its snapshot (`TenantRecord.exportedSnapshot`),
 * which a delete without force checks the tenant's rows against (ExportFreshness).
 */
@Injectable()
export class TenantExporter {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly strategies: IsolationStrategies,
    private readonly catalog: TenantCatalog,
    private readonly citus: CitusMode,
    private readonly keyring: TenantKeyring,
  ) {}

  async *export(tenant: TenantRecord): AsyncGenerator<string> {
    const location = this.strategies.for(tenant.strategy).location(tenant);
    const keys = await this.keyring.read(tenant.id);
    const { dataSource, close } = await this.owner.open(location.server, location.database);
    const runner = dataSource.createQueryRunner();
    let ok = false;
    let exportSnapshot: string | null = null;
    try {
      const client = (await runner.connect()) as PoolClient;
      await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`);
      // The first statement takes the transaction's snapshot; it is recorded with the export (see
      // ExportFreshness). Under Citus the rows live on workers with xids of their own: none is kept.
      const [{ snapshot }] = (
        await client.query<{ snapshot: string }>(`SELECT set_config('app.tenant_id', $1, true), pg_current_snapshot()::text AS snapshot`, [
          tenant.id,
        ])
      ).rows;
      const distributed = this.citus.enabled && tenant.strategy !== 'database';
      exportSnapshot = distributed ? null : snapshot;
      if (distributed) for (const sql of citusPreamble(tenant.id)) await client.query(sql);
      const tables = await tenantTables(runner.manager, location.schema);
      yield `${JSON.stringify({ type: 'tenant', tenant: { id: tenant.id, name: tenant.name, tier: tenant.tier, strategy: tenant.strategy }, tables: tables.map((t) => t.name), exportedAt: new Date().toISOString() })}\n`;
      for (const table of tables) {
        const order = table.key.map(quoteIdent).join(', ');
        const stream = client.query(
          new QueryStream(
            `SELECT row_to_json(t)::text AS row FROM ${quoteIdent(location.schema)}.${quoteIdent(table.name)} t WHERE tenant_id = $1 ORDER BY ${order}`,
            [tenant.id],
            { batchSize: 500 },
          ),
        );
        const prefix = `{"table":${JSON.stringify(table.name)},"row":`;
        const encrypted = encryptedColumnsOf(table.name);
        for await (const chunk of stream as AsyncIterable<{ row: string }>) {
          yield `${prefix}${encrypted.length ? decrypted(chunk.row, keys, table.name, encrypted) : chunk.row}}\n`;
        }
      }
      await client.query('COMMIT');
      ok = true;
    } finally {
      if (!ok) await runner.query('ROLLBACK').catch(() => undefined);
      await runner.release();
      await close();
      if (ok) await this.catalog.markExported(tenant.id, exportSnapshot);
    }
  }
}

/** The row (JSON text) with its encrypted columns decrypted. */
function decrypted(json: string, keys: TenantDataKeys | undefined, table: string, specs: EncryptedColumnSpec[]): string {
  const row = JSON.parse(json) as Record<string, unknown>;
  for (const { column, blindIndex } of specs) {
    if (blindIndex) delete row[blindIndex];
    const value = row[column];
    if (typeof value !== 'string') continue;
    if (!keys) {
      if (value.startsWith('enc1:')) throw new UndecryptableValueError(table, column);
      continue;
    }
    row[column] = openWith(keys, value, table, column);
  }
  return JSON.stringify(row);
}
