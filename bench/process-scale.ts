/**
 * Benchmark: `weft process` (ftdp, default Qwen3 tokenizer, internlm2_chat, Arrow samples on disk)
 * at several worker counts, against Hugging Face `datasets` `map(batched=True, num_proc=N)` doing the
 * same job with the same tokenizer.json and xtuner's template logic (bench/process_scale_ref.py), in
 * one run on one machine.
 *
 *   npx tsx bench/process-scale.ts [--mb 64] [--files 16] [--workers 1,2,4,8,16] [--py-workers same|none|1,2]
 *                                  [--python python3] [--weft-root DIR] [--weft-env K=V,...] [--no-startup] [--keep]
 *                                  [--shards 2x8,4x4]   (N shard processes of W workers at once, then weft merge)
 *
 * Each run is a fresh process (the `weft` CLI, or python3), timed wall-clock from spawn to exit
 * (startup, tokenizer loads and the final write included), with its peak RSS: the sum over the
 * process and all its descendants (datasets' pool), sampled from /proc every 50 ms. MB/s counts the
 * input files' bytes; tokens/s the tokens written. Scaling efficiency at N = rate(N) / (N · rate(1)).
 * Checks that every worker count wrote byte-identical samples, and that both pipelines wrote the
 * same number of tokens.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFtdpCorpus } from './corpus.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cores = availableParallelism();
const defaultCounts = [1, 2, 4, 8, 16].filter((n) => n <= cores);
const workerCounts = opt('workers', defaultCounts.join(',')).split(',').map(Number);
const pyOpt = opt('py-workers', 'same');
const pyCounts = pyOpt === 'none' ? [] : pyOpt === 'same' ? workerCounts : pyOpt.split(',').map(Number);
const python = opt('python', 'python3');
// Extra environment for the weft runs (experiments: --weft-env RAYON_NUM_THREADS=4,TOKENIZERS_PARALLELISM=false).
const weftEnv = Object.fromEntries(
  opt('weft-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]),
);

interface Run {
  ok: boolean;
  seconds: number;
  peakRssMB: number;
  cpuSeconds: number;
  mainCpuSeconds: number;
  stdout: string;
  stderr: string;
}

/** Every pid under `pid` (itself included), from /proc's parent links. */
function tree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parent.get(ppid) ?? [];
      list.push(Number(e));
      parent.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parent.get(out[i]!) ?? []));
  return out;
}

function rssMB(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return kb / 1024;
}

/** CPU seconds (user + system, clock ticks of 1/100 s) from a /proc stat line; `children` adds reaped children's. */
function statCpu(path: string, children: boolean): number {
  try {
    const stat = readFileSync(path, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state is [0], utime [11], stime [12], cutime [13], cstime [14].
    return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) / 100;
  } catch {
    return 0;
  }
}

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let peak = 0;
    let cpu = 0;
    let mainCpu = 0;
    const sample = (): void => {
      const pids = tree(child.pid!);
      peak = Math.max(peak, rssMB(pids));
      // The last sample before exit: the root's threads and reaped children, plus live descendants.
      const c =
        statCpu(`/proc/${child.pid}/stat`, true) +
        pids.slice(1).reduce((a, p) => a + statCpu(`/proc/${p}/stat`, false), 0);
      if (c > 0) cpu = c;
      const m = statCpu(`/proc/${child.pid}/task/${child.pid}/stat`, false);
      if (m > 0) mainCpu = m;
    };
    const timer = setInterval(sample, 50);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({
        ok: code === 0,
        seconds: (performance.now() - t0) / 1000,
        peakRssMB: peak,
        cpuSeconds: cpu,
        mainCpuSeconds: mainCpu,
        stdout,
        stderr,
      });
    });
  });
}

