import { describe, expect, it } from 'vitest';
import { gather } from './pth.ts';
import { py } from '../test/helpers.ts';

describe('gather copies strided views into C order like torch .contiguous()', () => {
  // torch makes the views; we gather from their storages and compare with .contiguous()
  const script = `
import torch, json
g = torch.Generator().manual_seed(3)
cases = []
for dt, shape, make in [
    (torch.float32, (5, 7), lambda t: t.t()),
    (torch.bfloat16, (4, 6, 5), lambda t: t.permute(2, 0, 1)),
    (torch.float64, (9, 4), lambda t: t[1::3, ::2]),
    (torch.int8, (6, 6), lambda t: t[:, 1:4]),
    (torch.float16, (3, 8), lambda t: t[:, ::3].t()),
]:
    base = (torch.randn(*shape, generator=g) * 50).to(dt)
    v = make(base)
    st = base.flatten()
    raw = (st.view(torch.int16) if dt in (torch.bfloat16, torch.float16) else st).numpy().tobytes()
    c = v.contiguous()
    want = (c.view(torch.int16) if dt in (torch.bfloat16, torch.float16) else c).numpy().tobytes()
    size = base.element_size()
    off = v.storage_offset()
    cases.append({"src": raw[off * size:].hex(), "shape": list(v.shape), "strides": list(v.stride()), "size": size, "want": want.hex()})
print(json.dumps(cases))
`;
  it('transpose, permute, step slices, column slices, in 1/2/4/8-byte dtypes', () => {
    const r = py('-', [], script);
    expect(r.status, r.stderr).toBe(0);
    const cases = JSON.parse(r.stdout) as {
      src: string;
      shape: number[];
      strides: number[];
      size: number;
      want: string;
    }[];
    expect(cases).toHaveLength(5);
    for (const c of cases) {
      const got = gather(new Uint8Array(Buffer.from(c.src, 'hex')), c.shape, c.strides, c.size);
      expect(Buffer.from(got).toString('hex')).toBe(c.want);
    }
  });
});
