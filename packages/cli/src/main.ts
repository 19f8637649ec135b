import { Command, CommanderError } from 'commander';
import { isDataError } from '@weft/core';
import { registerCommands as orderCommands } from '@weft/order';
import { registerCommands as tokenizeCommands } from '@weft/tokenize';
import { registerCommands as packCommands } from '@weft/pack';
import { registerCommands as trainerCommands } from '@weft/trainer';
import { registerCommands as convertCommands } from '@weft/convert';
import { registerDemo } from './demo.ts';

/** Build the `weft` program: each package adds its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('weft')
    .description('Streaming pipelines from raw text and chat data to packed token streams, training, and checkpoint conversion.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerDemo(program);
  for (const register of [orderCommands, tokenizeCommands, packCommands, trainerCommands, convertCommands]) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    if (isDataError(e)) {
      process.stderr.write(`weft: DataError: ${(e as Error).message}\n`);
      process.exit(2);
    }
    // A refused output folder (and other user errors that say so) exits 2, like a data error.
    if (e instanceof Error && (e as { exitCode?: unknown }).exitCode === 2) {
      process.stderr.write(`weft: error: ${e.message}\n`);
      process.exit(2);
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`weft: error: ${msg}\n`);
    if (process.env.WEFT_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}
