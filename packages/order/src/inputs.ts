import { stat } from 'node:fs/promises';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { DataError, fromIterable, mapConcurrent } from '@weft/core';
import { fileChunks } from './lines.ts';

/** Where reader inputs come from: one path or URL, or a (possibly async) list of them. */
export type Inputs = string | Iterable<string> | AsyncIterable<string>;

/** How inputs are opened; only URLs use the network options. */
export interface InputOptions {
  /** URL downloads in flight at once. Larger: faster on many small files, more memory. Default 4. */
  concurrency?: number;
  /** Extra attempts after a failed download (network error, 5xx, 429). Default 3. */
  retries?: number;
  /** First retry delay; doubles each attempt. Default 500 ms. */
  retryDelayMs?: number;
  /** Give up on a connection or body that stalls this long. Default 30 s. */
  timeoutMs?: number;
  /** Bytes per file read. Default 4 MiB. */
  chunkSize?: number;
  /**
   * Read only bytes [start, end) of each file (a shard's slice of a large file; cut at line starts).
   * `firstLine`: lines before `start` when known; otherwise lines are counted from the range start
   * and the file is named `file [bytes start..end]` in errors (byte offsets stay absolute).
   */
  range?: ByteRange;
}

/** A slice of a file: bytes [start, end). */
export interface ByteRange {
  start: number;
  end: number;
  firstLine?: number;
}

/** An input ready to read, or the reason it could not be opened. */
export type OpenedInput =
  | { file: string; chunks: AsyncIterable<Buffer>; first?: { offset: number; line: number } }
  | { file: string; error: DataError };

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export function toAsync(inputs: Inputs): AsyncIterable<string> {
  return typeof inputs === 'string' ? fromIterable([inputs]) : fromIterable(inputs);
}

/**
 * Open inputs in order: files are streamed from disk, URLs downloaded through undici with at most
 * `concurrency` requests in flight and retries with exponential backoff.
 *
 * @example
 * for await (const inp of openInputs(['a.jsonl', 'https://example.org/b.jsonl'])) ...
 */
export function openInputs(inputs: Inputs, options: InputOptions = {}): AsyncIterable<OpenedInput> {
  const concurrency = options.concurrency ?? 4;
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const chunkSize = options.chunkSize ?? 1 << 22;
  if (!Number.isInteger(retries) || retries < 0)
    throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
  if (!(retryDelayMs >= 0)) throw new RangeError(`retryDelayMs must be >= 0, got ${retryDelayMs}`);
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  let agent: Dispatcher | undefined;
  const open = async (file: string): Promise<OpenedInput> => {
    if (isUrl(file)) {
      if (options.range)
        return {
          file,
          error: new DataError(
            'a URL cannot be read by byte range: download it first',
            { file },
            { reason: 'missing-file' },
          ),
        };
      agent ??= new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs }).compose(
        interceptors.redirect({ maxRedirections: 5 }),
      );
      try {
        const body = await download(file, agent, retries, retryDelayMs);
        return { file, chunks: fromIterable([body]) };
      } catch (e) {
        return { file, error: e as DataError };
      }
    }
    try {
      const s = await stat(file);
      if (!s.isFile())
        return { file, error: new DataError('not a regular file', { file }, { reason: 'missing-file' }) };
    } catch {
      return {
        file,
        error: new DataError(
          'file does not exist: check the path or regenerate data_order.txt',
          { file },
          { reason: 'missing-file' },
        ),
      };
    }
    const r = options.range;
    if (!r) return { file, chunks: fileChunks(file, chunkSize) };
    const name = r.firstLine === undefined && r.start > 0 ? `${file} [bytes ${r.start}..${r.end}]` : file;
    return { file: name, chunks: fileChunks(file, chunkSize, r), first: { offset: r.start, line: r.firstLine ?? 0 } };
  };
  return (async function* () {
    try {
      yield* mapConcurrent(open, { concurrency })(toAsync(inputs));
    } finally {
      // Idle keep-alive sockets would otherwise hold the process open for seconds.
      await agent?.close();
    }
  })();
}

const RETRYABLE = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_)/;

async function download(url: string, agent: Dispatcher, retries: number, delayMs: number): Promise<Buffer> {
  let last = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, delayMs * 2 ** (attempt - 1)));
    try {
      const res = await request(url, { dispatcher: agent });
      if (res.statusCode >= 200 && res.statusCode < 300) return Buffer.from(await res.body.arrayBuffer());
      await res.body.dump();
      last = `HTTP ${res.statusCode}`;
      if (res.statusCode !== 429 && res.statusCode < 500) {
        throw new DataError(
          `download failed: HTTP ${res.statusCode}`,
          { file: url },
          { reason: `http-${res.statusCode}` },
        );
      }
    } catch (e) {
      if (e instanceof DataError) throw e;
      const code = (e as { code?: string }).code ?? '';
      last = `${code || (e as Error).name}: ${(e as Error).message}`;
      if (!RETRYABLE.test(code)) break;
    }
  }
  throw new DataError(
    `unreachable after ${retries + 1} attempt(s) (${last}): check the URL and the network`,
    { file: url },
    { reason: 'unreachable' },
  );
}
