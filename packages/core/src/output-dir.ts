import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { parseTempName, releaseTemp, removeStaleTemps, tempPathFor } from './stale-temps.ts';

/**
 * The file that marks a folder as weft's own output. An output folder is only ever replaced when
 * it carries this marker (and the user passed `--overwrite`); it is written last into a staged
 * folder, so a folder that has it is whole.
 */
export const OUTPUT_MARKER = '.weft-output.json';

/** What {@link OUTPUT_MARKER} records. */
export interface OutputMarker {
  weft: 1;
  /** The command that wrote the folder (`pack`, `process`, `convert pth-to-hf`, ...). */
  command: string;
  /** The settings of a resumable command: a rerun with equal settings resumes. */
  settings?: unknown;
}

/**
 * A refused output location (exits with code 2 in the CLI, like a data error): the message says
 * what was found and what to do.
 */
export class OutputDirError extends Error {
  override readonly name = 'OutputDirError';
  readonly exitCode = 2;
}

/** Options of {@link checkOutputDir} and friends. */
export interface OutputDirOptions {
  /** The command writing, recorded in the marker (e.g. `pack`). */
  command: string;
  /** Paths the command reads: the output may not be, contain, or lie inside any of them. */
  inputs?: readonly (string | undefined)[];
  /** Replace a previous weft output (one carrying the marker). */
  overwrite?: boolean;
  /** Resumable commands: their settings; a marked folder of the same command and settings resumes. */
  settings?: unknown;
  /** The working directory (default: `process.cwd()`), which the output may not be or contain. */
  cwd?: string;
  /** The option name to name in messages (default `--out`). */
  option?: string;
}

/** What is at the output location. */
export type OutputDirState = 'absent' | 'empty' | 'resume' | 'replace';

/** The real path of `p` (symlinks resolved), also when its last parts do not exist yet. */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail.push(basename(head));
      head = up;
    }
  }
}

/** Whether `inner` lies strictly inside `outer` (both real, absolute). */
function isInside(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r !== '' && !r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r);
}

/** The marker of `dir`, or undefined when it has none (or an unreadable one). */
export function readOutputMarker(dir: string): OutputMarker | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as OutputMarker;
    return m && m.weft === 1 && typeof m.command === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Outputs of weft versions before the marker carry `weft_stats.json` (a pack folder, or the parts of
 * a process folder): weft's own name, so they count as weft's, replaceable with `--overwrite`.
 */
function legacyMarker(dir: string): OutputMarker | undefined {
  const stats = (d: string): boolean => existsSync(join(d, 'weft_stats.json')) && existsSync(join(d, 'state.json'));
  if (stats(dir)) return { weft: 1, command: 'pack (an earlier weft version)' };
  if (existsSync(join(dir, 'summary.json')) && (stats(join(dir, 'packed')) || stats(join(dir, 'samples', '0')))) {
    return { weft: 1, command: 'process (an earlier weft version)' };
  }
  return undefined;
}

/** The weft command a marker names, for messages. */
function who(m: OutputMarker): string {
  return `weft ${m.command}`;
}

/**
 * Refuse an output location that is, contains or lies inside an input, that is or contains the
 * working directory, or that is `/` (symlinks resolved). Throws {@link OutputDirError}.
 */
export function checkOutputLocation(out: string, o: Pick<OutputDirOptions, 'inputs' | 'cwd' | 'option'>): string {
  const opt = o.option ?? '--out';
  const real = realPathOf(out);
  if (dirname(real) === real)
    throw new OutputDirError(
      `${opt} ${out} is the root folder; weft writes its output into a folder of its own: choose a new folder`,
    );
  const cwd = realPathOf(o.cwd ?? process.cwd());
  if (real === cwd || isInside(cwd, real)) {
    throw new OutputDirError(
      `${opt} ${out} ${real === cwd ? 'is' : 'contains'} the working directory; weft writes its output into a folder of its own: choose a new folder (e.g. ${opt} out/name)`,
    );
  }
  for (const input of o.inputs ?? []) {
    if (input === undefined) continue;
    const rin = realPathOf(input);
    const how =
      real === rin ? 'is' : isInside(rin, real) ? 'contains' : isInside(real, rin) ? 'lies inside' : undefined;
    if (how)
      throw new OutputDirError(
        `${opt} ${out} ${how} the input ${input}; write the output to a folder apart from the inputs`,
      );
  }
  return real;
}

