/**
 * What identifies a data key when it is wrapped: bound to the wrapping as additional authenticated
 * data (or a KMS's encryption context), so a wrapped key copied to another tenant's or version's
 * row does not unwrap.
 */
export interface DataKeyContext {
  tenantId: string;
  /** The data key's version (1, 2, ...: a new one per re-encryption). */
  version: number;
}

/** A data key as stored: the id of the key-encryption key (KEK) that wrapped it, and the wrapped bytes. */
export interface WrappedDataKey {
  kekId: string;
  wrapped: Buffer;
}

/**
 * Wraps and unwraps tenants' data keys (DEKs) with a key-encryption key (KEK) kept outside the
 * database: envelope encryption (NIST SP 800-57 Part 1, key wrapping). The kit ships
 * `LocalKeyProvider` (KEKs from the environment); a KMS adapter (AWS KMS Encrypt/Decrypt with an
 * encryption context, Google Cloud KMS, Vault transit) implements the same three members.
 */
export interface KeyProvider {
  /** The id of the KEK new data keys are wrapped with (`wrap` uses it). */
  readonly currentKekId: string;
  /** Whether this provider can unwrap keys wrapped by KEK `kekId`. */
  knows(kekId: string): boolean;
  /** Wraps a 32-byte data key with the current KEK. */
  wrap(dataKey: Buffer, context: DataKeyContext): Promise<WrappedDataKey>;
  /**
   * The data key of `wrapped`.
   * @throws KeyEncryptionKeyError when the KEK is unknown or does not unwrap it (a wrong KEK, or
   * the wrapped key was altered or copied from another tenant or version).
   */
  unwrap(wrapped: WrappedDataKey, context: DataKeyContext): Promise<Buffer>;
}
