// The face of @weft/convert: what other packages and users call (README "Library", TURBOMIND.md).
// Everything else is internal; tests import it from its own module by relative path.
export { registerCommands } from './cli.ts';
export { type DType, type TensorRecord } from './tensor.ts';
export { readSafetensors } from './safetensors-read.ts';
export { writeSafetensors, type WriteSafetensorsOptions, type WrittenSafetensors } from './safetensors-write.ts';
export { openCheckpoint, type Checkpoint } from './checkpoint.ts';
export { mapXtunerKeys, type MappedKeys } from './keys.ts';
export { pthToHf, type PthToHfOptions, type PthToHfResult } from './pth-to-hf.ts';
export { internlmToHf, type InternlmToHfOptions, type InternlmToHfResult } from './internlm-to-hf.ts';
export { writeTurbomind, type WriteTurbomindOptions, type WrittenTurbomind } from './turbomind/write.ts';
