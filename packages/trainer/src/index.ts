export { registerCommands } from './cli.ts';
