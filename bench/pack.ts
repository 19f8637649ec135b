/**
 * Packing throughput and memory.
 *
 *   npx tsx bench/pack.ts [--mtokens 100] [--packed-length 8192] [--ref-packs 0] [--repeat 3]
 *                         [--rss 1,4] [--huge 28] [--only sidecar|arrow|json] [--keep]
 *
 * 1. Generates an InternLM tokenized set (`.bin` JSON lines + `.bin.meta` npy, 8 files, sample
 *    lengths 1..4096) of `--mtokens` million tokens under bench/.data/ (gitignored), and the same
 *    samples as an Arrow samples folder (one split per file, what `weft process` writes).
 * 2. Packs all of it, one thread, every way weft can read it, in the same run:
 *    - JSON: parsing the `.bin` lines (no sidecar);
 *    - sidecar, first run: building the binary token sidecars (timed apart), then packing;
 *    - sidecar, later runs (`--repeat` passes, median): packing from the sidecars (opening included);
 *    - Arrow: packing from the samples folder;
 *    - sidecar with 2 worker threads;
 *    and with the numpy reference of the same algorithm (tools/reference/pack_ref.py, python3 +
 *    numpy) over the first `--ref-packs` packs (0: all). Every row's checksum (computed in a pass of
 *    its own, so the timed runs hold packing only) must equal numpy's. Rates are given per wall
 *    second and per CPU second of this process (the machine is shared: CPU seconds are the steadier).
 * 3. `--only X`: just that kind (after setup): `--repeat` timed passes in this fresh process, then one
 *    pass with the checksum; for timing whole processes against the reference.
 * 4. `--rss 1,4`: peak RSS of `weft process --format internlm --pack` on generated inputs of 1 and
 *    4 GB of `.bin` (output written and deleted): flat in input size is the goal.
 * 5. `--huge 28`: one `.bin` line of 28 M tokens (~200 MB) among small ones: packs/s reading it
 *    per piece as before (whole line parsed per piece), with the JSON path's last-sample cache,
 *    and from the sidecar; peak RSS of `weft pack` on it with and without the sidecar.
 * Data is deleted at the end unless --keep.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  rmSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  existsSync,
  statSync,
  readFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SEED, fromSignedTokens } from '@weft/core';
import { BinFile, encodeNpy, readInternlmBin } from '@weft/order';
import { ArrowDatasetWriter, ArrowSource, PackedDataset, binSources, type LengthSource } from '@weft/pack';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const mtokens = Number(opt('--mtokens', '100'));
const L = Number(opt('--packed-length', '8192'));
const refPacks = Number(opt('--ref-packs', '0'));
const repeat = Number(opt('--repeat', '3'));
const huge = Number(opt('--huge', '0'));
const only = opt('--only', '');
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
    const offsets: number[] = [],
      lengths: number[] = [];
    let off = 0,
      tokens = 0,
      buf: string[] = [],
      bufLen = 0;
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
  for (let f = 0; existsSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)); f++)
    s += statSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)).size;
  return s;
}

/** seconds: wall time of packing (opening included, the checksum left out); cpu: CPU seconds of this process over the same span. */
interface Run {
  packs: number;
  tokens: number;
  seconds: number;
  checksum: number;
  cpu?: number;
}

/** CPU seconds of this process (user + system): on a loaded machine, the figure that wall time hides. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Iterate every pack (up to `limit`). Timed runs (`check` false) only touch each pack; a checking
 * run adds the checksum pack_ref.py prints (its own pass, so the timings hold packing only).
 */
async function drain(
  ds: PackedDataset,
  t0: number,
  o: { limit?: number; workers?: number; c0?: number; check?: boolean } = {},
): Promise<Run> {
  const c0 = o.c0 ?? cpuNow();
  let packs = 0,
    tokens = 0,
    checksum = 0;
  for await (const p of ds.packs(0, 4, o.workers ?? 0)) {
    if (o.check) {
      let s = 0;
      const ids = p.input_ids,
        lab = p.labels;
      for (let i = 0; i < ids.length; i++) s += ids[i]! + 3 * lab[i]!;
      checksum = (((checksum + s + 7 * p.cumulative_len.length) % 2147483648) + 2147483648) % 2147483648;
    }
    packs++;
    tokens += p.input_ids.length;
    if (o.limit && packs >= o.limit) break;
  }
  await ds.close();
  return { packs, tokens, seconds: (performance.now() - t0) / 1000, checksum, cpu: cpuNow() - c0 };
}

