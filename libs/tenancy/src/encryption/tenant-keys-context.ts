import { ClsServiceManager } from 'nestjs-cls';
import { DataKeyUnavailableError, UndecryptableValueError } from '../errors/encryption.errors';
import { NoTenantContextError } from '../errors/tenancy.errors';
import { TenantDataKeys } from './tenant-data-keys';
import { decryptValue, encryptValue, keyVersionOf, ValueContext } from './value-cipher';

/** The key of the current unit of work's tenant keys in the nestjs-cls store. */
export const TENANT_KEYS_CLS_KEY = 'tenancy:keys';

/** What the store holds when the module has no key provider: values are stored as given. */
export const PLAINTEXT_KEYS = 'plaintext';

/**
 * The current unit of work's tenant keys, `PLAINTEXT_KEYS` with encryption off.
 * @throws NoTenantContextError outside a tenant's unit of work.
 */
export function currentTenantKeys(): TenantDataKeys | typeof PLAINTEXT_KEYS {
  const cls = ClsServiceManager.getClsService();
  const keys = cls.isActive() ? (cls.get(TENANT_KEYS_CLS_KEY) as TenantDataKeys | typeof PLAINTEXT_KEYS | undefined) : undefined;
  if (!keys) throw new NoTenantContextError();
  return keys;
}

/** Encrypts `plaintext` for `table`.`column` of the given keys' tenant, with its current key. */
export function sealWith(keys: TenantDataKeys, plaintext: string, table: string, column: string): string {
  const context: ValueContext = { tenantId: keys.tenantId, table, column };
  return encryptValue(keys.keys.get(keys.current)!, keys.current, plaintext, context);
}

/**
 * The plaintext of a stored value of `table`.`column`. A value not in the encrypted format
 * (written before encryption was set up, or by SQL that bypassed it) is returned as it is; the
 * re-encryption command encrypts such values.
 * @throws UndecryptableValueError (409) when it does not authenticate under the tenant's key;
 * DataKeyUnavailableError (503) when its key version is newer than the ones loaded (another
 * instance just added it: the keys are re-read at the next unit of work); once they have been
 * re-read for that version and still lack it, UndecryptableValueError (409): retrying cannot help.
 */
export function openWith(keys: TenantDataKeys, stored: string, table: string, column: string): string {
  const version = keyVersionOf(stored);
  if (version === undefined) {
    if (stored.startsWith('enc1:')) throw new UndecryptableValueError(table, column);
    return stored;
  }
  const key = keys.keys.get(version);
  if (!key) {
    if (version > keys.checkedUpTo) {
      keys.stale = true;
      keys.staleFor = Math.max(keys.staleFor, version);
      throw new DataKeyUnavailableError(keys.tenantId);
    }
    throw new UndecryptableValueError(table, column);
  }
  const plain = decryptValue(key, stored, { tenantId: keys.tenantId, table, column });
  if (plain === undefined) throw new UndecryptableValueError(table, column);
  return plain;
}
