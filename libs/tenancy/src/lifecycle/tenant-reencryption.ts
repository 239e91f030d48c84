import { Injectable, Logger } from '@nestjs/common';
import { TenantNaming } from '../catalog/tenant-naming';
import { OwnerConnections } from '../connections/owner-connections';
import { TenancyService } from '../context/tenancy.service';
import { TenantContext } from '../context/tenant-context';
import { quoteIdent } from '../core/sql';
import { KeyEncryptionKeyError } from '../errors/encryption.errors';
import { TenantMovingError, UnknownTenantError } from '../errors/tenancy.errors';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { encryptedColumnsOf, tablesWithEncryptedColumns } from '../encryption/encrypted-column';
import { TenantKeyring } from '../encryption/tenant-keyring';
import { openWith, sealWith } from '../encryption/tenant-keys-context';
import { keyVersionOf } from '../encryption/value-cipher';

/** What `TenantReencryption.run` did. */
export interface ReencryptionReport {
  tenantId: string;
  /** The data key version every encrypted value of the tenant is under now. */
  version: number;
  /** Whether it went on from where a stopped run left off. */
  resumed: boolean;
  /** Values re-encrypted (or encrypted for the first time) by this run. */
  values: number;
  /** Passes over the tables (more than one when values of an older version were written meanwhile). */
  passes: number;
}

/** Where a run got to: per table, the key of the last row done. */
type Progress = Record<string, unknown[] | 'done'>;

const MAX_PASSES = 5;

/**
 * Re-encrypts one tenant's encrypted columns under a new data key version while the tenant is
 * served: a new version is made (from then on every instance encrypts new values with it, and
 * reads decrypt either version), then each table's rows are re-encrypted in key order, a batch per
 * unit of work (its rows locked FOR UPDATE for that short transaction), and the last key done is
 * recorded in the control database after each batch, so a stopped run resumes there. Values written
 * before encryption was set up are encrypted, their blind indexes filled. A last pass checks no
 * value of an older version is left (written by an instance that had not heard of the new version
 * yet) and goes over the tables again if one is. Older key versions are kept: the blind-index key
 * derives from version 1, and a backup of the rows may hold them.
 */
@Injectable()
export class TenantReencryption {
  private readonly logger = new Logger('TenantReencryption');

