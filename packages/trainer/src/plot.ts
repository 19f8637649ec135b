/** One metrics row as the worker reports it (rank 0, once per step). */
export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  /** null on a step fp16's loss scale skipped (an inf/nan gradient). */
  grad_norm: number | null;
  tgs: number;
  tflops: number;
  num_consumed_tokens: number;
  largest_seq: number;
  smallest_seq: number;
  data_wait_s: number;
  step_time_s: number;
  batch_digest?: number;
  valid_loss?: number;
  /** fp16 only: the loss scale the step ran with, and whether an overflow skipped its update. */
  loss_scale?: number;
  skipped?: boolean;
}

function chart(title: string, xs: number[], ys: number[], color: string): string {
  const W = 560,
    H = 220,
    P = 44;
  const pts = xs.map((x, i) => [x, ys[i]!] as const).filter(([, y]) => Number.isFinite(y));
  if (pts.length === 0) return `<h3>${title}</h3><p>no data</p>`;
  const [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number): number => P + ((x - x0) / Math.max(1e-12, x1 - x0)) * (W - 2 * P);
  const sy = (y: number): number => H - P + -((y - y0) / (y1 - y0)) * (H - 2 * P);
  const path = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  const fmt = (v: number): string =>
    Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : v.toPrecision(4);
  return `<figure><figcaption>${title}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<rect x="${P}" y="${P}" width="${W - 2 * P}" height="${H - 2 * P}" fill="none" stroke="#ccc"/>
<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>
<text x="${P - 4}" y="${P + 4}" text-anchor="end" font-size="10">${fmt(y1)}</text>
<text x="${P - 4}" y="${H - P}" text-anchor="end" font-size="10">${fmt(y0)}</text>
<text x="${P}" y="${H - P + 14}" font-size="10">${x0}</text>
<text x="${W - P}" y="${H - P + 14}" text-anchor="end" font-size="10">step ${x1}</text>
</svg></figure>`;
}

/**
 * A self-contained HTML page (inline SVG, no scripts) with loss, lr and tokens/GPU/s over steps.
 *
 * @example
 * writeFileAtomicSync('work_dir/run.html', runPicture(rows, 'demo'));
 */
export function runPicture(rows: StepMetrics[], title: string): string {
  const xs = rows.map((r) => r.step);
  const esc = title.replace(/[<&>]/g, (c) => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' })[c]!);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc}</title>
<style>body{font-family:sans-serif;margin:20px}figure{display:inline-block;margin:8px}figcaption{font-weight:bold}</style></head>
<body><h2>${esc}</h2><p>${rows.length} steps</p>
${chart(
  'loss',
  xs,
  rows.map((r) => r.loss),
  '#d62728',
)}
${chart(
  'learning rate',
  xs,
  rows.map((r) => r.lr),
  '#1f77b4',
)}
${chart(
  'tokens / GPU / s (tgs)',
  xs,
  rows.map((r) => r.tgs),
  '#2ca02c',
)}
</body></html>
`;
}
