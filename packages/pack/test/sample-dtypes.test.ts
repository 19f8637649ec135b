// Issue 14 item 5: xtuner's saved samples have `labels` int64 and `input_ids` int32 (datasets narrows
// the column named input_ids; labels stay Python ints). `weft process` wrote both int32. The features
// are compared with what HF `datasets` itself builds and saves for xtuner's pipeline
// (tools/reference/xtuner_saved_samples.py), and weft reads both widths back.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../src/process.ts';
import { ArrowDataset } from '../src/arrow-reader.ts';
import { ArrowSource } from '../src/arrow-source.ts';
import { PackedDataset } from '../src/packed-dataset.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const SCRIPT = new URL('../../../tools/reference/xtuner_saved_samples.py', import.meta.url).pathname;
const msg = (role: string, content: string, loss?: boolean): Record<string, unknown> => (loss === undefined ? { role, content } : { role, content, loss });

async function rowsOf(dir: string): Promise<{ input_ids: number[]; labels: number[] }[]> {
  const ds = await ArrowDataset.open(dir);
  const out = [];
  for await (const r of ds.rows()) out.push({ input_ids: Array.from(r.input_ids!), labels: Array.from(r.labels!) });
  await ds.close();
  return out;
}

describe('samples folder: the feature types of xtuner\'s saved samples', () => {
  const dir = tempDir('weft-sample-dtypes-');
  const input = join(dir, 'in');
  mkdirSync(input);
  const records = Array.from({ length: 12 }, (_, i) => [msg('user', `question ${i} ${'x'.repeat(i * 7)}`), msg('assistant', `answer ${i}`)]);
  writeFileSync(join(input, 'a.json'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const out = join(dir, 'out');
  const xtunerDir = join(dir, 'xtuner');

  it('load_from_disk gives input_ids int32, labels int64 (as datasets saves xtuner\'s), packed stays int32; rows equal', async () => {
    await runProcess({ input, format: 'ftdp', maxLength: 48, pack: true, packedLength: 64, out, progress: false });
    const r = JSON.parse(execFileSync('python3', [SCRIPT, out, xtunerDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Record<string, { weft: string; xtuner: string; rows: number; rows_equal: boolean }> & { packed: string };
    expect(r['0']!.rows).toBe(12);
    expect(r['0']!.weft).toBe(r['0']!.xtuner);
    expect(r['0']!.weft).toMatch(/'input_ids': (List|Sequence)\(.*Value\('int32'\).*'labels': (List|Sequence)\(.*Value\('int64'\)/);
    expect(r['0']!.rows_equal).toBe(true);
    expect(r.packed).not.toMatch(/int64/);
  });

  it('weft reads int64 labels written by datasets: the same rows, and the same packs as from its own folder', async () => {
    const fromXtuner = await rowsOf(join(xtunerDir, '0'));
    expect(fromXtuner).toEqual(await rowsOf(join(out, 'samples', '0')));
    const weftSrc = await ArrowSource.open(join(out, 'samples', '0'));
    const xtSrc = await ArrowSource.open(join(xtunerDir, '0'));
    // Both take the direct (positioned read) path, one over int64 values.
    expect(weftSrc.fillRange).toBeDefined();
    expect(xtSrc.fillRange).toBeDefined();
    const packsOf = async (src: ArrowSource): Promise<unknown[]> => {
      const ds = PackedDataset.fromSources([src], { packedLength: 40, seed: 3 });
      const got = [];
      for await (const p of ds) got.push({ input_ids: Array.from(p.input_ids), labels: Array.from(p.labels), cumulative_len: Array.from(p.cumulative_len) });
      await ds.close();
      return got;
    };
    const a = await packsOf(weftSrc), b = await packsOf(xtSrc);
    expect(a.length).toBeGreaterThan(2);
    expect(b).toEqual(a);
  });
});
