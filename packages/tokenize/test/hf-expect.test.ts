import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../src/chat-template.ts';
import { loadTokenizer } from '../src/tokenizer.ts';
import { FIXTURES } from './helpers.ts';

/**
 * qwen3-expect.json is what tools/reference/hf_check.py compares with Hugging Face transformers
 * (on a machine that has it). This test keeps the file in step with weft: a change in weft's ids or
 * chat-template rendering shows up here, and the next hf_check run says whether transformers agrees.
 */
describe('qwen3-expect.json (checked against transformers by tools/reference/hf_check.py)', () => {
  it('weft still produces the recorded ids and chat_template text', async () => {
    const exp = JSON.parse(readFileSync(join(FIXTURES, 'qwen3-expect.json'), 'utf8')) as {
      encode: [string, number[]][];
      conversation: { role: string; content: string }[];
      chat_template_text: string;
    };
    const tok = await loadTokenizer('default');
    const ids = await tok.encodeBatch(exp.encode.map(([t]) => t));
    expect(ids.map((x) => Array.from(x))).toEqual(exp.encode.map(([, i]) => i));
    const pieces = renderChatTemplate(tok.chatTemplate!, exp.conversation, { eosToken: tok.eosToken! });
    expect(pieces.map((p) => ('text' in p ? p.text : '')).join('')).toBe(exp.chat_template_text);
  });
});
