import {
  DataError,
  type RecordField,
  type Conversation,
  type Message,
  type Provenance,
  type TextDoc,
} from '@weft/core';
import { lossFlag, parseMessages } from '@weft/order/records';
import type { DatasetFormat } from './formats.ts';

function asObject(v: unknown, what: string, src: Provenance): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new DataError(`expected ${what} to be a JSON object`, src, { reason: 'bad-record' });
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: RecordField, src: Provenance, where: string, optional = false): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (optional) return '';
    throw new DataError(`${where}: missing "${key}"`, src, { reason: `missing-${key}` });
  }
  if (typeof v !== 'string')
    throw new DataError(`${where}: "${key}" must be a string, got ${Array.isArray(v) ? 'array' : typeof v}`, src, {
      reason: `bad-${key}`,
    });
  return v;
}

/**
 * Map one parsed record of `format` to a Conversation or TextDoc; `null` means "nothing to train on" (counted).
 * `fileHasLossKey` (ftdp, openai): some message of the file has a `loss` key, so a message without one
 * is not trained (order's parseMessages; {@link lossKeyInFile}).
 */
export function recordToItem(
  format: DatasetFormat,
  rec: unknown,
  source: Provenance,
  fileHasLossKey = false,
): Conversation | TextDoc | null {
  switch (format) {
    case 'ftdp':
      return {
        messages: parseMessages(
          rec,
          source,
          'expected a JSON array of messages on this line (ftdp: one conversation per line)',
          fileHasLossKey,
        ),
        source,
      };
    case 'openai':
      return {
        messages: parseMessages(
          asObject(rec, 'record', source).messages,
          source,
          'expected "messages" to be a JSON array of messages',
          fileHasLossKey,
        ),
        source,
      };
    case 'conversation': {
      const turns = asObject(rec, 'record', source).conversation;
      if (!Array.isArray(turns))
        throw new DataError('missing "conversation" array', source, { reason: 'missing-conversation' });
      const messages: Message[] = [];
      turns.forEach((t, i) => {
        const where = `turn ${i}`;
        const o = asObject(t, where, source);
        const system = str(o, 'system', source, where, true);
        if (system !== '') messages.push({ role: 'system', content: system });
        messages.push({ role: 'user', content: str(o, 'input', source, where, true) });
        const m: Message = { role: 'assistant', content: str(o, 'output', source, where) };
        const loss = lossFlag(o.loss ?? o.output_with_loss);
        if (loss !== undefined) m.loss = loss;
        messages.push(m);
      });
      return { messages, source };
    }
    case 'alpaca': {
      const o = asObject(rec, 'record', source);
      const output = str(o, 'output', source, 'record');
      if (output === '<nooutput>') return null;
      const user = `${str(o, 'instruction', source, 'record')}\n${str(o, 'input', source, 'record', true)}`;
      // No system message: xtuner's alpaca_map_fn dropped SYSTEM_TEMPLATE.alpaca in v0.1.14 (#363),
      // so templates without SYSTEM (minicpm) encode alpaca records too.
      return {
        messages: [
          { role: 'user', content: user },
          { role: 'assistant', content: output },
        ],
        source,
      };
    }
    case 'pretrain': {
      const text = typeof rec === 'string' ? rec : str(asObject(rec, 'record', source), 'text', source, 'record');
      return { text, source };
    }
  }
}
