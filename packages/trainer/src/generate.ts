import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@weft/core';
import { getTemplate, loadTokenizer, pyFormat, type Tokenizer } from '@weft/tokenize';
import { WORKER_DIR } from './launch.ts';
import { resolvePython } from './python.ts';

/** Options of {@link generate} (`weft generate`). */
export interface GenerateOptions {
  /** HF model folder the worker loads (config.json + *.safetensors): what `pth-to-hf` and `internlm-to-hf` write. */
  model: string;
  prompt: string;
  /** An xtuner PROMPT_TEMPLATE name (`weft list-templates`), e.g. internlm2_chat: the prompt becomes one user turn. */
  template?: string;
  /** System text for the template's SYSTEM slot. */
  system?: string;
  /** Tokenizer folder, 'default' or a hub id (default: the model folder). */
  tokenizer?: string;
  maxNewTokens?: number;
  /** 0 (default): greedy. > 0: sampling at this temperature. */
  temperature?: number;
  /** Nucleus sampling mass (1: off). */
  topP?: number;
  seed?: number;
  python?: string;
  /** auto (GPU when PyTorch sees one), cpu, cuda, cuda:1, ... */
  device?: string;
  /** auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16. */
  dtype?: string;
}

/** What {@link generate} produced: the continuation's text and ids (the stop token, if reached, is in `ids`, not in `text`). */
export interface GenerateResult {
  text: string;
  promptIds: number[];
  ids: number[];
  stopped: 'eos' | 'length';
}

function readJson(file: string): Record<string, unknown> | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
}

function eosOf(cfg: Record<string, unknown> | undefined): number[] {
  const e = cfg?.eos_token_id;
  return typeof e === 'number' ? [e] : Array.isArray(e) ? e.filter((x): x is number => typeof x === 'number') : [];
}

/**
 * The prompt's ids as training saw such a turn: BOS, then `SYSTEM + INSTRUCTION` of the template
 * (xtuner's template_map_fn) or the plain prompt, each text encoded without special tokens.
 */
export async function promptIds(tok: Tokenizer, prompt: string, template?: string, system?: string): Promise<number[]> {
  let text = prompt;
  if (template) {
    const t = getTemplate(template);
    text = pyFormat(t.INSTRUCTION, { input: prompt, round: 1 });
    if (system) {
      if (t.SYSTEM === undefined)
        throw new UsageError(`template ${template} has no SYSTEM slot, so --system cannot be used with it`);
      text = pyFormat(t.SYSTEM, { system }) + text;
    }
  } else if (system) throw new UsageError('--system needs --template (the template says where the system text goes)');
  return [...tok.bosIds, ...(await tok.encode(text))];
}

/** Ids that end generation: the tokenizer's EOS, config.json's and generation_config.json's eos_token_id, the template's stop words. */
export function stopIds(tok: Tokenizer, model: string, template?: string): number[] {
  const ids = new Set<number>([
    ...tok.eosIds,
    ...eosOf(readJson(join(model, 'config.json'))),
    ...eosOf(readJson(join(model, 'generation_config.json'))),
  ]);
  for (const w of template ? (getTemplate(template).STOP_WORDS ?? []) : []) {
    const id = tok.tokenToId(w);
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * `weft generate`: encode the prompt here (weft's tokenizer and xtuner template, the same code that
 * tokenized the training data), generate in the Python worker (greedy, or sampled with a seed), decode here.
 *
 * @example
 * const r = await generate({ model: 'hf/', prompt: 'Hello', template: 'internlm2_chat', maxNewTokens: 64 });
 * process.stdout.write(r.text);
 */
export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  if (!existsSync(join(o.model, 'config.json')))
    throw new UsageError(
      `${o.model}: no config.json here; pass an HF model folder (what weft convert pth-to-hf / internlm-to-hf write)`,
    );
  const tokSpec = o.tokenizer ?? o.model;
  if (!o.tokenizer && !['tokenizer.json', 'tokenizer.model'].some((f) => existsSync(join(o.model, f)))) {
    throw new UsageError(
      `${o.model}: no tokenizer.json or tokenizer.model in the model folder; pass --tokenizer (a folder, a hub id, or 'default')`,
    );
  }
  const tok = await loadTokenizer(tokSpec);
  const ids = await promptIds(tok, o.prompt, o.template, o.system);
  const stops = stopIds(tok, o.model, o.template);
  const py = resolvePython(o.python);
  const args = [
    '-m',
    'weft_worker.generate',
    '--model',
    o.model,
    '--max-new-tokens',
    String(o.maxNewTokens ?? 128),
    '--temperature',
    String(o.temperature ?? 0),
    '--top-p',
    String(o.topP ?? 1),
    '--seed',
    String(o.seed ?? 0),
    '--device',
    o.device ?? 'auto',
    '--dtype',
    o.dtype ?? 'auto',
    ...stops.flatMap((s) => ['--stop', String(s)]),
  ];
  const out = await runWorker(py.python, args, JSON.stringify({ prompt_ids: ids }));
  const r = JSON.parse(out) as { ids: number[]; stopped: 'eos' | 'length' };
  const shown = r.stopped === 'eos' ? r.ids.slice(0, -1) : r.ids;
  return { text: await tok.decode(shown), promptIds: ids, ids: r.ids, stopped: r.stopped };
}

function runWorker(python: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONPATH: [WORKER_DIR, process.env.PYTHONPATH].filter(Boolean).join(':') },
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(out.trim().split('\n').pop()!);
      const last = err.trim().split('\n').filter(Boolean).pop() ?? '';
      // Exit 2 is the worker refusing its input (a prompt id outside the vocabulary): bad input for the CLI too.
      if (code === 2 && last.startsWith('weft generate:'))
        return reject(Object.assign(new Error(last.slice('weft generate: '.length)), { exitCode: 2 }));
      reject(new Error(`the generate worker (${python}) exited with code ${code}:\n${err.trim()}`));
    });
    child.stdin.end(input);
  });
}
