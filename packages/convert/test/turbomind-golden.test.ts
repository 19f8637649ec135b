// weft's hf-to-turbomind against workspaces written by lmdeploy v0.9.2's own converter code
// (tools/device/turbomind_golden.sh, run on the GPU machine; tools/device/turbomind_fixture.sh
// made this fixture from its archive). Every file of every case must match byte for byte:
// config.yaml, every weight file, and the copied tokenizer/config files.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/safetensors-read.ts';
import { tokenizerSize, workspaceCopies, writeTurbomind } from '../src/turbomind/index.ts';
import type { TurbomindDType } from '../src/turbomind/index.ts';
import { OUTPUT_MARKER } from '@weft/core';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const FIXTURE = process.env['WEFT_TURBOMIND_GOLDEN'] ?? join(import.meta.dirname, 'fixtures', 'turbomind');

interface Case {
  model: string;
  tp: number;
  dtype: TurbomindDType;
  chat_template: string;
  model_name: string;
  files: Record<string, { size: number; sha256: string }>;
  error?: string;
}
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as {
  stubbed: string[];
  cases: Record<string, Case>;
};

const work = tempDir('weft-tm-golden-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The tiny HF model folder, safetensors un-gzipped. */
function hfDir(model: string): string {
  const dst = join(work, 'hf', model);
  mkdirSync(dst, { recursive: true });
  const src = join(FIXTURE, 'hf', model);
  for (const f of readdirSync(src)) {
    if (f.endsWith('.gz')) writeFileSync(join(dst, f.slice(0, -3)), gunzipSync(readFileSync(join(src, f))));
    else copyFileSync(join(src, f), join(dst, f));
  }
  return dst;
}

function listFiles(dir: string): Record<string, { size: number; sha256: string }> {
  const out: Record<string, { size: number; sha256: string }> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (n === OUTPUT_MARKER) continue; // weft's own mark of its output folder; lmdeploy writes none
      if (statSync(p).isDirectory()) walk(p);
      else {
        const b = readFileSync(p);
        out[relative(dir, p)] = { size: b.length, sha256: createHash('sha256').update(b).digest('hex') };
      }
    }
  };
  walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('hf-to-turbomind matches lmdeploy v0.9.2 byte for byte', () => {
  it('the fixture was made with the real transformers and safetensors (not the CPU stand-ins)', () => {
    expect(manifest.stubbed.filter((s) => ['transformers', 'safetensors'].includes(s))).toEqual([]);
    expect(Object.keys(manifest.cases).length).toBeGreaterThanOrEqual(6);
  });

  for (const [name, c] of Object.entries(manifest.cases)) {
    it(`${name} (tp=${c.tp}, dtype ${c.dtype})`, async () => {
      expect(c.error, 'lmdeploy failed on this case in the device run').toBeUndefined();
      const src = hfDir(c.model);
      const dst = join(work, 'tm', name);
      const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
      const goldenYaml = readFileSync(join(FIXTURE, 'config', `${name}.yaml`), 'utf8');
      // tokenizer_size is len(AutoTokenizer) of whatever transformers runs lmdeploy, so it is an
      // input here, taken from the golden file. weft's own count (tokenizer.json: 59 + 1 added)
      // is 60 for every model; transformers 5.17 (the device run) gives 61 for qwen2 only, where
      // AutoTokenizer picks its Qwen2 class over tokenizer_config's PreTrainedTokenizerFast and
      // that class brings a default pad token '<|endoftext|>'.
      const goldenTokenizerSize = Number(/\n {2}tokenizer_size: (\d+)\n/.exec(goldenYaml)![1]);
      expect(tokenizerSize(src)).toBe(60);
      expect(goldenTokenizerSize).toBe(c.model === 'qwen2' ? 61 : 60);
      await writeTurbomind(dst, readSafetensors(src), {
        config,
        modelName: c.model_name,
        tp: c.tp,
        dtype: c.dtype,
        chatTemplate: c.chat_template,
        tokenizerSize: goldenTokenizerSize,
        copyFiles: workspaceCopies(src),
      });
      expect(readFileSync(join(dst, 'triton_models', 'weights', 'config.yaml'), 'utf8')).toBe(goldenYaml);
      const got = listFiles(dst);
      expect(Object.keys(got)).toEqual(Object.keys(c.files));
      const differ = Object.keys(c.files).filter(
        (f) => got[f]!.sha256 !== c.files[f]!.sha256 || got[f]!.size !== c.files[f]!.size,
      );
      expect(differ).toEqual([]);
    });
  }
});
