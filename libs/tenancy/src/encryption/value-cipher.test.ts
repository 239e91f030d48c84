import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { KeyEncryptionKeyError } from '../errors/encryption.errors';
import { LocalKeyProvider } from './local-key-provider';
import { TenantDataKeys } from './tenant-data-keys';
import { decryptValue, encryptValue, keyVersionOf } from './value-cipher';

const key = randomBytes(32);
const at = { tenantId: 'acme', table: 'users', column: 'email' };

describe('encrypted values (AES-256-GCM, tenant, table and column as associated data)', () => {
  it('round-trips, with a fresh IV each time and the key version in the value', () => {
    const one = encryptValue(key, 3, 'ada@example.com', at);
    const two = encryptValue(key, 3, 'ada@example.com', at);
    assert.notEqual(one, two);
    assert.equal(keyVersionOf(one), 3);
    assert.equal(decryptValue(key, one, at), 'ada@example.com');
    assert.equal(decryptValue(key, encryptValue(key, 1, '', at), at), '');
    assert.equal(decryptValue(key, encryptValue(key, 1, 'é ✓ 𝄞', at), at), 'é ✓ 𝄞');
  });

  it('refuses a value of another tenant, table, column, key or version, or an altered one', () => {
    const value = encryptValue(key, 1, 'secret', at);
    assert.equal(decryptValue(key, value, { ...at, tenantId: 'other' }), undefined);
    assert.equal(decryptValue(key, value, { ...at, table: 'projects' }), undefined);
    assert.equal(decryptValue(key, value, { ...at, column: 'name' }), undefined);
    assert.equal(decryptValue(randomBytes(32), value, at), undefined);
    assert.equal(decryptValue(key, value.replace('enc1:1:', 'enc1:2:'), at), undefined);
    const body = Buffer.from(value.slice('enc1:1:'.length), 'base64');
    body[14] ^= 1;
    assert.equal(decryptValue(key, `enc1:1:${body.toString('base64')}`, at), undefined);
    for (const bad of ['plain', 'enc1:x:abc', 'enc1:1:', 'enc1:1:AAAA']) assert.equal(decryptValue(key, bad, at), undefined);
  });
});

describe('blind indexes', () => {
  it('are equal for equal values within a tenant, differ across tenants, columns and values, and survive a new key version', () => {
    const first = randomBytes(32);
    const a = new TenantDataKeys('acme', new Map([[1, first]]));
    const rotated = new TenantDataKeys(
      'acme',
      new Map([
        [1, first],
        [2, randomBytes(32)],
      ]),
    );
    const b = new TenantDataKeys('beta', new Map([[1, randomBytes(32)]]));
    assert.deepEqual(a.blindIndex('users.email', 'x@y.z'), rotated.blindIndex('users.email', 'x@y.z'));
    assert.equal(rotated.current, 2);
    assert.notDeepEqual(a.blindIndex('users.email', 'x@y.z'), b.blindIndex('users.email', 'x@y.z'));
    assert.notDeepEqual(a.blindIndex('users.email', 'x@y.z'), a.blindIndex('users.name', 'x@y.z'));
    assert.notDeepEqual(a.blindIndex('users.email', 'x@y.z'), a.blindIndex('users.email', 'x@y.zz'));
    assert.equal(a.blindIndex('users.email', 'x@y.z').length, 32);
  });
});

describe('LocalKeyProvider', () => {
  const b64 = () => randomBytes(32).toString('base64');

  it('wraps with the first KEK and unwraps with any listed, bound to the tenant and version', async () => {
    const old = b64();
    const before = LocalKeyProvider.fromEnvironment({ TENANCY_KEKS: `k1:${old}` });
    const dek = randomBytes(32);
    const wrapped = await before.wrap(dek, { tenantId: 'acme', version: 1 });
    assert.equal(wrapped.kekId, 'k1');
    const during = LocalKeyProvider.fromEnvironment({ TENANCY_KEKS: `k2:${b64()}, k1:${old}` });
    assert.equal(during.currentKekId, 'k2');
    assert.deepEqual(await during.unwrap(wrapped, { tenantId: 'acme', version: 1 }), dek);
    await assert.rejects(during.unwrap(wrapped, { tenantId: 'beta', version: 1 }), KeyEncryptionKeyError);
    await assert.rejects(during.unwrap(wrapped, { tenantId: 'acme', version: 2 }), KeyEncryptionKeyError);
    await assert.rejects(
      LocalKeyProvider.fromEnvironment({ TENANCY_KEKS: `k1:${b64()}` }).unwrap(wrapped, { tenantId: 'acme', version: 1 }),
      /does not unwrap/,
    );
    await assert.rejects(
      LocalKeyProvider.fromEnvironment({ TENANCY_KEKS: `k9:${b64()}` }).unwrap(wrapped, { tenantId: 'acme', version: 1 }),
      /'k1', which is not configured/,
    );
  });

  it('refuses a missing, malformed, short or repeated KEK with a message naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /TENANCY_KEKS is not set/],
      [{ TENANCY_KEKS: '  ' }, /TENANCY_KEKS is not set/],
      [{ TENANCY_KEKS: 'no-colon' }, /TENANCY_KEKS: each entry is <id>:<base64/],
      [{ TENANCY_KEKS: `k1:${randomBytes(31).toString('base64')}` }, /31 bytes; a key-encryption key is 32 bytes/],
      [{ TENANCY_KEKS: `K1:${b64()}` }, /key id 'K1' is malformed/],
      [{ TENANCY_KEKS: `k1:${b64()},k1:${b64()}` }, /listed twice/],
    ];
    for (const [env, message] of cases)
      assert.throws(
        () => LocalKeyProvider.fromEnvironment(env),
        (err: Error) => err instanceof KeyEncryptionKeyError && message.test(err.message),
      );
  });
});
