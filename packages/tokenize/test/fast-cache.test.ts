import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer as Native } from 'tokenizers';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { FastBpe } from '../src/fast-bpe.ts';
import { fastCacheKey, readFastCache, writeFastCache } from '../src/fast-cache.ts';
import { gateSample } from '../src/fast-gate.ts';
import { encodeWorkerInit } from '../src/encode-worker.ts';
import { defaultTokenizerDir, loadTokenizer } from '../src/tokenizer.ts';
import { mixedTexts } from './mixed-text.ts';
import { REPO } from './helpers.ts';

/** A private copy of the Qwen3 tokenizer, so its cache entry is this test's own. */
function qwen3Copy(): string {
  const dir = tempDir('weft-fastcache-tok-');
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(defaultTokenizerDir(), f), join(dir, f));
  return dir;
}

/** loadTokenizer in a fresh process (this one remembers its verdicts): backend and stderr. */
function loadInChild(dir: string, cacheDir: string): { backend: string; stderr: string } {
  const code = `const { loadTokenizer } = await import(${JSON.stringify(join(REPO, 'packages/tokenize/src/tokenizer.ts'))});
    const t = await loadTokenizer(${JSON.stringify(dir)}); console.log(t.backend);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, WEFT_CACHE_DIR: cacheDir },
  });
  expect(r.status, r.stderr).toBe(0);
  return { backend: r.stdout.trim(), stderr: r.stderr };
}

describe("the fast encoder's gate verdict and tables are cached per tokenizer", () => {
  it("tables read back from the cache give the binding's ids", async () => {
    const dir = qwen3Copy();
    const cache = tempDir('weft-fastcache-');
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const built = FastBpe.fromJson(json);
    if (typeof built === 'string') throw new Error(built);
    const key = fastCacheKey(dir);
    writeFastCache({ key, gate: { reference: 'native', diff: null }, tables: built.tables, shape: {} }, cache);
    const entry = readFastCache(key, cache)!;
    expect(entry.tables!.h.buffer).toBeInstanceOf(SharedArrayBuffer);
    const copy = FastBpe.fromTables(
      entry.tables!,
      () => new Map(Object.entries(json.model.vocab as Record<string, number>)),
    );
    const native = Native.fromFile(join(dir, 'tokenizer.json'));
    const texts = [
      ...gateSample(copy.addedTokens()),
      ...mixedTexts({ seed: 3, bytes: 60_000, specials: ['<|im_end|>', '<|im_start|>'] }),
    ];
    const want = (await native.encodeBatch(texts, { addSpecialTokens: false })).map((e) => Array.from(e.getIds()));
    expect(texts.map((t) => Array.from(copy.encode(t)))).toEqual(want);
    expect(copy.vocabSize).toBe(native.getVocabSize(true));
    expect(copy.tokenToId('hello')).toBe(native.tokenToId('hello')); // the vocabulary, read when first asked
    // A damaged entry is no entry: the caller gates again.
    const file = join(cache, 'fast-bpe', `${key}.tables`);
    writeFileSync(file, readFileSync(file).subarray(0, 5000));
    expect(readFastCache(key, cache)).toBeUndefined();
  });

  it('the key follows the bytes of tokenizer.json', () => {
    const dir = qwen3Copy();
    const before = fastCacheKey(dir);
    const text = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
    writeFileSync(join(dir, 'tokenizer.json'), text.replace('"Ġt', '"Ġu'));
    expect(fastCacheKey(dir)).not.toBe(before);
  });

  it('a later process takes the cached verdict: the gate is not rerun', () => {
    const dir = qwen3Copy();
    const cache = tempDir('weft-fastcache-');
    // First process: gates, passes, writes the entry.
    expect(loadInChild(dir, cache).backend).toBe('fast');
    const entries = readdirSync(join(cache, 'fast-bpe'));
    expect(entries).toHaveLength(1);
    const key = fastCacheKey(dir);
    expect(readFastCache(key, cache)?.gate.diff).toBeNull();
    // Replace the verdict with a failing one: a process that reads it uses the binding and says why,
    // which it would not if it ran the gate (this tokenizer passes it).
    writeFastCache(
      { key, gate: { reference: 'native', diff: 'sample 7 "x": token 0 is 1, the reference has 2' } },
      cache,
    );
    const again = loadInChild(dir, cache);
    expect(again.backend).toBe('native');
    expect(again.stderr).toMatch(
      /differs from the native tokenizer on the built-in sample \(sample 7 "x": token 0 is 1, the reference has 2\); using the native backend/,
    );
  });

  it("a worker's init carries the parent's tables on shared memory", async () => {
    const tok = await loadTokenizer('default');
    expect(tok.backend).toBe('fast');
    const init = encodeWorkerInit(tok.spec, { maxLength: 64 });
    expect(init.fastTables?.bpe.h.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(existsSync(join(process.env.WEFT_CACHE_DIR!, 'fast-bpe'))).toBe(true);
  });
});