  constructor(
    private readonly keyring: TenantKeyring,
    private readonly tenancy: TenancyService,
    private readonly context: TenantContext,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly catalog: TenantCatalog,
  ) {}

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.key_rotations`;
  }

  /**
   * Re-encrypts the tenant's values under a new data key version, or finishes the run that was
   * stopped. `batchSize` rows a unit of work (default 500). `onProgress` hears each batch.
   * @throws UnknownTenantError; KeyEncryptionKeyError with encryption off.
   */
  async run(
    tenantId: string,
    options: { batchSize?: number; onProgress?: (table: string, values: number) => void } = {},
  ): Promise<ReencryptionReport> {
    if (!this.keyring.enabled)
      throw new KeyEncryptionKeyError('Encryption is not set up (no key provider): there is nothing to re-encrypt.');
    if (!this.catalog.get(tenantId)) throw new UnknownTenantError(tenantId);
    const batchSize = options.batchSize ?? 500;
    const ds = await this.owner.controlDataSource();
    const [open] = await ds.query(
      `SELECT target_version AS version, progress FROM ${this.table} WHERE tenant = $1 AND finished_at IS NULL`,
      [tenantId],
    );
    const resumed = !!open;
    const version: number = open ? open.version : await this.keyring.addVersion(tenantId);
    let progress: Progress = open ? open.progress : {};
    if (!open) {
      await ds.query(
        `INSERT INTO ${this.table} (tenant, target_version) VALUES ($1, $2)
         ON CONFLICT (tenant) DO UPDATE SET target_version = $2, progress = '{}', rows_done = 0, started_at = now(), updated_at = now(), finished_at = NULL`,
        [tenantId, version],
      );
    }
    this.keyring.forget(tenantId);
    let values = 0;
    let passes = 0;
    for (;;) {
      passes++;
      for (const table of tablesWithEncryptedColumns()) {
        while (progress[table] !== 'done') {
          const batch = await this.batch(tenantId, table, version, progress[table] as unknown[] | undefined, batchSize);
          values += batch.values;
          progress = { ...progress, [table]: batch.last ?? 'done' };
          await ds.query(`UPDATE ${this.table} SET progress = $2, rows_done = rows_done + $3, updated_at = now() WHERE tenant = $1`, [
            tenantId,
            JSON.stringify(progress),
            batch.values,
          ]);
          options.onProgress?.(table, batch.values);
        }
      }
      if (!(await this.olderLeft(tenantId, version)) || passes >= MAX_PASSES) break;
      progress = {};
    }
    await ds.query(`UPDATE ${this.table} SET finished_at = now(), updated_at = now() WHERE tenant = $1`, [tenantId]);
    this.logger.log(`tenant ${tenantId}: ${values} values re-encrypted under data key v${version} in ${passes} passes`);
    return { tenantId, version, resumed, values, passes };
  }

  /** One batch of `table` after key `after`, in its own unit of work; retried while a move pauses writes. */
  private async batch(tenantId: string, table: string, version: number, after: unknown[] | undefined, size: number) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.tenancy.run(tenantId, () => this.reencryptBatch(table, version, after, size));
      } catch (err) {
        if (!(err instanceof TenantMovingError) || attempt >= 30) throw err;
        await new Promise((ok) => setTimeout(ok, err.retryAfterSeconds * 1000));
      }
    }
  }

  private async reencryptBatch(
    table: string,
    version: number,
    after: unknown[] | undefined,
    size: number,
  ): Promise<{ values: number; last?: unknown[] }> {
    const uow = this.context.requireUnitOfWork();
    let fresh = await this.keyring.load(uow.tenant.id);
    if (fresh.current < version) {
      this.keyring.forget(uow.tenant.id);
      fresh = await this.keyring.load(uow.tenant.id);
    }
    const key = (await uow.manager.query(
      `SELECT a.attname::text AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [quoteIdent(table)],
    )) as { name: string }[];
    const keyColumns = key.map((k) => k.name).filter((k) => k !== 'tenant_id');
    const specs = encryptedColumnsOf(table);
    const cols = specs.map((s) => quoteIdent(s.column));
    const keyList = keyColumns.map(quoteIdent).join(', ');
    const where = after ? `WHERE (${keyList}) > (${keyColumns.map((_, i) => `$${i + 1}`).join(', ')})` : '';
    const rows: Record<string, unknown>[] = await uow.manager.query(
      `SELECT ${keyList}, ${cols.join(', ')} FROM ${quoteIdent(table)} ${where} ORDER BY ${keyList} LIMIT ${Number(size)} FOR UPDATE`,
      after ?? [],
    );
    let values = 0;
    for (const row of rows) {
      const sets: string[] = [];
      const params: unknown[] = keyColumns.map((k) => row[k]);
      for (const spec of specs) {
        const stored = row[spec.column];
        if (typeof stored !== 'string' || keyVersionOf(stored) === version) continue;
        const plain = openWith(fresh, stored, table, spec.column);
        params.push(sealWith(fresh, plain, table, spec.column));
        sets.push(`${quoteIdent(spec.column)} = $${params.length}`);
        if (spec.blindIndex && keyVersionOf(stored) === undefined) {
          params.push(fresh.blindIndex(`${table}.${spec.column}`, plain));
          sets.push(`${quoteIdent(spec.blindIndex)} = $${params.length}`);
        }
        values++;
      }
      if (!sets.length) continue;
      await uow.manager.query(
        `UPDATE ${quoteIdent(table)} SET ${sets.join(', ')} WHERE ${keyColumns.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ')}`,
        params,
      );
    }
    return { values, last: rows.length < size ? undefined : keyColumns.map((k) => row(rows, k)) };
  }

  /** Whether any encrypted value of the tenant is not under `version` (or not encrypted). */
  private olderLeft(tenantId: string, version: number): Promise<boolean> {
    return this.tenancy.run(tenantId, async () => {
      const uow = this.context.requireUnitOfWork();
      for (const table of tablesWithEncryptedColumns()) {
        const test = encryptedColumnsOf(table)
          .map((s) => `(${quoteIdent(s.column)} IS NOT NULL AND ${quoteIdent(s.column)} NOT LIKE $1)`)
          .join(' OR ');
        const [found] = await uow.manager.query(`SELECT 1 FROM ${quoteIdent(table)} WHERE ${test} LIMIT 1`, [`enc1:${version}:%`]);
        if (found) return true;
      }
      return false;
    });
  }
}

/** The value of `column` in the last row. */
function row(rows: Record<string, unknown>[], column: string): unknown {
  return rows[rows.length - 1][column];
}
