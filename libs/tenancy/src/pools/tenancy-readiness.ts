import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { withDatabase } from '../core/connection-url';
import { OwnerConnections } from '../connections/owner-connections';
import { RuntimeRole } from '../catalog/runtime-role';

/**
 * What a readiness probe needs to know: the control database answers the owner, and the runtime
 * role can still sign in to the home database. The sign-in uses a new connection, not a pooled
 * one: a pooled connection stays open after the role's password or LOGIN changed, and would hide
 * that every new connection (and so, soon, every request) fails.
 */
@Injectable()
export class TenancyReadiness {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly role: RuntimeRole,
  ) {}

  private last?: { at: number; problems: Promise<string[]> };

  /**
   * The problems found, one sentence each (empty: ready). Never throws. Callers at the same time
   * share one check, and a check's answer is reused for `reuseMillis`: however many probes (or
   * attackers) call it, it opens at most two connections at a time and two a second.
   * @param timeoutMillis how long each check may take. Default 3,000 ms.
   * @param reuseMillis how long an answer is reused. Default 1,000 ms.
   */
  problems(timeoutMillis = 3_000, reuseMillis = 1_000): Promise<string[]> {
    const now = performance.now();
    if (this.last && now - this.last.at < reuseMillis) return this.last.problems;
    const problems = this.check(timeoutMillis);
    this.last = { at: now, problems };
    // A check still running is shared whatever its age; its answer counts from when it ends.
    void problems.then(() => {
      if (this.last?.problems === problems) this.last.at = performance.now();
    });
    return problems;
  }

  private async check(timeoutMillis: number): Promise<string[]> {
    const owner = this.options.databaseUrl;
    const [control, runtime] = await Promise.all([
      signsIn(owner, timeoutMillis),
      this.role.getCredentials().then(
        (credentials) => signsIn(withDatabase(owner, this.owner.homeDatabase(), credentials), timeoutMillis),
        () => false,
      ),
    ]);
    const problems: string[] = [];
    if (!control) problems.push('The control database does not answer.');
    else if (!runtime) problems.push(`The runtime role "${this.role.name}" cannot sign in to the home database.`);
    return problems;
  }
}

/** Opens a new connection with `url`, runs `SELECT 1` and closes it, all within `timeoutMillis`. */
async function signsIn(url: string, timeoutMillis: number): Promise<boolean> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMillis,
    query_timeout: timeoutMillis,
    application_name: 'nest-tenancy:readiness',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    void client.end().catch(() => undefined);
  }
}
