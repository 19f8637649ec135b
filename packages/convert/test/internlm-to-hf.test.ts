import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDataError } from '@weft/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { internlmToHf } from '../src/internlm-to-hf.ts';
import { py, tmp, TORCH_PYTHON } from './helpers.ts';

// Fixtures: tools/convert/make_internlm_fixtures.py splits full HF-named weights into InternLM
// tp × pp shards; tools/reference/internlm_convert2hf.py converts them back the way InternLM's
// convert2hf scripts do (and checks it gets the full weights again). weft's output must equal the
// reference tensor by tensor.
const REFERENCE = fileURLToPath(new URL('../../../tools/reference/internlm_convert2hf.py', import.meta.url));
const WEFT = fileURLToPath(new URL('../../cli/bin/weft.mjs', import.meta.url));
const SPM = fileURLToPath(new URL('../../tokenize/test/fixtures/spm/bpe.model', import.meta.url));
const weft = (...args: string[]) => spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8' });

const CASES = [
  'v1_tp1_pp1',
  'v1_tp2_pp2',
  'v1_tp2_pp1_split_bf16',
  'v1_tp1_pp2_fp16',
  'v2_tp1_pp2',
  'v2_tp2_pp2_permute_fp16',
  'v2_tp2_pp1_normhead',
  'v2_tp1_pp1',
];
let fx: string;

beforeAll(() => {
  fx = tmp('weft-internlm-fx-');
  const made = py('make_internlm_fixtures.py', [fx]);
  if (made.status !== 0) throw new Error(`make_internlm_fixtures.py failed: ${made.stderr}`);
});

async function failure(p: Promise<unknown>): Promise<{ message: string; reason: string; file: string }> {
  try {
    await p;
  } catch (e) {
    if (!isDataError(e)) throw e;
    return { message: e.message, reason: e.reason, file: e.source.file };
  }
  throw new Error('expected a DataError');
}

