import { describe, expect, it } from 'vitest';
import { checkOutputNotEmpty, emptyOutputProblem } from './empty-output.ts';
import { isDataError } from './errors.ts';

describe('empty output', () => {
  it('names each way a run can end with nothing, and says what to do', () => {
    expect(emptyOutputProblem({ input: 'a.json', read: 0, kept: 0 })).toMatch(/^a\.json: no records in the input/);
    expect(emptyOutputProblem({ input: 'a.json', read: 5, kept: 0 })).toMatch(/all 5 records were left out/);
    expect(emptyOutputProblem({ input: 'd', read: 5, kept: 5, packs: 0, tokens: 90, packedLength: 8192 })).toMatch(
      /90 tokens kept are fewer than one pack of --packed-length 8192.*lower --packed-length/,
    );
    expect(emptyOutputProblem({ input: 'd', read: 5, kept: 5, packs: 1 })).toBeUndefined();
    // No packing asked: packs is null in process's summary.
    expect(emptyOutputProblem({ input: 'd', read: 5, kept: 5, packs: null })).toBeUndefined();
  });

  it('warns on stderr, or with strict throws a DataError (weft exits 2)', () => {
    let err = '';
    checkOutputNotEmpty(
      { input: 'e.txt', read: 0, kept: 0 },
      {
        writeErr: (s) => {
          err += s;
        },
      },
    );
    expect(err).toBe(
      'weft: WARNING: e.txt: no records in the input (empty file, or no data lines): the output holds nothing\n',
    );
    let thrown: unknown;
    try {
      checkOutputNotEmpty({ input: 'e.txt', read: 0, kept: 0 }, { strict: true });
    } catch (e) {
      thrown = e;
    }
    expect(isDataError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      'e.txt: no records in the input (empty file, or no data lines): the output holds nothing (--strict)',
    );
  });
});
