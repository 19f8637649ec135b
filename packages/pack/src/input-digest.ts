import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Range } from './range-samples.ts';

/**
 * SHA-256 of bytes [start, end) of a file (the whole file without a range).
 *
 * @example
 * await sha256Range('data/a.jsonl');                       // whole file
 * await sha256Range('data/big.jsonl', { start: 0, end: 268435577 });
 */
export async function sha256Range(path: string, range?: Range): Promise<string> {
  const h = createHash('sha256');
  if (range && range.end <= range.start) return h.digest('hex');
  const opts = range ? { start: range.start, end: range.end - 1 } : {};
  for await (const chunk of createReadStream(path, opts)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The digest `weft process` records for an input file: its SHA-256 when read whole, else a hash
 * of its ranges' bounds and SHA-256s — which shards compute each for their own ranges, so a merge
 * never rereads the input.
 *
 * @example
 * inputDigest([{ start: 0, end: 10, sha256: 'ab..' }, { start: 10, end: 25, sha256: 'cd..' }]);
 */
export function inputDigest(ranges: readonly (Range & { sha256: string })[]): string {
  if (ranges.length === 1) return ranges[0]!.sha256;
  return createHash('sha256')
    .update(ranges.map((r) => `${r.start}-${r.end} ${r.sha256}\n`).join(''))
    .digest('hex');
}

/** {@link inputDigest} of a file cut into `ranges`, reading it once per range. */
export async function fileDigest(path: string, ranges: readonly Range[]): Promise<string> {
  if (ranges.length === 1) return sha256Range(path);
  const withSha = [];
  for (const r of ranges) withSha.push({ ...r, sha256: await sha256Range(path, r) });
  return inputDigest(withSha);
}