describe('weft convert internlm-to-hf', () => {
  it('v1 and v2 checkpoints of tp 1/2 × pp 1/2 equal the Python reference of convert2hf, tensor by tensor (API and CLI)', async () => {
    const runs: [string, string, string | null][] = [];
    for (const c of CASES) {
      const out = join(tmp(), 'hf');
      const r = await internlmToHf({ ckpt: join(fx, c), out, tokenizer: SPM, progress: false, chunkBytes: 56 }); // small reads: rows and chunks cross
      expect(r.version).toBe(c.startsWith('v1') ? 'internlm' : 'internlm2');
      expect([r.tp, r.pp]).toEqual([Number(/tp(\d)/.exec(c)![1]), Number(/pp(\d)/.exec(c)![1])]);
      runs.push([c, out, null]);
    }
    // the CLI, casting to bf16 into several safetensors shards with an index
    const out = join(tmp(), 'hf');
    const cli = weft(
      'convert',
      'internlm-to-hf',
      join(fx, 'v1_tp2_pp2'),
      out,
      '--tokenizer',
      SPM,
      '--dtype',
      'bf16',
      '--max-shard-size',
      '8KB',
      '--model-type',
      'internlm',
      '--quiet',
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stderr).toMatch(/internlm checkpoint, tp 2 × pp 2: wrote 42 tensors, \d+ bytes in [2-9] file\(s\)/);
    expect(existsSync(join(out, 'model.safetensors.index.json'))).toBe(true);
    runs.push(['v1_tp2_pp2', out, 'bf16']);

    const r = spawnSync(TORCH_PYTHON, [REFERENCE, '--batch'], {
      encoding: 'utf8',
      input: JSON.stringify(runs.map(([c, o, d]) => [join(fx, c), join(fx, `${c}.original.pt`), o, d])),
    });
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as { tensors: number; original: string; weft: string[] }[];
    results.forEach((x, i) => {
      // the reference gets back the full weights the fixture was split from ...
      expect(x.original, runs[i]![0]).toBe('equal');
      // ... and weft's output equals the reference
      expect(x.weft, runs[i]![0]).toEqual([]);
      expect(x.tensors).toBeGreaterThan(16);
    });
  });

  it('writes config.json, generation_config.json and the tokenizer files as the scripts set them', async () => {
    const v1 = join(tmp(), 'hf');
    await internlmToHf({ ckpt: join(fx, 'v1_tp2_pp2'), out: v1, tokenizer: SPM, progress: false });
    const c1 = JSON.parse(readFileSync(join(v1, 'config.json'), 'utf8'));
    expect(c1).toMatchObject({
      architectures: ['InternLMForCausalLM'],
      model_type: 'internlm',
      vocab_size: 24,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      rms_norm_eps: 1e-5,
      bias: true,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 2,
      rotary: { base: 10000, type: 'origin' },
      torch_dtype: 'float32',
      tie_word_embeddings: false,
    });
    expect(readFileSync(join(v1, 'tokenizer.model')).equals(readFileSync(SPM))).toBe(true);
    const t1 = JSON.parse(readFileSync(join(v1, 'tokenizer_config.json'), 'utf8'));
    expect(t1.tokenizer_class).toBe('InternLMTokenizer');
    expect(t1.chat_template).toContain('<eoh>');
    expect(JSON.parse(readFileSync(join(v1, 'generation_config.json'), 'utf8'))).toMatchObject({
      bos_token_id: 1,
      eos_token_id: 2,
    });
    expect(readdirSync(v1).sort()).toEqual([
      '.weft-output.json',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer.model',
      'tokenizer_config.json',
    ]);

    const v2 = join(tmp(), 'hf');
    await internlmToHf({
      ckpt: join(fx, 'v2_tp2_pp2_permute_fp16'),
      out: v2,
      progress: false,
      maxPositionEmbeddings: 32768,
      dtype: 'BF16',
    });
    const c2 = JSON.parse(readFileSync(join(v2, 'config.json'), 'utf8'));
    expect(c2).toMatchObject({
      architectures: ['InternLM2ForCausalLM'],
      model_type: 'internlm2',
      num_key_value_heads: 2,
      num_hidden_layers: 3,
      bias: false,
      rope_theta: 1000000,
      rope_scaling: { type: 'dynamic', factor: 2 },
      max_position_embeddings: 32768,
      torch_dtype: 'bfloat16',
    });
    expect(existsSync(join(v2, 'tokenizer.model'))).toBe(false); // no --tokenizer: no tokenizer files
  });

  it('--code-from copies the remote-code files; a rerun replaces its own output only with --overwrite, with the same bytes', async () => {
    const code = tmp();
    writeFileSync(join(code, 'modeling_internlm.py'), '# modeling\n');
    writeFileSync(join(code, 'configuration_internlm.py'), '# configuration\n');
    writeFileSync(join(code, 'config.json'), '{}');
    const out = join(tmp(), 'hf');
    const o = { ckpt: join(fx, 'v1_tp1_pp2_fp16'), out, codeFrom: code, progress: false };
    const first = await internlmToHf(o);
    expect(first.extra).toEqual([
      'config.json',
      'generation_config.json',
      'configuration_internlm.py',
      'modeling_internlm.py',
    ]);
    expect(readFileSync(join(out, 'modeling_internlm.py'), 'utf8')).toBe('# modeling\n');
    const bytes = readFileSync(join(out, 'model.safetensors'));
    await expect(internlmToHf(o)).rejects.toThrow(
      /holds an earlier output of weft convert internlm-to-hf; pass --overwrite/,
    );
    await internlmToHf({ ...o, overwrite: true });
    expect(readFileSync(join(out, 'model.safetensors')).equals(bytes)).toBe(true);
  });

  it('bad inputs: missing shard, shape mismatch, unknown key, truncated shard, other layouts — named, nothing written', async () => {
    const bad = (n: string) => join(fx, 'bad', n);
    const run = (n: string, out = join(tmp(), 'hf')) => failure(internlmToHf({ ckpt: bad(n), out, progress: false }));
    const missing = await run('missing');
    expect(missing.reason).toBe('missing-shard');
    expect(missing.message).toMatch(/missing model_tp1_pp1\.pt: the shards found span tp 0\.\.1 × pp 0\.\.1/);
    const shape = await run('shape');
    expect(shape.reason).toBe('shape');
    expect(shape.file).toBe(join(bad('shape'), 'model_tp1_pp1.pt'));
    expect(shape.message).toMatch(
      /blocks\.0\.mlp\.w1\.weight \(blocks\.1\.mlp\.w1\.weight after the pipeline merge\) of .*model_tp1_pp1\.pt \(tp 1\) has shape \[17, 16\], expected \[16, 16\]/,
    );
    const unknown = await run('unknown');
    expect(unknown.reason).toBe('unknown-key');
    expect(unknown.message).toMatch(
      /model_tp0_pp1\.pt: unknown key blocks\.0\.mixer\.lora_A\.weight \(blocks\.1\.mixer\.lora_A\.weight after the pipeline merge\)/,
    );
    const out = join(tmp(), 'hf');
    const truncated = await run('truncated', out);
    expect(truncated.file).toContain(join(bad('truncated'), 'model_tp1_pp0.pt'));
    expect(existsSync(out)).toBe(false);
    const wp = await run('wp');
    expect(wp.message).toMatch(/model_wp0_pp0\.pt: weight-parallel \(ISP\) shards are not supported/);
    const mismatch = await failure(
      internlmToHf({ ckpt: join(fx, 'v2_tp1_pp2'), out: join(tmp(), 'hf'), modelType: 'internlm', progress: false }),
    );
    expect(mismatch.message).toMatch(/model_tp0_pp0\.pt: --model-type internlm, but the keys are InternLM2's/);
    const none = await failure(internlmToHf({ ckpt: fx, out: join(tmp(), 'hf'), progress: false }));
    expect(none.reason).toBe('not-internlm');
  });

  it('hostile pickles (os.system via __reduce__) in model_config.pt or a shard run nothing and are refused', async () => {
    const cfg = await failure(
      internlmToHf({ ckpt: join(fx, 'bad', 'hostile_config'), out: join(tmp(), 'hf'), progress: false }),
    );
    expect(cfg.message).toMatch(
      /model_config\.pt: model_config\.pt should hold a dict of the model settings; it holds <posix\.system object, not executed>/,
    );
    const shard = await failure(
      internlmToHf({ ckpt: join(fx, 'bad', 'hostile_shard'), out: join(tmp(), 'hf'), progress: false }),
    );
    expect(shard.message).toMatch(
      /model_tp0_pp0\.pt: state dict entry blocks\.0\.norm1\.weight is <posix\.system object, not executed>, not a tensor/,
    );
    expect(existsSync(join(fx, 'PWNED'))).toBe(false);
    // proof the fixture is hostile: torch.load with full unpickling runs it
    const r = spawnSync(TORCH_PYTHON, [
      '-c',
      'import sys, torch; torch.load(sys.argv[1])',
      join(fx, 'bad', 'hostile_config', 'model_config.pt'),
    ]);
    expect(r.status).toBe(0);
    expect(existsSync(join(fx, 'PWNED'))).toBe(true);
  });
});
