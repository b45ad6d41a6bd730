import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import Randomizable

from medtl.data import AugmentConfig, PreprocessConfig, build_transforms
from medtl.data.transforms import LoadScand
from medtl.errors import ConfigError, DataError


def _cfg(**kw):
    base = dict(spatial_dims=2, image_size=(4, 3), intensity="none", resize_mode="pad_crop")
    return PreprocessConfig(**{**base, **kw})


def _run(cfg, image, **kw):
    return build_transforms(cfg, train=False, **kw)({"image": image})["image"]


def test_ct_window_maps_hu():
    hu = np.array([[-1000.0, -160.0, 40.0], [140.0, 240.0, 3000.0], [0, 0, 0], [0, 0, 0]], np.float32)[None]
    out = _run(_cfg(intensity="ct_window", window=(400, 40)), hu)
    np.testing.assert_allclose(out[0, 0].numpy(), [0.0, 0.0, 0.5])
    np.testing.assert_allclose(out[0, 1].numpy(), [0.75, 1.0, 1.0])


def test_mr_percentile_normalisation():
    x = np.arange(100, dtype=np.float32).reshape(1, 10, 10)
    out = _run(_cfg(image_size=(10, 10), intensity="mr_percentile", percentiles=(10, 90)), x).numpy()
    lo, hi = np.percentile(x, 10), np.percentile(x, 90)
    np.testing.assert_allclose(out, np.clip((x - lo) / (hi - lo), 0, 1), atol=1e-6)


def test_uint8_minmax_and_mean_std():
    x = np.array([[0, 51, 255]], np.float32).reshape(1, 1, 3)
    out = _run(_cfg(image_size=(1, 3), intensity="uint8", mean=(0.5,), std=(0.5,)), x)
    np.testing.assert_allclose(out.numpy().ravel(), [-1.0, -0.6, 1.0], atol=1e-6)
    out = _run(_cfg(image_size=(1, 3), intensity="minmax"), x * 2 + 7)
    np.testing.assert_allclose(out.numpy().ravel(), [0.0, 0.2, 1.0], atol=1e-6)


def test_rgb_to_one_channel_by_luminance_and_rgb_stats_averaged():
    x = np.zeros((3, 2, 2), np.float32)
    x[0], x[1], x[2] = 100, 200, 50
    out = _run(_cfg(image_size=(2, 2), in_channels=1, mean=(0.1, 0.2, 0.3), std=(1.0, 1.0, 1.0)), x)
    assert out.shape == (1, 2, 2)
    np.testing.assert_allclose(out.numpy(), 0.299 * 100 + 0.587 * 200 + 0.114 * 50 - 0.2, rtol=1e-5)
    with pytest.raises(DataError):
        _run(_cfg(image_size=(2, 2), in_channels=3), np.zeros((2, 2, 2), np.float32))


def test_spacing_resample_and_resize_shapes(tmp_path):
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((10, 10, 10)).astype(np.float32), affine),
             str(tmp_path / "v.nii.gz"))
    cfg = PreprocessConfig(spatial_dims=3, image_size=(6, 6, 6), target_spacing=(2.0, 2.0, 2.0),
                           intensity="none", resize_mode="pad_crop")
    tr = build_transforms(cfg, train=False)
    from monai.transforms import Compose

    resampled = Compose(tr.transforms[:2])({"image": str(tmp_path / "v.nii.gz")})["image"]
    assert tuple(resampled.shape) == (1, 6, 6, 6)  # 9 mm extent at 2 mm (MONAI rounds up)
    np.testing.assert_allclose(np.diag(resampled.affine.numpy())[:3], [2.0, 2.0, 2.0])
    out = _run(PreprocessConfig(spatial_dims=2, image_size=16, intensity="none"), np.random.rand(1, 32, 20))
    assert tuple(out.shape) == (1, 16, 16)


def test_masks_stay_integer_through_spacing_resize_and_augmentation():
    img = np.random.default_rng(0).random((1, 24, 20)).astype(np.float32)
    mask = np.zeros((1, 24, 20), np.float32)
    mask[0, 5:12, 4:9], mask[0, 15:20, 10:16] = 1, 2
    cfg = PreprocessConfig(spatial_dims=2, image_size=(16, 16), target_spacing=(0.7, 1.3), intensity="minmax")
    aug = AugmentConfig(flip_prob=1.0, affine_prob=1.0, intensity_prob=1.0, noise_std=0.01)
    tr = build_transforms(cfg, train=True, mask_key="mask", augment=aug)
    out = tr({"image": img, "mask": mask})
    assert out["mask"].dtype == torch.int64 and out["image"].dtype == torch.float32
    assert set(torch.unique(out["mask"]).tolist()) <= {0, 1, 2}
    assert tuple(out["mask"].shape) == tuple(out["image"].shape) == (1, 16, 16)


