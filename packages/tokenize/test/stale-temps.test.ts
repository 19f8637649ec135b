// Issue 11, item 2: a killed `weft tokenize` leaves `.a.bin.tmp-<pid>-<hex>` beside its output;
// the rerun removes those of dead runs (and of this output only), and keeps a live run's.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { datasetToBin, textToBin } from '../src/internlm-tokenize.ts';
import { loadTokenizer } from '../src/tokenizer.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-tok-stale-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

it('tokenize reruns drop the temps killed runs left beside the .bin (and the split folder), nothing else', async () => {
  const dead = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid!;
  const dir = join(base, 'en');
  mkdirSync(dir);
  const stale = [`.a.bin.tmp-${dead}-0badf00d`, `.a.bin.meta.tmp-${dead}-0badf00d`];
  const kept = [`.a.bin.tmp-${process.ppid}-0badf00d`, `.b.bin.tmp-${dead}-0badf00d`];
  for (const n of [...stale, ...kept]) writeFileSync(join(dir, n), 'x');
  const tokenizer = await loadTokenizer('default');
  await textToBin(join(FIXTURES, 'pretrain.txt'), join(dir, 'a.bin'), { tokenizer });
  expect(readdirSync(dir).sort()).toEqual(['a.bin', 'a.bin.meta', ...kept].sort());

  mkdirSync(join(base, `.split.tmp-${dead}`));
  writeFileSync(join(base, `.split.tmp-${dead}`, 'dataset.bin'), 'x');
  await datasetToBin(join(FIXTURES, 'alpaca.json'), join(base, 'split'), {
    format: 'alpaca',
    template: 'internlm2_chat',
    tokenizer,
    splitRatio: 0.5,
  });
  expect(readdirSync(base).sort()).toEqual(['en', 'split']);
});
