/**
 * `@weft/order/records`: the per-line pieces of the reader family (line splitting, UTF-8 and size
 * checks, JSON line parsing, the chat-message validator) without the readers, URL downloads or
 * CLI. Worker threads that parse raw lines import this: a lighter start than the whole package.
 */
export { splitLines, fileChunks, lineText, lineString, lineSource, type RawLine } from './lines.ts';
export { parseJsonLine } from './json-line.ts';
export { parseMessages, lossFlag } from './messages.ts';
export { DEFAULT_MAX_RECORD_BYTES, recordTooLarge } from './record-size.ts';
