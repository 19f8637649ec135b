import { AtomicFile, toSignedTokens, writeFileAtomic } from '@weft/core';
import { encodeNpy } from '@weft/order';

/**
 * One `.bin` line exactly as Python writes it: `json.dumps({"tokens": ids}) + "\n"` (default
 * separators: `", "` between numbers, `": "` after the key).
 *
 * @example
 * tokensLine(Int32Array.of(1, -2, 3)); // '{"tokens": [1, -2, 3]}\n'
 */
export function tokensLine(ids: ArrayLike<number>): string {
  const list = ids instanceof Int32Array ? ids.join(', ') : Array.from(ids).join(', ');
  return `{"tokens": [${list}]}\n`;
}

/** Tokens of a sample as InternLM stores them: core's signed-token codec (a trained token 0 is stored as 0, untrained). */
export const signedTokens: (inputIds: Int32Array, labels: Int32Array) => Int32Array = toSignedTokens;

/** Options for {@link BinWriter}. */
export interface BinWriterOptions {
  /**
   * Meta dtype: 'int32' is what InternLM's tokenizer.py writes (np.int32); 'int64' what
   * `np.save` of a Python list gives (alpaca_tokenizer.py). int32 switches to int64 by itself
   * past 2 GiB of `.bin`, where InternLM's tool would silently write wrong offsets.
   */
  metaDtype?: 'int32' | 'int64';
}

/**
 * Writes an InternLM `.bin` (JSON lines of tokens) and its `.bin.meta` (np.save of an (N, 2)
 * array: byte offset, token count). Both appear atomically on `close()`; an existing pair is
 * replaced, never appended to (InternLM's tool appends). An empty `.bin` gets a (0, 2) meta where
 * InternLM's `np.array([])` gives shape (0,), which xtuner's reader cannot index.
 *
 * @example
 * const w = await BinWriter.create('out/en/a.bin');
 * await w.write(Int32Array.of(1, 2, 3));
 * await w.close();
 */
export class BinWriter {
  private offsets: number[] = [];
  private counts: number[] = [];
  /** Tokens written so far. */
  tokens = 0;
  private constructor(
    readonly path: string,
    private readonly file: AtomicFile,
    private metaDtype: 'int32' | 'int64',
  ) {}

  static async create(path: string, options: BinWriterOptions = {}): Promise<BinWriter> {
    return new BinWriter(path, await AtomicFile.create(path), options.metaDtype ?? 'int32');
  }

  get lines(): number {
    return this.offsets.length;
  }

  get bytes(): number {
    return this.file.bytes;
  }

  async write(tokens: ArrayLike<number>): Promise<void> {
    const off = this.file.bytes;
    if (off > 0x7fffffff) this.metaDtype = 'int64';
    this.offsets.push(off);
    this.counts.push(tokens.length);
    this.tokens += tokens.length;
    await this.file.write(tokensLine(tokens));
  }

  /** The `.meta` bytes for what was written so far. */
  metaBytes(): Uint8Array {
    const n = this.offsets.length;
    if (this.metaDtype === 'int32') {
      const a = new Int32Array(n * 2);
      for (let i = 0; i < n; i++) {
        a[2 * i] = this.offsets[i]!;
        a[2 * i + 1] = this.counts[i]!;
      }
      return encodeNpy(a, [n, 2]);
    }
    const a = new BigInt64Array(n * 2);
    for (let i = 0; i < n; i++) {
      a[2 * i] = BigInt(this.offsets[i]!);
      a[2 * i + 1] = BigInt(this.counts[i]!);
    }
    return encodeNpy(a, [n, 2]);
  }

  async close(): Promise<void> {
    await this.file.commit();
    await writeFileAtomic(`${this.path}.meta`, this.metaBytes());
  }

  async abort(): Promise<void> {
    await this.file.abort();
  }
}
