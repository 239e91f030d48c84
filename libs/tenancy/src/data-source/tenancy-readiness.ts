import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { withDatabase } from './connection-url';
import { OwnerConnections } from './owner-connections';
import { RuntimeRole } from './runtime-role';

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

  /**
   * The problems found, one sentence each (empty: ready). Never throws.
   * @param timeoutMillis how long each check may take. Default 3,000 ms.
   */
  async problems(timeoutMillis = 3_000): Promise<string[]> {
    const problems: string[] = [];
    try {
      const ds = await this.owner.controlDataSource();
      await withTimeout(ds.query('SELECT 1'), timeoutMillis);
    } catch {
      problems.push('The control database does not answer.');
    }
    try {
      const credentials = await this.role.getCredentials();
      const url = withDatabase(this.options.databaseUrl, this.owner.homeDatabase(), credentials);
      const probe = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMillis, application_name: 'nest-tenancy:readiness' });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await withTimeout(probe.query('SELECT 1'), timeoutMillis);
      } finally {
        await probe.end().catch(() => undefined);
      }
    } catch {
      problems.push(`The runtime role "${this.role.name}" cannot sign in to the home database.`);
    }
    return problems;
  }
}

function withTimeout<T>(promise: Promise<T>, millis: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), millis);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
