"""bench/bench_msd_layout.py on a tiny images/ + labels/ folder: the MSD arrangement and the command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))


def test_msd_layout_bench_smoke(tmp_path):
    import bench_msd_layout

    src = tmp_path / "hippo"
    rng = np.random.default_rng(0)
    for i in range(8):
        label = np.zeros((12, 14, 10), np.uint8)
        label[3:6, 4:9, 3:7], label[6:9, 4:9, 3:7] = 1, 2
        image = (rng.normal(0, 5, label.shape) + 40 * (label > 0)).astype(np.float32)
        for sub, arr in (("images", image), ("labels", label)):
            (src / sub).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(arr, np.eye(4)), src / sub / f"hippocampus_{i:03d}.nii.gz")
    docs = tmp_path / "docs"
    args = ["--data", str(src), "--work", str(tmp_path / "work"), "--docs", str(docs), "--epochs", "1",
            "--set", "model.encoder=tiny", "--set", "model.decoder_channels=null",
            "--set", "preprocess.image_size=16", "--set", "batch_size=2"]
    assert bench_msd_layout.main(args) == 0
    folder = tmp_path / "work" / "Task04_Hippocampus"
    assert (folder / "imagesTr" / "hippocampus_000.nii.gz").is_symlink()
    assert json.loads((folder / "dataset.json").read_text())["numTraining"] == 8
    res = json.loads((docs / "msd_layout.json").read_text())
    assert res["task"] == "segmentation" and res["label_names"] == ["background", "Anterior", "Posterior"]
    assert res["modality"] == "MR" and sum(res["counts"].values()) == 8
    assert res["layout"].startswith("found 8 labelled cases") and 0.0 <= res["test"]["dice"] <= 1.0
    assert "--task" not in res["command"] and "| segmentation |" in (docs / "msd_layout.md").read_text()
