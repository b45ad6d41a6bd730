"""A training manifest naming DICOMweb series: retrieved once into the data cache, then read locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from medtl.data import read_scan
from medtl.data.manifest import read_manifest
from medtl.errors import DataError


def _series_url(orthanc, study, uid: str) -> str:
    return f"{orthanc.dicomweb_url}?StudyInstanceUID={study['study_uid']}&SeriesInstanceUID={uid}"


def test_manifest_series_fetched_once_into_the_cache(pacs_env, study, tmp_path, monkeypatch):
    from medtl.pacs import cache

    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    uids = sorted(study["series"])
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,label\n" + "".join(f"{_series_url(pacs_env, study, u)},{i % 2}\n"
                                                  for i, u in enumerate(uids)))
    calls = []
    real = cache.retrieve_series
    monkeypatch.setattr(cache, "retrieve_series", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    rows = read_manifest(manifest, task="classification")
    assert len(calls) == len(uids)
    for row, uid in zip(rows, uids):
        scan = read_scan(row.image)
        local = read_scan(next((study["root"] / m.lower() / uid) for m in ("ct", "mr")
                               if (study["root"] / m.lower() / uid).is_dir()))
        assert (scan.array == local.array).all() and row.image.endswith(uid)
    assert read_manifest(manifest, task="classification")[0].image == rows[0].image
    assert len(calls) == len(uids)  # the second read used the cache
    folder = next((tmp_path / "cache").iterdir())
    assert folder.stat().st_mode & 0o077 == 0  # the cache folders are private


def test_manifest_dicomweb_errors_name_the_line(pacs_env, study, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,label\n{pacs_env.dicomweb_url}?Modality=CT,0\n")
    with pytest.raises(DataError) as info:
        read_manifest(manifest, task="classification")
    assert "line 2" in str(info.value) and "names one series" in str(info.value)
    manifest.write_text(f"image,label\n{_series_url(pacs_env, study, '1.2.3.999')},0\n")
    with pytest.raises(DataError) as info:
        read_manifest(manifest, task="classification")
    assert "line 2" in str(info.value) and "dicomweb_http" in str(info.value)
    assert list((tmp_path / "cache").rglob("*.dcm")) == []


def test_train_from_a_manifest_of_dicomweb_series(pacs_env, study, tmp_path, monkeypatch):
    from medtl.train import train
    from tests.train.helpers import tiny_config

    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    uids = sorted(study["series"])
    splits = ["train", "train", "val", "test"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,label,split\n" + "".join(
        f"{_series_url(pacs_env, study, u)},{['no', 'yes'][i % 2]},{s}\n" for i, (u, s) in enumerate(zip(uids, splits))))
    cfg = tiny_config(manifest, tmp_path / "run", size=16, epochs=1,
                      extra=("batch_size=2",))
    result = train(cfg)
    from medtl.models.io import read_model_info

    info = read_model_info(result.run_dir)
    assert info["preprocess"]["spatial_dims"] == 3 and info["label_names"] == ["no", "yes"]


def test_series_uid_alone_is_looked_up(pacs_env, study, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    uid = sorted(study["series"])[0]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,label\n{pacs_env.dicomweb_url}?SeriesInstanceUID={uid},0\n")
    (row,) = read_manifest(manifest, task="classification")
    assert row.image.endswith(uid) and len(list((tmp_path / "cache").rglob("*.dcm"))) > 0
    manifest.write_text(f"image,label\n{pacs_env.dicomweb_url}?SeriesInstanceUID=1.2.3.999,0\n")
    with pytest.raises(DataError) as info:
        read_manifest(manifest, task="classification")
    assert "line 2" in str(info.value) and "dicomweb_not_found" in str(info.value)


def test_scored_from_pacs_reviewed_exported_and_read_back(pacs_env, study, tmp_path, monkeypatch):
    """The loop: score a query, accept the results in review, export the manifest: its images are the
    series' DICOMweb URLs, which a training run reads through the cache."""
    from medtl.infer.score import score
    from medtl.review.actions import decide
    from medtl.review.export import export_manifest
    from medtl.review.scores import load_scores
    from medtl.review.store import DecisionStore
    from tests.infer import helpers

    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    model = helpers.make_model_dir(tmp_path / "cls", spatial_dims=3, image_size=(32, 32, 16), intensity="ct_window")
    score(model, [f"{pacs_env.dicomweb_url}?Modality=CT"], tmp_path / "out", workers=0, quiet=True)
    run = load_scores(tmp_path / "out")
    store = DecisionStore(tmp_path / "r.sqlite")
    for case_id in run.cases:
        decide(store, run, case_id, reviewer="Dr A", action="accept")
    assert export_manifest(tmp_path / "r.sqlite", tmp_path / "out", tmp_path / "reviewed.csv") == 3
    rows = read_manifest(tmp_path / "reviewed.csv", task="classification")
    ct = sorted(uid for uid, m in study["series"].items() if m == "CT")
    assert sorted(r.image_text for r in rows) == [f"{pacs_env.dicomweb_url}?SeriesInstanceUID={u}" for u in ct]
    assert sorted(r.image.rsplit("/", 1)[1] for r in rows) == ct


def test_labels_keyed_by_uid_joined_to_the_server(pacs_env, study, tmp_path, monkeypatch):
    """A labels CSV keyed by SeriesInstanceUID (or StudyInstanceUID) and a sidecar naming the server:
    each identifier is looked up with QIDO-RS, its series cached once; unknown identifiers are listed."""
    import json

    from medtl.data import load_source
    from medtl.data.layouts import infer_layout

    monkeypatch.setenv("MEDTL_DATA_CACHE", str(tmp_path / "cache"))
    uids = sorted(study["series"])
    labels = tmp_path / "labels.csv"
    labels.write_text("SeriesInstanceUID,label\n" + "".join(f"{u},{'yes' if i % 2 else 'no'}\n"
                                                            for i, u in enumerate(uids[:3])) + "1.2.3.999,no\n")
    (tmp_path / "labels.json").write_text(json.dumps({"dicomweb": pacs_env.dicomweb_url}))
    layout = infer_layout(labels)
    assert [Path(r.image).name for r in layout.rows] == uids[:3] and layout.task == "classification"
    assert any("1.2.3.999" in s for s in layout.left_out) and "1 CSV row without a series" in layout.summary
    source = load_source(labels, task="classification", seed=0)
    assert sum(source.counts().values()) == 3 and source.label_names == ["no", "yes"]
    labels.write_text(f"StudyInstanceUID,label\n{study['study_uid']},yes\n")  # a study labels its series
    assert len(infer_layout(labels).rows) == 4
