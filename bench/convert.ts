/**
 * pth → safetensors throughput and memory: generate a bf16 `.pth` of about `--gb` GB with
 * PyTorch (cached in bench/.data/), copy it with `cp` (and `cp` + fsync, since weft fsyncs
 * its output), then convert it with weft in a child process, all in the same run, and print
 * GB/s, the ratios, and the child's peak RSS beside the largest tensor.
 *
 *   npx tsx bench/convert.ts [--gb 2] [--tensor-mb 128] [--runs 3] [--dtype F16|F32]
 *
 * A third reference, a plain Node read/write loop with fsync (16 MiB chunks), shows the floor
 * for any converter that moves bytes through user space (cp copies inside the kernel).
 *
 * `--dtype` adds a cast on the way (bf16 → fp16 / fp32), which is CPU work rather than a copy.
 *
 * The contenders run interleaved `--runs` times and the medians are compared, so a burst of
 * load from other work on the machine hits both.
 * Goal (issue 6): ≥ 50% of cp speed; peak RSS ≤ largest tensor + 256 MiB.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);

if (args[0] === '--child') {
  // the conversion itself, measured from outside
  const { writeSafetensors, openCheckpoint } = await import('@weft/convert');
  const t0 = performance.now();
  const dtype = args[3] === 'F16' || args[3] === 'F32' ? args[3] : undefined;
  const r = await writeSafetensors(args[2]!, openCheckpoint(args[1]!).tensors, { maxShardSize: '2GB', dtype });
  const secs = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({ secs, bytes: r.totalSize, files: r.files.length, maxRssKiB: process.resourceUsage().maxRSS }),
  );
  process.exit(0);
}

const gb = opt('--gb', 2);
const runs = Math.max(1, opt('--runs', 3));
const castTo = args.includes('--dtype') ? args[args.indexOf('--dtype') + 1]! : '';
const tensorMb = opt('--tensor-mb', 128);
const dir = join(fileURLToPath(new URL('.', import.meta.url)), '.data');
mkdirSync(dir, { recursive: true });
const src = join(dir, `convert-${gb}gb.pth`);
const side = Math.round(Math.sqrt((tensorMb * 2 ** 20) / 2));
const count = Math.max(1, Math.round((gb * 1e9) / (side * side * 2)));
if (!existsSync(src)) {
  console.log(`generating ${src}: ${count} bf16 tensors of [${side}, ${side}] with torch ...`);
  const py = `
import torch, collections, sys
sd = collections.OrderedDict()
for i in range(${count}):
    sd[f"model.layers.{i}.mlp.weight"] = torch.full((${side}, ${side}), float(i) + 0.5, dtype=torch.bfloat16)
sd["model.norm.weight"] = torch.ones(${side}, dtype=torch.bfloat16)
torch.save(sd, sys.argv[1])
`;
  const g = spawnSync('/usr/bin/python3', ['-c', py, src], { stdio: 'inherit' });
  if (g.status !== 0) throw new Error('generating the checkpoint failed (needs /usr/bin/python3 with torch)');
}
const size = statSync(src).size;
const largest = side * side * 2;
spawnSync('cat', [src], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache for both contenders

const time = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
};
const copy = join(dir, 'cp-copy.pth');
const out = join(dir, 'convert-out');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The same bytes through user space: read 16 MiB, write it, fsync at the end. */
function nodeCopy(from: string, to: string): void {
  const buf = Buffer.allocUnsafe(16 << 20);
  const a = openSync(from, 'r'),
    b = openSync(to, 'w');
  for (let off = 0; ;) {
    const n = readSync(a, buf, 0, buf.length, off);
    if (n === 0) break;
    for (let w = 0; w < n;) w += writeSync(b, buf, w, n - w);
    off += n;
  }
  fsyncSync(b);
  closeSync(a);
  closeSync(b);
}
const nodeTimes: number[] = [];
const cpTimes: number[] = [],
  cpSyncTimes: number[] = [],
  weftTimes: number[] = [],
  walls: number[] = [],
  rssKiB: number[] = [];
let files = 0;
for (let run = 0; run < runs; run++) {
  cpTimes.push(time(() => spawnSync('cp', [src, copy])));
  rmSync(copy, { force: true });
  cpSyncTimes.push(
    time(() => {
      spawnSync('cp', [src, copy]);
      spawnSync('sync', [copy]);
    }),
  );
  rmSync(copy, { force: true });
  nodeTimes.push(time(() => nodeCopy(src, copy)));
  rmSync(copy, { force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const child = spawnSync(
    '/usr/bin/time',
    ['-v', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', src, out, castTo],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(`conversion failed:\n${child.stderr}`);
  const res = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
    secs: number;
    bytes: number;
    files: number;
    maxRssKiB: number;
  };
  weftTimes.push(res.secs);
  files = res.files;
  rssKiB.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(child.stderr)?.[1] ?? res.maxRssKiB));
  const w = /Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(child.stderr);
  walls.push(w ? Number(w[1] ?? 0) * 3600 + Number(w[2]) * 60 + Number(w[3]) : NaN);
  rmSync(out, { recursive: true, force: true });
  console.log(
    `run ${run + 1}: cp ${cpTimes[run]!.toFixed(2)} s, cp+fsync ${cpSyncTimes[run]!.toFixed(2)} s, node loop ${nodeTimes[run]!.toFixed(2)} s, weft ${weftTimes[run]!.toFixed(2)} s`,
  );
}
const cpSecs = median(cpTimes),
  cpSyncSecs = median(cpSyncTimes);
const res = { secs: median(weftTimes) };
const wall = median(walls);

const gbps = (bytes: number, s: number) => (bytes / 1e9 / s).toFixed(2);
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(
  `file ${(size / 1e9).toFixed(2)} GB, ${count + 1} tensors, largest ${mib(largest)} MiB; medians of ${runs} interleaved run(s)`,
);
console.log(`cp           ${cpSecs.toFixed(2)} s  ${gbps(size, cpSecs)} GB/s`);
console.log(`cp + fsync   ${cpSyncSecs.toFixed(2)} s  ${gbps(size, cpSyncSecs)} GB/s`);
console.log(
  `node loop    ${median(nodeTimes).toFixed(2)} s  ${gbps(size, median(nodeTimes))} GB/s (read/write/fsync in user space)`,
);
console.log(
  `weft convert ${res.secs.toFixed(2)} s  ${gbps(size, res.secs)} GB/s (conversion; process wall ${wall.toFixed(2)} s incl. startup) → ${files} file(s), fsynced${castTo ? `, cast to ${castTo}` : ''}`,
);
console.log(
  `ratio vs cp: ${(cpSecs / res.secs).toFixed(2)}   vs cp+fsync: ${(cpSyncSecs / res.secs).toFixed(2)}   vs node loop: ${(median(nodeTimes) / res.secs).toFixed(2)}   (goal ≥ 0.50 of cp)`,
);
const rss = Math.max(...rssKiB) * 1024;
console.log(
  `peak RSS ${mib(rss)} MiB (max over runs, /usr/bin/time -v); budget largest tensor + 256 MiB = ${mib(largest + 256 * 2 ** 20)} MiB: ${rss <= largest + 256 * 2 ** 20 ? 'within' : 'OVER'}`,
);
