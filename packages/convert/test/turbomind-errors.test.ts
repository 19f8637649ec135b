// hf-to-turbomind: clear errors for what it cannot convert, atomic and deterministic output,
// the CLI, and tokenizer_size (a sentencepiece model encoded by Python's own protobuf writer code).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorFromBytes, type TensorRecord } from '../src/tensor.ts';
import { readSafetensors } from '../src/safetensors-read.ts';
import {
  guessChatTemplate,
  sentencepiecePieces,
  tokenizerSize,
  turbomindModelInfo,
  writeTurbomind,
} from '../src/turbomind/index.ts';
import { OUTPUT_MARKER } from '@weft/core';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const work = tempDir('weft-tm-err-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const llama = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 128,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  intermediate_size: 20,
  vocab_size: 16,
  rms_norm_eps: 1e-6,
  num_hidden_layers: 1,
};

/** A random tiny model from the reference script (torch). */
function tinyModel(name: string, config: Record<string, unknown>, family = 'llama'): string {
  const dir = join(work, name);
  execFileSync('/usr/bin/python3', [
    join(import.meta.dirname, 'turbomind_reference.py'),
    dir,
    JSON.stringify({ family, tp: 1, seed: 7, src_dtype: 'float32', weight_type: 'float16', config }),
  ]);
  return join(dir, 'hf');
}

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      if (n.isDirectory()) walk(join(d, n.name), `${rel}${n.name}/`);
      else
        out[rel + n.name] = createHash('sha256')
          .update(readFileSync(join(d, n.name)))
          .digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

describe('config checks', () => {
  const bad: [string, Record<string, unknown>, number, RegExp][] = [
    ['tp not a power of two', llama, 3, /power of two/],
    ['tp does not divide the heads', llama, 4, /does not divide num_attention_heads 2/],
    [
      'tp and kv heads incompatible',
      { ...llama, hidden_size: 384, num_attention_heads: 6, num_key_value_heads: 3 },
      2,
      /num_key_value_heads 3: one must divide the other/,
    ],
    ['unknown architecture', { ...llama, architectures: ['GPT2LMHeadModel'] }, 1, /GPT2LMHeadModel is not supported/],
    ['no architectures', { ...llama, architectures: undefined }, 1, /no "architectures"/],
    [
      'unknown rope scaling',
      { ...llama, rope_scaling: { type: 'su', factor: 2 } },
      1,
      /rope_scaling type "su" is not supported/,
    ],
    ['quantized', { ...llama, quantization_config: { quant_method: 'awq' } }, 1, /quantized models/],
    ['head size 32', { ...llama, hidden_size: 64 }, 1, /64 or 128 only/],
    ['internlm2 head size 64', { ...llama, architectures: ['InternLM2ForCausalLM'] }, 1, /internlm2 head size 64/],
    ['llama attention biases', { ...llama, attention_bias: true }, 1, /attention_bias/],
    [
      'missing field',
      { ...llama, intermediate_size: undefined },
      1,
      /"intermediate_size" must be a non-negative integer/,
    ],
  ];
  it.each(bad)('%s', (_, cfg, tp, re) => {
    expect(() => turbomindModelInfo(cfg, { tp, dtype: 'auto' })).toThrow(re);
  });
  it('replicates KV heads when tp is a multiple of them', () => {
    const i = turbomindModelInfo(
      { ...llama, hidden_size: 512, num_attention_heads: 8, num_key_value_heads: 2 },
      { tp: 8, dtype: 'auto' },
    );
    expect([i.kvRepeat, i.kvHeadNumOut]).toEqual([4, 8]);
  });
  it('dtype auto keeps bf16, turns everything else into fp16', () => {
    expect(turbomindModelInfo({ ...llama, torch_dtype: 'bfloat16' }, { tp: 1, dtype: 'auto' }).weightType).toBe(
      'bfloat16',
    );
    expect(turbomindModelInfo({ ...llama, torch_dtype: 'float32' }, { tp: 1, dtype: 'auto' }).weightType).toBe(
      'float16',
    );
    expect(turbomindModelInfo({ ...llama, torch_dtype: 'float32' }, { tp: 1, dtype: 'bfloat16' }).weightType).toBe(
      'bfloat16',
    );
  });
  it('guesses the chat template from the path as lmdeploy does', () => {
    expect(
      [
        '/m/internlm2-chat-7b',
        '/m/internlm2_5-7b-chat',
        '/m/internlm-chat-7b',
        '/m/Llama-2-7b-chat-hf',
        '/m/Meta-Llama-3.1-8B-Instruct',
        '/m/Qwen2-7B-Instruct',
        '/m/Qwen2.5-7B-Instruct',
        '/m/tiny',
      ].map(guessChatTemplate),
    ).toEqual(['internlm2', 'internlm2', 'internlm', 'llama2', 'llama3_1', 'qwen', 'qwen2d5', 'base']);
  });
});