def test_augmentation_only_when_training():
    cfg = _cfg()
    assert not any(isinstance(t, Randomizable) for t in build_transforms(cfg, train=False).transforms)
    assert any(isinstance(t, Randomizable) for t in build_transforms(cfg, train=True).transforms)
    off = build_transforms(cfg, train=True, augment=AugmentConfig(enabled=False))
    assert not any(isinstance(t, Randomizable) for t in off.transforms)


def test_canonical_orientation(tmp_path):
    affine = np.diag([-2.0, -3.0, 4.0, 1.0])
    x = np.zeros((5, 6, 7), np.float32)
    x[1, 2, 3] = 9
    nib.save(nib.Nifti1Image(x, affine), str(tmp_path / "lps.nii.gz"))
    cfg = PreprocessConfig(spatial_dims=3, image_size=(5, 6, 7), canonical=True, intensity="none",
                           resize_mode="pad_crop")
    out = _run(cfg, str(tmp_path / "lps.nii.gz"))
    assert np.all(np.diag(out.affine.numpy())[:3] > 0)
    assert np.unravel_index(int(out.argmax()), out.shape)[1:] == (3, 3, 3)


def test_load_scand_arrays_and_dims(tmp_path):
    out = LoadScand(["image"], spatial_dims=2)({"image": np.ones((1, 3, 4, 1), np.uint8)})["image"]
    assert tuple(out.shape) == (1, 3, 4) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.affine.numpy(), np.eye(4))
    with pytest.raises(DataError, match="3 spatial dimensions"):
        LoadScand(["image"], spatial_dims=2)({"image": np.ones((1, 3, 4, 5))})


def test_config_round_trip_and_validation():
    cfg = PreprocessConfig(spatial_dims=3, image_size=32, in_channels=1, intensity="ct_window", window=[400, 40],
                           target_spacing=1.5, mean=(0.5,), std=(0.25,))
    d = cfg.to_dict()
    assert d["image_size"] == [32, 32, 32] and d["target_spacing"] == [1.5, 1.5, 1.5]
    assert PreprocessConfig.from_dict(d) == cfg
    assert AugmentConfig.from_dict(AugmentConfig(flip_axes=(0,)).to_dict()).flip_axes == (0,)
    with pytest.raises(ConfigError, match="colour"):
        PreprocessConfig.from_dict({**d, "colour": 1})
    with pytest.raises(ConfigError):
        PreprocessConfig(intensity="sigmoid")
    with pytest.raises(ConfigError):
        PreprocessConfig(spatial_dims=2, image_size=(3, 3, 3))


def test_0_255_image_masks_become_binary(tmp_path):
    from PIL import Image

    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:6] = 255
    Image.fromarray(mask).save(tmp_path / "m.gif")
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "i.png")
    cfg = PreprocessConfig(spatial_dims=2, image_size=(8, 8), in_channels=3, intensity="uint8")
    out = build_transforms(cfg, train=False, mask_key="mask")({"image": str(tmp_path / "i.png"),
                                                               "mask": str(tmp_path / "m.gif")})
    assert torch.unique(out["mask"]).tolist() == [0, 1] and int(out["mask"].sum()) == 12
    np.testing.assert_allclose(out["image"].numpy(), 90 / 255, rtol=1e-5)


def test_dicom_folder_through_ct_window(tmp_path):
    from medtl.data.synthetic import write_dicom_series

    vol = np.full((6, 5, 4), 1024 + 40, np.int16)  # stored values; intercept -1024 -> 40 HU
    vol[0] = 1024 + 240  # 240 HU along the first column
    write_dicom_series(tmp_path / "ct", vol, spacing=(0.7, 0.7, 2.0))
    cfg = PreprocessConfig(spatial_dims=3, image_size=(6, 5, 4), intensity="ct_window", window=(400, 40),
                           resize_mode="pad_crop")
    out = _run(cfg, str(tmp_path / "ct"))
    assert tuple(out.shape) == (1, 6, 5, 4)
    np.testing.assert_allclose(out[0, 1:].numpy(), 0.5, atol=1e-6)
    np.testing.assert_allclose(out[0, 0].numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out.affine.numpy()[:3, :3], axis=0), (0.7, 0.7, 2.0), atol=1e-5)
