#!/usr/bin/env bash
# Example: the ResNet-20 instability grid of Frankle et al. 2020 on a SLURM cluster.
# 4 spawn steps × 3 seeds = 12 array jobs, each on one GPU; the 3 parents (one per seed) are
# trained once each in outputs/parents and shared by the jobs that need them. Preempted or
# timed-out jobs are requeued by submitit and resume from their checkpoints.
#
#   bash scripts/slurm_sweep.sh                      # submit
#   ridgeline-collect outputs/multirun/<date>/<time> # one CSV of every job's records
#   ridgeline-report outputs/multirun/<date>/<time>  # the figures
set -euo pipefail
cd "$(dirname "$0")/.."

SPAWN_STEPS="0,100,500,2000"

.venv/bin/ridgeline-train -m \
  hydra/launcher=slurm \
  hydra.launcher.partition="${PARTITION:-gpu}" \
  hydra.launcher.timeout_min=720 \
  hydra.launcher.setup='["source .venv/bin/activate"]' \
  experiment=resnet20_cifar10_instability \
  trainer=gpu \
  spawn.at="${SPAWN_STEPS}" \
  "spawn.parent_checkpoints=[${SPAWN_STEPS}]" \
  seed=0,1,2
