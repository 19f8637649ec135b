import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@weft/core';

/** Files a tokenizer folder may hold; `tokenizer.json` or `tokenizer.model` is required. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
];

/** The hub cache root, as huggingface_hub computes it (`HF_HUB_CACHE`, its old name `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

function isOffline(env: NodeJS.ProcessEnv): boolean {
  const v = (env.HF_HUB_OFFLINE ?? env.TRANSFORMERS_OFFLINE ?? '').toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}

/** `org/name` → `models--org--name` (the hub cache folder name). */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** True when `spec` looks like a hub model id (`org/name` or `name`), not a path. */
export function looksLikeRepoId(spec: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(spec) && !spec.startsWith('.') && !spec.includes('..');
}

/** Options of {@link resolveHubTokenizer}. */
export interface HubOptions {
  revision?: string;
  env?: NodeJS.ProcessEnv;
  /** Give up on an unanswered request after this long (a firewalled network can hang instead of refusing). */
  timeoutMs?: number;
  /** Where the "downloading" notice goes (default: stderr). */
  log?: (line: string) => void;
}

/** What to do when a hub tokenizer is neither cached nor downloadable. */
function offlineAdvice(repoId: string, repoDir: string): string {
  return (
    `looked in the Hugging Face cache at ${repoDir} (set HF_HOME or HF_HUB_CACHE if yours is elsewhere). ` +
    `Fill it on a machine with network access (huggingface-cli download ${repoId} tokenizer.json tokenizer_config.json, then copy the cache) ` +
    'and set HF_HUB_OFFLINE=1, or pass --tokenizer <folder with tokenizer.json>'
  );
}

/**
 * Find a hub model's snapshot folder in the local cache (`refs/<revision>` names the commit) and
 * use it without touching the network; only when it is not cached, and `HF_HUB_OFFLINE` is not
 * set, download its tokenizer files into that layout (saying so on stderr).
 *
 * @example
 * const dir = await resolveHubTokenizer('Qwen/Qwen2.5-0.5B'); // ~/.cache/huggingface/hub/models--Qwen--Qwen2.5-0.5B/snapshots/<sha>
 */
export async function resolveHubTokenizer(repoId: string, options: HubOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const revision = options.revision ?? 'main';
  const repoDir = join(hubCacheDir(env), repoFolderName(repoId));
  const cached = cachedSnapshot(repoDir, revision);
  if (cached) return cached;
  if (isOffline(env))
    throw new Error(
      `tokenizer ${repoId} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: ${offlineAdvice(repoId, repoDir)}`,
    );
  const endpoint = (env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  (options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(
    `tokenizer ${repoId}: not in the Hugging Face cache (${repoDir}); downloading its tokenizer files from ${endpoint} (HF_HUB_OFFLINE=1 never downloads)`,
  );
  return downloadTokenizer(repoId, revision, repoDir, env, endpoint, options.timeoutMs ?? 60_000);
}

function hasTokenizer(dir: string): boolean {
  return (
    existsSync(dir) &&
    statSync(dir).isDirectory() &&
    (existsSync(join(dir, 'tokenizer.json')) || existsSync(join(dir, 'tokenizer.model')))
  );
}

function cachedSnapshot(repoDir: string, revision: string): string | undefined {
  let commit = revision;
  const ref = join(repoDir, 'refs', revision);
  if (existsSync(ref)) commit = readFileSync(ref, 'utf8').trim();
  const snap = join(repoDir, 'snapshots', commit);
  if (hasTokenizer(snap)) return snap;
  // A cache filled by commit hash, or copied without refs/: one snapshot with a tokenizer is the model.
  const snaps = join(repoDir, 'snapshots');
  if (revision !== 'main' || existsSync(ref) || !existsSync(snaps)) return undefined;
  const usable = readdirSync(snaps)
    .map((e) => join(snaps, e))
    .filter(hasTokenizer);
  return usable.length === 1 ? usable[0] : undefined;
}

async function downloadTokenizer(
  repoId: string,
  revision: string,
  repoDir: string,
  env: NodeJS.ProcessEnv,
  endpoint: string,
  timeoutMs: number,
): Promise<string> {
  const headers: Record<string, string> = {};
  const token = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (token) headers.authorization = `Bearer ${token}`;
  const got = new Map<string, Uint8Array>();
  let commit: string | undefined;
  for (const name of TOKENIZER_FILES) {
    const url = `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${name}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const why = (e as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000} s` : (e as Error).message;
      throw new Error(
        `tokenizer ${repoId}: cannot reach ${endpoint} to download it (${why}; set HF_ENDPOINT for a mirror). It is not cached: ${offlineAdvice(repoId, repoDir)}`,
      );
    }
    if (res.status === 404) continue;
    if (!res.ok)
      throw new Error(
        `downloading ${url}: HTTP ${res.status}${res.status === 401 ? ' (set HF_TOKEN for gated models)' : ''}`,
      );
    commit ??= res.headers.get('x-repo-commit') ?? undefined;
    got.set(name, new Uint8Array(await res.arrayBuffer()));
  }
  if (!got.has('tokenizer.json') && !got.has('tokenizer.model'))
    throw new Error(`${repoId} has neither tokenizer.json nor tokenizer.model`);
  commit ??= revision;
  const snap = join(repoDir, 'snapshots', commit);
  await mkdir(snap, { recursive: true });
  for (const [name, bytes] of got) await writeFileAtomic(join(snap, name), bytes);
  if (commit !== revision) {
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', revision), commit);
  }
  return snap;
}
