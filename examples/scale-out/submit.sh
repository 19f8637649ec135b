#!/bin/bash
# Submit a sharded weft process as a Slurm job array plus a merge job that starts when every task
# succeeded. N tasks; the remaining arguments go to weft process.
#
#   examples/scale-out/submit.sh 16 /data/pile /scratch/pile-out --format pretrain --pack --packed-length 8192
set -euo pipefail
N=${1:?usage: submit.sh N INPUT OUT [weft process options]}
here=$(dirname "$0")
array=$(sbatch --parsable --array=0-$((N - 1)) "$here/weft-process.sbatch" "${@:2}")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" "$here/weft-merge.sbatch" "$3")
echo "array job $array ($N tasks), merge job ${merge%%;*} (after all succeed)"
