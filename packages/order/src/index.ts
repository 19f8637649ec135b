export { registerCommands } from './cli.ts';
export { parseNpy, readNpy, encodeNpy, type NpyArray, type NpyData, type NpyDtype } from './npy.ts';
export {
  readBinMeta,
  BinFile,
  internlmBinReader,
  readInternlmBin,
  type BinMeta,
  type TokenRecord,
  type BinReadOptions,
} from './internlm-bin.ts';
export { dataOrder, writeDataOrder, readDataOrder, type DataOrderOptions } from './data-order.ts';
export { splitLines, fileChunks, lineText, lineString, lineSource, type RawLine } from './lines.ts';
export { type Inputs, type InputOptions, type ByteRange } from './inputs.ts';
export {
  lineReader,
  linesOf,
  parseJsonLine,
  type CountedSource,
  type ReadOptions,
  type LineParser,
} from './line-reader.ts';
export { readJsonl, type JsonRecord } from './jsonl.ts';
export { readFtdp, parseMessages, lossFlag } from './ftdp.ts';
export { readText } from './text.ts';
export { readJsonArray, type JsonArrayRecord } from './json-array.ts';
export { shard, type ShardOptions } from './shard.ts';
export { scanSources, readSource, type SourceKind, type SourceSummary } from './sources.ts';
export { parseJsonDocument, jsonErrorIndex, type JsonDocumentOptions } from './json-document.ts';
export { rebuildMeta, scanBinRows, metaBytes, type MetaRows, type MetaResult } from './rebuild-meta.ts';
export { DEFAULT_MAX_RECORD_BYTES, recordTooLarge } from './record-size.ts';
export { splitJsonArray, type ArrayElement } from './json-array-split.ts';
