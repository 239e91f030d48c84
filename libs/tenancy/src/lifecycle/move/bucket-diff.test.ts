// The arithmetic of a move's catch-up and verification: which buckets and rows differ, and what
// the target's sums are once caught up.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { type BucketSums, differingBuckets, goneKeys, missingKeys, type RowHashes, summary, sumsAfterCatchUp } from './bucket-diff';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** What bucket-sums.ts computes in SQL, in JS: bucket = first 12 bits of md5(key), sum of the first 60 bits of each row hash. */
function sumsOf(rows: Record<string, string>): BucketSums {
  const acc = new Map<number, { n: number; sum: bigint }>();
  for (const [key, row] of Object.entries(rows)) {
    const b = parseInt(md5(key).slice(0, 3), 16);
    const h = BigInt(`0x${md5(row).slice(0, 15)}`);
    const cur = acc.get(b) ?? { n: 0, sum: 0n };
    acc.set(b, { n: cur.n + 1, sum: cur.sum + h });
  }
  return new Map([...acc].map(([b, { n, sum }]) => [b, `${n}:${sum}`]));
}

function hashesOf(rows: Record<string, string>): RowHashes {
  return new Map(Object.entries(rows).map(([k, row]) => [k, md5(row)]));
}

/** The rows of `rows` whose key falls in one of `buckets`. */
function inBuckets(rows: Record<string, string>, buckets: number[]): Record<string, string> {
  return Object.fromEntries(Object.entries(rows).filter(([k]) => buckets.includes(parseInt(md5(k).slice(0, 3), 16))));
}

/** A catch-up as table-sync.ts runs it, on rows held in memory: returns the target afterwards and its verified sums. */
function catchUp(source: Record<string, string>, target: Record<string, string>) {
  const before = sumsOf(target);
  const differing = differingBuckets(sumsOf(source), before);
  const src = hashesOf(inBuckets(source, differing));
  const dst = hashesOf(inBuckets(target, differing));
  const after = { ...target };
  for (const k of goneKeys(src, dst)) delete after[k];
  for (const k of missingKeys(src, dst)) after[k] = source[k];
  const resummed = new Map([...sumsOf(after)].filter(([b]) => differing.includes(b)));
  return { after, differing, sums: sumsAfterCatchUp(before, differing, resummed) };
}

function table(n: number, tag = ''): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`["t1",${i}]`, `(t1,${i},name ${i}${tag})`]));
}

describe('bucket arithmetic of the move catch-up', () => {
  it('finds no differing bucket between equal sides, whatever the order the rows were summed in', () => {
    const rows = table(500);
    const reversed = Object.fromEntries(Object.entries(rows).reverse());
    assert.deepEqual(differingBuckets(sumsOf(rows), sumsOf(reversed)), []);
    assert.deepEqual(summary(sumsOf(rows)), summary(sumsOf(reversed)));
    assert.equal(summary(sumsOf(rows)).count, 500);
  });

  it('names exactly the buckets of inserted, updated and deleted rows, ascending', () => {
    const source = table(300);
    const target = { ...source };
    delete target['["t1",7]'];
    target['["t1",8]'] = '(t1,8,stale)';
    target['["t1",999]'] = '(t1,999,deleted at the source)';
    const bucketOf = (k: string) => parseInt(md5(k).slice(0, 3), 16);
    const expected = [...new Set(['["t1",7]', '["t1",8]', '["t1",999]'].map(bucketOf))].sort((a, b) => a - b);
    assert.deepEqual(differingBuckets(sumsOf(source), sumsOf(target)), expected);
  });

  it('counts a bucket present on one side only as differing, both ways', () => {
    const one: BucketSums = new Map([[5, '1:10']]);
    assert.deepEqual(differingBuckets(one, new Map()), [5]);
    assert.deepEqual(differingBuckets(new Map(), one), [5]);
    assert.deepEqual(
      differingBuckets(
        new Map([
          [5, '1:10'],
          [9, '2:4'],
        ]),
        new Map([
          [5, '1:11'],
          [9, '2:4'],
        ]),
      ),
      [5],
    );
  });

  it('deletes only the target rows the source no longer has, and writes the ones the target lacks or holds otherwise', () => {
    const src: RowHashes = new Map([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    const dst: RowHashes = new Map([
      ['b', '2'],
      ['c', 'changed'],
      ['d', '4'],
    ]);
    assert.deepEqual(goneKeys(src, dst), ['d'], 'a changed row is not deleted: it is updated in place');
    assert.deepEqual(missingKeys(src, dst).sort(), ['a', 'c']);
    assert.deepEqual(goneKeys(src, src), []);
    assert.deepEqual(missingKeys(new Map(), dst), []);
  });

  it('keeps the sums of untouched buckets, replaces the differing ones and drops those emptied', () => {
    const target: BucketSums = new Map([
      [1, '1:1'],
      [2, '2:2'],
      [3, '3:3'],
    ]);
    const after = sumsAfterCatchUp(target, [2, 3], new Map([[2, '1:9']]));
    assert.deepEqual([...after].sort(), [
      [1, '1:1'],
      [2, '1:9'],
    ]);
    assert.deepEqual(
      [...target].sort(),
      [
        [1, '1:1'],
        [2, '2:2'],
        [3, '3:3'],
      ],
      'the input is not changed',
    );
  });

  it('a catch-up makes the target equal the source and its verified summary match', () => {
    const source = table(2_000);
    const target = table(2_000);
    for (const i of [3, 50, 1_999]) target[`["t1",${i}]`] = `(t1,${i},old)`;
    for (const i of [10, 11, 12]) delete target[`["t1",${i}]`];
    target['["t1",5000]'] = '(t1,5000,gone)';
    const { after, differing, sums } = catchUp(source, target);
    assert.ok(differing.length > 0 && differing.length <= 7, `${differing.length} buckets differ`);
    assert.deepEqual(after, source);
    assert.deepEqual(summary(sums), summary(sumsOf(source)));
    assert.equal(summary(sums).count, 2_000);
  });

  it('a verification that a catch-up did not fix fails: the summaries differ', () => {
    const source = table(100);
    const target = { ...table(100), '["t1",100]': '(t1,100,extra)' };
    const differing = differingBuckets(sumsOf(source), sumsOf(target));
    const unfixed = sumsAfterCatchUp(sumsOf(target), differing, new Map([...sumsOf(target)].filter(([b]) => differing.includes(b))));
    assert.notDeepEqual(summary(unfixed), summary(sumsOf(source)));
    assert.equal(summary(unfixed).count, 101);
    const changed = table(100, ' renamed');
    assert.equal(summary(sumsOf(changed)).count, summary(sumsOf(source)).count, 'same count...');
    assert.notEqual(summary(sumsOf(changed)).sum, summary(sumsOf(source)).sum, '...other rows: another checksum');
  });

  it('summarises an empty table as zero rows with a stable checksum', () => {
    assert.deepEqual(summary(new Map()), { count: 0, sum: md5('') });
  });
});
