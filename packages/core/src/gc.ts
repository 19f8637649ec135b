import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection now, or undefined where the runtime refuses one. For huge records
 * only: peak memory (RSS) counts garbage until a collection runs, and after a 200 MB record the
 * next allocation may come long before V8 decides to collect. Two cases need it: a huge line's
 * bytes once decoded (before its JSON is parsed), and the native tokenizer's dead encodings, whose
 * ~80 bytes per token live outside V8's heap, where the collector does not count them.
 *
 * @example
 * fullGc?.();
 */
export const fullGc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();
