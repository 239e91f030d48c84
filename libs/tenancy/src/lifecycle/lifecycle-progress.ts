import { Injectable } from '@nestjs/common';
import { MoveJournal, type MoveState } from '../catalog/move-journal';
import { TenantMigrations } from './tenant-migrations';

/** How far the lifecycle work recorded in the control database has got. */
export interface LifecycleProgress {
  /** Every recorded move (any instance's, or the CLI's), with its phase and rows copied so far. */
  moves: MoveState[];
  /** Migration targets (the shared tables, each tenant schema and database) by model and ledger status. */
  migrations: { model: string; status: 'current' | 'behind' | 'failed' | 'unknown'; targets: number }[];
}

/**
 * Reads the progress of moves and migrations from the control database (two queries, no tenant
 * connection), for a metrics collector or a console. Every instance sees the same figures.
 */
@Injectable()
export class LifecycleProgressReader {
  constructor(
    private readonly journal: MoveJournal,
    private readonly migrations: TenantMigrations,
  ) {}

  async read(): Promise<LifecycleProgress> {
    const [moves, rows] = await Promise.all([this.journal.all(), this.migrations.status()]);
    const counts = new Map<string, LifecycleProgress['migrations'][number]>();
    for (const row of rows) {
      const key = `${row.model}/${row.status}`;
      const entry = counts.get(key) ?? { model: row.model, status: row.status, targets: 0 };
      entry.targets++;
      counts.set(key, entry);
    }
    return { moves, migrations: [...counts.values()] };
  }
}
