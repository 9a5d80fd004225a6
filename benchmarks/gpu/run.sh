#!/usr/bin/env bash
# The GPU checks of the Table 1 issue, in priority order, each under its own time limit, writing
# into $OUT (default ./gpu-out). Run from the repository root on a machine with a CUDA GPU:
#   OUT=gpu-out bash benchmarks/gpu/run.sh
# It needs only the package's dependencies (torch with CUDA, scikit-learn, safetensors, tqdm).
set -u
. "$(dirname "$0")/common.sh"

stage machine
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee -a "$log"
python3 -c "import torch, os; print('torch', torch.__version__, torch.cuda.get_device_name(), 'cpus', os.cpu_count())" 2>&1 | tee -a "$log"

stage "GPU tests (torch.compile left to the bench below)"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_train.py -k "cuda and not True" 2>&1 | tail -15 | tee -a "$log"

stage "bench: float32 and bfloat16, batch 1024 and 4096"
timeout 180 python3 -m dacl bench --device cuda --out "$OUT/bench" --batch-sizes 1024,4096 \
  --precisions float32,bfloat16 --steps 20 --repeats 2 2>&1 | tee -a "$log"

stage "paper budget, bfloat16, 60000 x 784, up to 1000 epochs"
timeout 150 python3 benchmarks/gpu/paper_budget_timing.py --device cuda --precision bfloat16 \
  --max-seconds 120 --out "$OUT/paper_bf16.json" 2>&1 | tee -a "$log"

stage "paper budget, float32, 30 epochs (projected to 1000)"
timeout 60 python3 benchmarks/gpu/paper_budget_timing.py --device cuda --precision float32 --epochs 30 \
  --out "$OUT/paper_fp32.json" 2>&1 | tee -a "$log"

stage "bfloat16 against float32 accuracy on the demo data"
timeout 90 python3 benchmarks/gpu/bf16_accuracy.py --device cuda --seeds 5 --methods dacl+ \
  --out "$OUT/bf16_accuracy.json" 2>&1 | tail -12 | tee -a "$log"

stage "bench with torch.compile, batch 4096"
timeout 150 python3 -m dacl bench --device cuda --compile true --out "$OUT/bench_compile" --batch-sizes 4096 \
  --precisions float32,bfloat16 --steps 20 --repeats 1 2>&1 | tee -a "$log"
rm -f "$OUT/bench_compile/bench.md"  # the log has the table; at most 8 files come back
stage done
