// Worker entry: worker threads do not inherit the parent's TypeScript loader, so register tsx here
// before loading the real (TypeScript) worker.
import { register } from 'tsx/esm/api';

register();
await import('./parallel-worker.ts');
