import { HttpStatus } from '@nestjs/common';
import { TenancyError } from './tenancy.errors';

/**
 * The key-encryption keys (KEKs) cannot be used: missing, malformed, or not the ones that wrapped
 * the tenants' data keys. Raised at start (and by the key commands), before any request is served;
 * the message names the variable or option and what to do. Never raised by a request.
 */
export class KeyEncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyEncryptionKeyError';
  }
}

/**
 * A stored encrypted value that does not authenticate under the current tenant's data key: it was
 * copied from another tenant's row (or another column), altered, or its key was destroyed. 409:
 * the record's stored state keeps the request from completing; retrying does not help (so not a
 * 503) and it is not the caller's input (so not a 400). Deleting the record still works.
 */
export class UndecryptableValueError extends TenancyError {
  constructor(
    readonly table: string,
    readonly column: string,
  ) {
    super(
      `A stored value of this record (${table}.${column}) cannot be decrypted with this tenant's key: it was written for another tenant or column, altered, or its key was destroyed. Restore the record from this tenant's own backup, or delete it.`,
      HttpStatus.CONFLICT,
      'Conflict',
    );
  }
}

/**
 * A value for an encrypted column holds a NUL character, which a PostgreSQL `text` column cannot
 * store: refused as the database would refuse the plaintext (400, SQLSTATE 22021's answer), so
 * encrypting a column never changes what the API accepts.
 */
export class UnstorableValueError extends TenancyError {
  constructor() {
    super('A value holds a character that cannot be stored (such as a NUL byte).', HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}

/**
 * The tenant's data keys cannot be had right now (the control database or the key provider did not
 * answer, or a key version was just added by another instance): retry.
 */
export class DataKeyUnavailableError extends TenancyError {
  readonly retryAfterSeconds = 1;
  constructor(tenantId: string) {
    super(
      `The encryption keys of tenant '${tenantId}' are not available right now. Retry in a moment.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * Raised in code, never by a request: an encrypted column or blind index was used with encryption
 * not set up (the module's `encryption` option), or outside a unit of work that loaded the keys.
 */
export class EncryptionNotReadyError extends TenancyError {
  constructor(detail: string) {
    super(detail, HttpStatus.INTERNAL_SERVER_ERROR, 'Internal Server Error');
  }
}
