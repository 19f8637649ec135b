/**
 * Reader throughput: generate a JSON-lines file (default 200 MB, cached in bench/.data/), read it
 * with weft's jsonl reader, and print lines/s and MB/s beside `wc -l` on the same file, timed in
 * the same run.
 *
 *   npx tsx bench/read-jsonl.ts [--mb 200]
 *
 * `wc -l` only counts newlines; weft also checks UTF-8, decodes and JSON.parses every line and
 * tracks line numbers and byte offsets, so the ratio is the price of doing the real work.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileChunks, lineSource, lineText, readJsonl, splitLines } from '@weft/order';

const args = process.argv.slice(2);
const mbArg = args.indexOf('--mb');
const mb = mbArg >= 0 ? Number(args[mbArg + 1]) : 200;
if (!(mb > 0)) throw new Error('--mb must be a positive number');

const dir = join(dirname(fileURLToPath(import.meta.url)), '.data');
const file = join(dir, `bench-${mb}mb.jsonl`);

const EN = 'The quick brown fox jumps over the lazy dog while the river keeps running to the sea'.split(' ');
const CN = '我们在河边散步看见一只小猫正在追着蝴蝶跑来跑去天空很蓝'.split('');

/** Deterministic lines of mixed English and Chinese text, ~100-900 bytes each. */
async function generate(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const target = mb * 1e6;
  const out = createWriteStream(file);
  let seed = 12345,
    written = 0,
    id = 0;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  while (written < target) {
    const parts: string[] = [];
    for (let k = 0; k < 2000; k++) {
      const n = 20 + rnd(150);
      const words: string[] = [];
      const cn = rnd(3) === 0;
      for (let w = 0; w < n; w++) words.push(cn ? CN[rnd(CN.length)]! : EN[rnd(EN.length)]!);
      parts.push(JSON.stringify({ id: id++, lang: cn ? 'zh' : 'en', text: words.join(cn ? '' : ' ') }) + '\n');
    }
    const chunk = parts.join('');
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

if (!existsSync(file)) {
  process.stderr.write(`generating ${file} ...\n`);
  await generate();
}
const bytes = statSync(file).size;
const MB = bytes / 1e6;

// Warm the page cache so both contenders read from memory.
spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });

let t = process.hrtime.bigint();
const wc = spawnSync('wc', ['-l', file], { encoding: 'utf8' });
const wcS = seconds(t);
const wcLines = Number(wc.stdout.trim().split(/\s+/)[0]);

t = process.hrtime.bigint();
let split = 0;
for await (const b of splitLines(fileChunks(file), file)) split += b.length;
const splitS = seconds(t);

t = process.hrtime.bigint();
const src = readJsonl(file);
let lines = 0;
for await (const r of src) if (r.value !== undefined) lines++;
const weftS = seconds(t);

if (lines !== wcLines || split !== wcLines)
  throw new Error(`line counts differ: weft ${lines}, split ${split}, wc -l ${wcLines}`);
const row = (name: string, s: number): string =>
  `${name.padEnd(34)} ${s.toFixed(3).padStart(8)} s ${(lines / s / 1e6).toFixed(2).padStart(8)} M lines/s ${(MB / s).toFixed(1).padStart(8)} MB/s`;
console.log(`file: ${file} (${MB.toFixed(1)} MB, ${lines} lines)`);
console.log(row('wc -l', wcS));
console.log(row('weft splitLines (no decode)', splitS));
console.log(row('weft readJsonl (UTF-8 + JSON.parse)', weftS));
console.log(
  `ratio readJsonl / wc -l: ${(weftS / wcS).toFixed(1)}x the time (${(MB / weftS).toFixed(1)} vs ${(MB / wcS).toFixed(1)} MB/s)`,
);

// Where the time between splitting and readJsonl goes (issue 13 item 4): the same per-line work in
// a plain loop over the split batches, step by step, then readJsonl, whose extra cost is its
// per-line async hops (lines → counting → body → output: four async generators per line).
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
async function steps(name: string, f: () => Promise<number>): Promise<void> {
  const c0 = cpu(),
    t0 = process.hrtime.bigint();
  const n = await f();
  const c = cpu() - c0,
    w = seconds(t0);
  if (n !== lines) throw new Error(`${name}: ${n} lines, expected ${lines}`);
  console.log(
    `${name.padEnd(52)} ${(MB / w).toFixed(1).padStart(8)} MB/s ${(MB / c).toFixed(1).padStart(8)} MB per CPU s`,
  );
}
console.log('breakdown (wall MB/s, and MB per CPU second: the load-independent figure):');
await steps('split into lines', async () => {
  let n = 0;
  for await (const b of splitLines(fileChunks(file), file)) n += b.length;
  return n;
});
await steps('+ UTF-8 check and decode (lineText)', async () => {
  let n = 0;
  for await (const b of splitLines(fileChunks(file), file)) for (const l of b) if (lineText(l).length >= 0) n++;
  return n;
});
await steps('+ JSON.parse and the record, in a plain loop', async () => {
  let n = 0;
  for await (const b of splitLines(fileChunks(file), file))
    for (const l of b) {
      const t = lineText(l);
      if (t.trim() !== '' && { value: JSON.parse(t), source: lineSource(l) }.value !== undefined) n++;
    }
  return n;
});
await steps('readJsonl (the same work, one record at a time)', async () => {
  let n = 0;
  for await (const r of readJsonl(file)) if (r.value !== undefined) n++;
  return n;
});
console.log('note: measured on a shared, loaded machine (2 cores shared with other jobs); compare within a run only.');
