"""Bad training data is reported as one clean line that the launcher turns into weft's DataError
(exit code 2), never as a PyTorch traceback: an out-of-range token id would otherwise surface as
an embedding IndexError (CPU) or a device-side assert (CUDA) far from its cause."""
import json
import sys

import numpy as np

IGNORE_INDEX = -100
# The launcher reads lines with this prefix on a rank's stderr as its data error.
ERROR_PREFIX = '@weft-data-error '


class DataError(Exception):
    """The data is wrong (not weft): reported once, without a traceback."""


def check_token_ids(packs, vocab_size, where):
    """Raise DataError naming the pack and position of the first id outside [0, vocab_size)
    (labels may also be IGNORE_INDEX). Runs on the numpy arrays, before anything reaches torch."""
    for p in packs:
        for name, a in (('input_ids', p.input_ids), ('labels', p.labels)):
            bad = (a >= vocab_size) | ((a < 0) & (a != IGNORE_INDEX) if name == 'labels' else (a < 0))
            if bad.any():
                k = int(np.argmax(bad))
                raise DataError(f'{where}: pack {p.index} (epoch {p.epoch}): {name}[{k}] = {int(a[k])} is outside the '
                                f'model vocabulary (vocab_size {vocab_size}): the data was tokenized with another '
                                "tokenizer than the model's; check it with `weft process --vocab-size` or `weft pack --vocab-size`")


def report(e):
    """Write the error as the launcher expects it."""
    sys.stderr.write(ERROR_PREFIX + json.dumps({'message': str(e)}) + '\n')
    sys.stderr.flush()