/** Pack the .bin folder (JSON lines, or sidecars in `cacheDir`); the time includes opening. */
async function binRun(
  dir: string,
  o: { cacheDir?: string; limit?: number; workers?: number; check?: boolean } = {},
): Promise<Run> {
  const t0 = performance.now(),
    c0 = cpuNow();
  const ds = await PackedDataset.fromBinFolder(dir, {
    packedLength: L,
    seed: 1024,
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
  });
  return drain(ds, t0, { ...o, c0 });
}

/** Pack the Arrow samples folder (one split per file); the time includes opening. */
async function arrowRun(dir: string, check = false): Promise<Run> {
  const t0 = performance.now(),
    c0 = cpuNow();
  const sources: LengthSource[] = [];
  for (let k = 0; existsSync(join(dir, String(k))); k++) sources.push(await ArrowSource.open(join(dir, String(k))));
  return drain(PackedDataset.fromSources(sources, { packedLength: L, seed: DEFAULT_SEED }), t0, { c0, check });
}

/** The samples of every .bin as an Arrow split, as `weft process --format internlm` writes them. */
async function toArrow(bins: string, out: string): Promise<void> {
  if (existsSync(join(out, 'done'))) return;
  rmSync(out, { recursive: true, force: true });
  for (let f = 0; existsSync(join(bins, `part-${String(f).padStart(3, '0')}.bin`)); f++) {
    const w = await ArrowDatasetWriter.create(join(out, String(f)), { columns: ['input_ids', 'labels'] });
    for await (const { tokens } of readInternlmBin(join(bins, `part-${String(f).padStart(3, '0')}.bin`))) {
      await w.write(fromSignedTokens(tokens));
    }
    await w.finish();
  }
  writeFileSync(join(out, 'done'), '');
}

const rate = (r: Run): string =>
  `${(r.tokens / r.seconds / 1e6).toFixed(1)}M tokens/s${r.cpu ? ` (${(r.tokens / r.cpu / 1e6).toFixed(1)}M per CPU s)` : ''}`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = join(data, `pack-${mtokens}M`);
const arrowDir = join(data, `pack-${mtokens}M-arrow`);
const cacheDir = join(data, `pack-${mtokens}M-cache`);
console.log(`generating ${mtokens}M tokens in ${dir} ...`);
generate(dir, mtokens * 1e6);
console.log(`input: ${(dirBytes(dir) / 1e9).toFixed(2)} GB of .bin`);
await toArrow(dir, arrowDir);
// Warm the page cache so that no row pays for the disk (--only: left to the caller's warm-up run).
if (!only)
  for (let f = 0; existsSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`)); f++)
    readFileSync(join(dir, `part-${String(f).padStart(3, '0')}.bin`));

if (only) {
  if (only === 'sidecar') await binSources(dir, { cacheDir }); // built outside the timed part
  const run = (check: boolean): Promise<Run> =>
    only === 'sidecar'
      ? binRun(dir, { cacheDir, check })
      : only === 'arrow'
        ? arrowRun(arrowDir, check)
        : binRun(dir, { check });
  // --repeat passes in this fresh process (the first warms the JIT), then one checking pass.
  for (let k = 0; k < repeat; k++) {
    const r = await run(false);
    console.log(
      `${only}, pass ${k + 1}: ${r.packs} packs in ${r.seconds.toFixed(3)} s, ${r.cpu!.toFixed(3)} CPU s = ${rate(r)}`,
    );
  }
  const c = await run(true);
  console.log(`${only}, checking pass: ${rate(c)} with the checksum, checksum ${c.checksum}`);
  process.exit(0);
}

const rows: [string, Run, number][] = [];
const json = await binRun(dir);
rows.push(['JSON lines (no sidecar)', json, (await binRun(dir, { check: true })).checksum]);
rmSync(cacheDir, { recursive: true, force: true });
let t0 = performance.now();
const b0 = cpuNow();
await binSources(dir, { cacheDir });
const buildS = (performance.now() - t0) / 1000,
  buildCpu = cpuNow() - b0;
const firstPack = await binRun(dir, { cacheDir });
const sideCheck = (await binRun(dir, { cacheDir, check: true })).checksum;
rows.push([
  `sidecar, first run (build ${buildS.toFixed(2)} s, ${buildCpu.toFixed(2)} CPU s + pack)`,
  { ...firstPack, seconds: buildS + firstPack.seconds, cpu: buildCpu + firstPack.cpu! },
  sideCheck,
]);
// Passes of one kind back to back (the first one warms the JIT): alternating the two kinds in one
// process would measure call sites made polymorphic by the other kind, which no real run has.
const side: Run[] = [],
  arrow: Run[] = [];
for (let k = 0; k < repeat; k++) side.push(await binRun(dir, { cacheDir }));
for (let k = 0; k < repeat; k++) arrow.push(await arrowRun(arrowDir));
const med = (rs: Run[]): Run => ({
  ...rs[0]!,
  seconds: median(rs.map((r) => r.seconds)),
  cpu: median(rs.map((r) => r.cpu!)),
});
rows.push([`sidecar, later runs (median of ${repeat} passes)`, med(side), sideCheck]);
rows.push([`Arrow samples folder (median of ${repeat} passes)`, med(arrow), (await arrowRun(arrowDir, true)).checksum]);
rows.push([
  'sidecar, 2 worker threads',
  await binRun(dir, { cacheDir, workers: 2 }),
  (await binRun(dir, { cacheDir, workers: 2, check: true })).checksum,
]);

const ref = JSON.parse(
  execFileSync(
    'python3',
    [
      join(repo, 'tools/reference/pack_ref.py'),
      dir,
      '--packed-length',
      String(L),
      '--seed',
      '1024',
      '--max-packs',
      String(refPacks),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  ),
) as Run;
const refRate = ref.tokens / ref.seconds,
  refCpuRate = ref.tokens / ref.cpu!;
console.log(
  `numpy reference: ${ref.packs} packs, ${(ref.tokens / 1e6).toFixed(1)}M tokens in ${ref.seconds.toFixed(2)} s = ${rate(ref)}${refPacks ? ` (first ${refPacks} packs)` : ''}, checksum ${ref.checksum}`,
);
console.log(
  'weft rows: wall time (opening included; checksums in a separate pass), tokens/s wall and per CPU second, ratios to numpy wall/wall and CPU/CPU:',
);
const prefix = refPacks ? await binRun(dir, { cacheDir, limit: refPacks, check: true }) : undefined;
if (prefix && prefix.checksum !== ref.checksum)
  throw new Error(
    `sidecar packs differ from numpy's over the first ${refPacks}: ${prefix.checksum} vs ${ref.checksum}`,
  );
