/**
 * `weft convert internlm-to-hf` throughput and memory: generate an fp16 InternLM (v1) training
 * checkpoint of tp 2 × pp 2 with PyTorch (cached in bench/.data/), then, interleaved `--runs`
 * times, copy its shards with `cp` + sync (the floor for moving the bytes durably) and convert it
 * with weft in a child process; print the medians, the ratio, and the child's peak RSS beside the
 * largest output tensor.
 *
 *   npx tsx bench/internlm-to-hf.ts [--hidden 2048] [--layers 4] [--vocab 32000] [--runs 3]
 *
 * Goal: peak RSS ≤ largest tensor + 256 MiB (merges stream in chunks).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);

if (args[0] === '--child') {
  const { internlmToHf } = await import('@weft/convert');
  const t0 = performance.now();
  const r = await internlmToHf({ ckpt: args[1]!, out: args[2]!, progress: false });
  console.log(JSON.stringify({ secs: (performance.now() - t0) / 1000, bytes: r.totalSize, files: r.files.length }));
  process.exit(0);
}

const H = opt('--hidden', 2048),
  L = opt('--layers', 4),
  V = opt('--vocab', 32000),
  runs = Math.max(1, opt('--runs', 3));
const I = Math.ceil((H * 8) / 3 / 256) * 256;
const dir = join(fileURLToPath(new URL('.', import.meta.url)), '.data');
const src = join(dir, `internlm-h${H}-l${L}-v${V}`);
if (!existsSync(join(src, 'model_config.pt'))) {
  mkdirSync(src, { recursive: true });
  console.log(`generating ${src}: InternLM v1, hidden ${H}, ${L} layers, vocab ${V}, fp16, tp 2 × pp 2 ...`);
  const py = `
import torch, sys
H, I, V, L, out = ${H}, ${I}, ${V}, ${L}, sys.argv[1]
g = torch.Generator().manual_seed(0)
r = lambda *s: torch.randn(*s, generator=g).half()
for t in range(2):
    for s in range(2):
        sd = {}
        if s == 0: sd["embedding.word_embeddings.weight"] = r(V // 2, H)
        for j in range(L // 2):
            b = f"blocks.{j}."
            sd.update({b + "mixer.Wqkv.weight": r(3 * H // 2, H), b + "mixer.Wqkv.bias": r(3 * H // 2), b + "mixer.out_proj.weight": r(H, H // 2),
                       b + "mixer.out_proj.bias": r(H), b + "mlp.w1.weight": r(I // 2, H), b + "mlp.w2.weight": r(I // 2, H),
                       b + "mlp.w3.weight": r(H, I // 2), b + "norm1.weight": r(H), b + "norm2.weight": r(H)})
        if s == 1: sd.update({"norm.weight": r(H), "head.weight": r(V // 2, H)})
        torch.save(sd, f"{out}/model_tp{t}_pp{s}.pt")
torch.save(dict(num_layers=L, hidden_size=H, num_attention_heads=H // 128, vocab_size=V), f"{out}/model_config.pt")
`;
  const g = spawnSync('/usr/bin/python3', ['-c', py, src], { stdio: 'inherit' });
  if (g.status !== 0) throw new Error('generating the checkpoint failed (needs /usr/bin/python3 with torch)');
}
const size = readdirSync(src).reduce((s, f) => s + statSync(join(src, f)).size, 0);
const largest = Math.max(V * H, H * H, I * H) * 2;
spawnSync('sh', ['-c', `cat ${src}/* > /dev/null`]); // warm the page cache for both contenders

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const copy = join(dir, 'internlm-cp'),
  out = join(dir, 'internlm-out');
const cpTimes: number[] = [],
  weftTimes: number[] = [],
  rssKiB: number[] = [];
for (let run = 0; run < runs; run++) {
  rmSync(copy, { recursive: true, force: true });
  const t0 = performance.now();
  spawnSync('sh', ['-c', `cp -r ${src} ${copy} && sync ${copy}/*`]);
  cpTimes.push((performance.now() - t0) / 1000);
  rmSync(copy, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  const child = spawnSync(
    '/usr/bin/time',
    ['-v', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', src, out],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(`conversion failed:\n${child.stderr}`);
  weftTimes.push((JSON.parse(child.stdout.trim().split('\n').pop()!) as { secs: number }).secs);
  rssKiB.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(child.stderr)?.[1]));
  rmSync(out, { recursive: true, force: true });
  console.log(
    `run ${run + 1}: cp -r + sync ${cpTimes[run]!.toFixed(2)} s, weft ${weftTimes[run]!.toFixed(2)} s, peak RSS ${(rssKiB[run]! / 1024).toFixed(0)} MiB`,
  );
}
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const cp = median(cpTimes),
  weft = median(weftTimes);
console.log(
  `checkpoint ${(size / 1e9).toFixed(2)} GB (4 shards), largest output tensor ${mib(largest)} MiB; medians of ${runs} interleaved run(s)`,
);
console.log(`cp -r + sync  ${cp.toFixed(2)} s  ${(size / 1e9 / cp).toFixed(2)} GB/s`);
console.log(
  `weft          ${weft.toFixed(2)} s  ${(size / 1e9 / weft).toFixed(2)} GB/s (merge + rename + fsynced safetensors)   ratio vs cp+sync: ${(cp / weft).toFixed(2)}`,
);
const rss = Math.max(...rssKiB) * 1024;
console.log(
  `peak RSS ${mib(rss)} MiB; budget largest tensor + 256 MiB = ${mib(largest + 256 * 2 ** 20)} MiB: ${rss <= largest + 256 * 2 ** 20 ? 'within' : 'OVER'}`,
);
