import { Command, CommanderError } from 'commander';
import { EXIT_BAD_INPUT, isDataError, isUsageError } from '@weft/core';
import { registerCommands as orderCommands } from '@weft/order';
import { registerCommands as tokenizeCommands } from '@weft/tokenize';
import { registerCommands as jobCommands } from '@weft/job';
import { registerCommands as trainerCommands } from '@weft/trainer';
import { registerCommands as convertCommands } from '@weft/convert';
import { registerDemo } from './demo.ts';

/** Build the `weft` program: each package adds its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('weft')
    .description(
      'Streaming pipelines from raw text and chat data to packed token streams, training, and checkpoint conversion.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors come back to main() as CommanderErrors (subcommands inherit this when created).
    .exitOverride();
  registerDemo(program);
  for (const register of [orderCommands, tokenizeCommands, jobCommands, trainerCommands, convertCommands])
    register(program);
  return program;
}

/**
 * weft's exit code for an error that ended a run, after printing what the user needs (nothing
 * more for commander's own errors: it has printed them). 0 help/version, 1 the run failed,
 * 2 bad input (usage, option values, data). No stack trace unless WEFT_DEBUG is set.
 *
 * @example
 * process.exit(reportError(e, (s) => process.stderr.write(s)));
 */
export function reportError(e: unknown, writeErr: (s: string) => void): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
  if (isUsageError(e)) {
    writeErr(`weft: error: ${e.message} (run with --help for usage)\n`);
    return EXIT_BAD_INPUT;
  }
  if (isDataError(e)) {
    writeErr(`weft: DataError: ${(e as Error).message}\n`);
    return EXIT_BAD_INPUT;
  }
  // A refused output folder (and other user errors that carry exitCode 2) is bad input too.
  if (e instanceof Error && (e as { exitCode?: unknown }).exitCode === EXIT_BAD_INPUT) {
    writeErr(`weft: error: ${e.message}\n`);
    return EXIT_BAD_INPUT;
  }
  writeErr(`weft: error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.WEFT_DEBUG && e instanceof Error) writeErr(`${e.stack}\n`);
  return 1;
}

/** Run `weft` with `argv` (node, script, args...); exits as {@link reportError} says on an error. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exit(reportError(e, (s) => process.stderr.write(s)));
  }
}
