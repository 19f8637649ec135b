import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../src/generate.ts';
import { runPython } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const REPO = new URL('../../../', import.meta.url).pathname;
const REF = join(REPO, 'tools/reference/internlm_ref.py');
const WEFT = join(REPO, 'packages/cli/bin/weft.mjs');

describe('weft generate (tiny random InternLM folder, CPU)', () => {
  it("greedy ids equal an HF-style reference greedy loop; the template prompt equals tokenizers' ids; sampling repeats by seed", async () => {
    const dir = tempDir('weft-gen-');
    const model = join(dir, 'internlm');
    runPython([REF, 'make', model, 'internlm', '4']);
    // A word-level tokenizer of the model's 512 ids, written by the tokenizers library into the model folder.
    const py = (code: string, ...args: string[]): string => {
      const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout;
    };
    py(
      `import sys, json
from tokenizers import Tokenizer, models, pre_tokenizers
special = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>']
words = special + 'user assistant system Hello there'.split()
vocab = {w: i for i, w in enumerate(words + ['w%d' % i for i in range(512 - len(words))])}
t = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
t.pre_tokenizer = pre_tokenizers.Whitespace()
t.add_special_tokens(special)
t.save(sys.argv[1] + '/tokenizer.json')
json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': '<s>', 'eos_token': '</s>'}, open(sys.argv[1] + '/tokenizer_config.json', 'w'))`,
      model,
    );

    const cli = spawnSync(
      process.execPath,
      [
        WEFT,
        'generate',
        model,
        '--prompt',
        'Hello there',
        '--template',
        'internlm2_chat',
        '--max-new-tokens',
        '6',
        '--device',
        'cpu',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    expect(cli.status, cli.stderr).toBe(0);
    const greedy = JSON.parse(cli.stdout) as { prompt_ids: number[]; ids: number[]; text: string; stopped: string };
    expect(greedy.ids.length).toBeGreaterThan(0);
    expect(greedy.stopped === 'eos' ? [2, 4].includes(greedy.ids.at(-1)!) : greedy.ids.length === 6).toBe(true);

    // The prompt: BOS, then internlm2_chat's user turn as the tokenizers library encodes it.
    const expected = JSON.parse(
      py(
        `import sys, json; from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1] + '/tokenizer.json')
print(json.dumps([1] + t.encode('<|im_start|>user\\nHello there<|im_end|>\\n<|im_start|>assistant\\n', add_special_tokens=False).ids))`,
        model,
      ),
    ) as number[];
    expect(greedy.prompt_ids).toEqual(expected);
    expect(greedy.prompt_ids.slice(0, 4)).toEqual([1, 3, 5, 8]); // <s> <|im_start|> user Hello

    // Greedy continuation = argmax of the reference forward, one token at a time.
    const ref = JSON.parse(
      runPython([
        '-c',
        `import sys, json, torch
sys.path.insert(0, sys.argv[1]); import internlm_ref
from weft_worker.safetensors_io import load_folder
sd = load_folder(sys.argv[2]); cfg = json.load(open(sys.argv[2] + '/config.json'))
ids = json.loads(sys.argv[3]); n = int(sys.argv[4]); out = []
for _ in range(n):
    with torch.no_grad():
        t = int(torch.argmax(internlm_ref.forward(sd, cfg, torch.tensor(ids + out))[-1]))
    out.append(t)
print(json.dumps(out))`,
        join(REPO, 'tools/reference'),
        model,
        JSON.stringify(greedy.prompt_ids),
        String(greedy.ids.length),
      ]),
    ) as number[];
    expect(greedy.ids).toEqual(ref);
    expect(greedy.text).toMatch(/^(\S+ ?)*$/);

    const sample = (seed: number) =>
      generate({
        model,
        prompt: 'Hello there',
        template: 'internlm2_chat',
        maxNewTokens: 6,
        temperature: 0.8,
        topP: 0.9,
        seed,
        device: 'cpu',
      });
    const [a, b] = [await sample(7), await sample(7)];
    expect(a.ids).toEqual(b.ids);
    expect(a.ids).not.toEqual(greedy.ids); // a near-uniform tiny model: sampling leaves the argmax path
    expect(typeof a.text).toBe('string');

    // A tokenizer that does not belong to the model: its ids overflow the vocabulary, said plainly (exit 2 in the CLI).
    await expect(
      generate({ model, prompt: 'Hello there', tokenizer: 'default', maxNewTokens: 2, device: 'cpu' }),
    ).rejects.toThrow(/prompt token id \d+ is outside the model vocabulary \(vocab_size 512\).*--tokenizer/);
    await expect(generate({ model: join(REPO, 'tools/reference'), prompt: 'x' })).rejects.toThrow(
      /no config.json here/,
    );
  }, 120_000);
});
