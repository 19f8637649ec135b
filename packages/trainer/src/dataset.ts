import { createHash } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { seededRandom, type Pack } from '@weft/core';
import { dataOrder, readDataOrder } from '@weft/order';
import { ArrowDataset, BinSource, PackedDataset, defaultCacheDir } from '@weft/pack';
import type { DatasetSpec } from './config.ts';

/** Packs by index: what the sampler needs to hand each rank its share in any order. */
export interface RandomAccessPacks {
  readonly length: number;
  get(i: number): Promise<Pack> | Pack;
  close?(): Promise<void>;
  /** The InternLM `.bin` files the packs are cut from, when they are (read in order to check token ids). */
  binFiles?: readonly string[];
}

/**
 * Resolve a dataset spec to random-access packs of `packedLength` tokens.
 *
 * @example
 * const ds = await openDataset({ kind: 'internlm', path: 'out/tokenized' }, { packedLength: 2048, seed: 1024 });
 * const first = await ds.get(0);
 */
export async function openDataset(
  spec: DatasetSpec,
  o: {
    packedLength: number;
    seed: number;
    maxLength?: number;
    dataOrderPath?: string;
    cacheDir?: string;
    tokenCacheDir?: string | false;
  },
): Promise<RandomAccessPacks> {
  switch (spec.kind) {
    case 'internlm': {
      const files = o.dataOrderPath ? await readDataOrder(o.dataOrderPath, spec.path) : await dataOrder(spec.path);
      if (files.length === 0) throw new Error(`${spec.path}: no .bin files (run \`weft process\` to make them)`);
      // Tokens come from the binary sidecars (built on the first run, see @weft/pack's token-cache), not from JSON.
      const cacheDir = o.tokenCacheDir === false ? undefined : (o.tokenCacheDir ?? defaultCacheDir());
      const sources: BinSource[] = [];
      for (const f of files) sources.push(await BinSource.open(join(spec.path, f), 0, cacheDir ? { cacheDir } : {}));
      const ds = PackedDataset.fromSources(sources, { packedLength: o.packedLength, seed: o.seed });
      return {
        length: ds.length,
        get: (i) => ds.get(i),
        close: async () => {
          await Promise.all(sources.map((s) => s.close()));
        },
        binFiles: sources.map((s) => s.name),
      };
    }
    case 'packed': {
      const ds = await ArrowDataset.open(spec.path);
      const missing = ['input_ids', 'labels', 'cumulative_len', 'position_ids'].filter((c) => !ds.columns.includes(c));
      if (missing.length) await ds.close();
      if (missing.length)
        throw new Error(
          `${spec.path}: not a packed dataset (no ${missing.join(', ')} column); write one with \`weft pack\``,
        );
      if (ds.length > 0) {
        const L = (await ds.get(0)).input_ids!.length;
        if (L !== o.packedLength) await ds.close();
        if (L !== o.packedLength)
          throw new Error(
            `${spec.path}: its packs hold ${L} tokens but the config says packedLength: ${o.packedLength}; set packedLength: ${L} (or repack)`,
          );
      }
      return {
        length: ds.length,
        get: async (i) => {
          const r = await ds.get(i);
          return {
            input_ids: r.input_ids!,
            labels: r.labels!,
            cumulative_len: r.cumulative_len!,
            position_ids: r.position_ids!,
          };
        },
        close: () => ds.close(),
      };
    }
    case 'untokenized': {
      if (!o.cacheDir) throw new Error(`dataset ${spec.path}: untokenized data needs a cache folder to tokenize into`);
      const dir = await tokenizeToCache(spec, o.cacheDir, o.maxLength);
      return openDataset({ kind: 'internlm', path: dir }, { ...o, dataOrderPath: undefined });
    }
    case 'synthetic':
      return syntheticPacks({ ...spec, packedLength: o.packedLength });
    case 'packs': {
      const src = (await spec.load()) as RandomAccessPacks | AsyncIterable<Pack> | Iterable<Pack>;
      if (src && typeof (src as RandomAccessPacks).get === 'function') return src as RandomAccessPacks;
      const all: Pack[] = [];
      for await (const p of src as AsyncIterable<Pack>) all.push(p);
      return { length: all.length, get: (i) => all[i]! };
    }
  }
}

