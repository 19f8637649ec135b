export { registerCommands } from './cli.ts';
export { RandomState, shuffledArange } from './mt19937.ts';
