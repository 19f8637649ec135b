export { registerCommands } from './cli.ts';
export { parseNpy, readNpy, encodeNpy, type NpyArray, type NpyData, type NpyDtype } from './npy.ts';
export { parseTokensLine, type TokensParse } from './tokens-line.ts';
export {
  readBinMeta, metaFromNpy, BinFile, internlmBinReader, readInternlmBin,
  type BinMeta, type TokenRecord, type BinReadOptions,
} from './internlm-bin.ts';
export { dataOrder, writeDataOrder, readDataOrder, formatDataOrder, type DataOrderOptions } from './data-order.ts';