/**
 * Check an output folder before any work starts, and say what is there:
 * - `absent` or `empty`: write it;
 * - `resume`: a marked folder of this command with the same `settings` (resumable commands);
 * - `replace`: a marked folder, and `overwrite` was given.
 * Anything else is refused with an {@link OutputDirError}: a file, a folder weft did not write
 * (never replaced, `--overwrite` or not), a previous weft output without `--overwrite`, and the
 * locations {@link checkOutputLocation} refuses.
 *
 * @example
 * const { state } = checkOutputDir('out/packed', { command: 'pack', inputs: ['data'], overwrite: false });
 */
export function checkOutputDir(
  out: string,
  o: OutputDirOptions,
): { path: string; state: OutputDirState; marker?: OutputMarker } {
  const opt = o.option ?? '--out';
  const path = checkOutputLocation(out, o);
  if (!existsSync(out)) return { path, state: 'absent' };
  if (!statSync(out).isDirectory())
    throw new OutputDirError(`${opt} ${out} is a file, not a folder; choose a new folder`);
  const entries = readdirSync(out);
  if (entries.length === 0) return { path, state: 'empty' };
  const marker = readOutputMarker(out) ?? legacyMarker(out);
  if (!marker) {
    throw new OutputDirError(
      `${opt} ${out} is not empty and was not written by weft (no ${OUTPUT_MARKER}); weft never replaces it, --overwrite or not: choose a new folder, or empty it yourself`,
    );
  }
  if (
    o.settings !== undefined &&
    marker.command === o.command &&
    JSON.stringify(marker.settings) === JSON.stringify(o.settings)
  ) {
    return { path, state: 'resume', marker };
  }
  if (o.overwrite) return { path, state: 'replace', marker };
  const differs =
    o.settings !== undefined && marker.command === o.command ? ' with other settings (so it cannot resume)' : '';
  throw new OutputDirError(
    `${opt} ${out} holds an earlier output of ${who(marker)}${differs}; pass --overwrite to replace it, or choose a new folder`,
  );
}

/**
 * The marker's text for a command and its settings: what a folder written by that command carries
 * (a merge writes the same bytes a single run does).
 *
 * @example
 * outputMarkerText({ command: 'process' }); // '{\n  "weft": 1,\n  "command": "process"\n}\n'
 */
export function outputMarkerText(o: Pick<OutputDirOptions, 'command' | 'settings'>): string {
  return markerText(o);
}

/** The marker's text. */
function markerText(o: Pick<OutputDirOptions, 'command' | 'settings'>): string {
  const m: OutputMarker = {
    weft: 1,
    command: o.command,
    ...(o.settings !== undefined ? { settings: o.settings } : {}),
  };
  return `${JSON.stringify(m, null, 2)}\n`;
}

/**
 * An output folder built in a temp folder beside its final place and moved there whole by
 * {@link StagedOutputDir.commit}, which writes the marker last and replaces only what
 * {@link checkOutputDir} allows (checked again at commit: the place may have changed meanwhile).
 */
export class StagedOutputDir {
  private constructor(
    readonly out: string,
    readonly path: string,
    private readonly o: OutputDirOptions,
  ) {}

  /**
   * Check `out`, drop stale temps of it that killed runs left beside it, and make the temp folder.
   *
   * @example
   * const st = await StagedOutputDir.create('out/hf', { command: 'convert pth-to-hf', inputs: [base, pth] });
   * await writeFile(join(st.path, 'model.safetensors'), bytes);
   * await st.commit();
   */
  static async create(out: string, o: OutputDirOptions): Promise<StagedOutputDir> {
    checkOutputDir(out, { ...o, settings: undefined });
    await removeStaleTemps(dirname(resolve(out)), { of: basename(resolve(out)) });
    const tmp = tempPathFor(resolve(out));
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    return new StagedOutputDir(out, tmp, o);
  }

  /** Write the marker, then move the folder to its place (replacing an allowed previous output). */
  async commit(): Promise<void> {
    const { state } = checkOutputDir(this.out, { ...this.o, settings: undefined });
    // Settings, when given, are recorded (a sharded job's tasks compare them); a staged folder never resumes.
    await writeFileAtomic(join(this.path, OUTPUT_MARKER), markerText(this.o));
    await mkdir(dirname(resolve(this.out)), { recursive: true });
    if (state === 'replace') {
      // Move the old output aside under a temp name first, so the new one lands in one rename.
      const old = tempPathFor(resolve(this.out));
      await rename(this.out, old);
      await rename(this.path, this.out);
      await rm(old, { recursive: true, force: true });
      releaseTemp(old);
    } else {
      // rename() replaces an empty folder.
      await rename(this.path, this.out);
    }
    releaseTemp(this.path);
  }

  /** Drop the temp folder. */
  async abort(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
    releaseTemp(this.path);
  }
}

