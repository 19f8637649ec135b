import { Command, CommanderError } from 'commander';
import { EXIT_BAD_INPUT, isDataError, isUsageError } from '@weft/core';
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
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors come back to main() as CommanderErrors (subcommands inherit this when created).
    .exitOverride();
  registerDemo(program);
  for (const register of [orderCommands, tokenizeCommands, packCommands, trainerCommands, convertCommands]) register(program);
  return program;
}

/** Run `weft` with `argv` (node, script, args...); exit codes: 0 done, 1 the run failed, 2 bad input (options or data). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    // Help and --version exit 0; a usage error or a bad option value is bad input: exit 2.
    // Commander has already printed the message.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    if (isUsageError(e)) {
      process.stderr.write(`weft: error: ${e.message} (run with --help for usage)\n`);
      process.exit(EXIT_BAD_INPUT);
    }
    if (isDataError(e)) {
      process.stderr.write(`weft: DataError: ${(e as Error).message}\n`);
      process.exit(EXIT_BAD_INPUT);
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`weft: error: ${msg}\n`);
    if (process.env.WEFT_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}
