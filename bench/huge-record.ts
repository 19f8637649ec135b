/**
 * Benchmark: one huge ftdp record (default 200 MB on one line). Each contender runs in its own
 * child process so that its peak RSS (getrusage maxrss) is its own:
 *
 *   wc -c                      reads the bytes (the floor for time)
 *   python json.loads          reads and parses the line (a reference for time and memory)
 *   weft readFtdp              reads, checks UTF-8, JSON.parses and validates the conversation
 *   weft tokenize (workers 0)  readFtdp + internlm2_chat template + encode with labels (Qwen3 tokenizer)
 *
 *   npx tsx bench/huge-record.ts [--mb 200] [--stages read,tokenize]
 *
 * Prints time, peak RSS, and peak RSS per record byte; ratios against Python in the same run.
 * Before issue 11 item 9 a 20 MB line peaked at ~3 GB in the tokenize stage and a 200 MB one grew
 * past 12 GB. The file is cached in bench/.data/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};

// Child mode: run one weft stage and print {seconds, peak, tokens}.
if (args[0] === '--child') {
  const [, stage, file] = args as [string, string, string];
  const { readFtdp } = await import('@weft/order');
  const { loadTokenizer, tokenizeFile } = await import('@weft/tokenize');
  let baseline = process.resourceUsage().maxRSS * 1024;
  let tokens = 0;
  let t = performance.now();
  if (stage === 'read') {
    for await (const c of readFtdp(file, { maxRecordBytes: 1 << 30 })) tokens += c.messages.length;
  } else {
    const tokenizer = await loadTokenizer('default');
    await tokenizer.encode('warm up');
    baseline = process.resourceUsage().maxRSS * 1024;
    t = performance.now();
    for await (const s of tokenizeFile(file, {
      format: 'ftdp',
      tokenizer,
      template: 'internlm2_chat',
      workers: 0,
      maxRecordBytes: 1 << 30,
    }))
      tokens += s.input_ids.length;
  }
  const seconds = (performance.now() - t) / 1000;
  process.stdout.write(JSON.stringify({ seconds, peak: process.resourceUsage().maxRSS * 1024, baseline, tokens }));
  process.exit(0);
}

const mb = Number(opt('mb', '200'));
const stages = opt('stages', 'read,tokenize').split(',');
const dir = join(dirname(fileURLToPath(import.meta.url)), '.data');
const file = join(dir, `huge-record-${mb}mb.json`);
if (!existsSync(file)) {
  mkdirSync(dir, { recursive: true });
  const words =
    'The quick brown fox jumps over the lazy dog while the river keeps running to the sea 我们在河边散步，看见一只小猫。'.split(
      ' ',
    );
  const parts: string[] = [];
  let n = 0;
  for (let s = 1; n < mb * 1e6;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const w = words[s % words.length]!;
    parts.push(w);
    n += Buffer.byteLength(w) + 1;
  }
  writeFileSync(
    file,
    `${JSON.stringify([
      { role: 'user', content: 'Summarise.' },
      { role: 'assistant', content: parts.join(' ') },
    ])}\n`,
  );
}
const bytes = statSync(file).size;
spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache

interface Row {
  name: string;
  seconds: number;
  peak: number;
  baseline: number;
  note?: string;
}
const rows: Row[] = [];

const timed = (cmd: string, argv: string[]): { seconds: number; out: string } => {
  const t = performance.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  return { seconds: (performance.now() - t) / 1000, out: r.stdout };
};

const wc = timed('/usr/bin/time', ['-f', '%M', 'wc', '-c', file]);
rows.push({ name: 'wc -c', seconds: wc.seconds, peak: 0, baseline: 0 });
const py = timed('python3', [
  '-c',
  [
    'import json, resource, sys, time',
    'base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024',
    't = time.perf_counter()',
    'with open(sys.argv[1], "rb") as f:',
    '    for line in f: v = json.loads(line)',
    'print(json.dumps({"seconds": time.perf_counter() - t, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "baseline": base}))',
  ].join('\n'),
  file,
]);
const pyRow = JSON.parse(py.out) as Row;
rows.push({ ...pyRow, name: 'python json.loads' });

for (const stage of stages) {
  const r = timed(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', stage, file]);
  const c = JSON.parse(r.out) as Row & { tokens: number };
  rows.push({
    ...c,
    name: stage === 'read' ? 'weft readFtdp' : 'weft tokenize (workers 0)',
    note: stage === 'read' ? `${c.tokens} messages` : `${c.tokens} tokens`,
  });
}

const MB = (n: number): string => `${(n / 1e6).toFixed(0)} MB`;
console.log(
  `record: ${file} (${MB(bytes)} on one line); load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${spawnSync('nproc').stdout.toString().trim()} cores`,
);
console.log('| contender | time (s) | peak RSS | peak above its baseline | per record byte | time vs python |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const above = r.peak - r.baseline;
  console.log(
    `| ${r.name}${r.note ? ` (${r.note})` : ''} | ${r.seconds.toFixed(1)} | ${r.peak ? MB(r.peak) : '-'} | ${r.peak ? MB(above) : '-'} | ${r.peak ? (above / bytes).toFixed(2) : '-'} | ${(r.seconds / pyRow.seconds).toFixed(2)}x |`,
  );
}
