"""``medtl weights``: listing, file status and the missing-file message (no network)."""

from __future__ import annotations

import json

import pytest
import torch

from medtl.cli.main import main


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDTL_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def test_listing_json(capsys, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    torch.save({"x": torch.zeros(1)}, folder / "resnet34-b627a593.pth")
    assert main(["weights", "resnet*", "--weights-dir", str(folder), "--json"]) == 0
    rows = {r["encoder"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == ["resnet10", "resnet18", "resnet34", "resnet50"]
    assert rows["resnet34"]["sources"]["imagenet"] == {
        "files": ["resnet34-b627a593.pth"], "url": "https://download.pytorch.org/models/resnet34-b627a593.pth",
        "licence": "BSD-3-Clause (torchvision)", "spatial_dims": [2, 3], "status": "found",
        "path": str(folder / "resnet34-b627a593.pth")}
    assert rows["resnet18"]["sources"]["imagenet"]["status"] == "missing"
    assert rows["resnet10"]["sources"]["medicalnet"]["spatial_dims"] == [3]
    assert "imagenet" not in rows["resnet10"]["sources"]


def test_listing_table(capsys):
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "efficientnet-lite0" in out
    assert "get densenet121-a639ec97.pth from https://download.pytorch.org/models/densenet121-a639ec97.pth" in out


def test_check_missing_file_message(capsys, tmp_path):
    assert main(["weights", "--check", "resnet50", "--source", "medicalnet", "--weights-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[weights_missing]" in err
    assert "resnet_50_23dataset.pth or resnet_50.pth" in err
    assert "huggingface.co/TencentMedicalNet/MedicalNet-Resnet50" in err
    assert str(tmp_path) in err and "MEDTL_WEIGHTS_DIR" in err and "torch_home" in err


def test_check_found_and_unknown(capsys, tmp_path):
    torch.save({}, tmp_path / "resnet_10.pth")
    assert main(["weights", "--check", "resnet10", "--source", "medicalnet", "--weights-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "resnet_10.pth")
    assert main(["weights", "--check", "tiny", "--source", "imagenet"]) == 2
    assert "no 'imagenet' weights" in capsys.readouterr().err
