import type { Command } from 'commander';

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  void program;
}
