import type { Pack } from '@weft/core';

/** b'WEFT' read as a little-endian int32: the first word of every frame and of the handshake. */
export const FRAME_MAGIC = 0x54464557;
export const FRAME_PACK = 1;
export const FRAME_END = 2;
/** Header words: magic, kind, L (tokens), C (cumulative_len entries), epoch, pack index. */
export const HEADER_WORDS = 6;
/** Handshake words sent by a worker: magic, rank, world size, stream (0 = train, 1 = validation). */
export const HANDSHAKE_WORDS = 4;

/**
 * One pack as a feed frame: an int32 little-endian header, then `input_ids`, `labels`,
 * `cumulative_len` and `position_ids` back to back (the Python side reads it with one
 * `np.frombuffer`). The simplest format that works: no serialisation framework.
 *
 * @example
 * socket.write(encodePackFrame(pack, { epoch: 0, index: 17 }));
 */
export function encodePackFrame(pack: Pack, at: { epoch: number; index: number }): Buffer {
  const L = pack.input_ids.length,
    C = pack.cumulative_len.length;
  if (pack.labels.length !== L || pack.position_ids.length !== L) {
    throw new Error(
      `pack ${at.index}: input_ids/labels/position_ids lengths differ (${L}, ${pack.labels.length}, ${pack.position_ids.length})`,
    );
  }
  if (C < 2 || pack.cumulative_len[0] !== 0 || pack.cumulative_len[C - 1] !== L) {
    throw new Error(`pack ${at.index}: cumulative_len must run from 0 to ${L}`);
  }
  const w = new Int32Array(HEADER_WORDS + 3 * L + C); // own ArrayBuffer: aligned, unlike pooled Buffers
  w.set([FRAME_MAGIC, FRAME_PACK, L, C, at.epoch, at.index], 0);
  let o = HEADER_WORDS;
  for (const a of [pack.input_ids, pack.labels, pack.cumulative_len, pack.position_ids]) {
    w.set(a, o);
    o += a.length;
  }
  return Buffer.from(w.buffer);
}

/** The frame that closes a stream: the sampler has nothing more for this rank. */
export function encodeEndFrame(): Buffer {
  return Buffer.from(new Int32Array([FRAME_MAGIC, FRAME_END, 0, 0, 0, 0]).buffer);
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('weft feed frames are little-endian and this machine is big-endian');
}
