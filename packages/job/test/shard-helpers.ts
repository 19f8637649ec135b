import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SAMPLE = new URL('../../../data/sample/ftdp/', import.meta.url).pathname;

/**
 * A small ftdp corpus with files larger than a 16 000-byte split bound: the two sample chat files
 * (~47 KB each: 3 ranges), the code file (whole), and a file whose middle line is longer than the
 * bound (its middle range is empty).
 */
export function makeShardInput(dir: string): string {
  mkdirSync(join(dir, 'code'), { recursive: true });
  for (const f of ['chat_cn.json', 'chat_en.json', 'code/code_mixed.json']) copyFileSync(join(SAMPLE, f), join(dir, f));
  const turn = (u: string, a: string) =>
    JSON.stringify([
      { role: 'user', content: u },
      { role: 'assistant', content: a },
    ]);
  const long = Array.from({ length: 1800 }, (_, i) => `word${i % 97} is number ${i}.`).join(' ');
  writeFileSync(
    join(dir, 'z_long.json'),
    `${turn('short one?', 'yes.')}\n${turn('a long answer please', long)}\n${turn('and the last?', 'done.')}\n`,
  );
  return dir;
}

/** The job the shard tests run (input and out aside): packed, split into byte ranges, Arrow files cut small. */
export const SHARD_JOB = {
  format: 'ftdp',
  tokenizer: 'default',
  template: 'internlm2_chat',
  maxLength: 384,
  pack: true,
  packedLength: 512,
  seed: 7,
  splitBytes: 16_000,
  maxShardBytes: 40_000,
  progress: false,
} as const;

/** {@link SHARD_JOB} as `weft process` options (the Slurm test and the killed-task test run the CLI). */
export const SHARD_JOB_ARGS: string[] = Object.entries({
  format: SHARD_JOB.format,
  tokenizer: SHARD_JOB.tokenizer,
  template: SHARD_JOB.template,
  'max-length': SHARD_JOB.maxLength,
  'packed-length': SHARD_JOB.packedLength,
  seed: SHARD_JOB.seed,
  'split-bytes': SHARD_JOB.splitBytes,
  'max-shard-size': SHARD_JOB.maxShardBytes,
})
  .flatMap(([k, v]) => [`--${k}`, String(v)])
  .concat('--pack');

/** Every file under dir (relative path → bytes), skipping the top-level names in `skip`. */
export function tree(
  dir: string,
  skip: readonly string[] = [],
  root = dir,
  out = new Map<string, Buffer>(),
): Map<string, Buffer> {
  for (const e of readdirSync(dir).sort()) {
    if (dir === root && skip.includes(e)) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) tree(p, skip, root, out);
    else out.set(relative(root, p), readFileSync(p));
  }
  return out;
}

/** {@link tree} as a plain object of base64 strings (what `toEqual` compares and prints readably). */
export function treeRecord(dir: string): Record<string, string> {
  return Object.fromEntries([...tree(dir)].map(([k, v]) => [k, v.toString('base64')]));
}

/** Assert two folders hold the same files with the same bytes (names listed on a mismatch). */
export function sameTree(a: Map<string, Buffer>, b: Map<string, Buffer>): string[] {
  const diff: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k),
      y = b.get(k);
    if (!x || !y || !x.equals(y)) diff.push(k);
  }
  return diff.sort();
}
