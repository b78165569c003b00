#!/bin/bash
# Grade a batch on Kubernetes: the Indexed Job, then the merge Job once every shard completed.
#   deploy/kubernetes/run.sh [NAMESPACE]
# Jobs are immutable: delete the previous batch's Jobs first (their shard folders stay on the
# volume, so a batch run again grades only what changed).
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
NS=(--namespace "${1:-default}")

kubectl "${NS[@]}" delete job dnnlabs-grade dnnlabs-merge --ignore-not-found
kubectl "${NS[@]}" apply -f "$HERE/grade-job.yaml"
kubectl "${NS[@]}" wait --for=condition=complete job/dnnlabs-grade --timeout=24h
kubectl "${NS[@]}" apply -f "$HERE/merge-job.yaml"
kubectl "${NS[@]}" wait --for=condition=complete job/dnnlabs-merge --timeout=2h
kubectl "${NS[@]}" logs job/dnnlabs-merge | tail -n 20
