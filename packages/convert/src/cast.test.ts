import { describe, expect, it } from 'vitest';
import { castBytes } from './cast.ts';
import type { DType } from './tensor.ts';
import { py } from '../test/helpers.ts';

describe('castBytes equals torch .to(dtype) bit for bit', () => {
  const ref = JSON.parse(py('cast_vectors.py', []).stdout) as Record<string, string>;
  const b = (k: string) => new Uint8Array(Buffer.from(ref[k]!, 'hex'));
  const cases: [string, DType, string, DType][] = [
    ['f32', 'F32', 'f32_bf16', 'BF16'],
    ['f32', 'F32', 'f32_f16', 'F16'],
    ['f32_bf16', 'BF16', 'bf16_f32', 'F32'],
    ['f32_f16', 'F16', 'f16_f32', 'F32'],
    ['f32_bf16', 'BF16', 'bf16_f16', 'F16'],
    ['f32_f16', 'F16', 'f16_bf16', 'BF16'],
    ['f64', 'F64', 'f64_bf16', 'BF16'],
    ['f64', 'F64', 'f64_f16', 'F16'],
  ];
  for (const [src, from, want, to] of cases) {
    it(`${from} → ${to} (${want})`, () => {
      expect(Buffer.from(castBytes(b(src), from, to)).toString('hex')).toBe(ref[want]);
    });
  }
  it('leaves integer tensors alone and refuses to cast them', () => {
    expect(() => castBytes(new Uint8Array(8), 'I64', 'F32')).toThrow(/only float/);
  });
});