describe('writeTurbomind', () => {
  const hf = tinyModel('ok', llama);
  const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
  const records = async (): Promise<TensorRecord[]> => {
    const out: TensorRecord[] = [];
    for await (const t of readSafetensors(hf)) out.push(t);
    return out;
  };

  it('names a missing tensor and leaves an existing workspace untouched', async () => {
    const dst = join(work, 'keep');
    mkdirSync(dst);
    writeFileSync(join(dst, 'old.txt'), 'old');
    writeFileSync(join(dst, OUTPUT_MARKER), JSON.stringify({ weft: 1, command: 'convert hf-to-turbomind' })); // an earlier weft output
    const ts = (await records()).filter((t) => t.name !== 'model.layers.0.mlp.up_proj.weight');
    await expect(writeTurbomind(dst, ts, { config, modelName: 'm', overwrite: true })).rejects.toThrow(
      /model\.layers\.0\.mlp\.up_proj\.weight is missing/,
    );
    expect(readdirSync(dst).sort()).toEqual([OUTPUT_MARKER, 'old.txt']);
    expect(readdirSync(work).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('names a tensor whose shape disagrees with config.json, and the file it came from', async () => {
    const ts = await records();
    const bad = ts.map((t) =>
      t.name === 'model.norm.weight' ? tensorFromBytes(t.name, 'F32', [4], new Uint8Array(16)) : t,
    );
    await expect(writeTurbomind(join(work, 'x'), bad, { config, modelName: 'm' })).rejects.toThrow(
      /model\.norm\.weight has shape \[4\], config\.json implies \[128\]/,
    );
    const intEmb = ts.map((t) =>
      t.name === 'model.norm.weight' ? tensorFromBytes(t.name, 'I32', [128], new Uint8Array(512)) : t,
    );
    await expect(writeTurbomind(join(work, 'x'), intEmb, { config, modelName: 'm' })).rejects.toThrow(
      /is I32; only float tensors/,
    );
  });

  it('sources streamed in odd-sized chunks from a reused buffer give the same bytes', async () => {
    const whole = join(work, 'whole');
    await writeTurbomind(whole, readSafetensors(hf), { config, modelName: 'm', tp: 2 });
    const odd = (await records()).map((t): TensorRecord => ({
      ...t,
      async *stream() {
        const all = await t.read();
        const buf = new Uint8Array(7); // 7 bytes: never a whole number of fp32 elements
        for (let i = 0; i < all.length; i += 7) {
          const n = Math.min(7, all.length - i);
          buf.set(all.subarray(i, i + n));
          yield buf.subarray(0, n);
        }
      },
    }));
    const chunked = join(work, 'chunked');
    await writeTurbomind(chunked, odd, { config, modelName: 'm', tp: 2 });
    expect(tree(chunked)).toEqual(tree(whole));
  });

  it('a rerun with overwrite gives identical bytes, replacing the old workspace; without, it is refused', async () => {
    const dst = join(work, 'again');
    await writeTurbomind(dst, readSafetensors(hf), { config, modelName: 'm', tp: 2 });
    const first = tree(dst);
    writeFileSync(join(dst, 'stale.bin'), 'x');
    await expect(writeTurbomind(dst, readSafetensors(hf), { config, modelName: 'm', tp: 2 })).rejects.toThrow(
      /earlier output of weft convert hf-to-turbomind; pass --overwrite/,
    );
    await writeTurbomind(dst, readSafetensors(hf), { config, modelName: 'm', tp: 2, overwrite: true });
    expect(tree(dst)).toEqual(first);
  });
});

describe('weft convert hf-to-turbomind (CLI)', () => {
  const weft = join(ROOT, 'packages', 'cli', 'bin', 'weft.mjs');
  it('writes the workspace with config.json and the tokenizer copied', () => {
    const hf = tinyModel('cli', { ...llama, num_hidden_layers: 2 });
    writeFileSync(
      join(hf, 'tokenizer.json'),
      JSON.stringify({
        model: { type: 'WordLevel', vocab: { a: 0, b: 1, c: 2 } },
        added_tokens: [
          { id: 1, content: 'b' },
          { id: 3, content: '<x>' },
        ],
      }),
    );
    const dst = join(work, 'cli-ws');
    const r = spawnSync(
      process.execPath,
      [weft, 'convert', 'hf-to-turbomind', 'tiny', hf, '--dst-path', dst, '--tp', '2', '--quiet'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote .*: 30 files in triton_models\/weights \(tp=2, float16\)/);
    expect(r.stdout).toMatch(/not converted \(1\): model\.rotary_emb\.inv_freq/);
    expect(readdirSync(dst).sort()).toEqual([OUTPUT_MARKER, 'config.json', 'tokenizer.json', 'triton_models']);
    const yaml = readFileSync(join(dst, 'triton_models', 'weights', 'config.yaml'), 'utf8');
    expect(yaml).toContain('  tokenizer_size: 4\n');
    expect(yaml).toContain('  model_name: tiny\n');
  });
  it('fails with the reason when tp does not divide the heads', () => {
    const r = spawnSync(
      process.execPath,
      [
        weft,
        'convert',
        'hf-to-turbomind',
        'tiny',
        tinyModel('cli2', llama),
        '--dst-path',
        join(work, 'no'),
        '--tp',
        '4',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--tp 4 does not divide num_attention_heads 2/);
    expect(existsSync(join(work, 'no'))).toBe(false);
  });
});

describe('tokenizer_size', () => {
  it('counts sentencepiece pieces and added tokens (protobuf written by Python)', () => {
    const dir = join(work, 'sp');
    mkdirSync(dir);
    // an independent protobuf encoder: ModelProto{pieces: [SentencePiece{piece, score, type}], trainer_spec{...}}
    execFileSync('/usr/bin/python3', [
      '-c',
      `
import struct, sys
def varint(n):
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def ld(field, payload): return varint(field << 3 | 2) + varint(len(payload)) + payload
pieces = ['<unk>', '<s>', '</s>'] + ['\\u2581w%d' % i for i in range(300)]
msg = b''.join(ld(1, ld(1, p.encode()) + varint(2 << 3 | 5) + struct.pack('<f', -1.5) + varint(3 << 3) + varint(1)) for p in pieces)
msg += ld(2, varint(1 << 3) + varint(300) + ld(2, b'model_prefix'))
open(sys.argv[1], 'wb').write(msg)
`,
      join(dir, 'tokenizer.model'),
    ]);
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ added_tokens_decoder: { 1: { content: '<s>' }, 303: { content: '<|im_end|>' } } }),
    );
    const pieces = sentencepiecePieces(readFileSync(join(dir, 'tokenizer.model')));
    expect(pieces.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '\u2581w0']);
    expect(tokenizerSize(dir)).toBe(304);
  });
  it('a truncated tokenizer.model is a DataError with the offset', () => {
    const buf = Buffer.from([0x0a, 0x05, 0x0a, 0x03, 0x61]);
    expect(() => sentencepiecePieces(buf, 'bad.model')).toThrow(/bad\.model: .*runs past/);
  });
});
