#!/bin/bash
# Grade a batch on a Slurm cluster: N shards as one job array, then the merge once all succeed.
#   deploy/slurm/submit.sh SUBMISSIONS RELEASE WORK [N]
# e.g. deploy/slurm/submit.sh /scratch/course/submitted /scratch/course/release /scratch/course/grading 10
# Extra sbatch options (a partition, an account) go in SBATCH_OPTIONS, e.g. "-p cpu -A dnn101".
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 SUBMISSIONS RELEASE WORK [N]" >&2
  exit 2
fi
SUBMISSIONS=$(realpath "$1")
RELEASE=$(realpath "$2")
mkdir -p "$3"
WORK=$(realpath "$3")
SHARDS=${4:-10}
HERE=$(dirname "$(realpath "$0")")
export SUBMISSIONS RELEASE WORK SHARDS
read -r -a EXTRA <<< "${SBATCH_OPTIONS:-}"

grading=$(sbatch --parsable ${EXTRA[@]+"${EXTRA[@]}"} --array="0-$((SHARDS - 1))" --export=ALL \
  --chdir="$WORK" "$HERE/grade.sbatch")
grading=${grading%%;*}  # --parsable prints "jobid" or "jobid;cluster"
merging=$(sbatch --parsable ${EXTRA[@]+"${EXTRA[@]}"} --dependency="afterok:$grading" --kill-on-invalid-dep=yes \
  --export=ALL --chdir="$WORK" "$HERE/merge.sbatch")
echo "grading: job array $grading (shards 0-$((SHARDS - 1)) of $SHARDS); merge: job ${merging%%;*}"
echo "follow: squeue -j $grading,${merging%%;*}; grades: $WORK/graded/grades.csv"
