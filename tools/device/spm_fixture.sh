#!/usr/bin/env bash
# Device run (no GPU needed, no network): train the two tiny sentencepiece models and record Python
# sentencepiece's ids → $OUT/spm-fixture.tar.gz (spm/bpe.model, spm/unigram.model, spm/expected.json).
# The lead unpacks it into packages/tokenize/test/fixtures/spm/:
#   tar -xzf spm-fixture.tar.gz --strip-components=1 -C packages/tokenize/test/fixtures/spm
#   gzip -9 -n packages/tokenize/test/fixtures/spm/expected.json   (the test reads expected.json.gz)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$(mktemp -d)}"
T="$(mktemp -d)"
python3 -c 'import sentencepiece, sys; print("sentencepiece", sentencepiece.__version__, "python", sys.version.split()[0])'
python3 tools/device/spm_fixture.py "$T"
ls -l "$T/spm"
tar -C "$T" -czf "$OUT/spm-fixture.tar.gz" spm
ls -l "$OUT/spm-fixture.tar.gz"
rm -rf "$T"
