import { isMainThread } from 'node:worker_threads';
import { WorkerPool, type Sample } from '@weft/core';
import { encodePrepared } from './encode.ts';
import type { Prepared } from './template-map.ts';
import { loadTokenizerFromSpec, type Tokenizer, type TokenizerSpec } from './tokenizer.ts';

/** What each worker of `tokenizeFile` gets: the tokenizer to load and the truncation length. */
export interface EncodeWorkerInit {
  spec: TokenizerSpec;
  maxLength?: number;
}

/** A pool of encoder threads, kept for a whole job (see {@link encoderPool}). */
export type EncoderPool = WorkerPool<Prepared[], (Sample | null)[], EncodeWorkerInit>;

/**
 * Size the native binding's own thread pool to the worker count, so `workers: N` means N cores of
 * encoding. The Rust binding runs each `encodeBatch` on libuv's thread pool (4 threads, fixed at
 * process start) and spreads the batch over rayon's global pool, which defaults to every core and
 * is created on first use. With N workers and rayon left at all cores, 1 worker would already use
 * the whole machine and 16 workers would oversubscribe it. Set only in the main thread (the real
 * process environment: a worker's `process.env` is a private copy), only before rayon starts,
 * and never over a value the user set.
 */
export function limitNativeThreads(workers: number): void {
  if (isMainThread && workers > 0 && process.env.RAYON_NUM_THREADS === undefined) process.env.RAYON_NUM_THREADS = String(workers);
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
export function encoderPool(tokenizer: Pick<Tokenizer, 'spec'>, opts: { workers: number; maxLength?: number }): EncoderPool {
  if (tokenizer.spec.backend === 'native') limitNativeThreads(opts.workers);
  const init: EncodeWorkerInit = { spec: tokenizer.spec };
  if (opts.maxLength !== undefined) init.maxLength = opts.maxLength;
  // Two batches per worker at once: the native encode of one runs on the binding's threads while
  // this worker's JavaScript turns the other's ids into samples.
  return new WorkerPool({ module: new URL('./encode-worker.ts', import.meta.url), name: 'createEncoder', init, workers: opts.workers, concurrencyPerWorker: 2, inFlightPerWorker: 3 });
}

/** Worker factory for core `parallelMap`: loads the tokenizer once, then encodes batches. */
export async function createEncoder(init: EncodeWorkerInit): Promise<(batch: Prepared[]) => Promise<(Sample | null)[]>> {
  const tok = await loadTokenizerFromSpec(init.spec);
  return (batch) => encodePrepared(tok, batch, init.maxLength);
}

/** Worker factory for InternLM-style documents: BOS + encode(text) + EOS for each text of a batch. */
export async function createDocEncoder(init: { spec: TokenizerSpec }): Promise<(texts: string[]) => Promise<Int32Array[]>> {
  const tok = await loadTokenizerFromSpec(init.spec);
  return (texts) => encodeDocs(tok, texts);
}

/** BOS + ids + EOS per text (InternLM's tokenizer.py: add_bos_token and add_eos_token). */
export async function encodeDocs(tok: Pick<Tokenizer, 'encodeBatch' | 'bosIds' | 'eosIds'>, texts: string[]): Promise<Int32Array[]> {
  const enc = await tok.encodeBatch(texts);
  return enc.map((ids) => {
    const out = new Int32Array(tok.bosIds.length + ids.length + tok.eosIds.length);
    out.set(tok.bosIds, 0);
    out.set(ids, tok.bosIds.length);
    out.set(tok.eosIds, tok.bosIds.length + ids.length);
    return out;
  });
}
