import json

import numpy as np
import pytest

from medtl.data.medmnist import load_medmnist
from medtl.errors import DataError


def _npz(path, images: dict, labels: dict):
    np.savez_compressed(path, **{f"{s}_images": v for s, v in images.items()}, **{f"{s}_labels": v for s, v in labels.items()})
    return path


def _split_arrays(shape, n=(5, 2, 3), k=2, seed=0):
    rng = np.random.default_rng(seed)
    images = {s: rng.integers(0, 255, (c, *shape), dtype=np.uint8) for s, c in zip(("train", "val", "test"), n)}
    labels = {s: (np.arange(c) % k).reshape(-1, 1).astype(np.uint8) for s, c in zip(("train", "val", "test"), n)}
    return images, labels


def test_2d_grey_keeps_splits_and_axis_order(tmp_path):
    images, labels = _split_arrays((6, 4))  # H=6, W=4
    m = load_medmnist(_npz(tmp_path / "toy.npz", images, labels))
    assert {s: len(r) for s, r in m.records.items()} == {"train": 5, "val": 2, "test": 3}
    rec = m.records["val"][1]
    assert rec["image"].shape == (1, 4, 6) and rec["image"].dtype == np.uint8
    np.testing.assert_array_equal(rec["image"][0], images["val"][1].T)
    assert rec["label"] == 1 and rec["id"] == "val_00001"
    assert (m.spatial_dims, m.in_channels, m.multilabel) == (2, 1, False)
    assert m.label_names == ["0", "1"] and m.modality is None


def test_rgb_and_3d(tmp_path):
    images, labels = _split_arrays((6, 4, 3), k=3)
    m = load_medmnist(_npz(tmp_path / "rgb.npz", images, labels))
    assert m.in_channels == 3 and m.records["train"][0]["image"].shape == (3, 4, 6)
    np.testing.assert_array_equal(m.records["train"][2]["image"][1], images["train"][2][..., 1].T)
    assert m.label_names == ["0", "1", "2"]
    images, labels = _split_arrays((3, 5, 7))  # D, H, W
    m = load_medmnist(_npz(tmp_path / "vol.npz", images, labels))
    assert m.spatial_dims == 3 and m.records["test"][0]["image"].shape == (1, 7, 5, 3)
    np.testing.assert_array_equal(m.records["test"][0]["image"][0], images["test"][0].transpose(2, 1, 0))


def test_known_info_sidecar_and_multilabel(tmp_path):
    images, labels = _split_arrays((4, 4))
    m = load_medmnist(_npz(tmp_path / "breastmnist_224.npz", images, labels))
    assert m.label_names == ["malignant", "normal, benign"] and m.modality == "US"
    path = _npz(tmp_path / "mine.npz", images, labels)
    (tmp_path / "mine.json").write_text(json.dumps({"label": {"1": "sick", "0": "well"}}))
    assert load_medmnist(path).label_names == ["well", "sick"]
    multi = {s: np.eye(3, dtype=np.uint8)[np.arange(len(v)) % 3] for s, v in images.items()}
    m = load_medmnist(_npz(tmp_path / "ml.npz", images, multi))
    assert m.multilabel and m.records["train"][1]["label"] == [0, 1, 0] and len(m.label_names) == 3


def test_errors(tmp_path):
    images, labels = _split_arrays((4, 4))
    del labels["test"]
    with pytest.raises(DataError, match="test_labels"):
        load_medmnist(_npz(tmp_path / "partial.npz", images, labels))
    (tmp_path / "junk.npz").write_bytes(b"PK junk")
    with pytest.raises(DataError) as err:
        load_medmnist(tmp_path / "junk.npz")
    assert "junk.npz" in str(err.value)
