import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, fromIterable, pipe, type Conversation } from '@weft/core';
import { chatTemplateMap, renderChatTemplate } from '../src/chat-template.ts';
import { encode } from '../src/encode.ts';
import { defaultTokenizerDir, loadTokenizer } from '../src/tokenizer.ts';
import { TWO_TURN } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const conv = TWO_TURN;

describe("the tokenizer's own Jinja chat_template", () => {
  it('Qwen3 template: the string transformers renders, loss on the second reply and its <|im_end|> only', async () => {
    const tok = await loadTokenizer('default');
    const pieces = renderChatTemplate(tok.chatTemplate!, conv, { eosToken: tok.eosToken! });
    const text = pieces.map((p) => ('text' in p ? p.text : '')).join('');
    // Qwen3's template adds an empty think block to the reply after the last user turn only; @huggingface/jinja renders it.
    expect(text).toBe(
      '<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n' +
        '<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA2<|im_end|>\n',
    );
    expect(pieces.filter((p) => p.loss).map((p) => ('text' in p ? p.text : ''))).toEqual(['A2<|im_end|>']);

    const [s] = await collect(
      pipe(
        fromIterable<Conversation>([{ messages: conv, source: { file: 'x' } }]),
        chatTemplateMap(tok),
        encode({ tokenizer: tok }),
      ),
    );
    expect(await tok.decode(s!.input_ids)).toBe(text);
    const lossIds = Array.from(s!.labels).filter((l) => l !== -100);
    expect(lossIds).toEqual([...Array.from(await tok.encode('A2')), tok.eosIds[0]]);
  });

  it('a template that writes bos_token and no eos after replies', () => {
    const t = '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}\n{% endfor %}';
    const pieces = renderChatTemplate(t, conv.slice(1), { bosToken: '<s>', eosToken: '</s>' });
    expect(pieces).toEqual([
      { text: '<s>[user]U1\n[assistant]', loss: false },
      { text: 'A1', loss: false },
      { text: '\n[user]U2\n[assistant]', loss: false },
      { text: 'A2', loss: true },
      { text: '\n', loss: false },
    ]);
  });

  it('refuses a tokenizer without chat_template, with a hint', () => {
    expect(() => chatTemplateMap({ chatTemplate: undefined })).toThrow(/no chat_template.*list-templates/);
  });
});

describe('tokenizer loading from the Hugging Face cache layout', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['HF_HOME', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('resolves models--org--name/refs/main → snapshots/<rev>, offline', async () => {
    const home = tempDir('weft-hf-');
    const repo = join(home, 'hub', 'models--acme--tiny-chat');
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), 'abc123\n');
    cpSync(defaultTokenizerDir(), join(repo, 'snapshots', 'abc123'), { recursive: true });
    process.env.HF_HOME = home;
    process.env.HF_HUB_OFFLINE = '1';
    delete process.env.HF_HUB_CACHE;
    const tok = await loadTokenizer('acme/tiny-chat');
    expect(tok.spec.dir).toBe(join(repo, 'snapshots', 'abc123'));
    expect(Array.from(await tok.encode('hello'))).toEqual([14990]);
    await expect(loadTokenizer('acme/missing')).rejects.toThrow(/not in the Hugging Face cache .*HF_HUB_OFFLINE/);
  });

  it('a folder with only tokenizer.model goes to the sentencepiece backend (a bad file is named); native says what to do', async () => {
    const d = tempDir('weft-sp-');
    writeFileSync(join(d, 'tokenizer.model'), 'x');
    await expect(loadTokenizer(d)).rejects.toThrow(/tokenizer\.model: byte \d+: not a valid sentencepiece model/);
    await expect(loadTokenizer(d, { backend: 'native' })).rejects.toThrow(
      /sentencepiece tokenizer\.model.*backend 'sentencepiece'.*tokenizer\.json/,
    );
  });
});
