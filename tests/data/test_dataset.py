import nibabel as nib
import numpy as np
import pytest
import torch

from medtl.data import AugmentConfig, PreprocessConfig, build_transforms, make_dataset
from medtl.data.nifti import read_nifti
from medtl.errors import ConfigError, ScanReadError


class CountingReader:
    def __init__(self):
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        return read_nifti(path)


@pytest.fixture
def records(tmp_path):
    recs = []
    for i in range(4):
        data = np.random.default_rng(i).random((12, 10, 8)).astype(np.float32)
        nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / f"v{i}.nii.gz"))
        recs.append({"id": f"v{i}", "image": str(tmp_path / f"v{i}.nii.gz"), "label": i % 2})
    return recs


def _transforms(reader, train=True):
    cfg = PreprocessConfig(spatial_dims=3, image_size=(8, 8, 8), intensity="minmax")
    return build_transforms(cfg, train=train, augment=AugmentConfig(flip_prob=0.5), reader=reader)


def _two_epochs(ds):
    return [[ds[i]["image"].clone() for i in range(len(ds))] for _ in range(2)]


def test_memory_cache_decodes_each_item_once(records):
    reader = CountingReader()
    ds = make_dataset(records, _transforms(reader), cache="memory")
    epochs = _two_epochs(ds)
    assert reader.calls == len(records)
    assert epochs[0][0].shape == (1, 8, 8, 8)
    # augmentation still runs after the cache: flips differ between passes for some item
    torch.manual_seed(0)
    outs = [ds[0]["image"] for _ in range(12)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_disk_cache_decodes_once_across_epochs_and_runs(records, tmp_path):
    reader = CountingReader()
    ds = make_dataset(records, _transforms(reader), cache="disk", cache_dir=tmp_path / "cache")
    _two_epochs(ds)
    assert reader.calls == len(records)
    again = make_dataset(records, _transforms(reader), cache="disk", cache_dir=tmp_path / "cache")
    _two_epochs(again)
    assert reader.calls == len(records)  # a second run reuses the disk cache
    other = PreprocessConfig(spatial_dims=3, image_size=(6, 6, 6), intensity="minmax")
    changed = make_dataset(records, build_transforms(other, train=False, reader=reader), cache="disk",
                           cache_dir=tmp_path / "cache")
    assert changed[0]["image"].shape == (1, 6, 6, 6)  # a new spec never reads a stale cache
    assert reader.calls == len(records) + 1


def test_no_cache_decodes_every_time(records):
    reader = CountingReader()
    ds = make_dataset(records, _transforms(reader, train=False), cache="none")
    _two_epochs(ds)
    assert reader.calls == 2 * len(records)


def test_dataloader_batches_and_labels(records):
    ds = make_dataset(records, _transforms(None, train=False), cache="memory")
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 1, 8, 8, 8) and batch["label"].tolist() == [0, 1, 0, 1]


def test_typed_errors_surface(records, tmp_path):
    (tmp_path / "bad.nii.gz").write_bytes(b"garbage")
    bad = [*records, {"id": "bad", "image": str(tmp_path / "bad.nii.gz"), "label": 0}]
    with pytest.raises(ScanReadError) as err:
        make_dataset(bad, _transforms(None, train=False), cache="memory")
    assert err.value.code == "unreadable_nifti" and "bad.nii.gz" in str(err.value)
    ds = make_dataset(bad, _transforms(None, train=False), cache="none")
    with pytest.raises(ScanReadError):
        ds[4]


def test_bad_cache_options(records):
    with pytest.raises(ConfigError):
        make_dataset(records, _transforms(None), cache="ram")
    with pytest.raises(ConfigError, match="cache_dir"):
        make_dataset(records, _transforms(None), cache="disk")