/**
 * Tokenize raw data once into `<cacheDir>/<hash of the spec>/` as InternLM `.bin` + `.meta`
 * (loss masks as negative tokens), reusing it when the spec is unchanged.
 */
async function tokenizeToCache(
  spec: Extract<DatasetSpec, { kind: 'untokenized' }>,
  cacheDir: string,
  maxLength?: number,
): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify({ ...spec, maxLength }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheDir, key);
  if (existsSync(join(dir, 'DONE'))) return dir;
  // @weft/tokenize sits above the trainer's declared dependencies in most installs; load it lazily.
  const tk = (await import('@weft/tokenize')) as typeof import('@weft/tokenize');
  const tokenizer = await tk.loadTokenizer(spec.tokenizer);
  const files = statSync(spec.path).isDirectory()
    ? (await dataOrder(spec.path, { fileType: '' })).filter((f) => /\.(jsonl?|txt)$/.test(f))
    : [basename(spec.path)];
  const root = statSync(spec.path).isDirectory() ? spec.path : dirname(spec.path);
  if (files.length === 0) throw new Error(`${spec.path}: no .json/.jsonl/.txt files to tokenize`);
  for (const f of files) {
    // The cache is weft's own: a run killed before DONE left files to replace.
    const opts: Parameters<typeof tk.datasetToBin>[2] = {
      format: spec.format as never,
      tokenizer,
      progress: true,
      overwrite: true,
    };
    if (spec.template !== undefined) opts.template = spec.template;
    if (maxLength !== undefined) opts.maxLength = maxLength;
    await tk.datasetToBin(join(root, f), join(dir, `${f}.bin`), opts);
  }
  writeFileSync(join(dir, 'DONE'), `${JSON.stringify(spec)}\n`);
  return dir;
}

/**
 * Synthetic packs whose documents are strings of a few fixed "phrases" (so there is something to
 * learn and the loss falls), with exponential-ish document lengths around `meanDocLength`.
 * Deterministic: pack i depends only on (seed, i); the phrase book is the same for every seed.
 */
export function syntheticPacks(o: {
  numPacks: number;
  vocabSize: number;
  meanDocLength: number;
  packedLength: number;
  seed?: number;
}): RandomAccessPacks {
  const base = seededRandom(0x5eed); // the phrase book is shared by every seed, so a validation set matches training
  const phrases = Array.from({ length: 16 }, () =>
    Int32Array.from({ length: 8 }, () => 1 + Math.floor(base() * Math.min(o.vocabSize - 1, 4096))),
  );
  return {
    length: o.numPacks,
    get(i: number): Pack {
      const r = seededRandom(((o.seed ?? 1) * 1000003 + i * 7919) >>> 0);
      const L = o.packedLength;
      const input_ids = new Int32Array(L),
        labels = new Int32Array(L),
        position_ids = new Int32Array(L);
      const cum = [0];
      let at = 0;
      while (at < L) {
        const len = Math.min(L - at, Math.max(2, Math.round(-o.meanDocLength * Math.log(1 - r()))));
        for (let j = 0; j < len; j++) position_ids[at + j] = j;
        // Fill each 8-token run with one phrase: its first token picks it, the rest follow it.
        for (let j = 0; j < len; j += 8) {
          const ph = phrases[Math.floor(r() * phrases.length)]!;
          for (let k = 0; k < 8 && j + k < len; k++) input_ids[at + j + k] = ph[k]!;
        }
        at += len;
        cum.push(at);
      }
      labels.set(input_ids);
      return { input_ids, labels, cumulative_len: Int32Array.from(cum), position_ids };
    },
  };
}
