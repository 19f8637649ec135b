// Issue 11, item 1: every command that writes a folder, pointed at its input, the input's parent,
// '.', '..', a folder of the user's, and an earlier weft output (with and without --overwrite).
// Whatever happens, nothing outside weft's own output changes: the trees are hashed before and
// after each run. The commands run in this process through the real CLI program (cheap); a few
// real `weft` spawns check the exit code and message.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinWriter } from '@weft/tokenize';
import { buildProgram } from '../src/main.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const WEFT = join(REPO, 'packages/cli/bin/weft.mjs');
const MARKER = '.weft-output.json';
const DEMO_INPUT = join(REPO, 'data/sample/ftdp');

const S = mkdtempSync(join(tmpdir(), 'weft-safe-out-'));
const WORK = join(S, 'work'); // the working directory of every run
const BINS = join(S, 'data', 'bins');
const RAW = join(S, 'data', 'raw', 'a.jsonl');
const ALPACA = join(S, 'data', 'raw', 'alpaca.json');
const HF = join(S, 'data', 'hf');
const CKPT = join(S, 'data', 'ckpt.pth');
const INTERNLM = join(S, 'data', 'internlm_ckpt');
const MINE = join(S, 'mine'); // a folder of the user's
const PREV = join(S, 'prev'); // earlier weft outputs
const cwd0 = process.cwd();

beforeAll(async () => {
  for (const d of [WORK, dirname(RAW), MINE, PREV]) mkdirSync(d, { recursive: true });
  writeFileSync(join(MINE, 'notes.txt'), "mine, not weft's");
  mkdirSync(join(MINE, 'sub'));
  writeFileSync(join(MINE, 'sub', 'b.txt'), 'also mine');
  writeFileSync(join(S, 'keep.txt'), 'beside the working directory');
  writeFileSync(join(WORK, 'here.txt'), 'in the working directory');
  for (const [name, n] of [
    ['a', 30],
    ['b', 20],
  ] as const) {
    const w = await BinWriter.create(join(BINS, 'en', `${name}.bin`));
    for (let i = 0; i < n; i++)
      await w.write(Int32Array.from({ length: 3 + (i % 7) }, (_, k) => (k % 3 === 0 ? -1 : 1) * (10 + i + k)));
    await w.close();
  }
  writeFileSync(RAW, ['{"text": "hello world"}', '{"text": "a second line"}'].join('\n') + '\n');
  copyFileSync(join(REPO, 'packages/tokenize/test/fixtures/alpaca.json'), ALPACA);
  const tiny = join(REPO, 'packages/convert/test/fixtures/turbomind/hf/llama');
  mkdirSync(HF);
  for (const f of readdirSync(tiny)) {
    if (f.endsWith('.gz')) writeFileSync(join(HF, f.slice(0, -3)), gunzipSync(readFileSync(join(tiny, f))));
    else copyFileSync(join(tiny, f), join(HF, f));
  }
  // and a one-layer InternLM2 training checkpoint folder (model_tp0_pp0.pt + model_config.pt) for internlm-to-hf
  mkdirSync(INTERNLM);
  execFileSync('/usr/bin/python3', [
    '-c',
    [
      'import torch, sys',
      `torch.save({"model.norm.weight": torch.ones(4), "lm_head.weight": torch.zeros(3, 4)}, ${JSON.stringify(CKPT)})`,
      'sd = {"tok_embeddings.weight": torch.zeros(3, 4), "layers.0.attention.wqkv.weight": torch.zeros(8, 4), "layers.0.attention.wo.weight": torch.zeros(4, 4)}',
      'sd.update({f"layers.0.feed_forward.{w}.weight": torch.zeros(4, 4) for w in ("w1", "w2", "w3")})',
      'sd.update({"layers.0.attention_norm.weight": torch.ones(4), "layers.0.ffn_norm.weight": torch.ones(4), "norm.weight": torch.ones(4), "output.weight": torch.zeros(3, 4)})',
      `torch.save(sd, ${JSON.stringify(join(INTERNLM, 'model_tp0_pp0.pt'))})`,
      `torch.save(dict(num_layers=1, hidden_size=4, num_attention_heads=2, num_kv_attention_heads=1, vocab_size=3, adapt_hf=True), ${JSON.stringify(join(INTERNLM, 'model_config.pt'))})`,
    ].join('\n'),
  ]);
  process.chdir(WORK);
});
afterAll(() => {
  process.chdir(cwd0);
  rmSync(S, { recursive: true, force: true });
});

