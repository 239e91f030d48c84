import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ControlLocks } from '../../catalog/control-locks';
import { TenantCatalog } from '../../catalog/tenant-catalog';
import { IsolationStrategies } from '../../strategies/isolation-strategies';
import { moveLockKey } from '../move-lock';
import { errorMessage } from '../../core/error-message';

/** How often every instance looks for tenants left frozen by a mover that died. */
const RECOVERY_MILLIS = 5_000;

/**
 * Recovery of abandoned moves, run by every instance at start and every 5 s: a tenant left
 * `moving` whose move lock is free (its mover is gone) is unfenced at its source and put back to
 * `active`, served from where it was. Running the move again starts it over.
 */
@Injectable()
export class MoveRecovery implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('TenantMover');
  private timer?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly locks: ControlLocks,
  ) {}

  onApplicationBootstrap(): void {
    const recover = () =>
      void this.recoverAbandoned().catch((e) => this.stopping || this.logger.warn(`move recovery failed: ${errorMessage(e)}`));
    this.timer = setInterval(recover, RECOVERY_MILLIS);
    this.timer.unref();
    recover();
  }

  /** Shutdown is not a fault: recovery stops before any connection is closed. */
  beforeApplicationShutdown(): void {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Puts back to `active` (and unfences at its source) any tenant left `moving` by a mover that is no longer alive; returns their ids. */
  async recoverAbandoned(): Promise<string[]> {
    const stuck = this.catalog.list().filter((t) => t.status === 'moving');
    const recovered: string[] = [];
    for (const tenant of stuck) {
      // A free move lock means nobody is moving the tenant any more.
      await this.locks.withLock(
        moveLockKey(tenant.id),
        async () => {
          await this.strategies.for(tenant.strategy).unfence(tenant);
          await this.catalog.transition(tenant.id, 'moving', 'active');
          recovered.push(tenant.id);
          this.logger.warn(`tenant ${tenant.id} was left frozen by an interrupted move; it is served from ${tenant.strategy} again`);
        },
        () => undefined,
      );
    }
    return recovered;
  }
}
