"""Unlabelled sources: folders, manifests, npz; exclusion before reading; coded skips."""

from __future__ import annotations

import numpy as np
import pytest

from medtl.errors import DataError
from medtl.pretrain.data import held_out_images, load_unlabelled

from .conftest import write_manifest, write_nifti


def test_folder_skips_unreadable_and_odd_scans_with_codes(nifti_folder):
    (nifti_folder / "broken.nii.gz").write_bytes(b"\x1f\x8b not really a nifti")
    write_nifti(nifti_folder / "flat.nii.gz", np.zeros((16, 16, 1, 3), np.float32))  # 2D with 3 channels
    (nifti_folder / "notes.txt").write_text("not a scan")
    logged = []
    src = load_unlabelled(nifti_folder, val_fraction=0.2, log=logged.append)
    assert src.spatial_dims == 3 and src.in_channels == 1 and src.n_used == 10
    assert src.counts() == {"train": 8, "val": 2}
    codes = {s["id"]: s["code"] for s in src.skipped}
    assert codes == {"broken.nii.gz": "unreadable_nifti", "flat.nii.gz": "other_geometry"}
    assert any("broken.nii.gz" in line and "unreadable_nifti" in line for line in logged)
    ids = {r["id"] for split in src.records.values() for r in split}
    assert "sub/vol09.nii.gz" in ids and not ({"broken.nii.gz", "notes.txt"} & ids)


def test_split_is_seeded_and_disjoint(nifti_folder):
    a = load_unlabelled(nifti_folder, val_fraction=0.3, seed=1, log=lambda _: None)
    b = load_unlabelled(nifti_folder, val_fraction=0.3, seed=1, log=lambda _: None)
    c = load_unlabelled(nifti_folder, val_fraction=0.3, seed=2, log=lambda _: None)
    ids = lambda s, k: [r["id"] for r in s.records[k]]  # noqa: E731
    assert ids(a, "val") == ids(b, "val") and ids(a, "val") != ids(c, "val")
    assert not set(ids(a, "val")) & set(ids(a, "train"))
    assert a.fingerprint == c.fingerprint  # the same scans


def test_exclude_leaves_out_val_and_test_images_without_reading_them(nifti_folder, tmp_path, monkeypatch):
    vols = sorted(nifti_folder.rglob("*.nii.gz"))
    rows = [{"image": str(v), "label": str(i % 2), "split": s}
            for i, (v, s) in enumerate(zip(vols, ["train"] * 6 + ["val"] * 2 + ["test"] * 2))]
    manifest = write_manifest(tmp_path / "train.csv", rows)
    held = {r["image"] for r in rows if r["split"] != "train"}
    assert held_out_images(manifest) == {str(p.resolve()) for p in map(type(vols[0]), held)}
    import medtl.data.read as read_mod

    real, opened = read_mod.read_scan, []

    def spy(path, *a, **k):
        opened.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(read_mod, "read_scan", spy)
    src = load_unlabelled(nifti_folder, exclude=manifest, val_fraction=0.2, log=lambda _: None)
    assert src.excluded == 4 and src.n_used == 6 and src.n_found == 10
    assert opened and not (set(opened) & held)  # a held-out image is never even opened
    used = {str((nifti_folder / r["id"]).resolve()) for split in src.records.values() for r in split}
    assert not used & {str(type(vols[0])(h).resolve()) for h in held}


def test_manifest_ignores_labels_and_its_own_val_test_rows(nifti_folder, tmp_path):
    vols = sorted(nifti_folder.rglob("*.nii.gz"))
    rows = [{"Image": str(v.relative_to(tmp_path)), "mask": "", "label": "x", "split": "test" if i < 3 else ""}
            for i, v in enumerate(vols)]
    src = load_unlabelled(write_manifest(tmp_path / "m.csv", rows), val_fraction=0.2, log=lambda _: None)
    assert src.n_used == 7 and src.excluded == 3 and not src.skipped


def test_npz_uses_train_images_only(npz_unlabelled):
    src = load_unlabelled(npz_unlabelled, val_fraction=0.25)
    assert src.n_used == 16 and src.excluded == 8 and src.spatial_dims == 2
    assert all(r["id"].startswith("train_") for split in src.records.values() for r in split)


def test_png_folder_is_2d(png_folder):
    src = load_unlabelled(png_folder, log=lambda _: None)
    assert src.spatial_dims == 2 and src.n_used == 12 and src.in_channels == 1


def test_dicom_series_folder(tmp_path):
    from medtl.data.synthetic import write_dicom_series

    for i in range(3):
        vol = (np.random.default_rng(i).normal(0, 50, (16, 16, 6))).astype(np.int16)
        write_dicom_series(tmp_path / "dicom" / f"s{i}", vol, series_uid=f"1.2.826.0.1.3680043.10.1{i}", seed=i)
    src = load_unlabelled(tmp_path / "dicom", val_fraction=0.3, log=lambda _: None)
    assert src.n_used == 3 and src.spatial_dims == 3 and src.modality == "CT"


@pytest.mark.parametrize("setup, message", [
    ("missing", "no such file"),
    ("empty", "need at least 2 readable"),
])
def test_bad_sources_raise_clear_errors(tmp_path, setup, message):
    path = tmp_path / "nothing"
    if setup == "empty":
        path.mkdir()
        (path / "a.txt").write_text("x")
    with pytest.raises(DataError, match=message) as err:
        load_unlabelled(path, log=lambda _: None)
    assert str(path) in str(err.value)


def test_max_scans_samples_before_reading_files(nifti_folder, npz_unlabelled, monkeypatch):
    import medtl.data.read as read_mod

    real, opened = read_mod.read_scan, []
    monkeypatch.setattr(read_mod, "read_scan", lambda p, *a, **k: opened.append(p) or real(p, *a, **k))
    src = load_unlabelled(nifti_folder, max_scans=4, val_fraction=0.25, log=lambda _: None)
    assert src.n_used == 4 and len(opened) == 4  # the other six were never read
    again = load_unlabelled(nifti_folder, max_scans=4, val_fraction=0.25, log=lambda _: None)
    assert again.fingerprint == src.fingerprint  # the same seeded sample
    npz = load_unlabelled(npz_unlabelled, max_scans=5, val_fraction=0.2)
    assert npz.n_used == 5 and npz.excluded == 8
