#!/usr/bin/env node
// The `weft` command. Sources are TypeScript run through tsx's loader (no build step needed).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv);
