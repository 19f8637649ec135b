import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pthToHf } from '../src/index.ts';
import { compare, fixtures, tmp } from './helpers.ts';

let fx: string;
let base: string;
beforeAll(() => {
  fx = fixtures();
  base = tmp('weft-base-');
  writeFileSync(join(base, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], torch_dtype: 'float32' }));
  writeFileSync(join(base, 'generation_config.json'), '{"do_sample": false}\n');
  writeFileSync(join(base, 'tokenizer_config.json'), '{}\n');
  writeFileSync(join(base, 'tokenizer.model'), 'spm');
  writeFileSync(join(base, 'modeling_internlm2.py'), '# remote code\n');
  writeFileSync(join(base, 'pytorch_model.bin'), 'not copied');
});

describe('pth-to-hf equals the original tensors bit for bit (stdlib Python reader + torch)', () => {
  for (const arch of ['llama', 'internlm2']) {
    for (const dt of ['fp32', 'bf16', 'fp16']) {
      it(`${arch} ${dt} (shared + non-contiguous tensors)`, async () => {
        const out = tmp();
        const r = await pthToHf({ base, pth: join(fx, `${arch}_${dt}.pth`), out, progress: false });
        expect(r.kind).toBe('pth');
        const c = compare(join(fx, `${arch}_${dt}.expected.pth`), out);
        expect(c.problems).toEqual([]);
        expect(c.tensors).toBeGreaterThan(15);
      });
    }
  }

  it('zip64 container (sizes and offsets in zip64 fields, as torch writes past 4 GB)', async () => {
    const out = tmp();
    await pthToHf({ base, pth: join(fx, 'llama_zip64.pth'), out, progress: false });
    expect(compare(join(fx, 'llama_fp32.expected.pth'), out).problems).toEqual([]);
  });

  it('casts with --dtype exactly like torch .to() (fp32→bf16, fp32→fp16, bf16→fp16, fp16→fp32)', async () => {
    for (const [src, to, dtype] of [['fp32', 'bf16', 'BF16'], ['fp32', 'fp16', 'F16'], ['bf16', 'fp16', 'F16'], ['fp16', 'fp32', 'F32']] as const) {
      const out = tmp();
      await pthToHf({ base, pth: join(fx, `llama_${src}.pth`), out, dtype, progress: false });
      expect(compare(join(fx, `llama_${src}.expected.pth`), out, to).problems).toEqual([]);
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe({ BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[dtype]);
    }
  });

  it('xtuner/mmengine wrapper: state_dict with llm. prefixes beside arbitrary objects', async () => {
    const out = tmp();
    const r = await pthToHf({ base, pth: join(fx, 'xtuner_llama.pth'), out, progress: false });
    expect(r.kind).toBe('pth');
    expect(compare(join(fx, 'xtuner_llama.expected.pth'), out).problems).toEqual([]);
  });

  it('weft trainer work dir: last_checkpoint → iter_3.pth', async () => {
    const out = tmp();
    const r = await pthToHf({ base, pth: join(fx, 'weft_work_dir'), out, progress: false });
    expect(r.kind).toBe('pth');
    expect(compare(join(fx, 'weft_work_dir.expected.pth'), out).problems).toEqual([]);
    // and the file itself
    const out2 = tmp();
    await pthToHf({ base, pth: join(fx, 'weft_work_dir', 'iter_3.pth'), out: out2, progress: false });
    expect(compare(join(fx, 'weft_work_dir.expected.pth'), out2).problems).toEqual([]);
  });

  it('DeepSpeed ZeRO-2 folder (latest → global_step7/mp_rank_00_model_states.pt, module. prefixes)', async () => {
    const out = tmp();
    const r = await pthToHf({ base, pth: join(fx, 'ds_zero2'), out, progress: false });
    expect(r.kind).toBe('deepspeed-zero2');
    expect(compare(join(fx, 'ds_zero2.expected.pth'), out).problems).toEqual([]);
  });

  it('DeepSpeed ZeRO-3 folder: fp32 partitions consolidated as zero_to_fp32 does (padding, 2 groups, 2 ranks, a frozen bf16 param)', async () => {
    const out = tmp();
    const r = await pthToHf({ base, pth: join(fx, 'ds_zero3'), out, progress: false });
    expect(r.kind).toBe('deepspeed-zero3');
    expect(compare(join(fx, 'zero3.expected.pth'), out).problems).toEqual([]);
  });

  it('shards by --max-shard-size with an index Python can follow; reruns give identical bytes', async () => {
    const out = tmp();
    const r = await pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out, maxShardSize: 5000, progress: false });
    expect(r.files.length).toBeGreaterThan(2);
    const names = readdirSync(out).filter((f) => f.endsWith('.safetensors')).sort();
    expect(names[0]).toBe(`model-00001-of-${String(r.files.length).padStart(5, '0')}.safetensors`);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(r.totalSize);
    expect(compare(join(fx, 'internlm2_fp32.expected.pth'), out).problems).toEqual([]);
    const before = names.map((f) => readFileSync(join(out, f)));
    await pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out, maxShardSize: 5000, progress: false });
    expect(names.map((f) => readFileSync(join(out, f)))).toEqual(before);
    // a later unsharded run replaces the shards and the index
    await pthToHf({ base, pth: join(fx, 'internlm2_fp32.pth'), out, progress: false });
    expect(readdirSync(out).filter((f) => f.includes('safetensors')).sort()).toEqual(['model.safetensors']);
    expect(compare(join(fx, 'internlm2_fp32.expected.pth'), out).problems).toEqual([]);
  });

  it('copies config, generation config, tokenizer and remote-code files from the base model', async () => {
    const out = tmp();
    const r = await pthToHf({ base: join(base, 'config.json'), pth: join(fx, 'llama_bf16.pth'), out, progress: false });
    expect(r.copied.sort()).toEqual(['config.json', 'generation_config.json', 'modeling_internlm2.py', 'tokenizer.model', 'tokenizer_config.json']);
    expect(existsSync(join(out, 'pytorch_model.bin'))).toBe(false);
    expect(readFileSync(join(out, 'tokenizer.model'), 'utf8')).toBe('spm');
    // an xtuner .py config pointing at the base model works too
    const cfgDir = tmp();
    mkdirSync(join(cfgDir, 'cfg'));
    writeFileSync(join(cfgDir, 'cfg', 'x.py'), `pretrained_model_name_or_path = '${base}'\nmodel = dict()\n`);
    const r2 = await pthToHf({ base: join(cfgDir, 'cfg', 'x.py'), pth: join(fx, 'llama_bf16.pth'), out: tmp(), progress: false });
    expect(r2.copied).toContain('config.json');
  });

  it('LoRA: adapter_model.safetensors with PEFT names + adapter_config.json', async () => {
    const out = tmp();
    await expect(pthToHf({ base, pth: join(fx, 'lora.pth'), out, progress: false })).rejects.toThrow(/--lora-alpha/);
    const r = await pthToHf({ base, pth: join(fx, 'lora.pth'), out, loraAlpha: 16, progress: false });
    expect(r.lora).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes('safetensors'))).toEqual(['adapter_model.safetensors']);
    expect(compare(join(fx, 'lora.expected.pth'), join(out, 'adapter_model.safetensors')).problems).toEqual([]);
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], task_type: 'CAUSAL_LM' });
    expect(existsSync(join(out, 'config.json'))).toBe(false);
  });
});
