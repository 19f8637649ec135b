// Worker entry for bench/tokenize-encoder.ts: worker threads do not inherit tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./tokenize-encoder.ts');
