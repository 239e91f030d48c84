import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { KeyEncryptionKeyError } from '../errors/encryption.errors';
import type { DataKeyContext, KeyProvider, WrappedDataKey } from '../core/key-provider';

const KEK_ID = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A `KeyProvider` whose key-encryption keys (KEKs) are given to the process, usually from the
 * environment (`fromEnvironment`): each 32 random bytes (AES-256) with an id. The first KEK wraps
 * new data keys; all of them unwrap, so during a rotation both the new KEK and the old one are
 * listed until `tenancy keys rewrap` has moved every data key to the new one.
 *
 * A data key is wrapped with AES-256-GCM (NIST SP 800-38D): a random 96-bit IV, the tenant id and
 * key version as additional authenticated data. Stored as IV (12 bytes) | ciphertext (32) | tag (16).
 */
export class LocalKeyProvider implements KeyProvider {
  private readonly keks: Map<string, Buffer>;

  /** `keks`: id -> 32-byte key, the first one current. @throws KeyEncryptionKeyError when empty or malformed. */
  constructor(keks: [string, Buffer][], source = 'LocalKeyProvider') {
    if (!keks.length) throw new KeyEncryptionKeyError(`${source}: no key-encryption key given.`);
    for (const [id, key] of keks) {
      if (!KEK_ID.test(id))
        throw new KeyEncryptionKeyError(
          `${source}: the key id '${id.slice(0, 40)}' is malformed: use 1 to 40 characters of a-z, 0-9, '.', '_' and '-'.`,
        );
      if (key.length !== 32)
        throw new KeyEncryptionKeyError(
          `${source}: key '${id}' is ${key.length} bytes; a key-encryption key is 32 bytes (base64 of 32 random bytes: openssl rand -base64 32).`,
        );
    }
    this.keks = new Map(keks);
    if (this.keks.size !== keks.length) throw new KeyEncryptionKeyError(`${source}: a key id is listed twice.`);
    this.currentKekId = keks[0][0];
  }

  readonly currentKekId: string;

  /**
   * The KEKs of environment variable `name` (default `TENANCY_KEKS`): `id:base64key`, several
   * separated by commas, the first one current, e.g. `k2026:Zm9v...,k2025:YmFy...`. The entry
   * `dev` alone names the public development key (see `development`), to re-wrap keys made with it.
   * @throws KeyEncryptionKeyError when it is unset, empty or malformed, naming the variable.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env, name = 'TENANCY_KEKS'): LocalKeyProvider {
    const raw = env[name]?.trim();
    if (!raw) {
      throw new KeyEncryptionKeyError(
        `${name} is not set: give the key-encryption key as ${name}=<id>:<base64 of 32 random bytes> (for example ${name}=k1:$(openssl rand -base64 32)). Keep it out of the database and its backups.`,
      );
    }
    const keks = raw.split(',').map((entry): [string, Buffer] => {
      if (entry.trim() === 'dev') return [DEV_ID, DEV_KEY];
      const at = entry.indexOf(':');
      const id = entry.slice(0, at).trim();
      const b64 = entry.slice(at + 1).trim();
      if (at < 1 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
        throw new KeyEncryptionKeyError(
          `${name}: each entry is <id>:<base64 of 32 bytes>, separated by commas; '${id.slice(0, 40) || entry.slice(0, 8)}…' is not.`,
        );
      }
      return [id, Buffer.from(b64, 'base64')];
    });
    return new LocalKeyProvider(keks, name);
  }

  /**
   * A KEK everyone can compute (id `dev`): for development and tests only, never production. Data
   * it protects is as good as unencrypted to anyone who reads this source.
   */
  static development(): LocalKeyProvider {
    return new LocalKeyProvider([[DEV_ID, DEV_KEY]], 'development KEK');
  }

  knows(kekId: string): boolean {
    return this.keks.has(kekId);
  }

  async wrap(dataKey: Buffer, context: DataKeyContext): Promise<WrappedDataKey> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keks.get(this.currentKekId)!, iv);
    cipher.setAAD(aad(context));
    const wrapped = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { kekId: this.currentKekId, wrapped };
  }

  async unwrap(wrapped: WrappedDataKey, context: DataKeyContext): Promise<Buffer> {
    const kek = this.keks.get(wrapped.kekId);
    if (!kek)
      throw new KeyEncryptionKeyError(
        `The data key v${context.version} of tenant '${context.tenantId}' is wrapped by key-encryption key '${wrapped.kekId}', which is not configured: list it (it may follow the current one).`,
      );
    try {
      const bytes = wrapped.wrapped;
      const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(aad(context));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new KeyEncryptionKeyError(
        `Key-encryption key '${wrapped.kekId}' does not unwrap the data key v${context.version} of tenant '${context.tenantId}': the key given under that id is not the one that wrapped it (or the stored key was altered).`,
      );
    }
  }
}

const DEV_ID = 'dev';
const DEV_KEY = createHash('sha256').update('nest-tenancy public development key-encryption key').digest();

function aad(context: DataKeyContext): Buffer {
  return Buffer.from(`nest-tenancy/dek|${context.tenantId}|${context.version}`, 'utf8');
}
