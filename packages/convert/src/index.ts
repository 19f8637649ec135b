export { registerCommands } from './cli.ts';
export { DTYPE_SIZE, isDType, numel, readRange, renameTensor, tensorFromBytes, type DType, type TensorRecord } from './tensor.ts';
export { readSafetensors, readSafetensorsHeader, safetensorsFiles, MAX_HEADER_SIZE, type SafetensorsHeader } from './safetensors-read.ts';
export { writeSafetensors, safetensorsHeader, type WriteSafetensorsOptions, type WrittenSafetensors } from './safetensors-write.ts';
export { castBytes, f32BitsToBf16, f32BitsToF16, f16BitsToF32, CASTABLE } from './cast.ts';
export { parseSize } from './size.ts';
