import {
  defineStage,
  type Conversation,
  type CountedStage,
  type Message,
  type OnError,
  type Provenance,
  type TextDoc,
} from '@weft/core';
import { getTemplate, pyFormat, type PromptTemplate } from './templates.ts';

/** One xtuner turn after `openai_map_fn`: `{system, input, output, output_with_loss}`. */
export interface Turn {
  system: string;
  input: string;
  output: string;
  outputWithLoss: boolean;
}

/**
 * A piece of a sample before tokenization: text encoded on its own (no special tokens added), or
 * the tokenizer's BOS/EOS ids. `loss` says whether its tokens are trained on.
 */
export type Piece = { text: string; loss: boolean } | { special: 'bos' | 'eos'; loss: boolean };

/** A record ready for `encode`: its pieces in order, and where it came from. */
export interface Prepared {
  pieces: Piece[];
  source?: Provenance;
}

/**
 * xtuner `openai_map_fn`: leading assistant messages are dropped; `system` sets the system text of
 * the next turn; user contents concatenate (no separator); an assistant message closes a turn and
 * resets system and input. A trailing user message with no reply is dropped, as in xtuner.
 *
 * @example
 * messagesToTurns([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }]);
 * // [{ system: '', input: 'Hi', output: 'Hello', outputWithLoss: true }]
 */
export function messagesToTurns(messages: readonly Message[]): Turn[] {
  let i = 0;
  while (i < messages.length && messages[i]!.role === 'assistant') i++;
  const turns: Turn[] = [];
  let system = '';
  let input = '';
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'system') system = m.content;
    else if (m.role === 'user') input += m.content;
    else if (m.role === 'assistant') {
      turns.push({ system, input, output: m.content, outputWithLoss: m.loss ?? true });
      system = '';
      input = '';
    } else throw new Error(`unknown role "${m.role}"`);
  }
  return turns;
}

/**
 * xtuner `template_map_fn` followed by `encode_fn`'s piece order, for one conversation:
 * per turn `[BOS when the previous turn ended with EOS, or first] [SYSTEM (only when non-empty) +
 * INSTRUCTION] [output + SUFFIX] [EOS unless SUFFIX_AS_EOS] [SEP]`; input, BOS and SEP carry no
 * loss, output and EOS carry loss unless the turn has `output_with_loss` false.
 */
export function turnsToPieces(turns: readonly Turn[], template: PromptTemplate): Piece[] {
  const pieces: Piece[] = [];
  let needsBos = true;
  turns.forEach((t, i) => {
    let input = pyFormat(template.INSTRUCTION, { input: t.input, round: i + 1 });
    if (t.system !== '') {
      if (template.SYSTEM === undefined)
        throw new Error('this template has no SYSTEM, so a system message cannot be rendered (xtuner fails here too)');
      input = pyFormat(template.SYSTEM, { system: t.system }) + input;
    }
    // `if template.get('SUFFIX')`: an empty SUFFIX adds nothing.
    const output = template.SUFFIX ? t.output + template.SUFFIX : t.output;
    const needEos = !(template.SUFFIX_AS_EOS ?? false);
    if (needsBos) pieces.push({ special: 'bos', loss: false });
    pieces.push({ text: input, loss: false }, { text: output, loss: t.outputWithLoss });
    if (needEos) pieces.push({ special: 'eos', loss: t.outputWithLoss });
    needsBos = needEos;
    const sep = template.SEP ?? '';
    if (sep !== '') pieces.push({ text: sep, loss: false });
  });
  return pieces;
}

const PY_WS = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');

/** Python's `str.strip()` (its whitespace set differs from JavaScript's `trim`). */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** xtuner `pretrain_map_fn`: one turn with empty input, the stripped text as output, no EOS, no SEP. */
export function pretrainPieces(text: string): Piece[] {
  return [
    { special: 'bos', loss: false },
    { text: '', loss: false },
    { text: pyStrip(text), loss: true },
  ];
}

function isTextDoc(x: Conversation | TextDoc): x is TextDoc {
  return typeof (x as TextDoc).text === 'string';
}

/**
 * The template stage: Conversations through `openai_map_fn` + `template_map_fn` (a PROMPT_TEMPLATE
 * by name or as data), TextDocs through `pretrain_map_fn` (no template, as xtuner's pretrain configs).
 *
 * @example
 * const prepared = templateMap('internlm2_chat')(readDataset('a.json', 'ftdp'));
 */
export function templateMap(
  template: string | PromptTemplate,
  options: { onError?: OnError } = {},
): CountedStage<Conversation | TextDoc, Prepared> {
  const t = typeof template === 'string' ? getTemplate(template) : template;
  return defineStage<Conversation | TextDoc, Prepared>(
    'template',
    async function* (src, ctx) {
      for await (const x of src) {
        if (isTextDoc(x)) {
          yield { pieces: pretrainPieces(x.text), source: x.source };
          continue;
        }
        const turns = messagesToTurns(x.messages);
        if (turns.length === 0) {
          ctx.drop('empty-conversation'); // nothing to train on: counted, never fatal
          continue;
        }
        yield { pieces: turnsToPieces(turns, t), source: x.source };
      }
    },
    options,
  );
}
