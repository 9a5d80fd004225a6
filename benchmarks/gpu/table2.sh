#!/usr/bin/env bash
# The GPU checks of the images issue (Table 2), prepared on the CPU and not yet run on a GPU. Run
# from the repository root on a machine with a CUDA GPU and ../shared/data beside the checkout:
#   OUT=gpu-out bash benchmarks/gpu/table2.sh
# kornia is the one dependency a bare GPU machine may lack and cannot download: bring its wheels
# (pip download kornia kornia-rs -d wheels) and this script installs them offline.
set -u
. "$(dirname "$0")/common.sh"

stage machine
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$log"
python3 -c "import kornia" 2>/dev/null || pip install -q --no-index --find-links wheels kornia 2>&1 | tail -2 | tee -a "$log"

stage "SimCLR step: dacl (batched augmentation on the GPU, one 2N pass, channels_last) vs DataLoader, bf16"
timeout 150 python3 -m dacl bench --domain images --device cuda --architecture resnet18 --batch-sizes 512 \
  --precisions bfloat16 --steps 20 --repeats 2 --workers 8 --out "$OUT/bench-images" 2>&1 | tee -a "$log"

stage "Table 2, budget gpu: ResNet-18 on 45,000 CIFAR-10 images (JPEG copies), the paper's six rows"
timeout 420 python3 -m dacl reproduce table2 --dataset cifar10-jpeg --data-dir ../shared/data --budget gpu \
  --device cuda --out "$OUT/table2-gpu" --quiet 2>&1 | tee -a "$log"
