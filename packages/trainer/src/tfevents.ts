import { closeSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78: TFRecord's checksum.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of bytes. */
export function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant. */
export function maskedCrc(b: Uint8Array): number {
  const c = crc32c(b);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: u64 length, masked crc of the length, data, masked crc of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc(data), 0);
  return Buffer.concat([head, data, tail]);
}

// Protobuf, the few wire types an Event needs.
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
function lenField(field: number, bytes: Uint8Array): number[] {
  return [...key(field, 2), ...varint(bytes.length), ...bytes];
}

/**
 * An `Event` message: wall_time (1, double), step (2, int64), and either file_version (3, string)
 * or a summary (5) of scalar values (Summary.Value: tag = 1, simple_value = 2 as float).
 */
export function encodeEvent(e: {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: Record<string, number>;
}): Uint8Array {
  const out: number[] = [];
  const d = Buffer.alloc(8);
  d.writeDoubleLE(e.wallTime);
  out.push(...key(1, 1), ...d, ...key(2, 0), ...varint(e.step));
  if (e.fileVersion !== undefined) out.push(...lenField(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.scalars) {
    const summary: number[] = [];
    for (const [tag, v] of Object.entries(e.scalars)) {
      const f = Buffer.alloc(4);
      f.writeFloatLE(v);
      summary.push(...lenField(1, Uint8Array.from([...lenField(1, Buffer.from(tag, 'utf8')), ...key(2, 5), ...f])));
    }
    out.push(...lenField(5, Uint8Array.from(summary)));
  }
  return Uint8Array.from(out);
}

/**
 * A TensorBoard event file written without the tensorboard package: `tensorboard --logdir` reads it.
 *
 * @example
 * const tb = new EventFileWriter('work_dirs/run/logs');
 * tb.scalars(1, { 'train/loss': 2.3, 'train/lr': 1e-4 });
 * tb.close();
 */
export class EventFileWriter {
  readonly path: string;
  private fd: number;

  constructor(logDir: string, now = Date.now()) {
    this.path = join(logDir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}.weft`);
    this.fd = openSync(this.path, 'a');
    this.write(encodeEvent({ wallTime: now / 1000, step: 0, fileVersion: 'brain.Event:2' }));
  }

  scalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): void {
    this.write(encodeEvent({ wallTime, step, scalars: values }));
  }

  private write(ev: Uint8Array): void {
    writeSync(this.fd, tfRecord(ev));
  }

  close(): void {
    closeSync(this.fd);
  }
}
