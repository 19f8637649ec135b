/**
 * Feed throughput: can the TypeScript feed keep a GPU busy?
 *
 *   npx tsx bench/train-feed.ts [--packs 400] [--packed-length 8192] [--ranks 2]
 *
 * Serves `--packs` synthetic 8192-token packs per rank through the real feed (unix socket,
 * InternRepoSampler order, frame encoding) to `--ranks` Python readers that use the worker's own
 * prefetching client, and prints packs/s and tokens/s per rank next to what one H100 consumes in
 * bench/RESULTS.md (50,781 tokens/s for the 1.1B model): the ratio is the feed's headroom.
 * A reference in the same run: the Python client reading the same frames from a file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeEndFrame,
  encodePackFrame,
  internRepoOrder,
  resolvePython,
  startFeed,
  syntheticPacks,
  WORKER_DIR,
} from '@weft/trainer';

const args = process.argv.slice(2);
const opt = (name: string, def: string): number => Number(args.includes(name) ? args[args.indexOf(name) + 1] : def);
const perRank = opt('--packs', '400'),
  L = opt('--packed-length', '8192'),
  ranks = opt('--ranks', '2');
const GPU_TOKENS_PER_S = 50_781;

const python = resolvePython().python;
const data = syntheticPacks({
  numPacks: perRank * ranks,
  vocabSize: 32000,
  meanDocLength: 800,
  packedLength: L,
  seed: 3,
});
const CLIENT = `
import sys, time
from weft_worker.feed import Prefetcher, open_feed
rank, world, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pf = Prefetcher(open_feed(sys.argv[4], rank, world), depth=4)
t0, got = time.perf_counter(), 0
while got < n:
    packs, _ = pf.take(1)
    if not packs: break
    got += 1
print(got, time.perf_counter() - t0)
`;
function client(rank: number, address: string): Promise<{ packs: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, ['-c', CLIENT, String(rank), String(ranks), String(perRank), address], {
      env: { ...process.env, PYTHONPATH: WORKER_DIR },
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => process.stderr.write(d));
    p.on('close', (code) =>
      code === 0
        ? resolve({ packs: Number(out.split(' ')[0]), seconds: Number(out.split(' ')[1]) })
        : reject(new Error(`client exited ${code}`)),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'weft-feed-bench-'));
const feed = await startFeed(
  join(dir, 'feed.sock'),
  {
    train: {
      data,
      order: internRepoOrder(data.length, ranks, 1024),
      from: { epoch: 0, consumed: 0 },
      samplesPerRank: perRank,
    },
    ranks: { first: 0, count: ranks },
    worldSize: ranks,
  },
  (e) => {
    throw e;
  },
);
const live = await Promise.all(Array.from({ length: ranks }, (_, r) => client(r, feed.address)));
await feed.close();

// Reference: the same client on a recorded file (no TypeScript in the loop).
const file = join(dir, 'frames.bin');
const frames = [];
for (let i = 0; i < perRank; i++) frames.push(encodePackFrame(data.get(i) as never, { epoch: 0, index: i }));
writeFileSync(file, Buffer.concat([...frames, encodeEndFrame()]));
const ref = await client(0, `file:${file}`);

const rate = (r: { packs: number; seconds: number }): number => (r.packs * L) / r.seconds;
console.log(`| feed | ranks | packs/rank | tokens/s per rank | x one H100's need (${GPU_TOKENS_PER_S} tok/s) |`);
console.log('| --- | --- | --- | --- | --- |');
const slowest = Math.min(...live.map(rate));
console.log(
  `| TypeScript feed, unix socket | ${ranks} | ${perRank} | ${slowest.toFixed(0)} (slowest rank) | ${(slowest / GPU_TOKENS_PER_S).toFixed(1)}x |`,
);
console.log(
  `| reference: recorded file, same client | 1 | ${perRank} | ${rate(ref).toFixed(0)} | ${(rate(ref) / GPU_TOKENS_PER_S).toFixed(1)}x |`,
);
console.log(`feed / file: ${(slowest / rate(ref)).toFixed(2)}`);
