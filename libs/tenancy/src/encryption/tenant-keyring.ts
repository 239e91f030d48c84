import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ClsService } from 'nestjs-cls';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { TenantNaming } from '../catalog/tenant-naming';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../connections/owner-connections';
import { quoteIdent } from '../core/sql';
import { DataKeyUnavailableError, KeyEncryptionKeyError } from '../errors/encryption.errors';
import type { KeyProvider } from '../core/key-provider';
import { PLAINTEXT_KEYS, TENANT_KEYS_CLS_KEY } from './tenant-keys-context';
import { TenantDataKeys } from './tenant-data-keys';

interface KeyRow {
  tenantId: string;
  version: number;
  kekId: string;
  wrapped: Buffer;
}

/**
 * Tenants' data keys (DEKs): made at provisioning (32 random bytes, version 1), stored wrapped by
 * the key provider's key-encryption key in the control database (`tenant_keys`), unwrapped on
 * first use and cached in this process (at most `encryption.cacheSize` tenants, each for at most
 * `encryption.cacheMillis`). A tenant without keys (provisioned before encryption was set up) gets
 * them on first use, unless it is being deleted. Every change of a tenant's keys (a new version,
 * their destruction) is announced on the catalog's channel, so every instance drops its copy.
 *
 * With no `encryption` option the keyring is off: encrypted columns store plaintext (see
 * `EncryptedColumn`), for apps that do not use it and for measuring what it costs.
 */
