import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';

/** File name the nx plugin looks for: one per pipeline folder. */
export const PIPELINE_FILE = 'weft.pipeline.json';

/** Dataset formats `weft process` understands; `internlm` is an already tokenized `.bin`/`.meta` folder. */
export const FORMATS = ['ftdp', 'openai', 'alpaca', 'conversation', 'pretrain', 'internlm'] as const;
export type PipelineFormat = (typeof FORMATS)[number];

/**
 * A pipeline: one dataset and what to do with it, as written in `weft.pipeline.json`.
 * Paths are relative to the folder of the config file and must stay inside the workspace
 * (nx can only hash files it can see).
 *
 * @example
 * { "source": "../../data/sample/ftdp", "format": "ftdp", "template": "internlm2_chat",
 *   "maxLength": 2048, "pack": { "packedLength": 2048, "seed": 1024 } }
 */
export interface PipelineConfig {
  /** nx project name; default: the folder's name. */
  name?: string;
  /** Folder of data files to order and read. */
  source: string;
  /** Record format of the source files. */
  format: PipelineFormat;
  /** Which files `weft order` lists (`.json`, `.jsonl`, `.bin`, ...); default by format. */
  fileType?: string;
  /** Tokenizer: omitted or "default" = the embedded default; else a local folder or a hub id. */
  tokenizer?: string;
  /** Prompt template name (`weft list-templates`); needed for chat formats. */
  template?: string;
  /** Samples longer than this are truncated (tokens). */
  maxLength?: number;
  /** Pack samples into fixed-length packs (xtuner's length-seeded packing); omit to keep samples. */
  pack?: { packedLength: number; seed?: number; minLength?: number };
  /** Extra `weft process` / `weft pack` flags, passed through verbatim. */
  processArgs?: string[];
  /** Train on the packed output: a weft trainer config (TypeScript), relative to this folder. */
  train?: { config: string; args?: string[] };
  /** Convert a training checkpoint to a Hugging Face folder (needs `train`): `model` is the base
   * model folder (its config.json and tokenizer files are copied); `checkpoint` defaults to the
   * newest one the trainer wrote. */
  convert?: { model: string; checkpoint?: string; args?: string[] };
}

/** A pipeline config with paths resolved to workspace-relative POSIX paths. */
export interface ResolvedPipeline extends PipelineConfig {
  name: string;
  /** Workspace-relative folder holding the config (the nx project root). */
  root: string;
  /** Workspace-relative config file. */
  configFile: string;
  /** Workspace-relative source folder. */
  sourceDir: string;
  fileType: string;
  /** Workspace-relative tokenizer folder, when the tokenizer is a local folder. */
  tokenizerDir?: string;
  trainConfig?: string;
  modelDir?: string;
}

const DEFAULT_FILE_TYPE: Record<PipelineFormat, string> = {
  ftdp: '.json',
  openai: '.jsonl',
  alpaca: '.json',
  conversation: '.jsonl',
  pretrain: '.jsonl',
  internlm: '.bin',
};

const KNOWN_KEYS = new Set([
  '$schema',
  'name',
  'source',
  'format',
  'fileType',
  'tokenizer',
  'template',
  'maxLength',
  'pack',
  'processArgs',
  'train',
  'convert',
]);

/**
 * Read and check a pipeline config; every mistake is reported with the file name and what to fix.
 *
 * @example
 * const p = loadPipeline('/repo', 'pipelines/demo/weft.pipeline.json');
 * p.sourceDir; // "data/sample/ftdp"
 */
export function loadPipeline(
  workspaceRoot: string,
  configFile: string,
  exists: (p: string) => boolean = () => true,
): ResolvedPipeline {
  const abs = join(workspaceRoot, configFile);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (e) {
    throw new Error(`${configFile}: not valid JSON (${(e as Error).message})`);
  }
  return resolvePipeline(workspaceRoot, configFile, raw, exists);
}

