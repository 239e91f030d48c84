import { Logger } from '@nestjs/common';
import { Deployment } from '../catalog/deployment';
import { TenantNaming } from '../catalog/tenant-naming';
import { quoteIdent } from '../core/sql';
import type { TenantRecord } from '../core/tenant-record';
import { OwnerConnections } from '../connections/owner-connections';
import { RuntimeRole } from '../catalog/runtime-role';
import { pgErrorCode } from '../errors/pg-error-code';

/** SQLSTATE object_in_use: a database with sessions cannot be renamed. */
const OBJECT_IN_USE = '55006';
const logger = new Logger('Tenancy');

/**
 * The upgrade of one database-model tenant from a version without deployment keys: its database
 * `<prefix><tenant>` is renamed to `<prefix><key>_<tenant>` (its sessions ended first, retried for
 * about 2 s while it is in use), marked, and opened to the runtime role only. Another deployment's
 * database of the old name is left alone (and logged). False when there is nothing to rename.
 */
export async function renameUnkeyedDatabase(
  tenant: Pick<TenantRecord, 'id' | 'server'>,
  deps: { naming: TenantNaming; owner: OwnerConnections; deployment: Deployment; role: RuntimeRole },
): Promise<boolean> {
  const { naming, owner, deployment, role } = deps;
  const legacy = naming.legacyDatabaseFor(tenant.id);
  const current = naming.databaseFor(tenant.id);
  return owner.withDatabase(tenant.server, owner.homeDatabase(tenant.server), async (ds) => {
    if ((await deployment.databaseMark(ds, current)) !== undefined) return false;
    const mark = await deployment.databaseMark(ds, legacy);
    if (mark === undefined) return false;
    if (mark !== null) {
      logger.warn(
        `upgrade: database "${legacy}" of tenant ${tenant.id} on server "${tenant.server}" is not renamed: it ${deployment.describe(mark)}`,
      );
      return false;
    }
    for (let attempt = 1; ; attempt++) {
      await ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [legacy]);
      try {
        await ds.query(`ALTER DATABASE ${quoteIdent(legacy)} RENAME TO ${quoteIdent(current)}`);
        break;
      } catch (err) {
        if (pgErrorCode(err) !== OBJECT_IN_USE || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await deployment.markDatabase(ds, current);
    await ds.query(`REVOKE ALL ON DATABASE ${quoteIdent(current)} FROM PUBLIC`);
    await ds.query(`GRANT CONNECT ON DATABASE ${quoteIdent(current)} TO ${quoteIdent(role.name)}`);
    return true;
  });
}