for (const [name, r, checksum] of rows) {
  const same = refPacks ? checksum === rows[0]![2] : checksum === ref.checksum;
  console.log(
    `${name.padEnd(64)} ${r.seconds.toFixed(3).padStart(8)} s ${rate(r).padStart(34)} ${(r.tokens / r.seconds / refRate).toFixed(1).padStart(6)}x / ${(r.tokens / r.cpu! / refCpuRate).toFixed(1).padStart(6)}x numpy  same checksum: ${same ? 'yes' : 'NO'}`,
  );
  if (!same) process.exitCode = 1;
}

for (const gb of rssSizes) {
  const d = join(data, `rss-${gb}GB`);
  // ~6.9 bytes per token in these files.
  console.log(`generating ~${gb} GB in ${d} ...`);
  generate(d, (gb * 1e9) / 6.9);
  const out = join(data, `rss-${gb}GB-out`);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %e',
      process.execPath,
      join(repo, 'packages/cli/bin/weft.mjs'),
      'process',
      d,
      '--format',
      'internlm',
      '--pack',
      '--packed-length',
      String(L),
      '--quiet',
      '--cache-dir',
      join(data, `rss-${gb}GB-cache`),
      '--out',
      out,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (r.status !== 0) throw new Error(`weft process failed: ${r.stderr}`);
  const [kb, secs] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
  console.log(
    `weft process on ${(dirBytes(d) / 1e9).toFixed(2)} GB (sidecar built on the way): peak RSS ${(kb / 1024).toFixed(0)} MB, ${secs.toFixed(1)} s`,
  );
  rmSync(out, { recursive: true, force: true });
  rmSync(join(data, `rss-${gb}GB-cache`), { recursive: true, force: true });
  if (!keep) rmSync(d, { recursive: true, force: true });
}

if (huge > 0) await hugeLine(huge);

