"""``medtl pretrain`` end to end on tiny data, and what ``medtl train`` does with its output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from medtl.errors import ConfigError, ModelDirError, WeightsError
from medtl.pretrain import pretrain

from .conftest import pretrain_config, write_manifest, write_nifti

RUN_FILES = ("model.safetensors", "model.json", "config.yaml", "metrics.json", "curves.png", "MODEL_CARD.md",
             "data.json", "train_log.jsonl")


@pytest.fixture(scope="module")
def ssl3d(tmp_path_factory):
    """One genesis pretraining on 3D NIfTI, shared by the tests that use its output."""
    from .conftest import _blobs

    root = tmp_path_factory.mktemp("ssl3d")
    for i, vol in enumerate(_blobs(np.random.default_rng(0), 10, (16, 16, 16))):
        write_nifti(root / "scans" / f"vol{i:02d}.nii.gz", vol)
    result = pretrain(pretrain_config(root / "scans", root / "run", epochs=2))
    return root, result


def test_pretrain_writes_a_model_directory(ssl3d):
    root, result = ssl3d
    run = result.run_dir
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    info = json.loads((run / "model.json").read_text())
    p = info["pretraining"]
    assert p["method"] == "genesis" and p["n_scans"] == 10 and p["counts"] == {"train": 8, "val": 2}
    assert p["summary"] == "self-supervised (genesis) on 10 scans"
    assert info["lineage"][-1]["kind"] == "self-supervised" and info["lineage"][-1]["n_scans"] == 10
    assert info["model"]["num_classes"] == 1 and info["provenance"]["strategy"] == "self-supervised"
    metrics = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(metrics["val"]["psnr"]) and metrics["epochs"] == 2
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all(math.isfinite(r["val_psnr"]) for r in rows)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learns to restore
    assert "Self-supervised pretraining" in (run / "MODEL_CARD.md").read_text()


def test_scoring_and_evaluation_refuse_a_pretraining_run(ssl3d):
    from medtl.models import load_model_dir

    with pytest.raises(ModelDirError, match="self-supervised pretraining run") as err:
        load_model_dir(ssl3d[1].run_dir)
    assert err.value.code == "not_a_task_model"
    assert load_model_dir(ssl3d[1].run_dir, allow_pretraining=True).model.num_classes == 1


def _seg_manifest(root):
    import nibabel as nib

    rows, splits = [], ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    for vol, split in zip(sorted((root / "scans").glob("*.nii.gz")), splits):
        arr = np.asarray(nib.load(str(vol)).dataobj)
        mask = write_nifti(root / "masks" / vol.name, (arr > 150).astype(np.uint8))
        rows.append({"image": str(vol), "mask": str(mask), "split": split})
    return write_manifest(root / "seg.csv", rows)


def test_segmentation_fine_tune_takes_encoder_and_decoder(ssl3d, tmp_path):
    from medtl.models import ModelConfig, build_model
    from medtl.models.weights import load_decoder_from_model_dir
    from medtl.train import load_config, train

    root, result = ssl3d
    ssl = load_file(str(result.run_dir / "model.safetensors"))
    model = build_model(ModelConfig(task="segmentation", encoder="tiny", weights=str(result.run_dir), spatial_dims=3,
                                    in_channels=1, num_classes=2))
    assert load_decoder_from_model_dir(model, result.run_dir) > 0
    state = model.state_dict()
    for key in [k for k in ssl if k.startswith(("encoder.", "decoder."))]:
        assert torch.equal(state[key], ssl[key]), key
    assert state["heads.main.out.conv.conv.weight"].shape[0] == 2  # the task's own head, not the reconstruction's
    cfg = load_config(overrides=[f"data.path={_seg_manifest(root)}", f"out={tmp_path / 'seg'}", "task=segmentation",
                                 "strategy=finetune", "model.encoder=tiny", f"model.weights={result.run_dir}",
                                 "model.pretrained_decoder=true", "epochs=1", "batch_size=4",
                                 "preprocess.image_size=16", "quiet=true"])
    run = train(cfg)
    info = json.loads((run.run_dir / "model.json").read_text())
    assert info["lineage"][-1]["kind"] == "self-supervised" and info["lineage"][-1]["path"] == str(result.run_dir)
    assert info["provenance"]["weights"] == str(result.run_dir)


def test_decoder_of_another_width_is_refused_with_the_reason(ssl3d):
    from medtl.models import ModelConfig, build_model
    from medtl.models.weights import load_decoder_from_model_dir

    model = build_model(ModelConfig(task="segmentation", encoder="tiny", weights="none", spatial_dims=3, in_channels=1,
                                    num_classes=2, decoder_channels=(64, 32, 16, 8, 4)))
    with pytest.raises(WeightsError, match="decoder_channels"):
        load_decoder_from_model_dir(model, ssl3d[1].run_dir)


def test_init_from_a_pretraining_run_is_an_initialisation(ssl3d, tmp_path):
    from medtl.train import load_config, train

    root, result = ssl3d
    base = [f"data.path={_seg_manifest(root)}", "task=segmentation", "model.encoder=tiny", "epochs=1",
            "batch_size=4", "preprocess.image_size=16", "quiet=true", f"init_from={result.run_dir}"]
    with pytest.raises(ConfigError, match="self-supervised pretraining run"):
        train(load_config(overrides=[*base, f"out={tmp_path / 'a'}", "continual.method=ewc"]))
    run = train(load_config(overrides=[*base, f"out={tmp_path / 'b'}"]))
    info = json.loads((run.run_dir / "model.json").read_text())
    assert info["provenance"]["weights"] == str(result.run_dir) and info["lineage"][-1]["kind"] == "self-supervised"


def test_2d_mim_from_npz_then_classification(npz_unlabelled, tmp_path):
    from medtl.train import load_config, train

    result = pretrain(pretrain_config(npz_unlabelled, tmp_path / "mim", size=32, extra=("ssl.method=mim",)))
    info = json.loads((result.run_dir / "model.json").read_text())
    assert info["pretraining"]["method"] == "mim" and info["model"]["spatial_dims"] == 2
    assert info["pretraining"]["n_scans"] == 16 and info["pretraining"]["excluded"] == 8
    cfg = load_config(overrides=[f"data.path={npz_unlabelled}", f"out={tmp_path / 'clf'}", "model.encoder=tiny",
                                 f"model.weights={result.run_dir}", "strategy=finetune", "epochs=1", "batch_size=8",
                                 "preprocess.image_size=32", "quiet=true"])
    run = train(cfg)
    assert run.metrics["test"]["auc"] is not None


@pytest.mark.parametrize("encoder, data, size, weights", [
    ("unet-res16", "nifti", 32, "none"),
    ("resnet10", "nifti", 32, "none"),
    ("efficientnet-lite0", "png", 32, "imagenet"),
])
def test_real_encoders_pretrain(encoder, data, size, weights, nifti_folder, png_folder, tmp_path):
    src = nifti_folder if data == "nifti" else png_folder
    result = pretrain(pretrain_config(src, tmp_path / encoder, epochs=1, size=size,
                                      extra=(f"model.encoder={encoder}", f"model.weights={weights}")))
    info = json.loads((result.run_dir / "model.json").read_text())
    assert info["model"]["encoder"] == encoder and math.isfinite(result.metrics["val"]["psnr"])
    if weights == "imagenet":  # continued pretraining: the encoder starts at encoder_lr, lower than the decoder's
        assert "from imagenet weights" in info["pretraining"]["summary"]


def test_refuses_an_existing_run_without_resume(ssl3d):
    root, result = ssl3d
    with pytest.raises(ConfigError, match="--resume"):
        pretrain(pretrain_config(root / "scans", result.run_dir))


def test_resume_of_a_finished_run_does_not_train_again(ssl3d):
    root, result = ssl3d
    again = pretrain(pretrain_config(root / "scans", result.run_dir, extra=("resume=true",)))
    assert again.metrics["val"] == result.metrics["val"] and again.metrics["epochs"] == 2
