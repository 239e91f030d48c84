import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { QueryRunner } from 'typeorm';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { quoteIdent, quoteLiteral, TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../catalog/tenant-record';
import { IsolationModel, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../data-source/owner-connections';
import { ControlLocks } from '../catalog/control-locks';
import { RuntimeRole } from '../data-source/runtime-role';
import { InvalidTenantDefinitionError, TenantStateError } from '../errors/tenancy.errors';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import type { TenantLocation } from '../strategies/isolation-strategy';
import { MigrationLedger } from './migration-ledger';
import { moveLockKey } from './move-lock';
import { TenantLifecycle } from './tenant-lifecycle';
import { TenantMigrations } from './tenant-migrations';
import { TenantTable, tenantTables } from './tenant-tables';

export type MovePhase = 'provisioning' | 'copying' | 'freezing' | 'switched' | 'cleanup' | 'failed';

export interface MoveState {
  tenantId: string;
  sourceStrategy: IsolationModel;
  sourceServer: string;
  targetStrategy: IsolationModel;
  targetServer: string;
  phase: MovePhase;
  progress: { tables?: Record<string, { copied: number; caughtUp?: number; checksum?: string }>; freezeMillis?: number };
  error: string | null;
  startedAt: Date;
  updatedAt: Date;
}

export interface MoveReport {
  tenantId: string;
  from: { strategy: IsolationModel; server: string };
  to: { strategy: IsolationModel; server: string };
  rows: Record<string, number>;
  /** How long writes were refused (status `moving`): the final catch-up and the switch. */
  freezeMillis: number;
  totalMillis: number;
}

/** The two sides of a move disagree after the copy: the move is abandoned, the source keeps serving. */
export class MoveVerificationError extends TenantStateError {}

type Side = { runner: QueryRunner; client: PoolClient; close(): Promise<void>; location: TenantLocation };

/**
 * Moves one tenant's rows between any two models (or servers), keeping ids:
 * provision the target; copy table by table in key order with COPY while the tenant is served;
 * freeze writes by fencing the tenant at the source (enforced by the database: its transactions
 * there turn read-only, so writes get 503 with Retry-After and reads go on, in every instance) and
 * marking it `moving`, then wait for the transactions open at the fence; catch up the rows changed
 * since the copy; verify row counts and a checksum per table; switch the catalog in one
 * transaction; then remove the source rows (the source stays fenced: an instance that has not
 * heard of the switch cannot write there). A lifecycle lock (ControlLocks) per tenant
 * keeps two moves (or a move and a delete) apart and tells the other instances whether the mover is alive: a tenant left
 * `moving` by a killed mover is put back to `active` (served from the source), and running the move
 * again starts it over, or only finishes the clean-up if the switch had happened.
 */
@Injectable()
export class TenantMover implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('TenantMover');
  private recovery?: NodeJS.Timeout;
  private stopping = false;
  /**
   * A pause after the fence, before the barrier. Not needed for correctness (the database enforces
   * the fence); 0 by default. Tests use it to hold a move in its freeze.
   */
  freezeGraceMillis = 0;
  /** How long to wait for the transactions open at the fence's commit before abandoning the move. */
  freezeBarrierMillis = 5_000;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
    private readonly lifecycle: TenantLifecycle,
    private readonly ledger: MigrationLedger,
    private readonly migrations: TenantMigrations,
    private readonly role: RuntimeRole,
    private readonly locks: ControlLocks,
  ) {}

  onApplicationBootstrap(): void {
    const recover = () => void this.recoverAbandoned().catch((e) => this.stopping || this.logger.warn(`move recovery failed: ${e.message}`));
    this.recovery = setInterval(recover, 5_000);
    this.recovery.unref();
    recover();
  }

  /** Shutdown is not a fault: recovery stops before any connection is closed. */
  beforeApplicationShutdown(): void {
    this.stopping = true;
    if (this.recovery) clearInterval(this.recovery);
  }

  onApplicationShutdown(): void {
    if (this.recovery) clearInterval(this.recovery);
  }

  private get movesTable(): string {
    return `${quoteIdent(this.naming.controlSchema)}.tenant_moves`;
  }

  async state(tenantId: string): Promise<MoveState | undefined> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(
      `SELECT tenant_id AS "tenantId", source_strategy AS "sourceStrategy", source_server AS "sourceServer",
              target_strategy AS "targetStrategy", target_server AS "targetServer", phase, progress, error,
              started_at AS "startedAt", updated_at AS "updatedAt"
         FROM ${this.movesTable} WHERE tenant_id = $1`,
      [tenantId],
    );
    return row;
  }

  /** The place a move goes to, validated: a known server, named only for the database model. */
  private targetOf(to: { strategy: IsolationModel; server?: string }): { strategy: IsolationModel; server: string } {
    if (to.server !== undefined && to.strategy !== 'database') throw new InvalidTenantDefinitionError('Only the database model takes a server.');
    const server = to.strategy === 'database' ? (to.server ?? 'default') : 'default';
    if (!Object.hasOwn(this.options.servers, server)) {
      throw new InvalidTenantDefinitionError(`Unknown server '${server}'; known servers: ${Object.keys(this.options.servers).join(', ')}.`);
    }
    return { strategy: to.strategy, server };
  }

  /**
   * Refuses at once a move that cannot start (unknown server, unknown tenant, a tenant that is not
   * active or already there), so a caller that runs the move in the background (the admin API)
   * can answer with the error instead of a 202 for a move that fails a moment later.
   */
  async check(tenantId: string, to: { strategy: IsolationModel; server?: string }): Promise<void> {
    const target = this.targetOf(to);
    const tenant = this.lifecycle.require(tenantId);
    const previous = await this.state(tenantId);
    const unfinished = previous?.phase === 'switched' || previous?.phase === 'cleanup';
    if (!unfinished && tenant.strategy === target.strategy && tenant.server === target.server) throw this.alreadyThere(tenantId, target);
    if (!unfinished && tenant.status !== 'active') throw new TenantStateError(`Tenant '${tenantId}' is ${tenant.status}; only an active tenant can be moved.`);
  }

  private alreadyThere(tenantId: string, target: { strategy: IsolationModel; server: string }): TenantStateError {
    return new TenantStateError(`Tenant '${tenantId}' is already served by the ${target.strategy} model${target.strategy === 'database' ? ` on server '${target.server}'` : ''}.`);
  }

  async move(tenantId: string, to: { strategy: IsolationModel; server?: string }, onPhase?: (phase: string, detail?: string) => void): Promise<MoveReport> {
    const started = Date.now();
    const target = this.targetOf(to);
    const busy = () => {
      throw new TenantStateError(`A move of tenant '${tenantId}' is already running.`);
    };
    return this.locks.withLock(moveLockKey(tenantId), async () => {
      let tenant = this.lifecycle.require(tenantId);
      const previous = await this.state(tenantId);
      if (previous && (previous.phase === 'switched' || previous.phase === 'cleanup')) {
        // A move switched the catalog but did not finish: remove what is left at its source first.
        onPhase?.('cleanup', 'finishing an interrupted move');
        await this.cleanup(previous.tenantId, { strategy: previous.sourceStrategy, server: previous.sourceServer });
        tenant = this.lifecycle.require(tenantId);
      }
      if (tenant.strategy === target.strategy && tenant.server === target.server) {
        if (previous && (previous.phase === 'switched' || previous.phase === 'cleanup')) {
          return { tenantId, from: { strategy: previous.sourceStrategy, server: previous.sourceServer }, to: target, rows: {}, freezeMillis: 0, totalMillis: Date.now() - started };
        }
        throw this.alreadyThere(tenantId, target);
      }
      if (tenant.status !== 'active') throw new TenantStateError(`Tenant '${tenantId}' is ${tenant.status}; only an active tenant can be moved.`);
      const source = { strategy: tenant.strategy, server: tenant.server };
      const sourceStrategy = this.strategies.for(source.strategy);
      await this.record(tenantId, source, target, 'provisioning');

      onPhase?.('provisioning', `${target.strategy}${target.strategy === 'database' ? `@${target.server}` : ''}`);
      await this.lifecycle.dropData({ id: tenantId, ...target });
      await this.strategies.for(target.strategy).provision({ id: tenantId, server: target.server });
      // Moving into a place lifts a fence left there by an earlier move out of it.
      await this.strategies.for(target.strategy).unfence({ id: tenantId, server: target.server });

      const src = await this.open(tenant, source);
      const dst = await this.open(tenant, target);
      let frozen = false;
      let switched = false;
      let freezeStarted = 0;
      try {
        const tables = await tenantTables(src.runner.manager, src.location.schema);
        const targetTables = new Set((await tenantTables(dst.runner.manager, dst.location.schema)).map((t) => t.name));
        const missing = tables.filter((t) => !targetTables.has(t.name)).map((t) => t.name);
        if (missing.length) throw new TenantStateError(`The target lacks tables ${missing.join(', ')}: migrate every tenant first (TenantMigrations.run).`);

        // Bulk copy, live: one snapshot of the source, one transaction on the target.
        await this.setPhase(tenantId, 'copying');
        const progress: MoveState['progress'] = { tables: {} };
        await begin(src, 'REPEATABLE READ READ ONLY', tenantId);
        await begin(dst, 'READ COMMITTED', tenantId);
        const useCopy = await this.bypassesRls(dst);
        for (const table of tables) {
          onPhase?.('copying', table.name);
          const copied = await this.copyTable(src, dst, table, tenantId, useCopy);
          progress.tables![table.name] = { copied };
          await this.setPhase(tenantId, 'copying', progress);
        }
        await src.client.query('COMMIT');
        await dst.client.query('COMMIT');

        // Freeze. The fence at the source is what holds: from its commit on, every transaction of the
        // tenant there is read-only (writes fail with 503), in every instance, whether or not it has
        // heard of the move (LISTEN does not get through a transaction pooler). The catalog status
        // `moving` is the fast path for the instances that hear it. Then the barrier: wait for the
        // transactions open at the fence's commit (one may have begun before it); any that begins
        // later sees the fence. No table lock: the shared tables serve other tenants too.
        onPhase?.('freezing');
        frozen = true;
        freezeStarted = Date.now();
        await sourceStrategy.fence({ id: tenantId, server: source.server });
        await this.catalog.setStatus(tenantId, 'moving');
        await this.setPhase(tenantId, 'freezing', progress);
        if (this.freezeGraceMillis > 0) await new Promise((r) => setTimeout(r, this.freezeGraceMillis));
        await this.waitForOpenTransactions(src);
        await begin(src, 'READ COMMITTED', tenantId);
        await begin(dst, 'READ COMMITTED', tenantId);
        // Catch up. Each side sums its rows' hashes into 4,096 buckets by key, in SQL; only the rows
        // of buckets that differ travel: the target's stale ones are deleted (children first) and the
        // source's missing or changed ones copied (parents first).
        const sources = [];
        for (const table of tables) {
          const [a, b] = await Promise.all([bucketSums(src, table, tenantId), bucketSums(dst, table, tenantId)]);
          const differing = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
          const [rowsA, rowsB] = differing.length
            ? await Promise.all([rowHashes(src, table, tenantId, differing), rowHashes(dst, table, tenantId, differing)])
            : [new Map<string, string>(), new Map<string, string>()];
          sources.push({ table, buckets: a, targetBuckets: b, differing, rowsA, rowsB });
        }
        for (const { table, rowsA, rowsB } of [...sources].reverse()) {
          const stale = [...rowsB.entries()].filter(([k, h]) => rowsA.get(k) !== h).map(([k]) => k);
          if (stale.length) await dst.client.query(`DELETE FROM ${qualified(dst.location, table)} WHERE ${keyExpr(table)} = ANY($1::text[])`, [stale]);
          progress.tables![table.name].caughtUp = stale.length;
        }
        for (const { table, rowsA, rowsB } of sources) {
          const missing = [...rowsA.entries()].filter(([k, h]) => rowsB.get(k) !== h).map(([k]) => k);
          if (missing.length) await this.insertMissing(src, dst, table, tenantId, missing);
          progress.tables![table.name].caughtUp! += missing.length;
        }
        // Verify the target against the locked source, bucket by bucket (row counts and hashes of
        // every row). Buckets that matched before the catch-up were not touched by it; those that
        // differed are summed again from the target as it now is.
        for (const { table, buckets, targetBuckets, differing } of sources) {
          const actual = new Map(targetBuckets);
          if (differing.length) {
            for (const b of differing) actual.delete(b);
            for (const [b, sum] of await bucketSums(dst, table, tenantId, differing)) actual.set(b, sum);
          }
          const expected = summary(buckets);
          const got = summary(actual);
          if (expected.count !== got.count || expected.sum !== got.sum) {
            throw new MoveVerificationError(
              `Verification failed for ${table.name}: source ${expected.count} rows (${expected.sum}), target ${got.count} rows (${got.sum}); the tenant stays where it was.`,
            );
          }
          progress.tables![table.name].checksum = expected.sum;
        }
        await dst.client.query('COMMIT');

        // Switch: one transaction on the control database; every instance hears it through NOTIFY.
        onPhase?.('switching');
        const control = await this.owner.controlDataSource();
        await control.transaction(async (m) => {
          await m.query(
            `UPDATE ${quoteIdent(this.naming.controlSchema)}.tenants SET strategy = $2, server = $3, status = 'active', updated_at = now() WHERE id = $1`,
            [tenantId, target.strategy, target.server],
          );
          await m.query(`UPDATE ${this.movesTable} SET phase = 'switched', progress = $2, updated_at = now() WHERE tenant_id = $1`, [tenantId, JSON.stringify(progress)]);
        });
        // From here the source must stay fenced whatever fails: the tenant is served from the target.
        switched = true;
        frozen = false;
        if (target.strategy !== 'shared') await this.ledger.recordCurrent(tenantId, target.server, this.migrations.latest);
        await this.catalog.refresh(tenantId);
        // The source stays fenced: an instance that has not heard of the switch yet gets 503 there
        // (and re-reads the tenant's row) instead of writing where the tenant is never read again.
        await src.client.query('COMMIT');
        const freezeMillis = Date.now() - freezeStarted;
        progress.freezeMillis = freezeMillis;
        await this.setPhase(tenantId, 'switched', progress);
        const rows = Object.fromEntries(Object.entries(progress.tables!).map(([k, v]) => [k, v.copied + (v.caughtUp ?? 0)]));

        onPhase?.('cleanup');
        await src.close();
        await dst.close();
        await this.cleanup(tenantId, source);
        return { tenantId, from: source, to: target, rows, freezeMillis, totalMillis: Date.now() - started };
      } catch (err) {
        await src.client.query('ROLLBACK').catch(() => undefined);
        await dst.client.query('ROLLBACK').catch(() => undefined);
        // Past the switch the tenant is served from the target: only the clean-up is left to redo.
        if (!switched) {
          if (frozen) {
            await sourceStrategy.unfence({ id: tenantId, server: source.server }).catch((e) => this.logger.error(`tenant ${tenantId} stays fenced at its source after a failed move (${e.message}); run the move again`));
            await this.catalog.setStatus(tenantId, 'active').catch(() => undefined);
          }
          await this.setPhase(tenantId, 'failed', undefined, (err as Error).message).catch(() => undefined);
        }
        throw err;
      } finally {
        await src.close().catch(() => undefined);
        await dst.close().catch(() => undefined);
      }
    }, busy);
  }

  /** Puts back to `active` (and unfences at its source) any tenant left `moving` by a mover that is no longer alive. */
  async recoverAbandoned(): Promise<string[]> {
    const stuck = this.catalog.list().filter((t) => t.status === 'moving');
    const recovered: string[] = [];
    for (const tenant of stuck) {
      // A free move lock means nobody is moving the tenant any more.
      await this.locks.withLock(
        moveLockKey(tenant.id),
        async () => {
          await this.strategies.for(tenant.strategy).unfence(tenant);
          await (await this.owner.controlDataSource()).query(`UPDATE ${quoteIdent(this.naming.controlSchema)}.tenants SET status = 'active', updated_at = now() WHERE id = $1 AND status = 'moving'`, [tenant.id]);
          await this.catalog.refresh(tenant.id);
          recovered.push(tenant.id);
          this.logger.warn(`tenant ${tenant.id} was left frozen by an interrupted move; it is served from ${tenant.strategy} again`);
        },
        () => undefined,
      );
    }
    return recovered;
  }

  private async cleanup(tenantId: string, source: { strategy: IsolationModel; server: string }): Promise<void> {
    await this.setPhase(tenantId, 'cleanup');
    // The source's fence stays (for the shared tables, until the tenant comes back there).
    await this.lifecycle.dropData({ id: tenantId, ...source }, { keepFence: true });
    if (source.strategy !== 'shared' && this.catalog.get(tenantId)?.strategy === 'shared') await this.ledger.forget(tenantId);
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.movesTable} WHERE tenant_id = $1`, [tenantId]);
  }

  private async record(tenantId: string, source: { strategy: string; server: string }, target: { strategy: string; server: string }, phase: MovePhase): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${this.movesTable} (tenant_id, source_strategy, source_server, target_strategy, target_server, phase)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id) DO UPDATE SET source_strategy = $2, source_server = $3, target_strategy = $4, target_server = $5,
         phase = $6, progress = '{}', error = NULL, started_at = now(), updated_at = now()`,
      [tenantId, source.strategy, source.server, target.strategy, target.server, phase],
    );
  }

  private async setPhase(tenantId: string, phase: MovePhase, progress?: MoveState['progress'], error?: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `UPDATE ${this.movesTable} SET phase = $2, progress = COALESCE($3::jsonb, progress), error = $4, updated_at = now() WHERE tenant_id = $1`,
      [tenantId, phase, progress ? JSON.stringify(progress) : null, error ?? null],
    );
  }

  private async open(tenant: TenantRecord, where: { strategy: IsolationModel; server: string }): Promise<Side> {
    const location = this.strategies.for(where.strategy).location({ id: tenant.id, server: where.server });
    const { dataSource, close } = await this.owner.open(location.server, location.database);
    const runner = dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    let closed = false;
    return {
      runner,
      client,
      location,
      close: async () => {
        if (closed) return;
        closed = true;
        await runner.release();
        await close();
      },
    };
  }

  /**
   * Waits until every transaction the runtime role had open in the side's database has ended (a
   * barrier, as CREATE INDEX CONCURRENTLY waits for older transactions: each transaction holds the
   * lock on its own virtual transaction id until it ends, and pg_locks shows it to any role).
   * Request transactions are short; one still open after `freezeBarrierMillis` abandons the move,
   * leaving the tenant where it was.
   */
  private async waitForOpenTransactions(side: Side): Promise<void> {
    const { rows } = await side.client.query(
      `SELECT COALESCE(array_agg(l.virtualxid), '{}') AS open FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid() AND a.usename = $1 AND a.datname = current_database()`,
      [this.role.name],
    );
    const open: string[] = rows[0].open;
    const deadline = Date.now() + this.freezeBarrierMillis;
    while (open.length) {
      const { rows: left } = await side.client.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1::text[])`,
        [open],
      );
      if (left[0].n === 0) return;
      if (Date.now() > deadline) {
        throw new TenantStateError(`${left[0].n} transactions of the service stayed open through the freeze; the move was abandoned, retry it.`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async bypassesRls(side: Side): Promise<boolean> {
    const { rows } = await side.client.query(`SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`);
    return rows[0]?.bypass === true;
  }

  /** Streams the tenant's rows of one table with COPY (or batched INSERTs where COPY FROM meets RLS). */
  private async copyTable(src: Side, dst: Side, table: TenantTable, tenantId: string, useCopy: boolean): Promise<number> {
    const columns = table.columns.map(quoteIdent).join(', ');
    const rows = `FROM ${qualified(src.location, table)} t WHERE tenant_id = ${quoteLiteral(tenantId)} ORDER BY ${table.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}`;
    if (!useCopy) return this.insertRows(src, dst, table, `SELECT row_to_json(t)::text AS row ${rows}`, []);
    const out = src.client.query(copyTo(`COPY (SELECT ${table.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')} ${rows}) TO STDOUT`));
    const into = dst.client.query(copyFrom(`COPY ${qualified(dst.location, table)} (${columns}) FROM STDIN`));
    await pipeline(out, into);
    return Number((into as unknown as { rowCount?: number }).rowCount ?? 0);
  }

  /** Copies the given source rows (new or changed since the bulk copy) into the target. */
  private async insertMissing(src: Side, dst: Side, table: TenantTable, tenantId: string, keys: string[]): Promise<number> {
    return this.insertRows(
      src,
      dst,
      table,
      `SELECT row_to_json(t)::text AS row FROM ${qualified(src.location, table)} t WHERE tenant_id = ${quoteLiteral(tenantId)} AND ${keyExpr(table, 't')} = ANY($1::text[])`,
      [keys],
    );
  }

  private async insertRows(src: Side, dst: Side, table: TenantTable, select: string, params: unknown[]): Promise<number> {
    const { rows } = await src.client.query(select, params);
    const target = qualified(dst.location, table);
    for (let i = 0; i < rows.length; i += 5_000) {
      const batch = `[${rows.slice(i, i + 5_000).map((r: { row: string }) => r.row).join(',')}]`;
      await dst.client.query(`INSERT INTO ${target} SELECT * FROM json_populate_recordset(NULL::${target}, $1::json)`, [batch]);
    }
    return rows.length;
  }
}

function qualified(location: TenantLocation, table: TenantTable): string {
  return `${quoteIdent(location.schema)}.${quoteIdent(table.name)}`;
}

function keyExpr(table: TenantTable, alias?: string): string {
  return `json_build_array(${table.key.map((k) => (alias ? `${alias}.${quoteIdent(k)}` : quoteIdent(k))).join(', ')})::text`;
}

async function begin(side: Side, isolation: string, tenantId: string): Promise<void> {
  await side.client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
  // The same rendering of every value on both sides, so row hashes compare.
  await side.client.query(
    `SELECT set_config('app.tenant_id', $1, true), set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), set_config('extra_float_digits', '3', true)`,
    [tenantId],
  );
}

/** The bucket of a row: the first 12 bits of the md5 of its key (the same on every server and version). */
function bucketExpr(table: TenantTable): string {
  return `('x' || substr(md5(${keyExpr(table, 't')}), 1, 3))::bit(12)::int`;
}

/** A row's hash: the md5 of its text form (rendered alike on both sides, see `begin`). */
const ROW_HASH = 'md5(t::text)';

/**
 * Per bucket: `count:sum` where sum adds up the first 60 bits of every row hash (order-independent,
 * so no sort). Equal maps mean equal rows, short of a 60-bit collision.
 */
async function bucketSums(side: Side, table: TenantTable, tenantId: string, only?: number[]): Promise<Map<number, string>> {
  const { rows } = await side.client.query(
    `SELECT b, count(*) || ':' || sum(('x' || substr(h, 1, 15))::bit(60)::bigint) AS s
       FROM (SELECT ${bucketExpr(table)} AS b, ${ROW_HASH} AS h FROM ${qualified(side.location, table)} t WHERE tenant_id = $1) r
      ${only ? 'WHERE b = ANY($2::int[])' : ''}
      GROUP BY b`,
    only ? [tenantId, only] : [tenantId],
  );
  return new Map(rows.map((r: { b: number; s: string }) => [r.b, r.s]));
}

/** A table's row count and checksum from its bucket sums. */
function summary(buckets: Map<number, string>): { count: number; sum: string } {
  const entries = [...buckets.entries()].sort((x, y) => x[0] - y[0]);
  const count = entries.reduce((n, [, s]) => n + Number(s.split(':')[0]), 0);
  return { count, sum: createHash('md5').update(entries.map(([b, s]) => `${b}=${s}`).join(',')).digest('hex') };
}

async function rowHashes(side: Side, table: TenantTable, tenantId: string, buckets: number[]): Promise<Map<string, string>> {
  const { rows } = await side.client.query(
    `SELECT ${keyExpr(table, 't')} AS k, ${ROW_HASH} AS h FROM ${qualified(side.location, table)} t
      WHERE tenant_id = $1 AND ${bucketExpr(table)} = ANY($2::int[])`,
    [tenantId, buckets],
  );
  return new Map(rows.map((r: { k: string; h: string }) => [r.k, r.h]));
}