/** Every file and folder under the roots: path → sha256 of the bytes ('dir' for a folder). */
function snapshot(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      out.set(p, 'dir');
      for (const e of readdirSync(p)) walk(join(p, e));
    } else out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
  };
  for (const r of roots) walk(r);
  return out;
}

const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + sep);

/** Run `weft ...` in this process; a refusal comes back as its message and exit code. */
async function weft(args: string[]): Promise<{ ok: boolean; message: string; exitCode?: number }> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write; // the summaries are not under test here
  try {
    await buildProgram().parseAsync(['node', 'weft', ...args]);
    return { ok: true, message: '' };
  } catch (e) {
    return { ok: false, message: (e as Error).message, exitCode: (e as { exitCode?: number }).exitCode };
  } finally {
    process.stdout.write = write;
  }
}

/**
 * Run and check: with `replaced` (the out folder is an earlier weft output replaced under
 * --overwrite) only things inside `out` may change; otherwise nothing that existed may change.
 */
async function runChecked(
  args: string[],
  out: string,
  replaced: boolean,
): Promise<{ ok: boolean; message: string; exitCode?: number }> {
  const roots = [S, DEMO_INPUT];
  const before = snapshot(roots);
  const r = await weft(args);
  const after = snapshot(roots);
  const changed = [...before]
    .filter(([p, h]) => after.get(p) !== h && !(replaced && inside(p, resolve(out))))
    .map(([p]) => p);
  expect(changed, `${args.join(' ')}: changed or removed outside weft's output`).toEqual([]);
  if (!r.ok)
    expect(
      [...after.keys()].filter((p) => !before.has(p)),
      `${args.join(' ')}: refused, yet wrote`,
    ).toEqual([]);
  return r;
}

interface Writer {
  name: string;
  /** The command line writing to `out`. */
  args: (out: string) => string[];
  /** What the command reads (the "input" case), and the option naming the output in messages. */
  input: string;
  option: string;
  /** The second, different run over an earlier output (process: other settings, else the same). */
  again?: (out: string) => string[];
}

const WRITERS: Writer[] = [
  {
    name: 'pack',
    input: BINS,
    option: '--out',
    args: (o) => ['pack', BINS, '--packed-length', '16', '--quiet', '--out', o],
  },
  {
    name: 'process',
    input: BINS,
    option: '--out',
    args: (o) => ['process', BINS, '--format', 'internlm', '--pack', '--packed-length', '16', '--quiet', '--out', o],
    again: (o) => ['process', BINS, '--format', 'internlm', '--pack', '--packed-length', '8', '--quiet', '--out', o],
  },
  // A task of a sharded job claims the folder every task shares (race-free, see core's claimSharedOutputDir): the same refusals.
  {
    name: 'process --shard',
    input: ALPACA,
    option: '--out',
    args: (o) => ['process', ALPACA, '--format', 'alpaca', '--workers', '0', '--shard', '0/2', '--quiet', '--out', o],
    again: (o) => [
      'process',
      ALPACA,
      '--format',
      'alpaca',
      '--workers',
      '0',
      '--max-length',
      '64',
      '--shard',
      '0/2',
      '--quiet',
      '--out',
      o,
    ],
  },
  {
    name: 'pack --shard',
    input: BINS,
    option: '--out',
    args: (o) => ['pack', BINS, '--packed-length', '16', '--shard', '1/2', '--quiet', '--out', o],
    again: (o) => ['pack', BINS, '--packed-length', '8', '--shard', '1/2', '--quiet', '--out', o],
  },
  {
    name: 'tokenize --split-ratio',
    input: ALPACA,
    option: '--bin-output-path',
    args: (o) => [
      'tokenize',
      '--text-input-path',
      ALPACA,
      '--format',
      'alpaca',
      '--template',
      'internlm2_chat',
      '--split-ratio',
      '0.5',
      '--workers',
      '0',
      '--bin-output-path',
      o,
    ],
  },
  { name: 'convert pth-to-hf', input: HF, option: '', args: (o) => ['convert', 'pth-to-hf', HF, CKPT, o, '--quiet'] },
  {
    name: 'convert internlm-to-hf',
    input: INTERNLM,
    option: '',
    args: (o) => ['convert', 'internlm-to-hf', INTERNLM, o, '--quiet'],
  },
  {
    name: 'convert hf-to-turbomind',
    input: HF,
    option: '--dst-path',
    args: (o) => ['convert', 'hf-to-turbomind', 'tiny', HF, '--dst-path', o, '--quiet'],
  },
];

