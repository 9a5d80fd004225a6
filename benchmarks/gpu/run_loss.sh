#!/usr/bin/env bash
# Second GPU check: the loss with fewer passes over the (2N)^2 matrix against the one before it,
# side by side; the bench again; and the GPU tests that changed. From the repository root:
#   OUT=gpu-out bash benchmarks/gpu/run_loss.sh PREVIOUS_LOSSES_PY
set -u
. "$(dirname "$0")/common.sh"
stage machine
nvidia-smi --query-gpu=name,clocks.sm --format=csv 2>&1 | tee -a "$log"
stage "loss: previous against now"
timeout 90 python3 benchmarks/loss_speed_vs_previous.py --device cuda --previous "$1" 2>&1 | tee -a "$log"
stage "GPU tests"
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_train.py -k "cuda and not True" \
  2>&1 | tail -5 | tee -a "$log"
stage "bench: float32 and bfloat16, batch 1024 and 4096"
timeout 150 python3 -m dacl bench --device cuda --out "$OUT/bench" --batch-sizes 1024,4096 \
  --precisions float32,bfloat16 --steps 20 --repeats 2 2>&1 | tee -a "$log"
stage "profile: bfloat16 at batch 4096, float32 at batch 1024"
timeout 60 python3 benchmarks/gpu/profile_step.py --device cuda --precision bfloat16 --batch-size 4096 2>&1 | tee -a "$log"
timeout 60 python3 benchmarks/gpu/profile_step.py --device cuda --precision float32 --batch-size 1024 2>&1 | tee -a "$log"
stage done
