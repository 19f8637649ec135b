/**
 * One encoder row of bench/tokenize.ts, in its own process so that thread counts and CPU time are its own:
 *
 *   npx tsx bench/tokenize-encoder.ts PIECES.json TOKENIZER_DIR fast|native THREADS
 *
 * fast: THREADS worker threads each encode a contiguous share of the pieces with weft's fast BPE.
 * native: the `tokenizers` binding's encodeBatch in batches of 1024 (set RAYON_NUM_THREADS=THREADS
 * in the environment: the binding's thread pool reads it). Prints one JSON line: wall and CPU seconds
 * of the encoding alone (tokenizer loading and reading the pieces excluded), tokens, and the sha256 of
 * all ids (int32 little-endian, in piece order) for the equality check.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer, loadTokenizerFromSpec } from '@weft/tokenize';

interface Share {
  piecesFile: string;
  dir: string;
  start: number;
  end: number;
}

if (!isMainThread) {
  const w = workerData as Share;
  const pieces = (JSON.parse(readFileSync(w.piecesFile, 'utf8')) as string[]).slice(w.start, w.end);
  const tok = await loadTokenizerFromSpec({ dir: w.dir, backend: 'fast' });
  parentPort!.postMessage('ready');
  parentPort!.once('message', async () => {
    const ids = await tok.encodeBatch(pieces);
    let n = 0;
    for (const x of ids) n += x.length;
    const all = new Int32Array(n);
    let o = 0;
    for (const x of ids) {
      all.set(x, o);
      o += x.length;
    }
    parentPort!.postMessage(all, [all.buffer]);
  });
} else {
  const [piecesFile, dir, engine, threadsArg] = process.argv.slice(2) as [string, string, string, string];
  const threads = Number(threadsArg);
  const pieces = JSON.parse(readFileSync(piecesFile, 'utf8')) as string[];
  const hash = createHash('sha256');
  let tokens = 0;
  let wall = 0;
  let cpu = 0;
  const cpuNow = (): number => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e6;
  };
  if (engine === 'fast') {
    const per = Math.ceil(pieces.length / threads);
    const workers = Array.from(
      { length: threads },
      (_, i) =>
        new Worker(new URL('./tokenize-boot.mjs', import.meta.url), {
          workerData: { piecesFile, dir, start: i * per, end: Math.min(pieces.length, (i + 1) * per) } satisfies Share,
        }),
    );
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    const t0 = performance.now();
    const c0 = cpuNow();
    const results = await Promise.all(
      workers.map(
        (w) =>
          new Promise<Int32Array>((r) => {
            w.once('message', r);
            w.postMessage('go');
          }),
      ),
    );
    wall = (performance.now() - t0) / 1000;
    cpu = cpuNow() - c0;
    for (const ids of results) {
      tokens += ids.length;
      hash.update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
    }
    await Promise.all(workers.map((w) => w.terminate()));
  } else if (engine === 'native') {
    const tok = await loadTokenizer(dir, { backend: 'native' });
    for (let i = 0; i < pieces.length; i += 1024) {
      const t0 = performance.now();
      const c0 = cpuNow();
      const ids = await tok.encodeBatch(pieces.slice(i, i + 1024));
      wall += (performance.now() - t0) / 1000;
      cpu += cpuNow() - c0;
      for (const x of ids) {
        tokens += x.length;
        hash.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
      }
    }
  } else throw new Error(`engine must be fast or native, got ${engine}`);
  console.log(JSON.stringify({ wall, cpu, tokens, sha256: hash.digest('hex') }));
}