/** Validate a parsed config object (see {@link loadPipeline}). */
export function resolvePipeline(
  workspaceRoot: string,
  configFile: string,
  raw: unknown,
  exists: (p: string) => boolean = () => true,
): ResolvedPipeline {
  const bad = (msg: string): never => {
    throw new Error(`${configFile}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('expected a JSON object');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!KNOWN_KEYS.has(k))
      bad(`unknown key "${k}" (known: ${[...KNOWN_KEYS].filter((x) => x !== '$schema').join(', ')})`);
  const str = (k: string, v: unknown, optional = true): string | undefined => {
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v === '') bad(`"${k}" must be a non-empty string`);
    return v as string;
  };
  const int = (k: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(`"${k}" must be a non-negative integer`);
    return v as number;
  };
  const strings = (k: string, v: unknown): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`"${k}" must be an array of strings`);
    return v as string[];
  };

  const root = posix(dirname(configFile));
  const inWorkspace = (k: string, p: string): string => {
    const rel = posix(relative(workspaceRoot, isAbsolute(p) ? p : join(workspaceRoot, root, p)));
    if (rel === '..' || rel.startsWith('../') || isAbsolute(rel))
      bad(
        `"${k}" (${p}) is outside the workspace: nx can only hash and cache files inside it; copy or link the data under the workspace`,
      );
    return rel === '' ? '.' : rel;
  };

  const format = str('format', c.format, false) as PipelineFormat;
  if (!(FORMATS as readonly string[]).includes(format))
    bad(`unknown format "${format}" (one of: ${FORMATS.join(', ')})`);
  const source = str('source', c.source, false) as string;
  const sourceDir = inWorkspace('source', source);
  if (!exists(sourceDir)) bad(`source folder ${sourceDir} does not exist`);
  const fileType = str('fileType', c.fileType) ?? DEFAULT_FILE_TYPE[format];
  if (!fileType.startsWith('.')) bad(`"fileType" must start with a dot, like ".jsonl"`);

  const tokenizer = str('tokenizer', c.tokenizer);
  let tokenizerDir: string | undefined;
  if (tokenizer !== undefined && tokenizer !== 'default' && (tokenizer.startsWith('.') || tokenizer.startsWith('/'))) {
    tokenizerDir = inWorkspace('tokenizer', tokenizer);
    if (!exists(tokenizerDir)) bad(`tokenizer folder ${tokenizerDir} does not exist`);
  }
  const template = str('template', c.template);
  if (format !== 'internlm' && format !== 'pretrain' && template === undefined)
    bad(`format "${format}" needs a "template" (see \`weft list-templates\`)`);
  const maxLength = int('maxLength', c.maxLength);

  let pack: PipelineConfig['pack'];
  if (c.pack !== undefined) {
    if (typeof c.pack !== 'object' || c.pack === null)
      bad('"pack" must be an object like {"packedLength": 2048, "seed": 1024}');
    const p = c.pack as Record<string, unknown>;
    const packedLength = int('pack.packedLength', p.packedLength);
    if (!packedLength) bad('"pack.packedLength" is required and must be positive');
    pack = {
      packedLength: packedLength as number,
      seed: int('pack.seed', p.seed),
      minLength: int('pack.minLength', p.minLength),
    };
  }
  if (format === 'internlm' && !pack)
    bad('format "internlm" (tokenized .bin) only makes sense packed: add "pack": {"packedLength": N}');

  let train: PipelineConfig['train'];
  let trainConfig: string | undefined;
  if (c.train !== undefined) {
    const t = c.train as Record<string, unknown>;
    const cfg = str('train.config', t?.config, false) as string;
    trainConfig = inWorkspace('train.config', cfg);
    train = { config: cfg, args: strings('train.args', t.args) };
  }
  let convert: PipelineConfig['convert'];
  let modelDir: string | undefined;
  if (c.convert !== undefined) {
    if (!train) bad('"convert" converts the trained checkpoint: it needs "train"');
    const v = c.convert as Record<string, unknown>;
    const model = str('convert.model', v?.model, false) as string;
    modelDir = inWorkspace('convert.model', model);
    const checkpoint = str('convert.checkpoint', v.checkpoint);
    convert = {
      model,
      checkpoint: checkpoint && inWorkspace('convert.checkpoint', checkpoint),
      args: strings('convert.args', v.args),
    };
  }

  const name = str('name', c.name) ?? root.split('/').pop()!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    bad(`project name "${name}" must be letters, digits, ".", "_" or "-"`);
  return {
    name,
    root,
    configFile: posix(configFile),
    source,
    sourceDir,
    format,
    fileType,
    tokenizer,
    tokenizerDir,
    template,
    maxLength,
    pack,
    processArgs: strings('processArgs', c.processArgs),
    train,
    trainConfig,
    convert,
    modelDir,
  };
}

function posix(p: string): string {
  return normalize(p).split(sep).join('/').replace(/\/$/, '');
}
