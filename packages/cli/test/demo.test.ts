import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { DEMO_PACKED_LENGTH, runDemo } from '../src/run-demo.ts';

it('weft demo prints the summary as JSON on stdout and says on stderr where it wrote what', async () => {
  const out = join(tempDir('weft-demo-'), 'demo');
  const stdout: string[] = [];
  const stderr: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout.push(String(s));
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr.push(String(s));
    return true;
  });
  try {
    await runDemo({ out, workers: 0 });
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const summary = JSON.parse(stdout.join('')) as { packs: number };
  expect(summary).toEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
  const wrote = stderr
    .join('')
    .split('\n')
    .find((l) => l.startsWith('weft demo: wrote '));
  expect(wrote).toBe(
    `weft demo: wrote ${out}/ — samples/ (tokenized DatasetDict, one split per input file), packed/ (packed Arrow dataset, ${summary.packs} packs of ${DEMO_PACKED_LENGTH} tokens), summary.json; look inside: npx weft inspect ${join(out, 'packed')} --tokenizer default`,
  );
  for (const p of ['samples/dataset_dict.json', 'packed/state.json', 'summary.json'])
    expect(existsSync(join(out, p)), p).toBe(true);
});
