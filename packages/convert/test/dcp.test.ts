// Sharded FSDP2 checkpoints (torch.distributed.checkpoint folders) read directly. The fixture
// dcp-tiny/ was written by the real worker on 2 CPU ranks under PyTorch 2.11 on the GPU box
// (`python3 bench/fsdp_device.py fixture`): a random-init model of 1.3k parameters (vocab 33:
// uneven shards of 17 + 16 rows) with its AdamW state; expected.json holds what PyTorch's own
// DCP loader reads back from it. CI's PyTorch 1.13 has no DCP writer of this form, so the files
// are committed (198 KB; expected.json keeps the values as base64 float32).
import {
  cpSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDataError } from '@weft/core';
import { describe, expect, it } from 'vitest';
import { dcpRecords, readDcpIndex } from '../src/dcp.ts';
import { openCheckpoint, pthToHf, readSafetensors } from '../src/index.ts';
import { tmp } from './helpers.ts';

const f32 = (b: Uint8Array) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
const FX = fileURLToPath(new URL('./fixtures/dcp-tiny/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FX, 'expected.json'), 'utf8')) as {
  model: Record<string, unknown>;
  tensors: Record<string, { shape: number[]; dtype: string; f32_base64: string }>;
};
/** What PyTorch's DCP loader read for our key `k`, as float32 values. */
const want = (k: string): number[] => f32(Buffer.from(expected.tensors[k]!.f32_base64, 'base64'));
const keys = JSON.parse(readFileSync(join(FX, 'weft_keys.json'), 'utf8')) as Record<string, string>;

function copy(): string {
  const d = join(tmp('weft-dcp-'), 'iter_2.dcp');
  cpSync(FX, d, { recursive: true });
  return d;
}

async function dataError(fn: () => unknown): Promise<{ message: string; reason: string; file?: string }> {
  try {
    await fn();
  } catch (e) {
    if (!isDataError(e)) throw e;
    return { message: e.message, reason: e.reason, file: (e as { file?: string }).file };
  }
  throw new Error('expected a DataError');
}

/** Replace every occurrence of `from` by `to` (same length) in a file. */
function patch(file: string, from: string, to: string): void {
  expect(to.length).toBe(from.length);
  const b = readFileSync(file);
  const s = b.toString('latin1');
  expect(s.includes(from)).toBe(true);
  writeFileSync(file, Buffer.from(s.split(from).join(to), 'latin1'));
}

describe('DCP (FSDP2 sharded) checkpoints', () => {
  it('the index: every model tensor in two shards (uneven ones too), the optimizer beside it', () => {
    const idx = readDcpIndex(FX);
    const embed = idx.tensors.find((t) => t.fqn === 'model.embed_tokens.weight')!;
    expect(embed.shape).toEqual([33, 8]);
    expect(embed.chunks.map((c) => [c.offsets, c.sizes])).toEqual([
      [
        [0, 0],
        [17, 8],
      ],
      [
        [17, 0],
        [16, 8],
      ],
    ]);
    expect(new Set(embed.chunks.map((c) => c.file.split('/').pop()))).toEqual(
      new Set(['__0_0.distcp', '__1_0.distcp']),
    );
    expect(idx.tensors.filter((t) => t.fqn.startsWith('model.')).length).toBe(Object.keys(expected.tensors).length);
    expect(idx.tensors.some((t) => t.fqn.startsWith('optim.state.'))).toBe(true);
  });

  it("reads each tensor equal to what PyTorch's DCP loader gives, named by weft_keys.json; streams shard by shard", async () => {
    const { tensors, skipped } = dcpRecords(FX);
    expect(tensors.map((t) => t.name).sort()).toEqual(
      Object.keys(expected.tensors)
        .map((k) => keys[k])
        .sort(),
    );
    for (const t of tensors) {
      const ours = Object.keys(keys).find((k) => keys[k] === t.name)!;
      expect(t.shape).toEqual(expected.tensors[ours]!.shape);
      expect(expected.tensors[ours]!.dtype).toBe('torch.float32');
      const got = f32(await t.read());
      expect(got).toEqual(want(ours));
      const parts: Uint8Array[] = [];
      for await (const c of t.stream!()) parts.push(new Uint8Array(c));
      expect(parts.length).toBe(2);
      expect(f32(Buffer.concat(parts))).toEqual(got);
    }
    expect(skipped.some((s) => s.startsWith('optim.'))).toBe(true);
  });

  it('weft convert pth-to-hf takes the sharded folder (or the work dir naming it) and writes the HF safetensors', async () => {
    const base = tmp('weft-dcp-base-');
    writeFileSync(join(base, 'config.json'), JSON.stringify(expected.model));
    const work = tmp('weft-dcp-work-');
    cpSync(FX, join(work, 'iter_2.dcp'), { recursive: true });
    writeFileSync(join(work, 'last_checkpoint'), 'iter_2.dcp\n');
    for (const src of [FX, work]) {
      const out = join(tmp('weft-dcp-out-'), 'hf');
      const r = await pthToHf({ base, pth: src, out, progress: false });
      expect(r.kind).toBe('dcp');
      const got = new Map<string, number[]>();
      for await (const t of readSafetensors(out)) got.set(t.name, f32(await t.read()));
      expect([...got.keys()].sort()).toEqual(Object.values(keys).sort());
      for (const [ours, hf] of Object.entries(keys)) expect(got.get(hf)).toEqual(want(ours));
      expect(readdirSync(out)).toContain('config.json');
    }
    expect(openCheckpoint(FX).kind).toBe('dcp');
  });

  it("a model family whose HF layout reshapes tensors (weft_keys.json says so) is refused, not written under the worker's names", async () => {
    const d = copy();
    writeFileSync(join(d, 'weft_keys.json'), JSON.stringify({ __weft_unconvertible__: 'internlm2 packs wqkv' }));
    const e = await dataError(() => dcpRecords(d));
    expect(e.reason).toBe('unsupported');
    expect(e.message).toMatch(/cannot be converted: internlm2 packs wqkv/);
  });

  it('a hostile .metadata (os.system) is refused by name and never run', async () => {
    const d = copy();
    const marker = join(d, 'PWNED');
    const cmd = Buffer.from(`touch ${marker}`);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(cmd.length);
    writeFileSync(
      join(d, '.metadata'),
      Buffer.concat([Buffer.from('\x80\x02cposix\nsystem\nX', 'latin1'), len, cmd, Buffer.from('\x85R.', 'latin1')]),
    );
    const e = await dataError(() => readDcpIndex(d));
    expect(e.reason).toBe('hostile');
    expect(e.message).toMatch(/posix\.system .*nothing was executed/);
    expect(existsSync(marker)).toBe(false);
  });

  it("a class outside DCP's metadata classes anywhere in the pickle is refused", async () => {
    const d = copy();
    patch(join(d, '.metadata'), 'torch.distributed.checkpoint.filesystem', 'torch.distributed.checkpoint.subprocess');
    const e = await dataError(() => readDcpIndex(d));
    expect(e.reason).toBe('hostile');
    expect(e.message).toMatch(/torch\.distributed\.checkpoint\.subprocess\._StorageInfo/);
  });

  it('a storage path leading out of the folder is refused', async () => {
    const d = copy();
    patch(join(d, '.metadata'), '__1_0.distcp', '../etc/passw');
    const e = await dataError(() => readDcpIndex(d));
    expect(e.reason).toBe('hostile');
    expect(e.message).toMatch(/outside the checkpoint folder/);
  });

  it('truncated, missing and corrupt files: DataErrors naming the file and offset', async () => {
    let d = copy();
    const meta = readFileSync(join(d, '.metadata'));
    writeFileSync(join(d, '.metadata'), meta.subarray(0, meta.length >> 1));
    expect((await dataError(() => readDcpIndex(d))).reason).toBe('truncated');

    d = copy();
    truncateSync(join(d, '__1_0.distcp'), 100);
    const all = dcpRecords(d).tensors;
    const e1 = await dataError(async () => {
      for (const t of all) await t.read();
    });
    expect(e1.reason).toBe('truncated');
    expect(e1.message).toMatch(/run past the end/);

    d = copy();
    rmSync(join(d, '__0_0.distcp'));
    const e2 = await dataError(async () => {
      for (const t of dcpRecords(d).tensors) await t.read();
    });
    expect(e2.message).toMatch(/missing/);

    d = copy();
    const idx = readDcpIndex(d);
    const c = idx.tensors.find((t) => t.fqn === 'model.norm.weight')!.chunks[0]!;
    const fd = openSync(c.file, 'r+');
    writeSync(fd, Buffer.alloc(4), 0, 4, c.offset); // the stored item no longer starts as a torch.save zip
    closeSync(fd);
    const e3 = await dataError(async () => {
      for (const t of dcpRecords(d).tensors) await t.read();
    });
    expect(e3.message).toMatch(/raw chunk of \d+ bytes, expected \d+/);
  });
});
