import { createHmac, hkdfSync } from 'node:crypto';

/**
 * One tenant's unwrapped data keys (DEKs, 32 bytes each, by version) and its blind-index key, as a
 * process holds them in memory (`TenantKeyring`'s bounded cache).
 *
 * The blind-index key is derived from the tenant's first data key (version 1) with HKDF-SHA-256
 * (RFC 5869; NIST SP 800-56C), info `nest-tenancy/blind-index/v1`: it stays the same when the
 * data key is rotated, so existing indexes and uniqueness hold across versions.
 */
export class TenantDataKeys {
  readonly indexKey: Buffer;
  /** When these keys were read from the control database (ms since the epoch). */
  readonly loadedAt = Date.now();
  /** Set when a value named a newer version than these keys hold: re-read at the next unit of work. */
  stale = false;
  /** The newest version a value named when `stale` was set (0 when none). */
  staleFor = 0;
  /**
   * The newest version these keys were read to find: at least `current`, and the `staleFor` of the
   * keys they replaced. A value naming a version up to this one that is not among `keys` does not
   * exist (it was looked for after the value was written), rather than being too new.
   */
  checkedUpTo = 0;

  constructor(
    readonly tenantId: string,
    /** version -> data key. */
    readonly keys: Map<number, Buffer>,
  ) {
    const first = keys.get(Math.min(...keys.keys()));
    this.indexKey = Buffer.from(hkdfSync('sha256', first!, Buffer.alloc(0), 'nest-tenancy/blind-index/v1', 32));
    this.current = Math.max(...keys.keys());
    this.checkedUpTo = this.current;
  }

  /** The newest version: the one new values are encrypted with. */
  readonly current: number;

  /**
   * The keyed blind index of `value` for equality lookups and uniqueness: HMAC-SHA-256 (RFC 2104)
   * under the tenant's index key of `purpose` (`<table>.<column>`, so two columns' indexes differ)
   * and the value. 32 bytes.
   */
  blindIndex(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.indexKey).update(purpose).update('\0').update(value, 'utf8').digest();
  }
}
