#!/usr/bin/env bash
# Runs ON the lent GPU machine, after bench/gpu_prepare.sh here (docs/gpu.md):
#   device run: command "bash bench/gpu_device.sh", carry [".whl", ".gpu_data"], timeout_s 540
# Installs the carried wheels beside the image's PyTorch, then runs bench/bench_gpu.py; results
# (gpu.json, gpu.md, the log) land in $OUT. Extra arguments go to bench_gpu.py (e.g. --parts amp).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/medtl-gpu-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_device: installing .whl/ failed (run bench/gpu_prepare.sh and carry .whl)" >&2; exit 1; }
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/nvidia_smi.txt"
python3 bench/bench_gpu.py --work /tmp/medtl-gpu --docs "$OUT" --breastmnist .gpu_data/breastmnist.npz \
    --hippocampus .gpu_data/msd_hippocampus "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
