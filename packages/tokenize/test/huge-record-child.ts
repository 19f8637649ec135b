/**
 * Child process of huge-record.test.ts: tokenize one file through the library (workers 0) and
 * print the peak RSS above the baseline measured after the tokenizer is loaded and warm.
 *   node --import tsx huge-record-child.ts <ftdp file> [maxRecordBytes]
 */
import { tokenizeFile } from '../src/tokenize-file.ts';
import { loadTokenizer } from '../src/tokenizer.ts';

const [file, max] = process.argv.slice(2) as [string, string | undefined];
const tokenizer = await loadTokenizer('default');
await tokenizer.encode('warm up the encoder once');
const baseline = process.resourceUsage().maxRSS * 1024;
const samples = tokenizeFile(file, {
  format: 'ftdp',
  tokenizer,
  template: 'internlm2_chat',
  workers: 0,
  ...(max ? { maxRecordBytes: Number(max) } : {}),
});
const lengths: number[] = [];
let first: number[] = [];
for await (const s of samples) {
  lengths.push(s.input_ids.length);
  if (first.length === 0) first = Array.from(s.input_ids.subarray(0, 16));
}
process.stdout.write(JSON.stringify({ baseline, peak: process.resourceUsage().maxRSS * 1024, lengths, first }));
