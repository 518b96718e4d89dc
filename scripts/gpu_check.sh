#!/usr/bin/env bash
# The GPU check (issue 25): one command, one GPU, the repo on a bare machine, under 8 minutes.
#
#   scripts/gpu_check.sh [--out FILE]        # on a machine with a CUDA device
#   scripts/gpu_check.sh --cpu [--out FILE]  # dry run: every step, tiny sizes, on the CPU
#
# Steps, each timed: (1) install: `make .venv/.installed` (the Makefile's venv + pip install -e
# ".[dev]"; with --cpu skipped when .venv exists); (2) the tests that can use CUDA
# (tests/landscape/test_curvature*.py: the Taylor terms, on CUDA against the CPU where a device
# is visible); (3) the main job, `ridgeline-train trainer=gpu logger=none` (with --cpu:
# trainer=cpu debug=fast, shortened); (4) scripts/gpu_bench.py: ResNet-20 on generated
# CIFAR-10-format data with 1/2/4/8 children in lockstep (steps/s per child), the ViT CIFAR-10
# set-up (conf/model/vit_cifar, AdamW) with 1/2/4 children (steps/s per child), the probe on the
# device (barrier curve loop vs vmap, per-layer / whole-network curvature), bf16 autocast and
# channels-last. It writes one JSON (every section's numbers, the shell's timings under
# "shell") and prints its path last. Exit status: non-zero when a step failed; the JSON is
# still written when the benchmarks ran.
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
CPU=0
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) CPU=1 ;;
        --out) OUT="$2"; shift ;;
        --out=*) OUT="${1#--out=}" ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
STAMP=$(date +%Y%m%d-%H%M%S)
if [ -z "$OUT" ]; then
    OUT="$REPO/outputs/gpu_check/gpu_check-$STAMP.json"
fi
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
PY="$REPO/.venv/bin/python"
FAILED=0
RECORDS=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
step() { echo "== gpu_check: $* ($(date +%H:%M:%S))"; }

if [ "$CPU" = 1 ]; then
    export CUDA_VISIBLE_DEVICES=""
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
export WANDB_MODE=offline WANDB_SILENT=true

# (1) install
step "install"
t0=$(now)
if [ "$CPU" = 1 ] && [ -x "$PY" ]; then
    echo "venv exists: install skipped (--cpu)"
    RECORDS+=("install_skipped=1")
else
    make -s .venv/.installed PY="${PYTHON:-python3}" || { echo "install failed" >&2; exit 1; }
    RECORDS+=("install_skipped=0")
fi
RECORDS+=("install_s=$(elapsed "$t0")")

# (2) tests that can use CUDA
step "tests"
t0=$(now)
"$PY" -m pytest -q -p no:cacheprovider tests/landscape/test_curvature_fast.py \
    tests/landscape/test_curvature.py > "$WORK/tests.log" 2>&1
rc=$?
tail -3 "$WORK/tests.log"
passed=$(grep -Eo '[0-9]+ passed' "$WORK/tests.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '[0-9]+ failed' "$WORK/tests.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
skipped=$(grep -Eo '[0-9]+ skipped' "$WORK/tests.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
RECORDS+=("tests_s=$(elapsed "$t0")" "tests_rc=$rc" "tests_passed=${passed:-0}"
    "tests_failed=${failed:-0}" "tests_skipped=${skipped:-0}")
[ "$rc" = 0 ] || FAILED=1

# (3) the main job
step "main job"
if [ "$CPU" = 1 ]; then
    JOB=(trainer=cpu debug=fast probe.curvature.layerwise=false trainer.max_steps=8
        "spawn.at=[0,4]" probe.every_n_steps=null data.eval_train_size=50
        data.eval_test_size=50)
else
    JOB=(trainer=gpu)
fi
t0=$(now)
"$REPO/.venv/bin/ridgeline-train" logger=none print_config=false \
    "hydra.run.dir=$WORK/main_job" "paths.parent_dir=$WORK/parents" "${JOB[@]}" > "$WORK/main_job.log" 2>&1
rc=$?
tail -2 "$WORK/main_job.log"
RECORDS+=("main_job_s=$(elapsed "$t0")" "main_job_rc=$rc")
[ "$rc" = 0 ] || { FAILED=1; tail -20 "$WORK/main_job.log" >&2; }

# (4) benchmarks: lockstep, probe, bf16, channels-last
step "benchmarks"
BENCH=(--out "$OUT")
if [ "$CPU" = 1 ]; then
    BENCH+=(--device cpu --tiny --threads "$OMP_NUM_THREADS")
else
    BENCH+=(--device cuda)
fi
for r in "${RECORDS[@]}"; do BENCH+=(--record "$r"); done
BENCH+=(--record "failed_steps=$FAILED")
(cd scripts && "$PY" gpu_bench.py "${BENCH[@]}") > "$WORK/bench.log" 2>&1
rc=$?
grep -E '^(lockstep|vit_lockstep|probe|bf16|channels_last|wrote)' "$WORK/bench.log"
[ "$rc" = 0 ] || { FAILED=1; tail -20 "$WORK/bench.log" >&2; }

echo "logs: $WORK"
if [ -f "$OUT" ]; then
    echo "$OUT"
else
    echo "gpu_check: no JSON written" >&2
    exit 1
fi
exit "$FAILED"
