import { isMainThread } from 'node:worker_threads';
import { WorkerPool, type Sample } from '@weft/core';
import { encodePrepared } from './encode.ts';
import type { Prepared } from './template-map.ts';
import {
  adoptFastTables,
  fastTablesOf,
  loadTokenizerFromSpec,
  type FastTables,
  type Tokenizer,
  type TokenizerSpec,
} from './tokenizer.ts';

/** What each worker of `tokenizeFile` gets: the tokenizer to load and the truncation length. */
export interface EncodeWorkerInit {
  spec: TokenizerSpec;
  maxLength?: number;
  /** The fast encoder's tables from the parent (shared memory): the worker does not read tokenizer.json. */
  fastTables?: FastTables;
}

/**
 * The init of an encoder worker for `spec`: with the fast backend loaded in this thread, its
 * tables go along (shared, not copied), so starting a worker costs no tokenizer.json parse.
 *
 * @example
 * const init = encodeWorkerInit(tok.spec, { maxLength: 2048 });
 */
export function encodeWorkerInit(spec: TokenizerSpec, opts: { maxLength?: number } = {}): EncodeWorkerInit {
  const init: EncodeWorkerInit = { spec };
  if (opts.maxLength !== undefined) init.maxLength = opts.maxLength;
  const tables = spec.backend === 'fast' ? fastTablesOf(spec.dir) : undefined;
  if (tables) init.fastTables = tables;
  return init;
}

/** In a worker: load the tokenizer of `init`, on the parent's tables when it sent them. */
export function workerTokenizer(init: { spec: TokenizerSpec; fastTables?: FastTables }): Promise<Tokenizer> {
  if (init.fastTables) adoptFastTables(init.spec.dir, init.fastTables);
  return loadTokenizerFromSpec(init.spec);
}

/** A pool of encoder threads, kept for a whole job (see {@link encoderPool}). */
export type EncoderPool = WorkerPool<Prepared[], (Sample | null)[], EncodeWorkerInit>;

/**
 * How the native binding should use threads under `workers` worker threads, so that `workers: N`
 * means N cores of encoding. The Rust binding runs each `encodeBatch` on libuv's thread pool
 * (`UV_THREADPOOL_SIZE`, 4 unless set when the process starts; one pool per process) and spreads
 * the batch over rayon's global pool, which defaults to every core. Left alone, 1 worker already
 * uses the whole machine and 16 oversubscribe it.
 * - libuv pool at least N: one thread per encode (`TOKENIZERS_PARALLELISM=false`), one encode
 *   per worker at a time. Measured best (16 workers on 16 cores: 13.8 s against 17.3 s with rayon).
 * - otherwise: rayon sized to N (`RAYON_NUM_THREADS`) carries the N workers' encodes through the
 *   few libuv threads, two batches per worker in flight.
 * Set in the real process environment (only the main thread can: a worker's `process.env` is a
 * private copy) before the binding first encodes, never over a value the user set.
 *
 * @example
 * const { concurrencyPerWorker } = limitNativeThreads(8);
 */
export function limitNativeThreads(workers: number): { concurrencyPerWorker: number } {
  const env = process.env;
  const uv = Number(env.UV_THREADPOOL_SIZE ?? 4);
  const serial =
    env.TOKENIZERS_PARALLELISM !== undefined
      ? ['', 'off', 'false', 'f', 'no', 'n', '0'].includes(env.TOKENIZERS_PARALLELISM.toLowerCase())
      : env.RAYON_NUM_THREADS === undefined && uv >= workers;
  if (isMainThread && workers > 0) {
    if (serial) env.TOKENIZERS_PARALLELISM ??= 'false';
    else env.RAYON_NUM_THREADS ??= String(workers);
  }
  return { concurrencyPerWorker: serial ? 1 : 2 };
}

/**
 * Encoder threads for many `tokenizeFile` calls: each worker loads the tokenizer once for the job,
 * not once per input file. Close it when done.
 *
 * @example
 * const pool = encoderPool(tok, { workers: 8, maxLength: 32768 });
 * for (const f of files) for await (const s of tokenizeFile(f, { format: 'ftdp', tokenizer: tok, maxLength: 32768, pool })) write(s);
 * await pool.close();
 */
export function encoderPool(
  tokenizer: Pick<Tokenizer, 'spec'>,
  opts: { workers: number; maxLength?: number },
): EncoderPool {
  // With rayon, two batches per worker at once: the native encode of one runs on rayon's threads
  // while this worker's JavaScript turns the other's ids into samples.
  const { concurrencyPerWorker } =
    tokenizer.spec.backend === 'native' ? limitNativeThreads(opts.workers) : { concurrencyPerWorker: 1 };
  const init = encodeWorkerInit(tokenizer.spec, opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {});
  return new WorkerPool({
    module: new URL('./encode-worker.ts', import.meta.url),
    name: 'createEncoder',
    init,
    workers: opts.workers,
    concurrencyPerWorker,
    inFlightPerWorker: 3,
  });
}

/** Worker factory for core `parallelMap`: loads the tokenizer once, then encodes batches. */
export async function createEncoder(
  init: EncodeWorkerInit,
): Promise<(batch: Prepared[]) => Promise<(Sample | null)[]>> {
  const tok = await workerTokenizer(init);
  return (batch) => encodePrepared(tok, batch, init.maxLength);
}

/** Worker factory for InternLM-style documents: BOS + encode(text) + EOS for each text of a batch. */
export async function createDocEncoder(init: {
  spec: TokenizerSpec;
  fastTables?: FastTables;
}): Promise<(texts: string[]) => Promise<Int32Array[]>> {
  const tok = await workerTokenizer(init);
  return (texts) => encodeDocs(tok, texts);
}

/** BOS + ids + EOS per text (InternLM's tokenizer.py: add_bos_token and add_eos_token). */
export async function encodeDocs(
  tok: Pick<Tokenizer, 'encodeBatch' | 'bosIds' | 'eosIds'>,
  texts: string[],
): Promise<Int32Array[]> {
  const enc = await tok.encodeBatch(texts);
  return enc.map((ids) => {
    const out = new Int32Array(tok.bosIds.length + ids.length + tok.eosIds.length);
    out.set(tok.bosIds, 0);
    out.set(ids, tok.bosIds.length);
    out.set(tok.eosIds, tok.bosIds.length + ids.length);
    return out;
  });
}
