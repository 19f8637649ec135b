import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { SamplerCursor } from '@weft/pack';
import type { RandomAccessPacks } from './dataset.ts';
import { encodeEndFrame, encodePackFrame, FRAME_MAGIC, HANDSHAKE_WORDS } from './frames.ts';
import { rankSchedule, type PackOrder } from './schedule.ts';

/** What the feed serves: training packs from a cursor, and (optionally) a validation set. */
export interface FeedPlan {
  train: { data: RandomAccessPacks; order: PackOrder; from: SamplerCursor; samplesPerRank: number };
  valid?: { data: RandomAccessPacks; samplesPerRank: number };
  /** Ranks this process serves (one node's share in a multi-node run). */
  ranks: { first: number; count: number };
  worldSize: number;
}

/**
 * The pack feed: a unix socket server; each rank connects, says who it is, and gets exactly its
 * share as frames (socket back-pressure bounds the memory; the worker prefetches on a thread).
 *
 * @example
 * const feed = await startFeed('/tmp/run/feed.sock', plan, (e) => abort(e));
 * // workers connect to `unix:${feed.path}`
 * await feed.close();
 */
export async function startFeed(
  path: string,
  plan: FeedPlan,
  onError: (e: Error) => void,
): Promise<{ address: string; close(): Promise<void>; server: Server }> {
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    serve(sock, plan).catch((e: unknown) => {
      sock.destroy();
      onError(e instanceof Error ? e : new Error(String(e)));
    });
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
  return {
    address: `unix:${path}`,
    server,
    close: () =>
      new Promise<void>((res) =>
        server.close(() => {
          rmSync(path, { force: true });
          res();
        }),
      ),
  };
}

function readHandshake(sock: Socket): Promise<Int32Array> {
  const want = 4 * HANDSHAKE_WORDS;
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < want) return;
      sock.off('data', onData).off('end', onEnd);
      sock.on('data', () => {}); // the worker sends nothing more; keep reading so a close is seen
      resolve(new Int32Array(Uint8Array.from(buf.subarray(0, want)).buffer));
    };
    const onEnd = (): void => reject(new Error('feed: a worker connected and closed before saying its rank'));
    sock.on('data', onData).once('end', onEnd);
  });
}

async function write(sock: Socket, buf: Buffer): Promise<void> {
  if (sock.destroyed) throw new Error('feed: worker went away');
  if (!sock.write(buf)) {
    await new Promise<void>((res, rej) => {
      const done = (): void => {
        sock.off('close', gone);
        res();
      };
      const gone = (): void => {
        sock.off('drain', done);
        rej(new Error('feed: worker went away'));
      };
      sock.once('drain', done).once('close', gone);
    });
  }
}

async function serve(sock: Socket, plan: FeedPlan): Promise<void> {
  const hs = await readHandshake(sock);
  const [magic, rank, world, stream] = [hs[0]!, hs[1]!, hs[2]!, hs[3]!];
  if (magic !== FRAME_MAGIC) throw new Error(`feed: bad handshake magic ${magic.toString(16)}`);
  if (world !== plan.worldSize)
    throw new Error(`feed: rank ${rank} reports world size ${world}, the feed was planned for ${plan.worldSize}`);
  if (rank < plan.ranks.first || rank >= plan.ranks.first + plan.ranks.count)
    throw new Error(
      `feed: rank ${rank} is not served by this node (ranks ${plan.ranks.first}..${plan.ranks.first + plan.ranks.count - 1})`,
    );
  sock.on('error', () => {});
  if (stream === 0) {
    const t = plan.train;
    for (const at of rankSchedule(t.order, rank, t.from, t.samplesPerRank)) {
      await write(sock, encodePackFrame(await t.data.get(at.index), at));
    }
  } else if (stream === 1 && plan.valid) {
    // Validation: no shuffle; rank r takes r, r + W, ... (the same packs every time).
    for (let k = 0; k < plan.valid.samplesPerRank; k++) {
      const index = (rank + k * world) % plan.valid.data.length;
      await write(sock, encodePackFrame(await plan.valid.data.get(index), { epoch: 0, index }));
    }
  }
  await write(sock, encodeEndFrame());
  sock.end();
}
