import { createHash } from 'node:crypto';
import { Column, getMetadataArgsStorage, ValueTransformer } from 'typeorm';
import { EncryptionNotReadyError, UnstorableValueError } from '../errors/encryption.errors';
import { currentTenantKeys, openWith, PLAINTEXT_KEYS, sealWith } from './tenant-keys-context';

/** `@EncryptedColumn`'s options. */
export interface EncryptedColumnOptions {
  /** The column's name. Default: the property's name. */
  name?: string;
  /** Whether it may be NULL (NULL is stored as NULL, unencrypted). Default false. */
  nullable?: boolean;
  /**
   * The column that holds this one's blind index (`bytea`), for equality lookups and uniqueness:
   * feature code fills it with `blindIndex(Entity, property, value)` on every write of the value.
   * Re-encryption fills it for values written before encryption. Default none.
   */
  blindIndex?: string;
}

/** An encrypted column as declared: its entity, property, column and blind-index column. */
export interface EncryptedColumnSpec {
  readonly target: Function;
  readonly property: string;
  readonly column: string;
  readonly blindIndex?: string;
}

const specs: EncryptedColumnSpec[] = [];

/** The table of `spec`'s entity (by its `@Entity(name)`), resolved at first use. */
export function tableOf(target: Function): string {
  const table = getMetadataArgsStorage().tables.find((t) => t.target === target);
  if (!table?.name) throw new EncryptionNotReadyError(`${target.name} has an encrypted column: name its table in @Entity('<table>').`);
  return table.name;
}

/** The encrypted columns of table `table` (every entity's declared with `@EncryptedColumn`). */
export function encryptedColumnsOf(table: string): EncryptedColumnSpec[] {
  return specs.filter((s) => tableOf(s.target) === table);
}

/** Every table with encrypted columns, by name. */
export function tablesWithEncryptedColumns(): string[] {
  return [...new Set(specs.map((s) => tableOf(s.target)))];
}

/**
 * A `text` column stored encrypted with the current tenant's data key (AES-256-GCM, see
 * `encryptValue`; the tenant, table and column bound to each value) and decrypted on read, in
 * every model: the value is the same ciphertext wherever the tenant's rows live, so a move copies
 * it unchanged. Only equality through a blind index (`blindIndex` option) can search it; `LIKE`,
 * ordering and SQL functions see ciphertext. Reading or writing it needs a tenant's unit of work.
 *
 * Errors on read: UndecryptableValueError (409) for a value that is another tenant's or column's,
 * altered, or whose key was destroyed; NoTenantContextError with no tenant in context.
 */
export function EncryptedColumn(options: EncryptedColumnOptions = {}): PropertyDecorator {
  return (target, property) => {
    const spec: EncryptedColumnSpec = {
      target: target.constructor,
      property: String(property),
      column: options.name ?? String(property),
      blindIndex: options.blindIndex,
    };
    specs.push(spec);
    Column('text', { name: options.name, nullable: options.nullable ?? false, transformer: encryptedTransformer(spec) })(target, property);
  };
}

function encryptedTransformer(spec: EncryptedColumnSpec): ValueTransformer {
  let table: string | undefined;
  return {
    to(value: unknown) {
      if (value === null || value === undefined) return value;
      if (String(value).includes('\u0000')) throw new UnstorableValueError();
      const keys = currentTenantKeys();
      if (keys === PLAINTEXT_KEYS) return value;
      table ??= tableOf(spec.target);
      return sealWith(keys, String(value), table, spec.column);
    },
    from(value: unknown) {
      if (value === null || value === undefined) return value;
      const keys = currentTenantKeys();
      table ??= tableOf(spec.target);
      if (keys === PLAINTEXT_KEYS) {
        if (String(value).startsWith('enc1:'))
          throw new EncryptionNotReadyError(
            `${table}.${spec.column} holds encrypted values but the module has no key provider (option encryption).`,
          );
        return value;
      }
      return openWith(keys, String(value), table, spec.column);
    },
  };
}

/**
 * The keyed blind index of `value` for `entity`'s encrypted `property` in the current tenant:
 * HMAC-SHA-256 under the tenant's index key (see `TenantDataKeys.blindIndex`), 32 bytes. Equal
 * values give equal indexes within a tenant, so a unique index on `(tenant_id, <index column>)`
 * keeps uniqueness per tenant and `WHERE <index column> = $1` finds a value; without the tenant's
 * key, an index tells nothing of the value. With encryption off, an unkeyed SHA-256.
 * Normalize the value first (say, lower-case an email) when lookups must ignore a difference.
 * @throws NoTenantContextError outside a tenant's unit of work.
 */
export function blindIndex(entity: Function, property: string, value: string): Buffer {
  const spec = specs.find((s) => s.target === entity && s.property === property);
  if (!spec) throw new EncryptionNotReadyError(`${entity.name}.${property} is not an @EncryptedColumn().`);
  const purpose = `${tableOf(spec.target)}.${spec.column}`;
  const keys = currentTenantKeys();
  if (keys === PLAINTEXT_KEYS) return createHash('sha256').update(purpose).update('\0').update(value, 'utf8').digest();
  return keys.blindIndex(purpose, value);
}