/** sha256 over every file under `dir`, in name order (the bytes a worker count must not change). */
function hashDir(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(e).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

const work = mkdtempSync(join(tmpdir(), 'weft-bench-scale-'));
const input = join(work, 'corpus');
const corpus = writeFtdpCorpus(input, { mb: Number(opt('mb', '64')), files: Number(opt('files', '16')) });
const inputMB = corpus.bytes / 1e6;
const { defaultTokenizerDir } = await import('@weft/tokenize');
const tokDir = defaultTokenizerDir();
console.log(
  `corpus: ${inputMB.toFixed(1)} MB in ${corpus.files.length} ftdp files, ${corpus.records} conversations; ${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
);

interface Row {
  name: string;
  workers: number;
  run: Run;
  tokens: number;
  hash?: string;
  startup: number;
}
const rows: Row[] = [];
// --weft-root: run another checkout's CLI (a before/after comparison on the same corpus).
const weftBin = join(opt('weft-root', root), 'packages/cli/bin/weft.mjs');
// Fixed cost of each run (process start, module loads, a tokenizer load per worker, pool start-up),
// measured on a one-file corpus of 0.2 MB at the same worker count: it does not shrink with more
// workers, so the table also gives the rate over the rest of the wall time.
const tiny = join(work, 'tiny');
writeFtdpCorpus(tiny, { mb: 0.2, files: 1, seed: 7 });
const withStartup = !args.includes('--no-startup');

async function weft(dir: string, w: number): Promise<{ run: Run; tokens: number; hash: string }> {
  const out = join(work, `weft-${w}`);
  const run = await timed(
    process.execPath,
    [weftBin, 'process', dir, '--format', 'ftdp', '--workers', String(w), '--quiet', '--out', out],
    { ...process.env, ...weftEnv },
  );
  if (!run.ok) {
    console.error(run.stderr);
    throw new Error(`weft process --workers ${w} failed`);
  }
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { tokens: number };
  const hash = hashDir(join(out, 'samples'));
  rmSync(out, { recursive: true, force: true });
  return { run, tokens: summary.tokens, hash };
}

async function datasets(dir: string, n: number): Promise<{ run: Run; tokens: number }> {
  const out = join(work, `py-${n}`);
  const cache = join(work, `py-cache-${n}`);
  const run = await timed(python, [join(root, 'bench/process_scale_ref.py'), dir, tokDir, out, String(n)], {
    ...process.env,
    TOKENIZERS_PARALLELISM: 'false',
    HF_DATASETS_CACHE: cache,
    HF_DATASETS_OFFLINE: '1',
    HF_HUB_OFFLINE: '1',
    PYTHONUNBUFFERED: '1',
  });
  if (!run.ok) {
    console.error(run.stderr);
    throw new Error(`datasets map(num_proc=${n}) failed`);
  }
  const res = JSON.parse(run.stdout.trim().split('\n').pop()!) as { tokens: number };
  rmSync(out, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  return { run, tokens: res.tokens };
}

// One untimed run of each first: tsx's transform cache, weft's tokenizer cache (the fast encoder's
// gate verdict and tables, WEFT_CACHE_DIR) and Python's bytecode are then warm, as they are for
// every run after a machine's first.
if (workerCounts.length > 0) await weft(tiny, 1);
if (pyCounts.length > 0) await datasets(tiny, 1);

for (const w of workerCounts) {
  const startup = withStartup ? (await weft(tiny, w)).run.seconds : 0;
  const { run, tokens, hash } = await weft(input, w);
  rows.push({ name: 'weft process', workers: w, run, tokens, hash, startup });
  console.log(
    `weft ${w}: ${run.seconds.toFixed(2)} s (start-up ${startup.toFixed(2)} s), ${run.peakRssMB.toFixed(0)} MB`,
  );
}
for (const n of pyCounts) {
  const startup = withStartup ? (await datasets(tiny, n)).run.seconds : 0;
  const { run, tokens } = await datasets(input, n);
  rows.push({ name: 'datasets map', workers: n, run, tokens, startup });
  console.log(
    `datasets ${n}: ${run.seconds.toFixed(2)} s (start-up ${startup.toFixed(2)} s), ${run.peakRssMB.toFixed(0)} MB`,
  );
}

// --shards 2x8,4x4: N `weft process --shard i/N --workers W` processes at once on this machine,
// then `weft merge`; wall time from the first spawn to the merge's end (one main thread per shard).
const shardSpecs = opt('shards', '')
  .split(',')
  .filter(Boolean)
  .map((x) => x.split('x').map(Number) as [number, number]);
const shardRows: {
  n: number;
  w: number;
  seconds: number;
  mergeSeconds: number;
  cpu: number;
  peak: number;
  same: boolean;
}[] = [];
for (const [n, w] of shardSpecs) {
  const out = join(work, `weft-shards-${n}x${w}`);
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      timed(
        process.execPath,
        [
          weftBin,
          'process',
          input,
          '--format',
          'ftdp',
          '--shard',
          `${i}/${n}`,
          '--workers',
          String(w),
          '--quiet',
          '--out',
          out,
        ],
        { ...process.env, ...weftEnv },
      ),
    ),
  );
  const shardsDone = performance.now();
  const merge = await timed(process.execPath, [weftBin, 'merge', out, '--quiet'], { ...process.env, ...weftEnv });
  const seconds = (performance.now() - t0) / 1000;
  if (!runs.every((r) => r.ok) || !merge.ok) {
    console.error(runs.map((r) => r.stderr).join('\n'), merge.stderr);
    throw new Error(`shards ${n}x${w} failed`);
  }
  const same = hashDir(join(out, 'samples')) === rows.find((r) => r.hash)?.hash;
  shardRows.push({
    n,
    w,
    seconds,
    mergeSeconds: (performance.now() - shardsDone) / 1000,
    cpu: runs.reduce((a, r) => a + r.cpuSeconds, 0) + merge.cpuSeconds,
    peak: runs.reduce((a, r) => a + r.peakRssMB, 0),
    same,
  });
  rmSync(out, { recursive: true, force: true });
  console.log(
    `weft ${n} shards x ${w} workers: ${seconds.toFixed(2)} s (merge ${shardRows.at(-1)!.mergeSeconds.toFixed(2)} s)`,
  );
}

const rate = (r: Row): number => inputMB / r.run.seconds;
const steady = (r: Row): number => inputMB / Math.max(r.run.seconds - r.startup, 1e-3);
const base = (name: string): Row | undefined => rows.find((r) => r.name === name && r.workers === 1);
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
console.log(
  `\n| pipeline | workers | wall s | MB/s (input) | tokens/s | scaling efficiency | weft ÷ datasets | start-up s | MB/s after start-up | efficiency after start-up | peak RSS (MB) | CPU s (all) | CPU s (main thread) |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const b = base(r.name);
  const eff = b ? pct(rate(r) / (r.workers * rate(b))) : '–';
  const effSteady = b && withStartup ? pct(steady(r) / (r.workers * steady(b))) : '–';
  const py = rows.find((x) => x.name === 'datasets map' && x.workers === r.workers);
  const ratio = r.name === 'weft process' && py ? `${(rate(r) / rate(py)).toFixed(2)}×` : '';
  console.log(
    `| ${r.name} | ${r.workers} | ${r.run.seconds.toFixed(2)} | ${rate(r).toFixed(2)} | ${Math.round(r.tokens / r.run.seconds).toLocaleString('en-US')} | ${eff} | ${ratio} | ${withStartup ? r.startup.toFixed(2) : '–'} | ${withStartup ? steady(r).toFixed(2) : '–'} | ${effSteady} | ${r.run.peakRssMB.toFixed(0)} | ${r.run.cpuSeconds.toFixed(1)} | ${r.run.mainCpuSeconds.toFixed(1)} |`,
  );
}
if (shardRows.length > 0) {
  const one = base('weft process');
  console.log(
    '\n| weft, shards × workers at once, then merge | wall s (merge s) | MB/s | efficiency vs 1 worker | peak RSS MB (sum) | CPU s | samples = single run |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of shardRows) {
    const mbs = inputMB / r.seconds;
    console.log(
      `| ${r.n} × ${r.w} | ${r.seconds.toFixed(2)} (${r.mergeSeconds.toFixed(2)}) | ${mbs.toFixed(2)} | ${one ? pct(mbs / (r.n * r.w * rate(one))) : '–'} | ${r.peak.toFixed(0)} | ${r.cpu.toFixed(1)} | ${r.same ? 'yes' : 'NO'} |`,
    );
  }
}
console.log(
  `load average after the runs: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${cores} cores`,
);
const hashes = new Set(rows.filter((r) => r.hash).map((r) => r.hash));
const tokenCounts = new Set(rows.map((r) => r.tokens));
console.log(
  `weft samples byte-identical for workers ${workerCounts.join(', ')}: ${hashes.size === 1 ? 'yes' : 'NO'}; tokens equal across all runs (weft and datasets): ${tokenCounts.size === 1 ? `yes (${[...tokenCounts][0]})` : `NO (${[...tokenCounts].join(', ')})`}`,
);
if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
if (hashes.size !== 1 || tokenCounts.size !== 1) process.exit(1);
