/**
 * A worker thread of {@link UnitPool}: it tokenizes whole units (an input file, or a byte range of
 * a large one) from reading to the Arrow files, exactly as a shard task does in its own thread —
 * the same `openUnit` and `writeUnit` — so nothing per record crosses threads. Progress goes to
 * the parent through shared counters.
 */
import { workerTokenizer, type EncodeWorkerInit } from '@weft/tokenize';
import type { ShardUnit } from '@weft/pack/units';
import type { ProcessOptions } from './process.ts';
import { openUnit, writeUnit, type UnitOutput } from './unit.ts';

/** What every unit worker gets once: the job's options, the tokenizer (on the parent's tables), the progress counters. */
export interface UnitWorkerInit {
  opts: ProcessOptions;
  tokenizer: EncodeWorkerInit;
  /** BigInt64Array over it: [input bytes done, samples written, tokens written], summed over all workers. */
  progress: SharedArrayBuffer;
}

/** One unit to write: the input file, its size, the unit, and the folder its Arrow files go to. */
export interface UnitTask {
  path: string;
  size: number;
  unit: ShardUnit;
  dir: string;
}

/** Progress counters' slots (see {@link UnitWorkerInit.progress}). */
export const PROGRESS_BYTES = 0;
export const PROGRESS_SAMPLES = 1;
export const PROGRESS_TOKENS = 2;

/** Worker factory (core's WorkerPool calls it once per thread): the tokenizer loads once, then units run one at a time. */
export function createUnitWriter(init: UnitWorkerInit): (t: UnitTask) => Promise<UnitOutput> {
  const tokenizer = workerTokenizer(init.tokenizer);
  const counters = new BigInt64Array(init.progress);
  // The unit runs in this thread: no nested encoder threads.
  const opts: ProcessOptions = { ...init.opts, workers: 0 };
  const throttle = Number(process.env.WEFT_TEST_THROTTLE_MS ?? 0); // tests: a slow write to kill mid-way
  return async (t) => {
    const o = await openUnit(t.path, t.size, t.unit, opts, { tokenizer: await tokenizer });
    let at = o.bytes.start;
    const out = await writeUnit(o, t.dir, opts, async (s) => {
      Atomics.add(counters, PROGRESS_SAMPLES, 1n);
      Atomics.add(counters, PROGRESS_TOKENS, BigInt(s.input_ids.length));
      const offset = s.source?.offset;
      if (offset !== undefined && offset > at) {
        Atomics.add(counters, PROGRESS_BYTES, BigInt(offset - at));
        at = offset;
      }
      if (throttle > 0) await new Promise((r) => setTimeout(r, throttle));
    });
    Atomics.add(counters, PROGRESS_BYTES, BigInt(o.bytes.end - at));
    return out;
  };
}