@Injectable()
export class TenantKeyring implements OnModuleInit {
  private readonly logger = new Logger('TenantKeyring');
  private readonly cache = new Map<string, TenantDataKeys>();
  private readonly loading = new Map<string, Promise<TenantDataKeys>>();
  /** Per tenant, the newest key version a value named that the replaced cached keys lacked (see TenantDataKeys.checkedUpTo). */
  private readonly lookedFor = new Map<string, number>();

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly catalog: TenantCatalog,
    private readonly cls: ClsService,
  ) {
    this.provider = options.encryption.keyProvider;
  }

  private readonly provider?: KeyProvider;

  /** The id of the key-encryption key new data keys are wrapped with; undefined with encryption off. */
  get currentKekId(): string | undefined {
    return this.provider?.currentKekId;
  }

  /** Whether values are encrypted (the module has a key provider). */
  get enabled(): boolean {
    return !!this.provider;
  }

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.tenant_keys`;
  }

  onModuleInit(): void {
    this.catalog.events.on('change', (id: string) => {
      if (id !== '*') this.refreshSoon(id);
      else for (const [tenant, keys] of this.cache) if (!this.catalog.get(tenant) || this.stale(keys)) this.cache.delete(tenant);
    });
  }

  /**
   * A change of the tenant was announced (its keys, or anything else of its catalog row): its keys,
   * if cached, are read again in the background while the cached ones keep serving, so a change
   * (a move's status and switch, say) never makes a request wait for the control database.
   */
  private refreshSoon(tenantId: string): void {
    if (!this.cache.has(tenantId) || this.refreshing.has(tenantId)) return;
    this.refreshing.add(tenantId);
    void this.read(tenantId)
      .then((keys) => (keys ? this.cache.set(tenantId, keys) : this.cache.delete(tenantId)))
      .catch(() => this.cache.delete(tenantId))
      .finally(() => this.refreshing.delete(tenantId));
  }

  private readonly refreshing = new Set<string>();

  /**
   * Checks, before serving, that the key provider can unwrap the stored data keys: for each KEK id
   * in use, that it is configured and unwraps one of its keys.
   * @throws KeyEncryptionKeyError naming the KEK id and what to do.
   */
  async verify(): Promise<void> {
    if (!this.provider) return;
    const ds = await this.owner.controlDataSource();
    const rows: KeyRow[] = await ds.query(
      `SELECT DISTINCT ON (kek_id) tenant AS "tenantId", version, kek_id AS "kekId", wrapped_key AS wrapped FROM ${this.table} ORDER BY kek_id, tenant, version`,
    );
    for (const row of rows) {
      if (!this.provider.knows(row.kekId)) {
        const count = await ds.query(`SELECT count(*)::int AS n FROM ${this.table} WHERE kek_id = $1`, [row.kekId]);
        throw new KeyEncryptionKeyError(
          `${count[0].n} data keys are wrapped by key-encryption key '${row.kekId}', which the key provider lacks (current: '${this.provider.currentKekId}'). Give that key too (after the current one) and run 'tenancy rewrap-keys' to move them to the current one.`,
        );
      }
      await this.provider.unwrap({ kekId: row.kekId, wrapped: row.wrapped }, row);
    }
  }

  /**
   * Makes the tenant's keys the current ones of the active nestjs-cls context, for the encrypted
   * columns and blind indexes of its unit of work: at once when cached, else once loaded.
   */
  enter(tenantId: string): Promise<void> | undefined {
    if (!this.provider) {
      this.cls.set(TENANT_KEYS_CLS_KEY, PLAINTEXT_KEYS);
      return undefined;
    }
    const cached = this.cached(tenantId);
    if (cached) {
      this.cls.set(TENANT_KEYS_CLS_KEY, cached);
      return undefined;
    }
    return this.load(tenantId).then((keys) => void this.cls.set(TENANT_KEYS_CLS_KEY, keys));
  }

  private cached(tenantId: string): TenantDataKeys | undefined {
    const keys = this.cache.get(tenantId);
    if (!keys) return undefined;
    if (keys.stale) {
      this.cache.delete(tenantId);
      this.lookedFor.set(tenantId, Math.max(this.lookedFor.get(tenantId) ?? 0, keys.staleFor));
      return undefined;
    }
    // Kept past cacheMillis: served while they are read again in the background.
    if (this.stale(keys)) this.refreshSoon(tenantId);
    // Least recently used first out: a hit moves to the end.
    this.cache.delete(tenantId);
    this.cache.set(tenantId, keys);
    return keys;
  }

  private stale(keys: TenantDataKeys): boolean {
    return keys.stale || Date.now() - keys.loadedAt > this.options.encryption.cacheMillis;
  }

  /**
   * The tenant's keys, unwrapped (made first when it has none and is not being deleted); one load
   * in flight per tenant.
   * @throws DataKeyUnavailableError (503) when the tenant has no keys and gets none (being deleted).
   */
  load(tenantId: string): Promise<TenantDataKeys> {
    let pending = this.loading.get(tenantId);
    if (!pending) {
      pending = (async () => {
        const keys = (await this.read(tenantId)) ?? ((await this.create(tenantId, 1)) ? await this.read(tenantId) : undefined);
        if (!keys) throw new DataKeyUnavailableError(tenantId);
        // Read after a value named a version the cached keys lacked: one still missing now does not exist.
        keys.checkedUpTo = Math.max(keys.current, this.lookedFor.get(tenantId) ?? 0);
        this.lookedFor.delete(tenantId);
        this.cache.set(tenantId, keys);
        while (this.cache.size > this.options.encryption.cacheSize) this.cache.delete(this.cache.keys().next().value!);
        return keys;
      })().finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, pending);
    }
    return pending;
  }

  /** The tenant's stored keys, unwrapped; undefined when it has none (never made, or destroyed). */
  async read(tenantId: string): Promise<TenantDataKeys | undefined> {
    if (!this.provider) return undefined;
    const ds = await this.owner.controlDataSource();
    const rows: KeyRow[] = await ds.query(
      `SELECT tenant AS "tenantId", version, kek_id AS "kekId", wrapped_key AS wrapped FROM ${this.table} WHERE tenant = $1`,
      [tenantId],
    );
    if (!rows.length) return undefined;
    const keys = new Map<number, Buffer>();
    for (const row of rows) keys.set(row.version, await this.provider.unwrap({ kekId: row.kekId, wrapped: row.wrapped }, row));
    return new TenantDataKeys(tenantId, keys);
  }

  /**
   * Makes data key `version` of the tenant (32 random bytes from Node's CSPRNG), wrapped, unless it
   * exists or the tenant is missing or being deleted (its row is read FOR SHARE, so a delete waits
   * for this insert, then destroys what it made). Resolves to whether the key exists now.
   */
  private async create(tenantId: string, version: number): Promise<boolean> {
    const wrapped = await this.provider!.wrap(randomBytes(32), { tenantId, version });
    const ds = await this.owner.controlDataSource();
    const tenants = `${quoteIdent(this.naming.controlSchema)}.tenants`;
    await ds.query(
      `INSERT INTO ${this.table} (tenant, version, kek_id, wrapped_key)
       SELECT id, $2, $3, $4 FROM ${tenants} WHERE id = $1 AND status <> 'deleting' FOR SHARE
       ON CONFLICT (tenant, version) DO NOTHING`,
      [tenantId, version, wrapped.kekId, wrapped.wrapped],
    );
    const [row] = await ds.query(`SELECT 1 FROM ${this.table} WHERE tenant = $1 AND version = $2`, [tenantId, version]);
    return !!row;
  }

  /** Makes the tenant's first data key at provisioning (a no-op when it has one, or with encryption off). */
  async ensure(tenantId: string): Promise<void> {
    if (!this.provider) return;
    await this.create(tenantId, 1);
  }

  /**
   * Adds the tenant's next data key version, which new values are encrypted with from then on by
   * every instance (each drops its cached keys when the catalog's channel announces the change).
   * Resolves to the new version.
   */
  async addVersion(tenantId: string): Promise<number> {
    const ds = await this.owner.controlDataSource();
    const [{ next }] = await ds.query(`SELECT COALESCE(max(version), 0) + 1 AS next FROM ${this.table} WHERE tenant = $1`, [tenantId]);
    if (!(await this.create(tenantId, next))) throw new DataKeyUnavailableError(tenantId);
    await this.announce(tenantId);
    return next;
  }

  /**
   * Crypto-shredding: erases the tenant's wrapped data keys (the rows are deleted, not flagged), so
   * its encrypted values cannot be decrypted anywhere any more, backups taken earlier included.
   * Resolves to the number of keys destroyed.
   */
  async destroy(tenantId: string): Promise<number> {
    const ds = await this.owner.controlDataSource();
    const [, count] = await ds.query(`DELETE FROM ${this.table} WHERE tenant = $1`, [tenantId]);
    this.forget(tenantId);
    await this.announce(tenantId);
    if (count) this.logger.log(`tenant ${tenantId}: ${count} data keys destroyed`);
    return count ?? 0;
  }

  /**
   * Re-wraps every data key not wrapped by the current KEK with it: the rows of tenants are not
   * touched. Safe to run again and while serving (each key is swapped only if unchanged meanwhile).
   * Resolves to the number of keys re-wrapped.
   */
  async rewrapAll(onProgress?: (done: number, total: number) => void): Promise<number> {
    if (!this.provider) throw new KeyEncryptionKeyError('Encryption is not set up (no key provider): there is nothing to re-wrap.');
    const ds = await this.owner.controlDataSource();
    const rows: KeyRow[] = await ds.query(
      `SELECT tenant AS "tenantId", version, kek_id AS "kekId", wrapped_key AS wrapped FROM ${this.table} WHERE kek_id <> $1 ORDER BY tenant, version`,
      [this.provider.currentKekId],
    );
    let done = 0;
    for (const row of rows) {
      const key = await this.provider.unwrap({ kekId: row.kekId, wrapped: row.wrapped }, row);
      const next = await this.provider.wrap(key, row);
      await ds.query(
        `UPDATE ${this.table} SET kek_id = $3, wrapped_key = $4 WHERE tenant = $1 AND version = $2 AND kek_id = $5 AND wrapped_key = $6`,
        [row.tenantId, row.version, next.kekId, next.wrapped, row.kekId, row.wrapped],
      );
      done++;
      onProgress?.(done, rows.length);
    }
    return done;
  }

  /** Drops this process's copy of the tenant's keys (the next unit of work reads them again). */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  /** Tells every instance (through the catalog's channel) to drop its copy of the tenant's keys. */
  private async announce(tenantId: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`SELECT pg_notify('tenancy_catalog', $1)`, [tenantId]);
  }
}
