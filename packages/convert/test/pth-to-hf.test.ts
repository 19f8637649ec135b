import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pthToHf, type PthToHfOptions, type PthToHfResult } from '../src/pth-to-hf.ts';
import { compareMany, fixtures, tmp } from './helpers.ts';

let fx: string;
let base: string;

/** A conversion and what its output must equal (an expected state dict, optionally cast by torch). */
interface Case {
  label: string;
  opts: () => Omit<PthToHfOptions, 'base' | 'out'> & { base?: string };
  expected: string;
  cast?: string;
  compareAt?: string;
}
const cases: Case[] = [];
for (const arch of ['llama', 'internlm2']) {
  for (const dt of ['fp32', 'bf16', 'fp16']) {
    cases.push({
      label: `${arch} ${dt}`,
      opts: () => ({ pth: join(fx, `${arch}_${dt}.pth`) }),
      expected: `${arch}_${dt}.expected.pth`,
    });
  }
}
for (const [src, to, dtype] of [
  ['fp32', 'bf16', 'BF16'],
  ['fp32', 'fp16', 'F16'],
  ['bf16', 'fp16', 'F16'],
  ['fp16', 'fp32', 'F32'],
] as const) {
  cases.push({
    label: `cast ${src}→${to}`,
    opts: () => ({ pth: join(fx, `llama_${src}.pth`), dtype }),
    expected: `llama_${src}.expected.pth`,
    cast: to,
  });
}
cases.push(
  { label: 'zip64', opts: () => ({ pth: join(fx, 'llama_zip64.pth') }), expected: 'llama_fp32.expected.pth' },
  { label: 'objects', opts: () => ({ pth: join(fx, 'objects.pth') }), expected: 'objects.expected.pth' },
  { label: 'xtuner', opts: () => ({ pth: join(fx, 'xtuner_llama.pth') }), expected: 'xtuner_llama.expected.pth' },
  { label: 'work dir', opts: () => ({ pth: join(fx, 'weft_work_dir') }), expected: 'weft_work_dir.expected.pth' },
  {
    label: 'iter_3.pth',
    opts: () => ({ pth: join(fx, 'weft_work_dir', 'iter_3.pth') }),
    expected: 'weft_work_dir.expected.pth',
  },
  { label: 'zero2', opts: () => ({ pth: join(fx, 'ds_zero2') }), expected: 'ds_zero2.expected.pth' },
  { label: 'zero3', opts: () => ({ pth: join(fx, 'ds_zero3') }), expected: 'zero3.expected.pth' },
  {
    label: 'sharded',
    opts: () => ({ pth: join(fx, 'internlm2_fp32.pth'), maxShardSize: 5000 }),
    expected: 'internlm2_fp32.expected.pth',
  },
  {
    label: 'lora',
    opts: () => ({ pth: join(fx, 'lora.pth'), loraAlpha: 16 }),
    expected: 'lora.expected.pth',
    compareAt: 'adapter_model.safetensors',
  },
  {
    label: 'config.json base',
    opts: () => ({ pth: join(fx, 'llama_bf16.pth'), base: join(base, 'config.json') }),
    expected: 'llama_bf16.expected.pth',
  },
);
const results = new Map<string, { out: string; r: PthToHfResult; cmp: { tensors: number; problems: string[] } }>();

beforeAll(async () => {
  fx = fixtures();
  base = tmp('weft-base-');
  writeFileSync(
    join(base, 'config.json'),
    JSON.stringify({ architectures: ['LlamaForCausalLM'], torch_dtype: 'float32' }),
  );
  writeFileSync(join(base, 'generation_config.json'), '{"do_sample": false}\n');
  writeFileSync(join(base, 'tokenizer_config.json'), '{}\n');
  writeFileSync(join(base, 'tokenizer.model'), 'spm');
  writeFileSync(join(base, 'modeling_internlm2.py'), '# remote code\n');
  writeFileSync(join(base, 'pytorch_model.bin'), 'not copied');
  const runs: { c: Case; out: string; r: PthToHfResult }[] = [];
  for (const c of cases) {
    const out = tmp();
    const r = await pthToHf({ base, out, progress: false, ...c.opts() });
    runs.push({ c, out, r });
  }
  const cmp = compareMany(
    runs.map(({ c, out }) => [join(fx, c.expected), c.compareAt ? join(out, c.compareAt) : out, c.cast]),
  );
  runs.forEach(({ c, out, r }, i) => results.set(c.label, { out, r, cmp: cmp[i]! }));
});

const ok = (label: string) => {
  const res = results.get(label)!;
  expect(res.cmp.problems).toEqual([]);
  expect(res.cmp.tensors).toBeGreaterThan(2);
  return res;
};

