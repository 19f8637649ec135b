/**
 * How well this machine's cores scale on weft's own encoder, with no pipeline around it: the
 * ceiling for bench/process-scale.ts's scaling efficiency.
 *
 *   npx tsx bench/cpu-ceiling.ts [--mb 8] [--counts 1,2,4,8,16] [--rounds 2]
 *
 * N worker threads (N = 1, 2, 4, ...) are started, load nothing else, and wait at a barrier; then
 * each encodes the same message texts (from bench/corpus.ts) with its own fast BPE encoder (the
 * merge table shared, read-only, as in `weft process`), and, separately, runs a pure-ALU loop
 * (xorshift, no memory traffic). Nothing is read or written while timed. Efficiency at N =
 * (time of one thread alone) / (time of the slowest of N together): shared caches, memory
 * bandwidth, SMT siblings and all-core clocks show in it, and no pipeline can beat it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerPool } from '@weft/core';
import { encodeWorkerInit, loadTokenizer } from '@weft/tokenize';
import { writeFtdpCorpus } from './corpus.ts';
import type { CeilingInit, CeilingJob } from './cpu-ceiling-worker.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const cores = availableParallelism();
const counts = opt('counts', [1, 2, 4, 8, 16].filter((n) => n <= cores).join(','))
  .split(',')
  .map(Number);
const rounds = Number(opt('rounds', '2'));

const dir = mkdtempSync(join(tmpdir(), 'weft-ceiling-'));
writeFtdpCorpus(dir, { mb: Number(opt('mb', '8')), files: 1 });
const texts: string[] = [];
for (const f of readdirSync(dir))
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n'))
    if (line) for (const m of JSON.parse(line) as { content: string }[]) texts.push(m.content);
rmSync(dir, { recursive: true, force: true });
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);

const tok = await loadTokenizer('default');
if (tok.spec.backend !== 'fast')
  throw new Error(`the default tokenizer loaded as ${tok.spec.backend}, not the fast encoder`);
const max = Math.max(...counts);
const barrier = new SharedArrayBuffer(8);
const pool = new WorkerPool<CeilingJob, number, CeilingInit>({
  module: new URL('./cpu-ceiling-worker.ts', import.meta.url),
  name: 'createCeilingWorker',
  init: { tokenizer: encodeWorkerInit(tok.spec), texts, barrier },
  workers: max,
});

/** Seconds of the slowest of n workers running `work` together (the best of `rounds`). */
async function together(n: number, work: CeilingJob['work']): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    Atomics.store(new Int32Array(barrier), 0, 0);
    const jobs: Promise<number>[] = [];
    for (let i = 0; i < n; i++) jobs.push(pool.run({ n, work }));
    best = Math.min(best, Math.max(...(await Promise.all(jobs))));
  }
  return best;
}

console.log(
  `${(bytes / 1e6).toFixed(1)} MB of message text, ${texts.length} texts; ${cores} cores (${cpus()[0]?.model}), node ${process.version}`,
);
// Warm every worker once (JIT, encoder cache shapes) before anything is timed.
await together(max, 'encode');
const base = { encode: await together(1, 'encode'), alu: await together(1, 'alu') };
console.log('\n| threads | encode s (slowest) | encode MB/s (all) | encode efficiency | ALU s | ALU efficiency |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of counts) {
  const e = n === 1 ? base.encode : await together(n, 'encode');
  const a = n === 1 ? base.alu : await together(n, 'alu');
  console.log(
    `| ${n} | ${e.toFixed(2)} | ${((n * bytes) / 1e6 / e).toFixed(2)} | ${((100 * base.encode) / e).toFixed(0)}% | ${a.toFixed(2)} | ${((100 * base.alu) / a).toFixed(0)}% |`,
  );
}
await pool.close();
