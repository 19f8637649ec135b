import { parentPort, workerData } from 'node:worker_threads';

const { module, name, init, concurrency } = workerData as {
  module: string;
  name: string;
  init: unknown;
  concurrency?: number;
};
const mod = (await import(module)) as Record<string, (init: unknown) => unknown>;
const factory = mod[name];
if (typeof factory !== 'function') throw new Error(`${module} does not export a function named ${name}`);
const fn = (await factory(init)) as (x: unknown) => unknown;

// At most `concurrency` items run at once (1: one after another, in arrival order). Replies carry
// the item's id, so the parent restores input order whatever order they finish in.
const limit = Math.max(1, concurrency ?? 1);
const waiting: { id: number; item: unknown }[] = [];
let running = 0;

async function run(msg: { id: number; item: unknown }): Promise<void> {
  try {
    const value = await fn(msg.item);
    parentPort!.postMessage({ id: msg.id, ok: true, value }, transferablesOf(value));
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const props: Record<string, unknown> = {};
    for (const k of ['source', 'reason', 'detail'] as const)
      if (k in err) props[k] = (err as unknown as Record<string, unknown>)[k];
    parentPort!.postMessage({
      id: msg.id,
      ok: false,
      error: { message: err.message, name: err.name, stack: err.stack, props },
    });
  }
}

function pump(): void {
  while (running < limit && waiting.length > 0) {
    running++;
    void run(waiting.shift()!).finally(() => {
      running--;
      pump();
    });
  }
}

parentPort!.on('message', (msg: { id: number; item: unknown }) => {
  waiting.push(msg);
  pump();
});

/** Typed-array buffers in the result are moved, not copied. */
function transferablesOf(v: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 3 || v === null || typeof v !== 'object') return out;
  if (ArrayBuffer.isView(v)) {
    const buf = v.buffer;
    if (buf instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === buf.byteLength && !out.includes(buf))
      out.push(buf);
    return out;
  }
  if (Array.isArray(v)) for (const x of v) transferablesOf(x, out, depth + 1);
  else for (const x of Object.values(v)) transferablesOf(x, out, depth + 1);
  return out;
}
