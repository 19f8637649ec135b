"""Checkpoint rotation removes only weft's own checkpoints: an iter_N.pth without weft's
iter_N.state/trainer_state.json beside it (xtuner names its checkpoints the same way) stays.
Prints JSON: the names left in the work dir."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from weft_worker import checkpoint  # noqa: E402

work = tempfile.mkdtemp(prefix='weft-rotation-')
try:
    with open(os.path.join(work, 'iter_1.pth'), 'wb') as f:  # someone else's checkpoint
        f.write(b'not weft')
    for step in (2, 3, 4):
        checkpoint.save(work, step, {'w': step}, None, {'step': step}, max_keep=2)
    print(json.dumps(sorted(os.listdir(work))))
finally:
    import shutil
    shutil.rmtree(work)
