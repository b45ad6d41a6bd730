from __future__ import annotations

import csv

import numpy as np
import pytest

from medtl.cli.main import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from medtl.data import PreprocessConfig
    from medtl.models import ModelConfig, build_model, save_model_dir

    cfg = ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2, in_channels=1,
                      num_classes=2)
    path = tmp_path_factory.mktemp("cli_model") / "run"
    save_model_dir(path, build_model(cfg).eval(), model_cfg=cfg, label_names=["absent", "present"],
                   preprocess=PreprocessConfig(spatial_dims=2, image_size=(32, 32), intensity="minmax"))
    return path


def _write_pngs(folder, n):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((24, 20), 40 * i, np.uint8)).save(folder / f"img_{i:03d}.png")


def _score(model, inputs, out, *extra):
    return main(["score", "--model", str(model), "--input", *map(str, inputs), "--output", str(out),
                 "--workers", "0", "--quiet", *extra])


def test_exit_0_when_all_cases_succeed(model, tmp_path, capsys):
    _write_pngs(tmp_path / "in", 3)
    assert _score(model, [tmp_path / "in"], tmp_path / "out", "--format", "csv", "--tta") == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert len(rows) == 3 and "tta_disagreement" in rows[0]
    assert "scored 3 cases (3 ok, 0 failed" in capsys.readouterr().err


def test_exit_1_when_some_case_fails(model, tmp_path):
    _write_pngs(tmp_path / "in", 2)
    (tmp_path / "in" / "notes.txt").write_text("hello")
    assert _score(model, [tmp_path / "in"], tmp_path / "out") == 1
    assert "notes" in (tmp_path / "out" / "errors.jsonl").read_text()


def test_exit_2_on_usage_errors(model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert _score(model, [tmp_path / "empty"], tmp_path / "out") == 2
    assert "no scans found" in capsys.readouterr().err
    assert _score(model, [tmp_path / "missing"], tmp_path / "out") == 2
    assert _score(tmp_path / "no_model", [tmp_path / "empty"], tmp_path / "out") == 2
    assert _score(model, [tmp_path / "empty"], tmp_path / "out", "--format", "pdf") == 2
    assert main(["score", "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--format" in err


def test_tta_axes_usage_errors(model, tmp_path, capsys):
    _write_pngs(tmp_path / "in", 1)
    assert _score(model, [tmp_path / "in"], tmp_path / "out", "--tta", "--tta-axes", "0", "5") == 2
    err = capsys.readouterr().err
    assert "5 is not a spatial axis of a 2D model" in err and "Traceback" not in err
    assert _score(model, [tmp_path / "in"], tmp_path / "out", "--tta-axes", "0") == 2
    assert "--tta-axes needs --tta" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_parts_and_merge_command(model, tmp_path, capsys):
    _write_pngs(tmp_path / "in", 4)
    out = tmp_path / "out"
    assert _score(model, [tmp_path / "in"], out, "--num-parts", "2", "--part-id", "0") == 0
    assert main(["score", "--merge", str(out)]) == 1  # part 1 not done: error, one line
    assert "not finished" in capsys.readouterr().err
    assert _score(model, [tmp_path / "in"], out, "--num-parts", "2", "--part-id", "1") == 0
    assert main(["score", "--merge", str(out)]) == 0
    assert len(list(csv.DictReader(open(out / "predictions.csv")))) == 4
    assert _score(model, [tmp_path / "in"], out, "--num-parts", "2", "--part-id", "5") == 2
