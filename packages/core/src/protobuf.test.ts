import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { walkProtobuf } from './protobuf.ts';

/** Bytes encoded by Python following the protobuf wire format (not by this code). */
function pythonBytes(expr: string): Buffer {
  const code = `import struct, sys
def varint(n):
    n &= (1 << 64) - 1
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def key(f, w): return varint(f << 3 | w)
def ld(f, payload): return key(f, 2) + varint(len(payload)) + payload
sys.stdout.buffer.write(${expr})`;
  return execFileSync('python3', ['-c', code]);
}

const fail = (detail: string, offset: number): never => {
  throw new Error(`${detail} @${offset}`);
};

function fields(bytes: Uint8Array, start = 0, end = bytes.length): [number, number, number | string, number][] {
  const out: [number, number, number | string, number][] = [];
  walkProtobuf(
    bytes,
    start,
    end,
    (num, wire, v, body, at) => out.push([num, wire, body ? Buffer.from(body).toString('latin1') : v, at]),
    fail,
  );
  return out;
}

describe('walkProtobuf', () => {
  it('reads every wire type of a message Python encoded, and nested messages by offset', () => {
    const b = pythonBytes(
      `key(3, 0) + varint(300) + ld(1, ld(1, b'abc') + key(3, 0) + varint(2)) + key(2, 5) + struct.pack('<f', -1.5) + key(4, 1) + struct.pack('<d', 2.0) + key(5, 0) + varint(-1) + key(45, 2) + varint(0)`,
    );
    const top = fields(b);
    expect(top.map(([n, w]) => [n, w])).toEqual([
      [3, 0],
      [1, 2],
      [5, 0],
      [45, 2],
    ]);
    expect(top[0]![2]).toBe(300);
    expect(top[2]![2]).toBe(-1); // int32 -1: ten bytes on the wire
    expect(top[3]![2]).toBe('');
    const [, , body, at] = top[1]!;
    expect(fields(b, at, at + (body as string).length).map(([n, w, v]) => [n, w, v])).toEqual([
      [1, 2, 'abc'],
      [3, 0, 2],
    ]);
  });

  it('fails, with the offset, on a field that runs past its message, a truncated number, field 0 and wire types 3/4', () => {
    const b = pythonBytes(`ld(1, b'abcdef')`);
    expect(() => fields(b.subarray(0, 5))).toThrow('a 6-byte field runs past the end (3 bytes left) @0');
    expect(() => fields(Buffer.from([0x08, 0x80]))).toThrow('a number runs past the end of its message @2');
    expect(() => fields(Buffer.from([0x00, 0x01]))).toThrow('field number 0 @0');
    expect(() => fields(Buffer.from([0x0b]))).toThrow('unknown wire type 3 @0');
    expect(() => fields(Buffer.from([0x0d, 1, 2]))).toThrow('a 4-byte field runs past the end @0');
    expect(() => fields(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      'a number is longer than 10 bytes',
    );
  });
});