/**
 * Take an output folder that a command writes in place, unit by unit (`weft process`): check it,
 * then mark it as this command's with these settings before the first unit is written, so that a
 * killed run can resume. A previous output of the same command is kept for reuse (the command
 * drops the parts it does not produce); one of another command, with `overwrite`, is removed.
 * Stale temps inside are dropped. Returns the state found.
 *
 * @example
 * const state = await claimOutputDir('out/demo', { command: 'process', settings, inputs: ['data'], overwrite: false });
 */
export async function claimOutputDir(out: string, o: OutputDirOptions): Promise<OutputDirState> {
  const { state, marker } = checkOutputDir(out, o);
  if (state === 'replace' && marker!.command !== o.command) {
    const old = tempPathFor(resolve(out));
    await rename(out, old);
    await rm(old, { recursive: true, force: true });
    releaseTemp(old);
  }
  await mkdir(out, { recursive: true });
  await removeStaleTemps(out);
  if (state !== 'resume') await writeFileAtomic(join(out, OUTPUT_MARKER), markerText(o));
  return state;
}

/** What {@link claimSharedOutputDir} found: it made the marker, joined tasks of the same job, or replaced another output's marker. */
export type SharedClaim = 'created' | 'joined' | 'replaced';

/**
 * Take an output folder that several tasks of one job write at the same time, possibly on
 * different machines sharing a file system (`weft process --shard`: each task writes its own
 * `shards/shard-I-of-N/`). Race-free:
 * - no marker yet: the marker is created exclusively (a complete temp file hard-linked to its
 *   name, which fails if another task got there first), so exactly one task creates it and the
 *   others read it;
 * - a marker of this command with equal `settings`: the task joins the job (`--overwrite` or not);
 * - another output (other settings or command): refused without `overwrite`. With it the marker is
 *   replaced atomically and the old output's top-level entries are removed, except those named in
 *   `keep` (the job's shared folder, e.g. `shards`, whose entries the caller sorts out: a finished
 *   shard of this very job must survive) and temps (stale ones are removed by liveness only).
 *   The folder itself is never moved away: other tasks of the new job may already write in it.
 * A non-empty folder weft did not write, and the locations {@link checkOutputLocation} refuses,
 * are refused as for every output.
 *
 * @example
 * const how = await claimSharedOutputDir('out/big', { command: 'process', settings, inputs: ['data'], keep: ['shards'] });
 */
export async function claimSharedOutputDir(
  out: string,
  o: OutputDirOptions & { settings: unknown; keep?: readonly string[] },
): Promise<SharedClaim> {
  const opt = o.option ?? '--out';
  checkOutputLocation(out, o);
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new OutputDirError(`${opt} ${out} is a file, not a folder; choose a new folder`);
  await mkdir(out, { recursive: true });
  const file = join(out, OUTPUT_MARKER);
  const text = markerText(o);
  // A few rounds: each lost race means another task just wrote the marker, which the next round reads.
  for (let round = 0; round < 5; round++) {
    const marker = readOutputMarker(out) ?? (existsSync(file) ? undefined : legacyMarker(out));
    if (!marker) {
      if (existsSync(file)) continue; // being replaced or unreadable for an instant
      const others = readdirSync(out).filter((e) => parseTempName(e)?.of !== OUTPUT_MARKER);
      if (others.length > 0) {
        if (existsSync(file)) continue; // another task marked it and started writing since we looked
        throw new OutputDirError(
          `${opt} ${out} is not empty and was not written by weft (no ${OUTPUT_MARKER}); weft never replaces it, --overwrite or not: choose a new folder, or empty it yourself`,
        );
      }
      const tmp = tempPathFor(file);
      try {
        await writeFile(tmp, text);
        await link(tmp, file); // exclusive: EEXIST when another task created it first
        return 'created';
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        await rm(tmp, { force: true });
        releaseTemp(tmp);
      }
      continue;
    }
    if (marker.command === o.command && JSON.stringify(marker.settings) === JSON.stringify(o.settings)) return 'joined';
    if (!o.overwrite) {
      const differs = marker.command === o.command ? ' with other settings (so this job cannot join it)' : '';
      throw new OutputDirError(
        `${opt} ${out} holds an earlier output of ${who(marker)}${differs}; pass --overwrite to replace it, or choose a new folder`,
      );
    }
    await writeFileAtomic(file, text);
    const keep = new Set([OUTPUT_MARKER, ...(o.keep ?? [])]);
    for (const e of readdirSync(out)) {
      if (keep.has(e) || parseTempName(e)) continue;
      await rm(join(out, e), { recursive: true, force: true });
    }
    await removeStaleTemps(out);
    return 'replaced';
  }
  throw new OutputDirError(
    `${opt} ${out}: its ${OUTPUT_MARKER} kept changing while this task read it (another job writing the same folder?); run one job per output folder`,
  );
}
