/** Placeholder until the order package lands its readers. */
export async function runDemo(opts: { out: string }): Promise<void> {
  process.stdout.write(`weft demo: nothing to run yet (out: ${opts.out})\n`);
}
