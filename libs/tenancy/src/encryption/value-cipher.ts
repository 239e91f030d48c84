import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The prefix of every encrypted value, with the format's version: `enc1:<key version>:<base64>`. */
export const ENCRYPTED_PREFIX = 'enc1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = /^enc1:([1-9][0-9]{0,8}):([A-Za-z0-9+/]+={0,2})$/;

/**
 * Where a value belongs, bound to its ciphertext as additional authenticated data: the tenant, the
 * table and the column (never the schema or database, which change when a tenant moves).
 */
export interface ValueContext {
  tenantId: string;
  table: string;
  column: string;
}

/**
 * Encrypts `plaintext` (UTF-8) with AES-256-GCM (NIST SP 800-38D) under data key version `version`:
 * a random 96-bit IV per value; the tenant, table, column and key version as additional
 * authenticated data. Self-describing: `enc1:<version>:<base64(IV | ciphertext | tag)>`.
 */
export function encryptValue(key: Buffer, version: number, plaintext: string, context: ValueContext): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(version, context));
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENCRYPTED_PREFIX}${version}:${body.toString('base64')}`;
}

/** The key version of an encrypted value, or undefined for anything not in the `enc1:` format. */
export function keyVersionOf(stored: string): number | undefined {
  const m = FORMAT.exec(stored);
  return m ? Number(m[1]) : undefined;
}

/**
 * The plaintext of `stored`, or undefined when it does not authenticate under `key` and `context`
 * (another tenant's or column's value, an altered one, or the wrong key) or is malformed.
 */
export function decryptValue(key: Buffer, stored: string, context: ValueContext): string | undefined {
  const m = FORMAT.exec(stored);
  if (!m) return undefined;
  const body = Buffer.from(m[2], 'base64');
  if (body.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
    decipher.setAAD(aad(Number(m[1]), context));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function aad(version: number, c: ValueContext): Buffer {
  return Buffer.from(`nest-tenancy/enc1|${c.tenantId}|${c.table}.${c.column}|${version}`, 'utf8');
}