describe("output folders: nothing outside weft's own output is ever removed", () => {
  for (const w of WRITERS) {
    it(`weft ${w.name}`, async () => {
      const prev = join(PREV, w.name.replace(/ /g, '_'));
      const refusals: [string, string, RegExp][] = [
        ['its input', w.input, /is the input/],
        ['the parent of its input', dirname(w.input), /contains the input/],
        ['.', '.', /is the working directory/],
        ['..', '..', /contains the working directory/],
        ["a folder of the user's", MINE, /not written by weft/],
      ];
      const refused = async (what: string, args: string[], out: string, why: RegExp): Promise<void> => {
        const r = await runChecked(args, out, false);
        expect(r, `${w.name}: --out ${what} ${args.includes('--overwrite') ? '--overwrite' : ''}`).toMatchObject({
          ok: false,
          exitCode: 2,
        });
        expect(r.message, what).toMatch(why);
        if (w.option) expect(r.message).toContain(w.option);
      };
      for (const [what, out, why] of refusals) {
        await refused(what, w.args(out), out, why);
        await refused(what, [...w.args(out), '--overwrite'], out, why);
      }
      // A new folder: written, marked as weft's.
      expect(await runChecked(w.args(prev), prev, false)).toMatchObject({ ok: true });
      expect(existsSync(join(prev, MARKER))).toBe(true);
      // An earlier weft output (for process: made with other settings) is kept without --overwrite.
      await refused(
        'an earlier weft output',
        (w.again ?? w.args)(prev),
        prev,
        /earlier output of weft .*pass --overwrite/,
      );
      // An earlier weft output with --overwrite: replaced (only it), marked again.
      expect(await runChecked([...(w.again ?? w.args)(prev), '--overwrite'], prev, true)).toMatchObject({ ok: true });
      expect(existsSync(join(prev, MARKER))).toBe(true);
    });
  }

  it('weft tokenize (one .bin): never the input, never a folder, an existing .bin only with --overwrite', async () => {
    const bin = join(PREV, 'en', 'a.bin');
    const args = (o: string): string[] => [
      'tokenize',
      '--text-input-path',
      RAW,
      '--workers',
      '0',
      '--bin-output-path',
      o,
    ];
    expect(await runChecked(args(bin), bin, false)).toMatchObject({ ok: true });
    for (const [out, why] of [
      [RAW, /is the input/],
      [dirname(RAW), /is a folder/],
      ['.', /is a folder/],
      ['..', /is a folder/],
      [MINE, /is a folder/],
      [bin, /exists; pass --overwrite/],
    ] as const) {
      const r = await runChecked(args(out), out, false);
      expect(r, String(out)).toMatchObject({ ok: false, exitCode: 2 });
      expect(r.message).toMatch(why);
    }
    const r = await runChecked([...args(bin), '--overwrite'], bin, false);
    expect(r).toMatchObject({ ok: true });
  });

  it('weft demo: refuses the same places; replaces an earlier weft output only with --overwrite, then resumes its own', async () => {
    const other = join(PREV, 'pack-for-demo');
    expect(
      await runChecked(['pack', BINS, '--packed-length', '16', '--quiet', '--out', other], other, false),
    ).toMatchObject({ ok: true });
    for (const [out, why] of [
      [DEMO_INPUT, /is the input/],
      [dirname(DEMO_INPUT), /contains the input/],
      ['.', /is the working directory/],
      ['..', /contains the working directory/],
      [MINE, /not written by weft/],
      [other, /earlier output of weft pack/],
    ] as const) {
      const r = await runChecked(['demo', '--out', out], out, false);
      expect(r, String(out)).toMatchObject({ ok: false, exitCode: 2 });
      expect(r.message).toMatch(why);
    }
    expect(await runChecked(['demo', '--out', other, '--overwrite'], other, true)).toMatchObject({ ok: true });
    expect(JSON.parse(readFileSync(join(other, MARKER), 'utf8')).command).toBe('demo');
    expect(existsSync(join(other, 'data-00000-of-00001.arrow'))).toBe(false); // the pack output is gone, whole
    // Its own output with the same settings: a rerun resumes without --overwrite.
    expect(await runChecked(['demo', '--out', other], other, false)).toMatchObject({ ok: true });
  });

  it('weft order: writes data_order.txt only, never replaces a different one without --overwrite', async () => {
    for (const out of [BINS, dirname(BINS), '.', '..', MINE]) {
      expect(
        await runChecked(['order', BINS, '--out', out], join(out, 'data_order.txt'), false),
        String(out),
      ).toMatchObject({ ok: true });
    }
    // A rerun that lists the same files leaves it; a hand-edited one is kept without --overwrite.
    expect(await runChecked(['order', BINS, '--out', MINE], join(MINE, 'data_order.txt'), false)).toMatchObject({
      ok: true,
    });
    writeFileSync(join(MINE, 'data_order.txt'), 'en/b.bin\n');
    const r = await runChecked(['order', BINS, '--out', MINE], join(MINE, 'data_order.txt'), false);
    expect(r).toMatchObject({ ok: false, exitCode: 2 });
    expect(r.message).toMatch(/exists; pass --overwrite/);
    expect(
      await runChecked(['order', BINS, '--out', MINE, '--overwrite'], join(MINE, 'data_order.txt'), true),
    ).toMatchObject({ ok: true });
    expect(readFileSync(join(MINE, 'data_order.txt'), 'utf8')).toBe('en/a.bin\nen/b.bin\n');
  });

  it('weft train: a work dir that is, contains or lies inside its dataset, or is or contains the working directory, is refused before anything starts', async () => {
    const config = join(S, 'data', 'train.config.ts');
    const tiny = readFileSync(join(REPO, 'packages/trainer/src/configs/tiny_cpu_demo.ts'), 'utf8');
    writeFileSync(
      config,
      tiny
        .replace("process.env.WEFT_DEMO_DATA ?? 'data/sample/tokenized'", JSON.stringify(BINS))
        .replace(/^import type .*$/m, ''),
    );
    for (const [out, why] of [
      [BINS, /workDir .* is the input/],
      [dirname(BINS), /contains the input/],
      [join(BINS, 'en', 'work'), /lies inside the input/],
      ['.', /is the working directory/],
      ['..', /contains the working directory/],
    ] as const) {
      const r = await runChecked(['train', config, '--work-dir', out], out, false);
      expect(r, String(out)).toMatchObject({ ok: false, exitCode: 2 });
      expect(r.message).toMatch(why);
    }
  });

  it('the real CLI: exit code 2 and a plain message, inputs intact (weft pack --out .., hf-to-turbomind --dst-path <hf>)', () => {
    const before = snapshot([S]);
    const a = spawnSync(process.execPath, [WEFT, 'pack', BINS, '--packed-length', '16', '--out', '..'], {
      cwd: WORK,
      encoding: 'utf8',
    });
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/^weft: error: --out \.\. contains the working directory/);
    expect(a.stderr).not.toMatch(/\n\s+at /);
    const b = spawnSync(
      process.execPath,
      [WEFT, 'convert', 'hf-to-turbomind', 'tiny', HF, '--dst-path', HF, '--overwrite'],
      { cwd: WORK, encoding: 'utf8' },
    );
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--dst-path .* is the input/);
    expect(snapshot([S])).toEqual(before);
  });
});
