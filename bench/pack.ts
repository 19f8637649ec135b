/**
 * Packing throughput and memory.
 *
 *   npx tsx bench/pack.ts [--mtokens 100] [--packed-length 8192] [--ref-packs 3000] [--rss 1,4] [--keep]
 *
 * 1. Generates an InternLM tokenized set (`.bin` JSON lines + `.bin.meta` npy, 8 files, sample
 *    lengths 1..4096) of `--mtokens` million tokens under bench/.data/ (gitignored).
 * 2. Packs all of it with weft's length-seeded packer (PackedDataset over lazily read samples),
 *    and the first `--ref-packs` packs with the numpy reference of the same algorithm
 *    (tools/reference/pack_ref.py, python3 + numpy), in the same run; prints both tokens/s, the
 *    ratio, and checks that both give the same checksum over those packs; once more with 2 worker threads.
 * 3. `--rss 1,4`: peak RSS of `weft process --format internlm --pack` on generated inputs of 1 and
 *    4 GB of `.bin` (output written and deleted): flat in input size is the goal.
 * Data is deleted at the end unless --keep.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync, existsSync, statSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '@weft/order';
import { PackedDataset } from '@weft/pack';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const mtokens = Number(opt('--mtokens', '100'));
const L = Number(opt('--packed-length', '8192'));
const refPacks = Number(opt('--ref-packs', '3000'));
const rssSizes = opt('--rss', '').split(',').filter(Boolean).map(Number);
const keep = args.includes('--keep');

const root = dirname(fileURLToPath(import.meta.url));
const data = join(root, '.data');
const repo = join(root, '..');

/** Write `files` .bin/.meta files holding about `totalTokens` tokens (deterministic). */
function generate(dir: string, totalTokens: number, files = 8): void {
  if (existsSync(join(dir, 'done'))) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const perFile = totalTokens / files;
  for (let f = 0; f < files; f++) {
    const path = join(dir, `part-${String(f).padStart(3, '0')}.bin`);
    const fd = openSync(path, 'w');
    const offsets: number[] = [], lengths: number[] = [];
    let off = 0, tokens = 0, buf: string[] = [], bufLen = 0;
    while (tokens < perFile) {
      const n = 1 + rnd(4096);
      const t = new Array<number>(n);
      for (let i = 0; i < n; i++) t[i] = (rnd(5) === 0 ? -1 : 1) * (1 + rnd(151000));
      const line = `{"tokens": [${t.join(', ')}]}\n`;
      offsets.push(off);
      lengths.push(n);
      off += line.length; // ASCII
      tokens += n;
      buf.push(line);
      bufLen += line.length;
      if (bufLen > 1 << 24) {
        writeSync(fd, buf.join(''));
        buf = [];
        bufLen = 0;
      }
    }
    writeSync(fd, buf.join(''));
    closeSync(fd);
    const meta = new BigInt64Array(offsets.length * 2);
    offsets.forEach((o, i) => {
      meta[2 * i] = BigInt(o);
      meta[2 * i + 1] = BigInt(lengths[i]!);
    });
    writeFileSync(`${path}.meta`, encodeNpy(meta, [offsets.length, 2], '<i8'));
  }
  writeFileSync(join(dir, 'done'), '');
}

function dirBytes(dir: string): number {
  let s = 0;
  for (let f = 0; existsSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)); f++) s += statSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)).size;
  return s;
}

/** The checksum pack_ref.py prints, over the first `limit` packs (all when 0). */
async function weftPack(dir: string, limit: number, workers = 0): Promise<{ packs: number; tokens: number; seconds: number; checksum: number }> {
  const t0 = performance.now();
  const ds = await PackedDataset.fromBinFolder(dir, { packedLength: L, seed: 1024 });
  let packs = 0, tokens = 0, checksum = 0;
  for await (const p of ds.packs(0, 4, workers)) {
    let s = 0;
    for (let i = 0; i < p.input_ids.length; i++) s += p.input_ids[i]! + 3 * p.labels[i]!;
    checksum = (((checksum + s + 7 * p.cumulative_len.length) % 2147483648) + 2147483648) % 2147483648;
    packs++;
    tokens += p.input_ids.length;
    if (limit && packs >= limit) break;
  }
  await ds.close();
  return { packs, tokens, seconds: (performance.now() - t0) / 1000, checksum };
}

const dir = join(data, `pack-${mtokens}M`);
console.log(`generating ${mtokens}M tokens in ${dir} ...`);
generate(dir, mtokens * 1e6);
console.log(`input: ${(dirBytes(dir) / 1e9).toFixed(2)} GB of .bin`);

// Warm the page cache so that neither side pays for the disk.
for (let f = 0; existsSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)); f++) readFileSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`));
const full = await weftPack(dir, 0);
console.log(`weft : ${full.packs} packs, ${(full.tokens / 1e6).toFixed(1)}M tokens in ${full.seconds.toFixed(2)} s = ${(full.tokens / full.seconds / 1e6).toFixed(2)}M tokens/s`);
const par = await weftPack(dir, 0, 2);
console.log(`weft, 2 worker threads: ${(par.tokens / par.seconds / 1e6).toFixed(2)}M tokens/s (same checksum: ${par.checksum === full.checksum ? 'yes' : 'NO'})`);
const weftPrefix = await weftPack(dir, refPacks);
const ref = JSON.parse(execFileSync('python3', [join(repo, 'tools/reference/pack_ref.py'), dir, '--packed-length', String(L), '--seed', '1024', '--max-packs', String(refPacks)], { encoding: 'utf8', maxBuffer: 1 << 26 })) as typeof full;
console.log(`numpy: ${ref.packs} packs, ${(ref.tokens / 1e6).toFixed(1)}M tokens in ${ref.seconds.toFixed(2)} s = ${(ref.tokens / ref.seconds / 1e6).toFixed(2)}M tokens/s (first ${refPacks} packs)`);
console.log(`same packs as numpy (checksum over the first ${refPacks}): ${weftPrefix.checksum === ref.checksum ? 'yes' : `NO (${weftPrefix.checksum} vs ${ref.checksum})`}`);
const refRate = ref.tokens / ref.seconds;
console.log(`weft on the same ${refPacks} packs: ${(weftPrefix.tokens / weftPrefix.seconds / 1e6).toFixed(2)}M tokens/s`);
console.log(`ratio weft/numpy, same packs: ${((weftPrefix.tokens / weftPrefix.seconds) / refRate).toFixed(1)}x; whole set vs numpy rate: ${((full.tokens / full.seconds) / refRate).toFixed(1)}x one thread, ${((par.tokens / par.seconds) / refRate).toFixed(1)}x 2 workers`);

for (const gb of rssSizes) {
  const d = join(data, `rss-${gb}GB`);
  // ~6.9 bytes per token in these files.
  console.log(`generating ~${gb} GB in ${d} ...`);
  generate(d, (gb * 1e9) / 6.9);
  const out = join(data, `rss-${gb}GB-out`);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, join(repo, 'packages/cli/bin/weft.mjs'), 'process', d, '--format', 'internlm', '--pack', '--packed-length', String(L), '--quiet', '--out', out],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`weft process failed: ${r.stderr}`);
  const [kb, secs] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
  console.log(`weft process on ${(dirBytes(d) / 1e9).toFixed(2)} GB: peak RSS ${(kb / 1024).toFixed(0)} MB, ${secs.toFixed(1)} s`);
  rmSync(out, { recursive: true, force: true });
  if (!keep) rmSync(d, { recursive: true, force: true });
}
if (!keep) rmSync(dir, { recursive: true, force: true });
console.log('(numbers from a shared, loaded 2-core machine)');
