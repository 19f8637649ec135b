import { DataError, decodeSignedInto, type Pack, type Sample } from '@weft/core';
import { DEFAULT_SEED, RandomState } from '@weft/core';

/** One slice of a sample inside a pack: tokens `[start, end)` of sample `sample`. */
export interface Piece {
  sample: number;
  start: number;
  end: number;
}

/**
 * The pack boundaries of one dataset under xtuner's length-seeded packing
 * (`PackedDataset`, xtuner-data.md section 3). Needs only the sample lengths; memory is
 * 12 bytes per sample (the shuffled order and the running length sum), never the tokens.
 *
 * @example
 * const plan = new LengthSeededPlan(Int32Array.of(5, 3, 9), 4, 1024);
 * plan.numPacks;   // 4 (17 tokens // 4; the tail is dropped)
 * plan.pieces(1);  // [{sample, start, end}, ...] covering tokens [4, 8) of the shuffled stream
 */
export class LengthSeededPlan {
  /** Shuffled sample order: `perm[k]` is the k-th sample of the token stream. */
  readonly perm: Int32Array;
  /** Inclusive running sum of the shuffled lengths (float64: sums pass 2**31). */
  readonly acc: Float64Array;
  readonly numPacks: number;
  readonly numTokens: number;

  constructor(
    lengths: ArrayLike<number>,
    readonly packedLength: number,
    readonly seed = 1024,
  ) {
    if (!Number.isInteger(packedLength) || packedLength < 1)
      throw new RangeError(`packedLength must be a positive integer, got ${packedLength}`);
    const n = lengths.length;
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    new RandomState(seed).shuffle(perm);
    const acc = new Float64Array(n);
    let s = 0;
    for (let k = 0; k < n; k++) {
      const len = lengths[perm[k]!]!;
      if (!(len >= 0)) throw new RangeError(`sample ${perm[k]} has a negative length ${len}`);
      s += len;
      acc[k] = s;
    }
    this.perm = perm;
    this.acc = acc;
    this.numTokens = s;
    this.numPacks = Math.floor(s / packedLength);
  }

