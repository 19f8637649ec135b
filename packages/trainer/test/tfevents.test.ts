import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, EventFileWriter } from '../src/tfevents.ts';
import { runPython } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// An independent reader written from the TFRecord and Event .proto definitions: a bitwise CRC-32C
// (not the table the writer uses) and a generic protobuf walker.
const READ = `
import struct, sys, json
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xffffffff
def masked(b):
    c = crc32c(b)
    return ((((c >> 15) | (c << 17)) & 0xffffffff) + 0xa282ead8) & 0xffffffff
def fields(buf):
    i = 0
    while i < len(buf):
        k = 0; s = 0
        while True:
            b = buf[i]; i += 1; k |= (b & 0x7f) << s; s += 7
            if b < 0x80: break
        f, w = k >> 3, k & 7
        if w == 0:
            v = 0; s = 0
            while True:
                b = buf[i]; i += 1; v |= (b & 0x7f) << s; s += 7
                if b < 0x80: break
        elif w == 1: v = buf[i:i+8]; i += 8
        elif w == 5: v = buf[i:i+4]; i += 4
        elif w == 2:
            n = 0; s = 0
            while True:
                b = buf[i]; i += 1; n |= (b & 0x7f) << s; s += 7
                if b < 0x80: break
            v = buf[i:i+n]; i += n
        else: raise ValueError('wire type %d' % w)
        yield f, w, v
data = open(sys.argv[1], 'rb').read()
i, events = 0, []
while i < len(data):
    n = struct.unpack('<Q', data[i:i+8])[0]
    assert struct.unpack('<I', data[i+8:i+12])[0] == masked(data[i:i+8]), 'length crc'
    body = data[i+12:i+12+n]
    assert struct.unpack('<I', data[i+12+n:i+16+n])[0] == masked(body), 'data crc'
    i += 16 + n
    ev = {'scalars': {}}
    for f, w, v in fields(body):
        if f == 1: ev['wall_time'] = struct.unpack('<d', v)[0]
        elif f == 2: ev['step'] = v
        elif f == 3: ev['file_version'] = v.decode()
        elif f == 5:
            for vf, _, val in fields(v):
                tag, x = None, None
                for ff, _, vv in fields(val):
                    if ff == 1: tag = vv.decode()
                    if ff == 2: x = struct.unpack('<f', vv)[0]
                ev['scalars'][tag] = x
    events.append(ev)
print(json.dumps(events))
`;

describe('TensorBoard event files', () => {
  it('CRC-32C matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('an independent TFRecord/protobuf reader gets back every scalar', () => {
    const dir = tempDir('weft-tb-');
    const w = new EventFileWriter(dir, 1_700_000_000_000);
    w.scalars(1, { 'train/loss': 2.5, 'train/lr': 1e-4 }, 1_700_000_001);
    w.scalars(300, { 'train/loss': 1.25 }, 1_700_000_002);
    w.close();
    const file = readdirSync(dir).find((f) => f.startsWith('events.out.tfevents.'))!;
    const ev = JSON.parse(runPython(['-c', READ, join(dir, file)], undefined, 'python3')) as {
      step?: number;
      file_version?: string;
      wall_time: number;
      scalars: Record<string, number>;
    }[];
    expect(ev).toHaveLength(3);
    expect(ev[0]!.file_version).toBe('brain.Event:2');
    expect(ev[1]).toMatchObject({ step: 1, wall_time: 1_700_000_001 });
    expect(ev[1]!.scalars['train/loss']).toBe(2.5);
    expect(ev[1]!.scalars['train/lr']).toBeCloseTo(1e-4, 10);
    expect(ev[2]).toMatchObject({ step: 300, scalars: { 'train/loss': 1.25 } });
  });
});