describe('pth-to-hf equals the original tensors bit for bit (stdlib Python reader + torch)', () => {
  for (const arch of ['llama', 'internlm2']) {
    for (const dt of ['fp32', 'bf16', 'fp16']) {
      it(`${arch} ${dt} (shared + non-contiguous tensors)`, () => {
        expect(ok(`${arch} ${dt}`).r.kind).toBe('pth');
      });
    }
  }

  it('zip64 container (sizes and offsets in zip64 fields, as torch writes past 4 GB)', () => {
    ok('zip64');
  });

  it('casts with --dtype exactly like torch .to() (fp32→bf16, fp32→fp16, bf16→fp16, fp16→fp32)', () => {
    for (const [label, want] of [
      ['cast fp32→bf16', 'bfloat16'],
      ['cast fp32→fp16', 'float16'],
      ['cast bf16→fp16', 'float16'],
      ['cast fp16→fp32', 'float32'],
    ] as const) {
      const { out } = ok(label);
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(want);
    }
  });

  it('a torch.save of a dict of arbitrary Python objects: its tensors (F32, I64, BOOL) converted, objects skipped and reported', () => {
    const { r } = ok('objects');
    expect(r.skipped).toEqual(
      expect.arrayContaining(['ns', 'hub', 'np', 'set', 'bytes', 'big', 'device', 'dtype', 'size', 'nested']),
    );
  });

  it('xtuner/mmengine wrapper: state_dict with llm. prefixes beside arbitrary objects', () => {
    expect(ok('xtuner').r.kind).toBe('pth');
  });

  it('weft trainer work dir: last_checkpoint → iter_3.pth (and the file itself)', () => {
    ok('work dir');
    ok('iter_3.pth');
  });

  it('DeepSpeed ZeRO-2 folder (latest → global_step7/mp_rank_00_model_states.pt, module. prefixes)', () => {
    expect(ok('zero2').r.kind).toBe('deepspeed-zero2');
  });

  it('DeepSpeed ZeRO-3 folder: fp32 partitions consolidated as zero_to_fp32 does (padding, 2 groups, 2 ranks, a frozen bf16 param)', () => {
    expect(ok('zero3').r.kind).toBe('deepspeed-zero3');
  });

  it('shards by --max-shard-size with an index Python can follow; reruns give identical bytes', async () => {
    const { out, r } = ok('sharded');
    expect(r.files.length).toBeGreaterThan(2);
    const names = readdirSync(out)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();
    expect(names[0]).toBe(`model-00001-of-${String(r.files.length).padStart(5, '0')}.safetensors`);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(r.totalSize);
    const before = names.map((f) => readFileSync(join(out, f)));
    await expect(
      pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out, maxShardSize: 5000, progress: false }),
    ).rejects.toThrow(/pass --overwrite/);
    await pthToHf({
      base,
      pth: join(fx, 'internlm2_fp32.pth'),
      out,
      maxShardSize: 5000,
      progress: false,
      overwrite: true,
    });
    expect(names.map((f) => readFileSync(join(out, f)))).toEqual(before);
    // a later unsharded run replaces the shards and the index with one file of the same tensors
    await pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out, progress: false, overwrite: true });
    expect(
      readdirSync(out)
        .filter((f) => f.includes('safetensors'))
        .sort(),
    ).toEqual(['model.safetensors']);
    const single = readFileSync(join(out, 'model.safetensors'));
    const again = tmp();
    await pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out: again, progress: false });
    expect(readFileSync(join(again, 'model.safetensors'))).toEqual(single);
  });

  it('copies config, generation config, tokenizer and remote-code files from the base model', async () => {
    const { r, out } = ok('config.json base');
    expect(r.copied.sort()).toEqual([
      'config.json',
      'generation_config.json',
      'modeling_internlm2.py',
      'tokenizer.model',
      'tokenizer_config.json',
    ]);
    expect(existsSync(join(out, 'pytorch_model.bin'))).toBe(false);
    expect(readFileSync(join(out, 'tokenizer.model'), 'utf8')).toBe('spm');
    // an xtuner .py config pointing at the base model works too
    const cfgDir = tmp();
    mkdirSync(join(cfgDir, 'cfg'));
    writeFileSync(join(cfgDir, 'cfg', 'x.py'), `pretrained_model_name_or_path = '${base}'\nmodel = dict()\n`);
    const r2 = await pthToHf({
      base: join(cfgDir, 'cfg', 'x.py'),
      pth: join(fx, 'llama_bf16.pth'),
      out: tmp(),
      progress: false,
    });
    expect(r2.copied).toContain('config.json');
  });

  it('LoRA: adapter_model.safetensors with PEFT names + adapter_config.json', async () => {
    await expect(pthToHf({ base, pth: join(fx, 'lora.pth'), out: tmp(), progress: false })).rejects.toThrow(
      /--lora-alpha/,
    );
    const { r, out } = ok('lora');
    expect(r.lora).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes('safetensors'))).toEqual(['adapter_model.safetensors']);
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 16,
      target_modules: ['q_proj', 'v_proj'],
      task_type: 'CAUSAL_LM',
    });
    expect(existsSync(join(out, 'config.json'))).toBe(false);
  });
});
