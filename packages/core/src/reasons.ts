/**
 * Every reason a record is rejected or dropped, or a data error is raised: the keys of the
 * `rejected` / `skipped` counters in summaries and `DataError.reason`. One closed list, so that
 * the same bad input gets the same name from every reader and command (a bad JSON line is
 * `malformed-json` whether `weft tokenize`, `weft process`, `weft scan` or `weft pack` reads it).
 * Adding a reason is one line here; a typo elsewhere is a type error.
 *
 * @example
 * throw new DataError('expected a JSON array of messages', source, { reason: 'bad-record' });
 * ctx.drop('empty');
 */

/** Fields of dataset records whose absence or type is reported by name (`missing-content`, `bad-role`). */
export type RecordField = 'role' | 'content' | 'text' | 'system' | 'input' | 'output' | 'instruction';

export type Reason =
  // Text and JSON lines (order's reader family: every line-based reader in weft).
  | 'non-utf8' // a line (or document) that is not UTF-8
  | 'malformed-json' // a line or document that is not JSON
  | 'record-too-large' // a record over --max-record-bytes (never read whole)
  | 'empty' // a blank line: dropped, not an error
  | 'schema' // JSON of the wrong shape for the file: a .bin line not {"tokens": [int, ...]}, a .json document not an array
  // Dataset records (formats: ftdp, openai, alpaca, conversation, pretrain).
  | 'bad-record' // the wrong JSON shape (not an object, not an array of messages)
  | 'unknown-role'
  | 'missing-conversation'
  | `missing-${RecordField}`
  | `bad-${RecordField}`
  | 'no-output' // alpaca "<nooutput>": dropped
  | 'empty-conversation' // nothing to train on: dropped
  | 'template-error'
  // Samples.
  | 'no-trainable-token' // every label ignored after truncation: dropped, as xtuner's offline job does
  | 'token-out-of-vocab'
  | 'short' // under --min-length: dropped
  | 'other-rank' // another rank's share: dropped
  // InternLM .bin + .meta.
  | 'missing-meta'
  | 'bad-meta'
  | 'meta-mismatch'
  | 'not-bin'
  | 'bad-npy'
  // Files and folders.
  | 'missing-file'
  | 'unreachable'
  | `http-${number}`
  | 'not-dataset'
  | 'empty-output'
  | 'duplicate'
  | 'hole'
  | 'overlap'
  | 'worker-data' // a worker thread's data error, passed on
  // Checkpoints, tensors, tokenizer files (convert).
  | 'bad-header'
  | 'header-too-large'
  | 'bad-tensor'
  | 'bad-pickle'
  | 'bad-zip'
  | 'compressed'
  | 'corrupt'
  | 'corrupt-model'
  | 'dtype'
  | 'shape'
  | 'nan'
  | 'legacy-format'
  | 'lora-alpha'
  | 'no-state-dict'
  | 'not-torch'
  | 'not-zip'
  | 'out-of-bounds'
  | 'truncated'
  | 'unknown-layout'
  | 'unsafe-name'
  | 'unsupported'
  | 'missing'
  // Training checkpoints (InternLM tp x pp shards, torch.distributed.checkpoint folders).
  | 'bad-dcp'
  | 'hostile' // a pickle global outside the allowlist: refused, never executed
  | 'bad-config'
  | 'missing-config'
  | 'missing-shard'
  | 'bad-key'
  | 'missing-key'
  | 'unknown-key'
  | 'duplicate-key'
  | 'not-tensor'
  | 'not-internlm'
  | 'unknown-model'
  | 'model-type'
  | 'no-code'
  | 'out-of-range'
  | 'unsupported-dtype'
  | 'unsupported-layout'
  // A DataError that named no reason.
  | 'invalid';
