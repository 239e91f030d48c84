import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { IsolationModel } from '../config/tenancy-options';
import { OwnerConnections } from '../connections/owner-connections';
import { TenantNaming } from './tenant-naming';
import { quoteIdent } from '../core/sql';

export type MovePhase = 'provisioning' | 'copying' | 'freezing' | 'switched' | 'cleanup' | 'failed';

/** One end of a move: a model and its server (`default` for a model that takes none). */
export interface MoveEnd {
  strategy: IsolationModel;
  server: string;
}

/** What a move has done so far, per table: rows bulk-copied, rows caught up after the freeze, the verified checksum. */
export interface MoveProgress {
  tables?: Record<string, { copied: number; caughtUp?: number; checksum?: string }>;
  /** How long writes were refused, once switched. */
  freezeMillis?: number;
}

/** The journal row of a tenant's move (there is at most one a tenant). */
export interface MoveState {
  tenantId: string;
  sourceStrategy: IsolationModel;
  sourceServer: string;
  targetStrategy: IsolationModel;
  targetServer: string;
  phase: MovePhase;
  progress: MoveProgress;
  /** The message of the error that failed the move (phase `failed`), else null. */
  error: string | null;
  startedAt: Date;
  updatedAt: Date;
}

/**
 * The move journal: one row a tenant in the control database's `tenant_moves`, written by the mover
 * at each phase, read by the admin API (the state of a move), by the mover (a move that switched
 * but did not clean up) and by deletion (both ends of a move that did not finish). A finished move
 * removes its row.
 */
@Injectable()
export class MoveJournal {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
  ) {}

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.tenant_moves`;
  }

  /** The tenant's move, or undefined when none is recorded. */
  async state(tenantId: string): Promise<MoveState | undefined> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(
      `SELECT tenant_id AS "tenantId", source_strategy AS "sourceStrategy", source_server AS "sourceServer",
              target_strategy AS "targetStrategy", target_server AS "targetServer", phase, progress, error,
              started_at AS "startedAt", updated_at AS "updatedAt"
         FROM ${this.table} WHERE tenant_id = $1`,
      [tenantId],
    );
    return row;
  }

  /** Every recorded move (in progress, or failed and not yet cleared). */
  async all(): Promise<MoveState[]> {
    const ds = await this.owner.controlDataSource();
    return ds.query(
      `SELECT tenant_id AS "tenantId", source_strategy AS "sourceStrategy", source_server AS "sourceServer",
              target_strategy AS "targetStrategy", target_server AS "targetServer", phase, progress, error,
              started_at AS "startedAt", updated_at AS "updatedAt"
         FROM ${this.table} ORDER BY tenant_id`,
    );
  }

  /** Both ends of the tenant's recorded move (none when no move is recorded). */
  async ends(tenantId: string): Promise<MoveEnd[]> {
    const state = await this.state(tenantId);
    if (!state) return [];
    return [
      { strategy: state.sourceStrategy, server: state.sourceServer },
      { strategy: state.targetStrategy, server: state.targetServer },
    ];
  }

  /** Starts the tenant's move afresh in `phase` (over any earlier row of it). */
  async start(tenantId: string, source: MoveEnd, target: MoveEnd, phase: MovePhase): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${this.table} (tenant_id, source_strategy, source_server, target_strategy, target_server, phase)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id) DO UPDATE SET source_strategy = $2, source_server = $3, target_strategy = $4, target_server = $5,
         phase = $6, progress = '{}', error = NULL, started_at = now(), updated_at = now()`,
      [tenantId, source.strategy, source.server, target.strategy, target.server, phase],
    );
  }

  /**
   * Records the phase (and the progress, when given; `error` is cleared unless given). With `m`, in
   * that transaction (the switch commits the catalog and the journal together).
   */
  async setPhase(tenantId: string, phase: MovePhase, progress?: MoveProgress, error?: string, m?: EntityManager): Promise<void> {
    const db = m ?? (await this.owner.controlDataSource());
    await db.query(
      `UPDATE ${this.table} SET phase = $2, progress = COALESCE($3::jsonb, progress), error = $4, updated_at = now() WHERE tenant_id = $1`,
      [tenantId, phase, progress ? JSON.stringify(progress) : null, error ?? null],
    );
  }

  /** Forgets the tenant's move (it is done). */
  async finish(tenantId: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.table} WHERE tenant_id = $1`, [tenantId]);
  }
}
