import { Template } from '@huggingface/jinja';
import {
  DataError,
  defineStage,
  type Conversation,
  type CountedStage,
  type Message,
  type OnError,
  type TextDoc,
} from '@weft/core';
import { pretrainPieces, type Piece, type Prepared } from './template-map.ts';

const SENTINEL = /\u0000weft-assistant-(\d+)\u0000/g;

/**
 * Render a conversation with a tokenizer's Jinja `chat_template` and mark the loss: each assistant
 * reply's content (and the EOS text the template writes right after it, e.g. `<|im_end|>`) has
 * loss unless the message says `loss: false`; everything else has none. Replies are located by
 * rendering placeholders in their place, so the template's own text never gets loss by accident;
 * templates that rewrite the reply text (e.g. Qwen3 splitting on `</think>`) see the placeholder,
 * and the reply is inserted verbatim. Leading assistant messages are dropped, as in xtuner.
 *
 * @example
 * renderChatTemplate('{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}',
 *   [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }], { eosToken: '</s>' });
 * // [{ text: '<user>Hi</s><assistant>', loss: false }, { text: 'Yo</s>', loss: true }]
 */
export function renderChatTemplate(
  template: string | Template,
  messages: readonly Message[],
  opts: { bosToken?: string; eosToken?: string } = {},
): Piece[] {
  const tpl = typeof template === 'string' ? new Template(template) : template;
  let start = 0;
  while (start < messages.length && messages[start]!.role === 'assistant') start++;
  const msgs = messages.slice(start);
  const replies: Message[] = [];
  const rendered = tpl.render({
    messages: msgs.map((m) => {
      if (m.role !== 'assistant') return { role: m.role, content: m.content };
      replies.push(m);
      return { role: m.role, content: `\u0000weft-assistant-${replies.length - 1}\u0000` };
    }),
    bos_token: opts.bosToken ?? '',
    eos_token: opts.eosToken ?? '',
    add_generation_prompt: false,
  });
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of rendered.matchAll(SENTINEL)) {
    const reply = replies[Number(m[1])]!;
    pieces.push({ text: rendered.slice(last, m.index), loss: false });
    let text = reply.content;
    last = m.index + m[0].length;
    // The end-of-turn text right after the reply teaches the model to stop: it shares the reply's loss.
    const eos = opts.eosToken;
    if (eos && rendered.startsWith(eos, last)) {
      text += eos;
      last += eos.length;
    }
    pieces.push({ text, loss: reply.loss ?? true });
  }
  pieces.push({ text: rendered.slice(last), loss: false });
  return pieces.filter((p) => !('text' in p) || p.text !== '');
}

function isTextDoc(x: Conversation | TextDoc): x is TextDoc {
  return typeof (x as TextDoc).text === 'string';
}

/**
 * The template stage for the tokenizer's own chat template (`--template chat_template`).
 *
 * @example
 * const prepared = chatTemplateMap(tok)(readDataset('a.jsonl', 'openai'));
 */
export function chatTemplateMap(
  tokenizer: { chatTemplate: string | undefined; bosToken?: string | undefined; eosToken?: string | undefined },
  options: { onError?: OnError } = {},
): CountedStage<Conversation | TextDoc, Prepared> {
  if (!tokenizer.chatTemplate)
    throw new Error(
      'this tokenizer has no chat_template in tokenizer_config.json: pick a prompt template (weft list-templates)',
    );
  const tpl = new Template(tokenizer.chatTemplate);
  const opts: { bosToken?: string; eosToken?: string } = {};
  if (tokenizer.bosToken !== undefined) opts.bosToken = tokenizer.bosToken;
  if (tokenizer.eosToken !== undefined) opts.eosToken = tokenizer.eosToken;
  return defineStage<Conversation | TextDoc, Prepared>(
    'chat-template',
    async function* (src, ctx) {
      for await (const x of src) {
        if (isTextDoc(x)) {
          yield { pieces: pretrainPieces(x.text), source: x.source };
          continue;
        }
        if (
          !x.messages.some(
            (m, i) => m.role === 'assistant' && x.messages.slice(0, i).some((p) => p.role !== 'assistant'),
          )
        ) {
          ctx.drop('empty-conversation');
          continue;
        }
        let pieces: Piece[];
        try {
          pieces = renderChatTemplate(tpl, x.messages, opts);
        } catch (e) {
          ctx.fail(
            new DataError(`chat_template failed: ${(e as Error).message}`, x.source, { reason: 'template-error' }),
          );
          continue;
        }
        yield { pieces, source: x.source };
      }
    },
    options,
  );
}
