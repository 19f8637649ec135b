import { DataError, type Message, type Provenance } from '@weft/core';

const ROLES = new Set(['system', 'user', 'assistant']);

/**
 * A message's `loss`, read as xtuner's InternLM loader does: `str(loss).lower() == "true"`, so
 * `true` and `"True"` train, while `false`, `"no"`, `1` and `null` do not; absent: undefined.
 *
 * @example
 * lossFlag('True'); // true
 * lossFlag(1); // false
 */
export function lossFlag(v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  const py =
    v === true ? 'True' : v === false ? 'False' : v === null ? 'None' : typeof v === 'string' ? v : JSON.stringify(v);
  return py.toLowerCase() === 'true';
}

/**
 * The one validator of chat messages (ftdp lines, openai `messages`): an array of objects with a
 * known `role` (system, user, assistant), a string `content` and an optional `loss`
 * ({@link lossFlag}). Throws a DataError at `src` with the reason every command counts it under:
 * `bad-record`, `missing-role`/`bad-role`, `unknown-role`, `missing-content`/`bad-content`.
 *
 * @example
 * parseMessages([{ role: 'user', content: 'Hi' }], { file: 'a.json', line: 1 }); // [{ role: 'user', content: 'Hi' }]
 */
export function parseMessages(
  v: unknown,
  src: Provenance,
  notArray = 'expected a JSON array of messages',
  fileHasLossKey = false,
): Message[] {
  if (!Array.isArray(v)) throw new DataError(notArray, src, { reason: 'bad-record' });
  return v.map((m: unknown, i) => {
    const where = `message ${i}`;
    if (m === null || typeof m !== 'object' || Array.isArray(m))
      throw new DataError(`expected ${where} to be a JSON object`, src, { reason: 'bad-record' });
    const o = m as Record<string, unknown>;
    for (const key of ['role', 'content'] as const) {
      const x = o[key];
      if (x === undefined || x === null)
        throw new DataError(`${where}: missing "${key}"`, src, { reason: `missing-${key}` });
      if (typeof x !== 'string')
        throw new DataError(`${where}: "${key}" must be a string, got ${Array.isArray(x) ? 'array' : typeof x}`, src, {
          reason: `bad-${key}`,
        });
    }
    const role = o.role as string;
    if (!ROLES.has(role))
      throw new DataError(`${where}: unknown role "${role}" (expected system, user or assistant)`, src, {
        reason: 'unknown-role',
      });
    const msg: Message = { role, content: o.content as string };
    // fileHasLossKey: some message of the file has a `loss` key, so one without it reads `loss: None`, as
    // xtuner's pipeline sees it through HF `datasets` (tokenize's lossKeyInFile), and is not trained.
    const loss = lossFlag(Object.hasOwn(o, 'loss') ? o.loss : fileHasLossKey ? null : undefined);
    if (loss !== undefined) msg.loss = loss;
    return msg;
  });
}
