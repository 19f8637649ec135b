/**
 * One reader family: the same bad input gets the same reason code and the same position (file,
 * line, byte) from every command that reads it — `weft tokenize` (InternLM plain-text mode and
 * `--format`), `weft process`, and `weft scan`'s readers (order's family, which `weft pack`
 * reads `.bin` lines with too). The expected positions come from Python's own reading of the
 * bytes (line numbers and offsets of `\n`-split lines; what json.loads rejects; what is not UTF-8).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, isDataError, type DataError } from '@weft/core';
import { readFtdp, readInternlmBin, readJsonl, scanSources } from '@weft/order';
import { datasetToBin, internlmDocs, loadTokenizer, readDataset } from '@weft/tokenize';
import { runProcess } from '@weft/job';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const dir = tempDir('weft-reasons-');
const GOOD = '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]';
/** One ftdp file (JSON lines named .json): a good line, then every kind of bad line, then a good one. */
const FTDP_LINES: Buffer[] = [
  Buffer.from(GOOD),
  Buffer.from('[{"role": "user", "content": "Hi"'), // malformed-json
  Buffer.concat([Buffer.from('[{"role": "user", "content": "caf'), Buffer.from([0xe9]), Buffer.from('"}]')]), // non-utf8
  Buffer.from('{"role": "user", "content": "not in an array"}'), // bad-record
  Buffer.from('[{"role": "user", "content": 5}]'), // bad-content
  Buffer.from('[{"role": "robot", "content": "beep"}]'), // unknown-role
  Buffer.from('[{"content": "who?"}]'), // missing-role
  Buffer.from(GOOD),
];
/** Pretraining JSON lines: a good record, malformed JSON, a non-UTF-8 line, a good record. */
const JSONL_LINES: Buffer[] = [
  Buffer.from('{"text": "one"}'),
  Buffer.from('{"text": "two"'),
  Buffer.concat([Buffer.from('{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
  Buffer.from('{"text": "three"}'),
];

/** What Python makes of each line: its number, byte offset, and the reason it is bad (or null). */
function pythonView(file: string, kind: 'ftdp' | 'jsonl'): { line: number; offset: number; reason: string | null }[] {
  const code = `
import json, sys
kind, out, off = sys.argv[2], [], 0
for i, raw in enumerate(open(sys.argv[1], 'rb').read().split(b'\\n')[:-1], 1):
    r = None
    try:
        v = json.loads(raw.decode('utf-8'))
        if kind == 'ftdp':
            if not isinstance(v, list): r = 'bad-record'
            else:
                for m in v:
                    if 'role' not in m: r = 'missing-role'
                    elif not isinstance(m.get('content'), str): r = 'bad-content'
                    elif m['role'] not in ('system', 'user', 'assistant'): r = 'unknown-role'
                    if r: break
    except UnicodeDecodeError: r = 'non-utf8'
    except json.JSONDecodeError: r = 'malformed-json'
    out.append({'line': i, 'offset': off, 'reason': r}); off += len(raw) + 1
print(json.dumps(out))`;
  return JSON.parse(execFileSync('python3', ['-c', code, file, kind], { encoding: 'utf8' }));
}

const ftdpDir = join(dir, 'ftdp'),
  jsonlDir = join(dir, 'jsonl');
const ftdpFile = join(ftdpDir, 'chat.json'),
  jsonlFile = join(jsonlDir, 'docs.jsonl');
let tokenizer: Awaited<ReturnType<typeof loadTokenizer>>;

beforeAll(async () => {
  execFileSync('mkdir', ['-p', ftdpDir, jsonlDir]);
  writeFileSync(ftdpFile, Buffer.concat(FTDP_LINES.flatMap((l) => [l, Buffer.from('\n')])));
  writeFileSync(jsonlFile, Buffer.concat(JSONL_LINES.flatMap((l) => [l, Buffer.from('\n')])));
  tokenizer = await loadTokenizer('default');
});

/** The bad lines' reasons, counted, from Python's view. */
function expectedCounts(view: { reason: string | null }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const v of view) if (v.reason) c[v.reason] = (c[v.reason] ?? 0) + 1;
  return c;
}

/** The first DataError a run throws (or undefined). */
async function firstError(run: () => Promise<unknown>): Promise<DataError | undefined> {
  try {
    await run();
  } catch (e) {
    if (isDataError(e)) return e as DataError;
    throw e;
  }
  return undefined;
}

const pos = (e: DataError | undefined) =>
  e && { file: e.source.file, line: e.source.line, offset: e.source.offset, reason: e.reason };

const WEFT = new URL('../bin/weft.mjs', import.meta.url).pathname;

/**
 * An InternLM .bin + .meta written by Python (json.dumps lines, np.save'd int32 meta), with the
 * given lines; returns Python's view of each line: number, offset and why it is bad (or null).
 */
function pythonBin(folder: string, lines: string[]): { line: number; offset: number; reason: string | null }[] {
  const code = `
import json, os, sys, numpy as np
folder, lines = sys.argv[1], [bytes.fromhex(h) for h in json.loads(sys.argv[2])]
os.makedirs(folder, exist_ok=True)
path, meta, view, off = os.path.join(folder, 'a.bin'), [], [], 0
with open(path, 'wb') as f:
    for i, raw in enumerate(lines, 1):
        r, n = None, 1
        try:
            v = json.loads(raw.decode('utf-8'))
            if isinstance(v, dict) and isinstance(v.get('tokens'), list) and all(type(t) is int for t in v['tokens']): n = len(v['tokens'])
            else: r = 'schema'
        except UnicodeDecodeError: r = 'non-utf8'
        except json.JSONDecodeError: r = 'malformed-json'
        view.append({'line': i, 'offset': off, 'reason': r}); meta.append((off, n)); f.write(raw + b'\\n'); off += len(raw) + 1
np.save(path + '.meta', np.array(meta, dtype=np.int32)); os.rename(path + '.meta.npy', path + '.meta')
print(json.dumps(view))`;
  return JSON.parse(
    execFileSync(
      'python3',
      ['-c', code, folder, JSON.stringify(lines.map((l) => Buffer.from(l, 'latin1').toString('hex')))],
      { encoding: 'utf8' },
    ),
  );
}

/** `weft pack` on a folder (packs of 1 token: every line is read, none falls in a dropped tail): exit code, its summary's skipped counts, and where a failure was reported. */
function weftPack(
  folder: string,
  out: string,
  skip: boolean,
): { code: number | null; skipped?: Record<string, number>; at?: string } {
  const r = spawnSync(
    'node',
    [WEFT, 'pack', folder, '--packed-length', '1', '--out', out, '--quiet', ...(skip ? ['--on-error', 'skip'] : [])],
    { encoding: 'utf8' },
  );
  const at = /: (line \d+ \(byte \d+\)): /.exec(r.stderr)?.[1];
  return {
    code: r.status,
    ...(r.status === 0 ? { skipped: (JSON.parse(r.stdout) as { skipped: Record<string, number> }).skipped } : {}),
    ...(at ? { at } : {}),
  };
}

describe('the same bad input, every command', () => {
  it('ftdp: weft tokenize --format, weft process and weft scan count the same reasons', async () => {
    const want = expectedCounts(pythonView(ftdpFile, 'ftdp'));
    expect(Object.keys(want).sort()).toEqual([
      'bad-content',
      'bad-record',
      'malformed-json',
      'missing-role',
      'non-utf8',
      'unknown-role',
    ]);
    const [tok] = await datasetToBin(ftdpFile, join(dir, 'tok.bin'), { format: 'ftdp', tokenizer, onError: 'skip' });
    const proc = await runProcess({
      input: ftdpDir,
      format: 'ftdp',
      tokenizer: 'default',
      out: join(dir, 'proc'),
      onError: 'skip',
      workers: 0,
      command: 'process',
      progress: false,
    });
    const [scan] = await scanSources(ftdpDir, { read: true });
    const src = readFtdp(ftdpFile, { onError: 'skip' });
    await collect(src);
    expect(tok!.skipped).toEqual(want);
    expect(proc.skipped).toEqual(want);
    expect(scan!.rejected).toEqual(want);
    expect(src.stats.toJSON().rejected).toEqual(want);
  });

  it('ftdp: each bad line fails every command at the same place, with the same reason', async () => {
    const view = pythonView(ftdpFile, 'ftdp');
    for (const bad of view.filter((v) => v.reason)) {
      const f = join(dir, `one-${bad.line}`, 'chat.json');
      execFileSync('mkdir', ['-p', join(dir, `one-${bad.line}`)]);
      // The good first line, then this bad line at the same line number and offset as in the full file.
      writeFileSync(
        f,
        Buffer.concat(
          [
            ...FTDP_LINES.slice(0, bad.line - 1).map((l, i) => (i === 0 ? l : Buffer.alloc(l.length, 0x20))),
            FTDP_LINES[bad.line - 1]!,
          ].flatMap((l) => [l, Buffer.from('\n')]),
        ),
      );
      const want = { file: f, line: bad.line, offset: bad.offset, reason: bad.reason };
      const got = {
        tokenize: pos(await firstError(() => datasetToBin(f, `${f}.bin`, { format: 'ftdp', tokenizer }))),
        process: pos(await firstError(() => collect(readDataset(f, 'ftdp')))),
        scan: pos(await firstError(() => collect(readFtdp(f)))),
      };
      expect(got, `line ${bad.line}`).toEqual({ tokenize: want, process: want, scan: want });
    }
  });

  it('InternLM .bin lines: weft pack, weft process --format internlm and weft scan agree, in both modes', async () => {
    const BIN_LINES = [
      '{"tokens": [1, 2, 3]}',
      '{"tokens": [1, 2',
      '{"tokens": [1, "caf\xe9"]}',
      '{"tokens": "x"}',
      '{"tokens": [4, -5, 6]}',
    ];
    const folder = join(dir, 'bin');
    const view = pythonBin(folder, BIN_LINES);
    const want = expectedCounts(view);
    expect(want).toEqual({ 'malformed-json': 1, 'non-utf8': 1, schema: 1 });
    const proc = await runProcess({
      input: folder,
      format: 'internlm',
      out: join(dir, 'bin-proc'),
      onError: 'skip',
      workers: 0,
      command: 'process',
      progress: false,
    });
    const [scan] = await scanSources(folder, { read: true });
    expect(weftPack(folder, join(dir, 'bin-pack'), true).skipped).toEqual(want);
    expect(proc.skipped).toEqual(want);
    expect(scan!.rejected).toEqual(want);
    for (const bad of view.filter((v) => v.reason)) {
      const one = join(dir, `bin-${bad.line}`);
      // The good lines and this bad one, each at its place in the full file.
      pythonBin(
        one,
        BIN_LINES.map((l, i) => (i + 1 === bad.line || !view[i]!.reason ? l : '{"tokens": [7]}'.padEnd(l.length, ' '))),
      );
      const f = join(one, 'a.bin');
      const at = { file: f, line: bad.line, offset: bad.offset, reason: bad.reason };
      expect(pos(await firstError(() => collect(readInternlmBin(f)))), `line ${bad.line}`).toEqual(at);
      expect(
        pos(
          await firstError(() =>
            runProcess({
              input: one,
              format: 'internlm',
              out: `${one}-o`,
              workers: 0,
              command: 'process',
              progress: false,
            }),
          ),
        ),
        `line ${bad.line}`,
      ).toEqual(at);
      expect(weftPack(one, `${one}-p`, false), `line ${bad.line}`).toEqual({
        code: 2,
        at: `line ${bad.line} (byte ${bad.offset})`,
      });
    }
  });

  it('JSON lines: weft tokenize (InternLM text mode), weft process --format pretrain and weft scan agree', async () => {
    const view = pythonView(jsonlFile, 'jsonl');
    const want = expectedCounts(view);
    expect(want).toEqual({ 'malformed-json': 1, 'non-utf8': 1 });
    const skipped: Record<string, number> = {};
    const texts = (await collect(internlmDocs(jsonlFile, { onError: 'skip', skipped }))).map((d) => d.text);
    expect(texts).toEqual(['one', 'three']);
    const ds = readDataset(jsonlFile, 'pretrain', { onError: 'skip' });
    await collect(ds);
    const src = readJsonl(jsonlFile, { onError: 'skip' });
    await collect(src);
    expect(skipped).toEqual(want);
    expect(ds.readerStats.toJSON().rejected).toEqual(want);
    expect(src.stats.toJSON().rejected).toEqual(want);
    const first = view.find((v) => v.reason)!;
    const at = { file: jsonlFile, line: first.line, offset: first.offset, reason: first.reason };
    expect(pos(await firstError(() => collect(internlmDocs(jsonlFile, {}))))).toEqual(at);
    expect(pos(await firstError(() => collect(readDataset(jsonlFile, 'pretrain'))))).toEqual(at);
    expect(pos(await firstError(() => collect(readJsonl(jsonlFile))))).toEqual(at);
  });
});
