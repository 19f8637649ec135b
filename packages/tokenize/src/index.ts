export { registerCommands } from './cli.ts';
export {
  loadTokenizer, loadTokenizerFromSpec, resolveTokenizerDir, defaultTokenizerDir, pickFastOrReference, FastPathUnsupported,
  type Tokenizer, type TokenizerSpec, type Backend,
} from './tokenizer.ts';
export { resolveHubTokenizer, hubCacheDir } from './hub.ts';
export { sentencepieceTokenizer, parseSentencepieceModel, PIECE_TYPE, type SentencepieceModel } from './sentencepiece.ts';
export { lossKeyInFile } from './loss-key.ts';
export { readDataset, recordToItem, isLineBased, FORMATS, type DatasetFormat, type FormatInfo, type ReadDatasetOptions } from './formats.ts';
export { PROMPT_TEMPLATES, getTemplate, pyFormat, type PromptTemplate } from './templates.ts';
export {
  templateMap, messagesToTurns, turnsToPieces, pretrainPieces, pyStrip,
  type Turn, type Piece, type Prepared,
} from './template-map.ts';
export { chatTemplateMap, renderChatTemplate } from './chat-template.ts';
export { encode, encodePrepared, type EncodeOptions } from './encode.ts';
export { tokenizeFile, type TokenizeFileOptions, type TokenizedStream } from './tokenize-file.ts';
export { tokenizeLines, lineEncoderPool, canTokenizeLines, type LineEncoderPool, type TokenizeLinesOptions } from './line-encode.ts';
export { BinWriter, tokensLine, signedTokens, type BinWriterOptions } from './bin-writer.ts';
export { textToBin, datasetToBin, internlmDocs, DATA_KINDS, type BinSummary, type TextToBinOptions, type DatasetToBinOptions } from './internlm-tokenize.ts';
export { validIndices } from './split.ts';
export { encodeDocs, encoderPool, limitNativeThreads, type EncoderPool } from './encode-worker.ts';
export { pyJsonDumps } from './py-json.ts';
