import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { errorMessage } from './error-message';

describe('errorMessage', () => {
  it('gives the message of an Error, all of it, trimmed', () => {
    assert.equal(
      errorMessage(new Error('  the disk is full\n  table notes: free space 0  ')),
      'the disk is full\n  table notes: free space 0',
    );
  });

  it('gives the name of an Error without a message, or its cause', () => {
    assert.equal(errorMessage(new TypeError()), 'TypeError (no message)');
    assert.equal(errorMessage(new Error('', { cause: new Error('connect refused') })), 'connect refused');
  });

  it('gives a string as it is, and the message of an object that has one', () => {
    assert.equal(errorMessage('plain words'), 'plain words');
    assert.equal(errorMessage({ message: 'from an object' }), 'from an object');
    assert.equal(errorMessage({ message: ['one', 'two'] }), 'one; two');
  });

  it('never answers undefined, null or an empty string', () => {
    for (const thrown of [undefined, null, '', '   ', {}, 42, new Error(''), { message: 7 }]) {
      const said = errorMessage(thrown);
      assert.equal(typeof said, 'string');
      assert.ok(said.trim().length > 0, `empty for ${String(thrown)}`);
      assert.doesNotMatch(said, /^(undefined|null)$/);
    }
    assert.match(errorMessage(undefined), /undefined was thrown/);
    assert.match(errorMessage(42), /a number was thrown/);
  });
});
