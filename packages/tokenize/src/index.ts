export { registerCommands } from './cli.ts';
export {
  loadTokenizer,
  loadTokenizerFromSpec,
  defaultTokenizerDir,
  type Tokenizer,
  type TokenizerSpec,
  type Backend,
} from './tokenizer.ts';
export { readDataset, isLineBased, type DatasetFormat, type ReadDatasetOptions } from './formats.ts';
export { getTemplate, pyFormat, type PromptTemplate } from './templates.ts';
export { templateMap, type Turn, type Piece, type Prepared } from './template-map.ts';
export { encode, type EncodeOptions } from './encode.ts';
export { tokenizeFile, type TokenizeFileOptions, type TokenizedStream } from './tokenize-file.ts';
export { BinWriter, type BinWriterOptions } from './bin-writer.ts';
export { datasetToBin, internlmDocs, type BinSummary, type DatasetToBinOptions } from './internlm-tokenize.ts';
export {
  encoderPool,
  encodeWorkerInit,
  workerTokenizer,
  type EncoderPool,
  type EncodeWorkerInit,
} from './encode-worker.ts';
export {
  tokenizeLines,
  lineEncoderPool,
  canTokenizeLines,
  type LineEncoderPool,
  type TokenizeLinesOptions,
} from './line-encode.ts';
