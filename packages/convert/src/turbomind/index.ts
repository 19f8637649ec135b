export { writeTurbomind, type WriteTurbomindOptions, type WrittenTurbomind } from './write.ts';
export {
  turbomindModelInfo,
  turbomindConfig,
  TurbomindConfigError,
  TURBOMIND_ARCHS,
  type TurbomindModelInfo,
  type TurbomindDType,
  type TurbomindFamily,
} from './model-info.ts';
export { safeDump, pyFloat, pythonFloatRepr, PyFloat, type YamlValue } from './yaml.ts';
export { rotaryOrder, repeatHeads, internlm2Rows, qkvRank, gather } from './layout.ts';
export { tokenizerSize, sentencepiecePieces } from './tokenizer-size.ts';
export { registerTurbomind, guessChatTemplate, workspaceCopies } from './cli.ts';