/** A .bin with one line of `mtok` million tokens between small lines: packs/s and peak RSS. */
async function hugeLine(mtok: number): Promise<void> {
  const d = join(data, `huge-${mtok}M`);
  const bin = join(d, 'huge.bin');
  if (!existsSync(join(d, 'done'))) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const fd = openSync(bin, 'w');
    const offsets: number[] = [],
      lengths: number[] = [];
    let off = 0,
      seed = 777;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const line = (n: number): void => {
      offsets.push(off);
      lengths.push(n);
      const head = '{"tokens": [',
        parts: string[] = [];
      writeSync(fd, head);
      off += head.length;
      for (let i = 0; i < n; i++) {
        parts.push(String((rnd(5) === 0 ? -1 : 1) * (1 + rnd(151000))));
        if (parts.length === 1 << 16 || i === n - 1) {
          const s = parts.join(', ') + (i === n - 1 ? ']}\n' : ', ');
          writeSync(fd, s);
          off += s.length;
          parts.length = 0;
        }
      }
    };
    for (let k = 0; k < 20; k++) line(1 + rnd(4096));
    line(Math.round(mtok * 1e6));
    for (let k = 0; k < 20; k++) line(1 + rnd(4096));
    closeSync(fd);
    const meta = new BigInt64Array(offsets.length * 2);
    offsets.forEach((o, i) => {
      meta[2 * i] = BigInt(o);
      meta[2 * i + 1] = BigInt(lengths[i]!);
    });
    writeFileSync(`${bin}.meta`, encodeNpy(meta, [offsets.length, 2], '<i8'));
    writeFileSync(join(d, 'done'), '');
  }
  const size = statSync(bin).size;
  console.log(`huge line: ${(size / 1e6).toFixed(0)} MB .bin, one line of ${mtok}M tokens`);
  // Before: every piece read parses the whole line (what BinSource.read did, and what a LengthSource over BinFile does).
  const file = await BinFile.open(bin);
  const before: LengthSource = { name: bin, lengths: file.meta.lengths, read: (i: number) => file.read(i) };
  let t0 = performance.now();
  const ds0 = PackedDataset.fromSources([before], { packedLength: L, seed: 1024 });
  const n0 = await drain(ds0, t0, { limit: 4 });
  await file.close();
  console.log(`  before (parse per piece): ${(n0.packs / n0.seconds).toFixed(2)} packs/s over ${n0.packs} packs`);
  const after = await binRun(d, { check: true });
  console.log(
    `  JSON path, line parsed once: ${after.packs} packs in ${after.seconds.toFixed(2)} s = ${(after.packs / after.seconds).toFixed(0)} packs/s (${(after.packs / after.seconds / (n0.packs / n0.seconds)).toFixed(0)}x)`,
  );
  const hc = join(data, `huge-${mtok}M-cache`);
  rmSync(hc, { recursive: true, force: true });
  t0 = performance.now();
  await binSources(d, { cacheDir: hc });
  const build = (performance.now() - t0) / 1000;
  const side = await binRun(d, { cacheDir: hc, check: true });
  console.log(
    `  sidecar: built in ${build.toFixed(2)} s, then ${side.packs} packs in ${side.seconds.toFixed(2)} s = ${(side.packs / side.seconds).toFixed(0)} packs/s; same checksum as the JSON path: ${side.checksum === after.checksum ? 'yes' : 'NO'}`,
  );
  for (const [name, extra] of [
    ['no sidecar', ['--no-cache']],
    ['sidecar built', ['--cache-dir', join(data, `huge-${mtok}M-cache2`)]],
    ['sidecar reused', ['--cache-dir', join(data, `huge-${mtok}M-cache2`)]],
  ] as const) {
    const out = join(data, `huge-${mtok}M-out`);
    const r = spawnSync(
      '/usr/bin/time',
      [
        '-f',
        '%M %e',
        process.execPath,
        join(repo, 'packages/cli/bin/weft.mjs'),
        'pack',
        d,
        '--packed-length',
        String(L),
        '--quiet',
        ...extra,
        '--out',
        out,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (r.status !== 0) throw new Error(`weft pack failed: ${r.stderr}`);
    const [kb, secs] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
    console.log(
      `  weft pack (${name}, Arrow output written): peak RSS ${(kb / 1024).toFixed(0)} MB = ${((kb * 1024) / size).toFixed(2)}x the line, ${secs.toFixed(1)} s`,
    );
    rmSync(out, { recursive: true, force: true });
  }
  rmSync(hc, { recursive: true, force: true });
  rmSync(join(data, `huge-${mtok}M-cache2`), { recursive: true, force: true });
  if (!keep) rmSync(d, { recursive: true, force: true });
}
if (!keep) {
  rmSync(dir, { recursive: true, force: true });
  rmSync(arrowDir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
}
console.log(
  `(numbers from a shared, loaded 2-core machine; load average at the end: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')})`,
);
