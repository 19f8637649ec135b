/**
 * Index maps for Turbomind's weight layout: which source row (HF output feature) lands in each
 * output column. Pure functions over integers so the layout can be tested on its own; the
 * bytes are moved by {@link gather}.
 */

/**
 * Rotary reorder inside each head: HF pairs feature i with i + d/2, Turbomind wants pairs side by
 * side. Returns the source feature for each output feature of `heads` heads of size `d`.
 *
 * @example
 * rotaryOrder(1, 4); // Int32Array [0, 2, 1, 3]
 */
export function rotaryOrder(heads: number, d: number): Int32Array {
  const out = new Int32Array(heads * d);
  const half = d / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) for (let s = 0; s < 2; s++) out[h * d + 2 * i + s] = h * d + s * half + i;
  return out;
}

/** Each of `heads` heads of size `d` repeated `n` times in place (h0 h0 h1 h1 for n = 2), as source features. */
export function repeatHeads(heads: number, d: number, n: number): Int32Array {
  const out = new Int32Array(heads * n * d);
  for (let h = 0; h < heads * n; h++) for (let t = 0; t < d; t++) out[h * d + t] = Math.floor(h / n) * d + t;
  return out;
}

/** `order` applied after `inner`: out[j] = inner[order[j]]. */
export function compose(inner: Int32Array, order: Int32Array): Int32Array {
  return order.map((j) => inner[j]!);
}

/** `start, start + 1, ..., start + n - 1`. */
export function iota(n: number, start = 0): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

/**
 * Merge q, k, v feature maps for tensor parallelism and return rank `r`'s part:
 * `[q_r | k_r | v_r]`, each the r-th of tp equal blocks. Entries index the stacked source
 * (q rows, then k rows at `kOffset`, then v rows at `vOffset`).
 */
export function qkvRank(
  q: Int32Array,
  k: Int32Array,
  v: Int32Array,
  tp: number,
  r: number,
  kOffset: number,
  vOffset: number,
): Int32Array {
  const qs = q.length / tp,
    ks = k.length / tp,
    vs = v.length / tp;
  const out = new Int32Array(qs + ks + vs);
  out.set(q.subarray(r * qs, (r + 1) * qs), 0);
  out.set(
    k.subarray(r * ks, (r + 1) * ks).map((x) => x + kOffset),
    qs,
  );
  out.set(
    v.subarray(r * vs, (r + 1) * vs).map((x) => x + vOffset),
    qs + ks,
  );
  return out;
}

/**
 * Rows of InternLM2's packed `wqkv` ([kv_heads * (g + 2) * d, hidden], g = heads / kv_heads):
 * each KV group holds g query heads, one key head, one value head.
 *
 * @example
 * const { q, k, v } = internlm2Rows(4, 2, 128); // feature maps into wqkv's rows
 */
export function internlm2Rows(
  heads: number,
  kvHeads: number,
  d: number,
): { q: Int32Array; k: Int32Array; v: Int32Array } {
  const g = heads / kvHeads;
  const q = new Int32Array(heads * d),
    k = new Int32Array(kvHeads * d),
    v = new Int32Array(kvHeads * d);
  for (let a = 0; a < kvHeads; a++) {
    const base = a * (g + 2) * d;
    for (let b = 0; b < g; b++) for (let t = 0; t < d; t++) q[(a * g + b) * d + t] = base + b * d + t;
    for (let t = 0; t < d; t++) {
      k[a * d + t] = base + g * d + t;
      v[a * d + t] = base + (g + 1) * d + t;
    }
  }
  return { q, k, v };
}

/**
 * Move 16-bit elements: `out[a, b] = src[rows[a], cols[b]]` of a row-major `[*, srcCols]`
 * source, or of its transpose when `transpose` (then `src[cols[b], rows[a]]`). An index of -1
 * gives zero (padding).
 */
export function gather(
  src: Uint16Array,
  srcCols: number,
  rows: Int32Array,
  cols: Int32Array,
  transpose: boolean,
): Uint16Array {
  return gatherInto(new Uint16Array(rows.length * cols.length), src, srcCols, rows, cols, transpose);
}

/** {@link gather} into `out` (zeroed, `rows.length * cols.length` long): lets a caller write a big output in row chunks. */
export function gatherInto(
  out: Uint16Array,
  src: Uint16Array,
  srcCols: number,
  rows: Int32Array,
  cols: Int32Array,
  transpose: boolean,
): Uint16Array {
  const nc = cols.length;
  if (transpose) {
    // a band of output columns at a time: each reads a few source rows front to back
    // (2-4x faster than a plain column walk on a 4096² matrix, on a loaded machine)
    const BAND = 16;
    for (let b0 = 0; b0 < nc; b0 += BAND) {
      const b1 = Math.min(b0 + BAND, nc);
      for (let a = 0; a < rows.length; a++) {
        const ra = rows[a]!;
        if (ra < 0) continue;
        const o = a * nc;
        for (let b = b0; b < b1; b++) {
          const cb = cols[b]!;
          if (cb >= 0) out[o + b] = src[cb * srcCols + ra]!;
        }
      }
    }
    return out;
  }
  for (let a = 0; a < rows.length; a++) {
    const ra = rows[a]!;
    if (ra < 0) continue;
    const o = a * nc;
    const base = ra * srcCols;
    for (let b = 0; b < nc; b++) {
      const cb = cols[b]!;
      if (cb >= 0) out[o + b] = src[base + cb]!;
    }
  }
  return out;
}

/** `n` indices from `start`, -1 past `limit` (zero padding). */
export function paddedRange(start: number, n: number, limit: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i < limit ? start + i : -1;
  return out;
}
