// The nesting and size check that runs on a JSON body's raw bytes before anything parses it.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { assertJsonShape, JsonBodyTooComplexError } from './json-shape';

const check =
  (text: string, limits = { maxDepth: 3, maxEntries: 5 }) =>
  () =>
    assertJsonShape(Buffer.from(text), limits);

describe('assertJsonShape', () => {
  it('accepts documents within the limits, strings with brackets and escaped quotes included', () => {
    check('{"a":[1,{"b":2}]}')();
    check('{"a":"[[[[[[,,,,,,,,{{{{\\"]]]"}')();
    check('[[[]]]')();
    check('{}')();
    check('"plain"')();
  });

  it('refuses nesting deeper than maxDepth, arrays and objects alike', () => {
    assert.throws(
      check('[[[[1]]]]'),
      (e) => e instanceof JsonBodyTooComplexError && /at most 3 levels/.test(e.message) && e.getStatus() === 400,
    );
    assert.throws(check('{"a":{"b":{"c":{"d":1}}}}'), JsonBodyTooComplexError);
  });

  it('refuses more entries than maxEntries in all, counting keys and elements', () => {
    check('[1,2,3,4,5]')();
    assert.throws(check('[1,2,3,4,5,6]'), /at most 5 array elements and object keys/);
    assert.throws(check('{"a":1,"b":2,"c":[1,2,3,4]}'), JsonBodyTooComplexError);
  });

  it('handles 100,000 levels without recursion, with the default limits', () => {
    const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
    assert.throws(() => assertJsonShape(deep), /nested too deeply: at most 32 levels/);
  });
});
