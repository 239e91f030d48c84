// The tenant id format: checked before any lookup, and what keeps derived names injective and short.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { isValidTenantId, TENANT_ID_PATTERN } from './tenant-id';

describe('isValidTenantId', () => {
  it('accepts 1 to 40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit', () => {
    for (const id of ['a', '7', 'acme', 'a-b', 'a--b', '42', 'big-corp-2', 'x'.repeat(40), `a${'-'.repeat(38)}b`, '0-0']) {
      assert.equal(isValidTenantId(id), true, id);
    }
  });

  it('refuses everything else', () => {
    const bad = [
      '',
      '-',
      '-a',
      'a-',
      'Acme',
      'ACME',
      'ac_me',
      'ac.me',
      'ac me',
      ' acme',
      'acme ',
      'acme\n',
      '\nacme',
      'acme\0',
      'acmé',
      'аcme', // Cyrillic а
      'x'.repeat(41),
      "acme'",
      'acme";--',
      'acme/x',
      '%61cme',
    ];
    for (const id of bad) assert.equal(isValidTenantId(id), false, JSON.stringify(id));
  });

  it('refuses non-strings, even ones that print as a valid id', () => {
    for (const value of [undefined, null, 42, ['acme'], { toString: () => 'acme' }, new String('acme'), true]) {
      assert.equal(isValidTenantId(value), false, String(value));
    }
  });

  it('is a full-string match (no multiline flag, anchored both ends)', () => {
    assert.equal(TENANT_ID_PATTERN.flags, '');
    assert.equal(TENANT_ID_PATTERN.test('ok\nACME'), false);
    assert.equal(TENANT_ID_PATTERN.test('ACME\nok'), false);
  });
});
