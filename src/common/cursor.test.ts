// Keyset cursors are opaque, versioned and checked; pages are cut from limit + 1 rows.
import { BadRequestException } from '@nestjs/common';
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { decodeCursor, encodeCursor, likePattern, toPage } from './cursor';

const ID = '01936b2e-7c4a-7b3d-9f1e-2a3b4c5d6e7f';
const ID2 = '01936b2e-7c4a-7b3d-9f1e-2a3b4c5d6e80';

function assertBadCursor(cursor: string) {
  assert.throws(
    () => decodeCursor(cursor),
    (err: unknown) => {
      assert.ok(err instanceof BadRequestException, String(err));
      assert.equal(err.getStatus(), 400);
      assert.match(err.message, /cursor is not valid: pass the nextCursor of a previous page unchanged/);
      return true;
    },
    JSON.stringify(cursor),
  );
}

describe('cursor', () => {
  it('round-trips an id through an opaque, URL-safe cursor', () => {
    const cursor = encodeCursor(ID);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.ok(!cursor.includes(ID), 'the cursor does not show the id in clear');
    assert.equal(decodeCursor(cursor), ID);
    assert.notEqual(encodeCursor(ID2), cursor);
    assert.equal(decodeCursor(encodeCursor(ID2)), ID2);
  });

  it('treats no cursor as the first page', () => {
    assert.equal(decodeCursor(undefined), undefined);
  });

  it('refuses a cursor that is not one of ours with 400', () => {
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    for (const bad of [
      '',
      'abc',
      ID,
      b64(ID),
      b64(`v2:${ID}`),
      b64(`v1:${ID.toUpperCase()}`),
      b64(`v1:${ID} `),
      b64(`v1:${ID}\n`),
      b64(`v1:${ID}' OR '1'='1`),
      b64('v1:'),
      `${encodeCursor(ID)}!`,
      'A'.repeat(101),
      encodeCursor(ID) + 'A'.repeat(80),
    ]) {
      assertBadCursor(bad);
    }
  });
});

describe('toPage', () => {
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `01936b2e-7c4a-7b3d-9f1e-${String(i).padStart(12, '0')}`, n: i }));

  it('cuts limit + 1 rows to limit and points the cursor at the last item shown', () => {
    const page = toPage(rows(4), 3, (r) => r.n);
    assert.deepEqual(page.items, [0, 1, 2]);
    assert.ok(page.nextCursor);
    assert.equal(decodeCursor(page.nextCursor), rows(4)[2].id);
  });

  it('has no next page when no more rows came back', () => {
    assert.deepEqual(
      toPage(rows(3), 3, (r) => r.n),
      { items: [0, 1, 2], nextCursor: null },
    );
    assert.deepEqual(
      toPage(rows(1), 3, (r) => r.n),
      { items: [0], nextCursor: null },
    );
    assert.deepEqual(
      toPage([], 3, (r: { id: string }) => r.id),
      { items: [], nextCursor: null },
    );
  });

  it('maps each item', () => {
    const page = toPage(rows(2), 5, (r) => ({ id: r.id, label: `#${r.n}` }));
    assert.deepEqual(
      page.items.map((i) => i.label),
      ['#0', '#1'],
    );
  });
});

describe('likePattern', () => {
  it('wraps the text in % and escapes LIKE wildcards and the escape character', () => {
    assert.equal(likePattern('ada'), '%ada%');
    assert.equal(likePattern('50%'), '%50\\%%');
    assert.equal(likePattern('a_b'), '%a\\_b%');
    assert.equal(likePattern('c:\\temp'), '%c:\\\\temp%');
    assert.equal(likePattern('%_\\'), '%\\%\\_\\\\%');
    assert.equal(likePattern(''), '%%');
  });
});
