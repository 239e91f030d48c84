import { createHash } from 'node:crypto';

/**
 * One table's rows on one side of a move, summed per bucket: bucket (0..4095, the first 12 bits of
 * the md5 of the row's key) to `count:sum`, where sum adds up the first 60 bits of every row's hash
 * (see bucket-sums.ts). Order-independent: equal maps mean equal rows, short of a 60-bit collision.
 */
export type BucketSums = Map<number, string>;

/** Rows of some buckets on one side: the row's key (JSON array text) to the md5 of the row. */
export type RowHashes = Map<string, string>;

/** The buckets whose sums differ between the sides (present on one side only counts), ascending. */
export function differingBuckets(source: BucketSums, target: BucketSums): number[] {
  return [...new Set([...source.keys(), ...target.keys()])].filter((b) => source.get(b) !== target.get(b)).sort((x, y) => x - y);
}

/** The target's rows the source no longer has: to delete from the target (children first). */
export function goneKeys(source: RowHashes, target: RowHashes): string[] {
  return [...target.keys()].filter((k) => !source.has(k));
}

/**
 * The source's rows the target lacks or holds otherwise: to write to the target (parents first),
 * a changed row in place (an upsert), so that the rows referencing it never lose their parent.
 */
export function missingKeys(source: RowHashes, target: RowHashes): string[] {
  return [...source.entries()].filter(([k, h]) => target.get(k) !== h).map(([k]) => k);
}

/**
 * The target's sums after a catch-up: the buckets that matched before it were not touched and keep
 * their sums; the `differing` ones take their sums as summed again (`resummed`), and a differing
 * bucket absent from `resummed` is now empty.
 */
export function sumsAfterCatchUp(target: BucketSums, differing: number[], resummed: BucketSums): BucketSums {
  const after = new Map(target);
  for (const b of differing) after.delete(b);
  for (const [b, sum] of resummed) after.set(b, sum);
  return after;
}

/** A table's row count and checksum (md5 hex of its bucket sums in bucket order). */
export function summary(buckets: BucketSums): { count: number; sum: string } {
  const entries = [...buckets.entries()].sort((x, y) => x[0] - y[0]);
  const count = entries.reduce((n, [, s]) => n + Number(s.split(':')[0]), 0);
  return {
    count,
    sum: createHash('md5')
      .update(entries.map(([b, s]) => `${b}=${s}`).join(','))
      .digest('hex'),
  };
}
