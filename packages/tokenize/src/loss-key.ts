import { createReadStream, statSync } from 'node:fs';
import { readJsonArray, readJsonl } from '@weft/order';

// The byte strings after which a file may hold a `loss` key: the key itself, or an ASCII letter of
// it written as a \u escape (no JSON writer does that for letters, so the exact pass below is rare).
const TRIGGERS = ['"loss"', '\\u006', '\\u0073'].map((t) => Buffer.from(t));
const OVERLAP = Math.max(...TRIGGERS.map((t) => t.length)) - 1;

const known = new Map<string, boolean>();

/**
 * Whether any chat message of an ftdp/openai file has a `loss` key. xtuner reads a file as one HF
 * `datasets` Dataset (`Dataset.from_list` in `load_intern_repo_untokenized_dataset`, or
 * `load_dataset('json')`), whose Arrow struct type for the messages is the union of every
 * message's keys: a message without `loss` then has `loss: None`, which `openai_map_fn` reads as
 * `str(None).lower() == "true"`, i.e. not trained. So the default "train a reply without `loss`"
 * holds only in files where no message has the key.
 *
 * A byte search decides most files; a file holding `"loss"` (or a \u escape of its letters) is
 * parsed record by record (a URL is always downloaded and parsed once more). Records that do not
 * parse are not looked at (the reading pass counts or fails them). The answer is remembered per
 * path, size and mtime (per URL), so the byte ranges of one large file do not each rescan it.
 *
 * @example
 * if (await lossKeyInFile('data/chat.jsonl', 'openai')) console.log('replies without "loss" are not trained');
 */
export async function lossKeyInFile(
  file: string,
  format: 'ftdp' | 'openai',
  maxRecordBytes?: number,
): Promise<boolean> {
  // A URL is read (downloaded) once more, and parsed; a path that cannot be read is left to the reader's error.
  const url = /^https?:\/\//i.test(file);
  let key = file;
  if (!url) {
    try {
      const st = statSync(file);
      key = `${file}\0${st.size}\0${st.mtimeMs}`;
    } catch {
      return false;
    }
  }
  let found = known.get(key);
  if (found === undefined) {
    found = (url || (await mayHoldLossKey(file))) && (await parsedLossKey(file, format, maxRecordBytes));
    known.set(key, found);
  }
  return found;
}

async function mayHoldLossKey(file: string): Promise<boolean> {
  let tail: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = tail.length > 0 ? Buffer.concat([tail, chunk as Buffer]) : (chunk as Buffer);
    if (TRIGGERS.some((t) => buf.includes(t))) return true;
    tail = buf.subarray(Math.max(0, buf.length - OVERLAP));
  }
  return false;
}

async function parsedLossKey(file: string, format: 'ftdp' | 'openai', maxRecordBytes?: number): Promise<boolean> {
  const ro = { onError: 'skip' as const, ...(maxRecordBytes !== undefined ? { maxRecordBytes } : {}) };
  const records =
    format === 'openai' && file.toLowerCase().endsWith('.json') ? readJsonArray(file, ro) : readJsonl(file, ro);
  for await (const r of records) {
    const v = r.value as unknown;
    const messages =
      format === 'ftdp' ? v : v !== null && typeof v === 'object' ? (v as { messages?: unknown }).messages : undefined;
    if (!Array.isArray(messages)) continue;
    for (const m of messages)
      if (m !== null && typeof m === 'object' && !Array.isArray(m) && Object.hasOwn(m, 'loss')) return true;
  }
  return false;
}
