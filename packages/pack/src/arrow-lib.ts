import { createRequire } from 'node:module';
import type * as Arrow from 'apache-arrow';

/**
 * apache-arrow's writing classes, from the single-file build its package ships
 * (`Arrow.esnext.min.js`, the same release as its ES modules): one module to load instead of a
 * few hundred, which a worker thread that writes Arrow files pays at start-up (each thread
 * resolves and loads its own copy through the TypeScript loader; about 0.2 s of 0.5 s).
 * Only public classes are used from it (the writer's bytes are checked equal in arrow.test.ts).
 */
export const arrowBuild = createRequire(import.meta.url)('apache-arrow/Arrow.esnext.min') as typeof Arrow;