  /** numpy's `searchsorted(acc, x, side="left")`: the first k with acc[k] >= x. */
  private searchLeft(x: number): number {
    let lo = 0,
      hi = this.acc.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.acc[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private len(k: number): number {
    return this.acc[k]! - (k > 0 ? this.acc[k - 1]! : 0);
  }

  /**
   * The pieces of pack `p`, in order, with sample indices in the dataset's own numbering.
   * Mirrors xtuner's `mapping` + `build_pack` literally, including its quirk that an empty
   * sample inside a pack becomes an empty piece (a repeated `cumulative_len` entry).
   */
  pieces(p: number): Piece[] {
    if (!Number.isInteger(p) || p < 0 || p >= this.numPacks)
      throw new RangeError(`pack ${p} out of range [0, ${this.numPacks})`);
    const L = this.packedLength;
    let b = 0,
      bt = 0;
    if (p > 0) {
      b = this.searchLeft(p * L);
      bt = this.len(b) - (this.acc[b]! - p * L);
      if (bt === this.len(b)) {
        b++;
        bt = 0;
      }
    }
    const e = this.searchLeft((p + 1) * L);
    const et = this.len(e) - (this.acc[e]! - (p + 1) * L);
    const out: Piece[] = [];
    for (; b < e; b++, bt = 0) out.push({ sample: this.perm[b]!, start: bt, end: this.len(b) });
    out.push({ sample: this.perm[e]!, start: bt, end: et });
    return out;
  }
}

/** A sample's content as a source gives it: raw InternLM tokens (negative = no loss) or a tokenized Sample. */
export type SampleTokens = Int32Array | Sample;

function sampleLength(t: SampleTokens): number {
  return t instanceof Int32Array ? t.length : t.input_ids.length;
}

/**
 * Assemble a pack from its pieces and the content of each piece's sample.
 * Raw InternLM tokens: xtuner drops token 0 from the loss too (labels keep t > 0 only), input_ids are abs(t).
 * A Sample's input_ids and labels are copied as they are (xtuner's HF-dataset path).
 */
export function assemblePack(packedLength: number, pieces: readonly Piece[], tokens: readonly SampleTokens[]): Pack {
  const pack = emptyPack(packedLength, pieces.length);
  let at = 0;
  for (let k = 0; k < pieces.length; k++) {
    const { start, end } = pieces[k]!;
    at = fillPiece(pack, at, tokens[k]!, start, end);
    pack.cumulative_len[k + 1] = at;
  }
  if (at !== packedLength) throw new Error(`internal: pack filled ${at} of ${packedLength} tokens`);
  return pack;
}

/** 0, 1, 2, ...: position_ids of a piece are a copy of its head. */
let iota = new Int32Array(0);

/**
 * {@link assemblePack} from a source's `fillRange`: each piece's input_ids and labels are written
 * into the pack by the source (only the piece is read), position_ids copied from a 0, 1, 2, ... run.
 */
export function assemblePackFromRanges(
  packedLength: number,
  pieces: readonly Piece[],
  fillRange: NonNullable<LengthSource['fillRange']>,
): Pack {
  // Every token slot is written below (checked at the end), so the arrays need no zeroing.
  const pack: Pack = {
    input_ids: uninitialised(packedLength),
    labels: uninitialised(packedLength),
    cumulative_len: new Int32Array(pieces.length + 1),
    position_ids: uninitialised(packedLength),
  };
  if (iota.length < packedLength) iota = Int32Array.from({ length: packedLength }, (_, i) => i);
  let at = 0;
  for (let k = 0; k < pieces.length; k++) {
    const { sample, start, end } = pieces[k]!;
    fillRange(sample, start, end, pack, at);
    pack.position_ids.set(iota.subarray(0, end - start), at);
    at += end - start;
    pack.cumulative_len[k + 1] = at;
  }
  if (at !== packedLength) throw new Error(`internal: pack filled ${at} of ${packedLength} tokens`);
  return pack;
}

/** An Int32Array of its own (offset 0, whole buffer) whose contents are not zeroed. */
function uninitialised(n: number): Int32Array {
  return new Int32Array(Buffer.allocUnsafeSlow(4 * n).buffer, 0, n);
}

function emptyPack(packedLength: number, pieces: number): Pack {
  return {
    input_ids: new Int32Array(packedLength),
    labels: new Int32Array(packedLength),
    cumulative_len: new Int32Array(pieces + 1),
    position_ids: new Int32Array(packedLength),
  };
}

/** Copy tokens [start, end) of `t` into the pack at `at`; returns the new fill. */
function fillPiece(pack: Pack, at: number, t: SampleTokens, start: number, end: number): number {
  const { input_ids, labels, position_ids } = pack;
  if (t instanceof Int32Array) {
    decodeSignedInto(t.subarray(start, end), input_ids, labels, at);
    for (let i = start; i < end; i++, at++) position_ids[at] = i - start;
  } else {
    input_ids.set(t.input_ids.subarray(start, end), at);
    labels.set(t.labels.subarray(start, end), at);
    for (let i = start; i < end; i++, at++) position_ids[at] = i - start;
  }
  return at;
}

/** A dataset whose sample lengths are known up front and whose tokens are read by index. */
export interface LengthSource {
  /** A name for errors (the file). */
  readonly name: string;
  /** Token count of every sample (after any min-length filter). */
  readonly lengths: ArrayLike<number>;
  /** Sample i (raw signed tokens, or input_ids + labels); must have `lengths[i]` tokens. */
  read(i: number): SampleTokens | Promise<SampleTokens>;
  /**
   * Optional binary fast path: write the input_ids and labels of tokens [start, end) of sample i
   * into `pack` at index `at`, synchronously, with no parse. Packs are then built from ranges only.
   */
  readonly fillRange?: (i: number, start: number, end: number, pack: Pack, at: number) => void;
  /** Release what `read` opened (files). */
  close?(): Promise<void>;
}

/**
 * Length-seeded packing of one dataset: each pack is built on demand, reading only its samples.
 *
 * @example
 * const ds = packLengthSeeded(source, { packedLength: 8192, seed: 1024 });
 * const first = await ds.get(0); // Pack of 8192 tokens
 */
export function packLengthSeeded(source: LengthSource, options: { packedLength: number; seed?: number }): PackedFile {
  return new PackedFile(
    source,
    new LengthSeededPlan(source.lengths, options.packedLength, options.seed ?? DEFAULT_SEED),
  );
}

/** The packed view of one source (see {@link packLengthSeeded}). */
export class PackedFile {
  constructor(
    readonly source: LengthSource,
    readonly plan: LengthSeededPlan,
  ) {}

  get length(): number {
    return this.plan.numPacks;
  }

  async get(p: number): Promise<Pack> {
    const pieces = this.plan.pieces(p);
    const fillRange = this.source.fillRange;
    if (fillRange) return assemblePackFromRanges(this.plan.packedLength, pieces, fillRange);
    // All reads of a pack are issued together: async sources overlap their I/O.
    const tokens = await Promise.all(pieces.map((pc) => this.source.read(pc.sample)));
    for (const [k, pc] of pieces.entries()) {
      const t = tokens[k]!;
      const want = this.source.lengths[pc.sample]!;
      if (sampleLength(t) !== want || (!(t instanceof Int32Array) && t.labels.length !== want)) {
        throw new DataError(
          `sample ${pc.sample} has ${sampleLength(t)} tokens but the meta says ${want}; rebuild the .meta file`,
          { file: this.source.name },
          { reason: 'meta-mismatch' },
        );
      }
    }
    return assemblePack(this.plan.packedLength, pieces, tokens);
  }
}
