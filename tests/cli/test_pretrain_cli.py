"""`medtl pretrain` through the console entry point: output, help, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.cli.main import main


@pytest.fixture
def png_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "png"
    root.mkdir()
    for i in range(8):
        Image.fromarray(np.clip(rng.normal(100, 30, (32, 32)), 0, 255).astype(np.uint8)).save(root / f"{i}.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def test_pretrain_prints_a_summary_and_logs_skipped_scans(png_folder, tmp_path, capsys):
    code = main(["pretrain", "--data", str(png_folder), "--encoder", "tiny", "--method", "mim", "--epochs", "1",
                 "--image-size", "32", "--out", str(tmp_path / "run"), "--set", "ssl.val_fraction=0.25"])
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["run_dir"] == str(tmp_path / "run") and summary["val"]["psnr"] > 0
    assert "skipped broken.png: unreadable_image" in captured.err
    data = json.loads((tmp_path / "run" / "data.json").read_text())
    assert data["used"] == 8 and data["skipped"][0]["code"] == "unreadable_image"


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "medtl pretrain --data" in text and "--weights runs/ssl_mr" in text and "--exclude" in text


@pytest.mark.parametrize("args, code, message", [
    (["--data", "/no/such/folder"], 1, "/no/such/folder: no such file or folder"),
    (["--set", "ssl.nope=1"], 2, "unknown config key 'ssl.nope'"),
    (["--set", "ssl.mask_ratio=1.5"], 2, "ssl.mask_ratio must be in (0, 1)"),
])
def test_errors_are_one_line(png_folder, tmp_path, capsys, args, code, message):
    base = ["pretrain", "--data", str(png_folder), "--encoder", "tiny", "--out", str(tmp_path / "r")]
    assert main(base + args) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
