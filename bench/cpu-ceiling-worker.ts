/** Worker of bench/cpu-ceiling.ts: wait for all n at the barrier, then time one round of work. */
import type { EncodeWorkerInit } from '@weft/tokenize';
import { FastBpe } from '../packages/tokenize/src/fast-bpe.ts';

export interface CeilingInit {
  tokenizer: EncodeWorkerInit;
  texts: string[];
  /** Int32 0: workers arrived in this round. */
  barrier: SharedArrayBuffer;
}

export interface CeilingJob {
  n: number;
  work: 'encode' | 'alu';
}

export function createCeilingWorker(init: CeilingInit): (job: CeilingJob) => number {
  const tables = init.tokenizer.fastTables!.bpe;
  const noVocab = (): Map<string, number> => {
    throw new Error('not needed');
  };
  const arrived = new Int32Array(init.barrier);
  let sink = 0;
  return ({ n, work }) => {
    // A fresh encoder each round: its piece cache starts empty, as in a worker given new text.
    const bpe = FastBpe.fromTables(tables, noVocab);
    Atomics.add(arrived, 0, 1);
    while (Atomics.load(arrived, 0) < n) Atomics.wait(arrived, 0, Atomics.load(arrived, 0), 1);
    const t0 = performance.now();
    if (work === 'encode') for (const t of init.texts) sink += bpe.encode(t).length;
    else {
      let x = 0x9e3779b9 | 0;
      for (let i = 0; i < 4e8; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
      }
      sink += x & 1;
    }
    const s = (performance.now() - t0) / 1000;
    return sink === -1 ? -1 : s;
  };
}
