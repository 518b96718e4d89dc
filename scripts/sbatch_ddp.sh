#!/usr/bin/env bash
# One ridgeline job on 2 nodes × 4 GPUs with srun: one task per GPU, every task runs the whole
# program (Lightning reads SLURM's variables; global rank 0 decides and writes). The run dir is
# outputs/runs/slurm-<job id>.<step id>, the same in every task and after a requeue, so a
# preempted job that SLURM requeues (--requeue) resumes where it stopped. On SIGTERM
# (preemption, time limit) ridgeline saves the current step and exits 143.
#
#   sbatch scripts/sbatch_ddp.sh
#SBATCH --job-name=ridgeline
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
#SBATCH --requeue
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"

srun .venv/bin/ridgeline-train \
  experiment=resnet20_cifar10_instability \
  trainer=ddp trainer.devices=4 trainer.num_nodes=2
