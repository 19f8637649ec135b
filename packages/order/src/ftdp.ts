import type { Conversation } from '@weft/core';
import { lineReader, parseJsonLine } from './line-reader.ts';
import { parseMessages } from './messages.ts';
import { lineSource } from './lines.ts';

export { lossFlag, parseMessages } from './messages.ts';

/**
 * Read ftdp `.json` files: every LINE is one conversation, a JSON array of messages
 * `{"role", "content", "loss"?}` (not one JSON document per file), validated by
 * {@link parseMessages}, the same parser `weft tokenize` and `weft process` use.
 *
 * @example
 * for await (const conv of readFtdp('data/ftdp/chat.json')) conv.messages[0].role;
 */
export const readFtdp = lineReader<Conversation>('read-ftdp', (text, raw) => {
  if (text.trim() === '') return undefined;
  const source = lineSource(raw);
  const messages = parseMessages(
    parseJsonLine(text, raw),
    source,
    'expected a JSON array of messages on this line (ftdp: one conversation per line)',
  );
  return { messages, source };
});
