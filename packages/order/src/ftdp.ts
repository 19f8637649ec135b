import { DataError, type Conversation, type Message } from '@weft/core';
import { lineReader, parseJsonLine } from './line-reader.ts';
import { lineSource } from './lines.ts';

/**
 * Read ftdp `.json` files: every LINE is one conversation, a JSON array of messages
 * `{"role", "content", "loss"?}` (not one JSON document per file). A message's `loss` is read as
 * xtuner does, `str(loss).lower() == "true"`, so `"True"` counts and `1` does not.
 *
 * @example
 * for await (const conv of readFtdp('data/ftdp/chat.json')) conv.messages[0].role;
 */
export const readFtdp = lineReader<Conversation>('read-ftdp', (text, raw) => {
  if (text.trim() === '') return undefined;
  const value = parseJsonLine(text, raw);
  const source = lineSource(raw);
  const bad = (d: string): DataError => new DataError(d, source, { reason: 'schema' });
  if (!Array.isArray(value)) throw bad('expected a JSON array of messages on this line (ftdp: one conversation per line)');
  const messages: Message[] = value.map((m: unknown, k) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad(`message ${k} is not an object`);
    const { role, content, loss } = m as { role?: unknown; content?: unknown; loss?: unknown };
    if (typeof role !== 'string') throw bad(`message ${k}: "role" must be a string`);
    if (typeof content !== 'string') throw bad(`message ${k}: "content" must be a string`);
    const msg: Message = { role, content };
    if (loss !== undefined) msg.loss = pythonStr(loss).toLowerCase() === 'true';
    return msg;
  });
  return { messages, source };
});

/** Python's `str()` of a JSON value, as far as `loss` flags need it. */
function pythonStr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
