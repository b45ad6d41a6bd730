from __future__ import annotations

import numpy as np
import torch

from medtl.infer.geometry import make_preview, mask_to_preview, preview_shape, probabilities_to_mask


def _world(affine, idx):
    return (np.asarray(affine) @ np.append(np.asarray(idx, float), 1.0))[:3]


def test_preview_is_bounded_and_geometrically_consistent():
    affine = np.diag([0.5, 0.6, 1.25, 1.0])
    affine[:3, 3] = (3, -4, 7)
    array = np.ones((1, 512, 256, 80), np.float32)
    image, spacing, p_aff = make_preview(array, affine, False)
    assert image.shape == preview_shape((512, 256, 80)) == (256, 128, 64)
    assert np.allclose(spacing, np.linalg.norm(p_aff[:3, :3], axis=0))
    # The preview spans the same physical box: edges of first/last voxels coincide.
    lo_in = _world(affine, (-0.5, -0.5, -0.5))
    lo_pv = _world(p_aff, (-0.5, -0.5, -0.5))
    hi_in = _world(affine, (511.5, 255.5, 79.5))
    hi_pv = _world(p_aff, (255.5, 127.5, 63.5))
    assert np.allclose(lo_in, lo_pv, atol=1e-6) and np.allclose(hi_in, hi_pv, atol=1e-6)


def test_rgb_preview_is_channel_last():
    image, spacing, _ = make_preview(np.zeros((3, 20, 10), np.float32), np.eye(4), True)
    assert image.shape == (20, 10, 3) and len(spacing) == 2


def test_inverting_preprocessing_recovers_the_input_grid():
    """An anisotropic, rotated NIfTI-like scan goes through the real preprocessing (spacing
    resample + resize); a prediction made on that grid comes back onto the input's voxels."""
    from medtl.data import PreprocessConfig, build_transforms
    from medtl.data.scan import Scan

    rng = np.random.default_rng(1)
    shape = (41, 33, 13)
    idx = np.indices(shape).astype(float)
    spacing = np.array([0.7, 0.9, 3.0])
    centre = np.array([20, 15, 6])
    dist = np.sqrt(sum(((idx[a] - centre[a]) * spacing[a]) ** 2 for a in range(3)))
    truth = (dist < 9).astype(np.uint8)
    affine = np.array([[0, -0.9, 0, 10], [0.7, 0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1.0]])
    image = (truth * 200 + rng.normal(0, 5, shape)).astype(np.float32)
    scan = Scan(image[None], affine, tuple(spacing), "nifti", "x.nii.gz")
    cfg = PreprocessConfig(spatial_dims=3, image_size=(32, 32, 24), intensity="minmax", target_spacing=(1.0, 1.0, 1.0))
    x = build_transforms(cfg, train=False)({"image": scan})["image"]
    fg = (x[0] > 0.5).float()
    probs = torch.stack([1 - fg, fg])
    mask = probabilities_to_mask(probs, x.affine, affine, shape)
    assert mask.shape == shape
    dice = 2 * (mask & truth).sum() / (mask.sum() + truth.sum())
    assert dice > 0.9
    _, _, p_aff = make_preview(image[None], affine, False)
    assert np.array_equal(mask_to_preview(mask, affine, p_aff, shape)[0], mask)
    extra = torch.rand(shape)  # another map rides along in the same call, resampled the same way
    both, moved = mask_to_preview(mask, affine, p_aff, shape, extra=extra)
    assert np.array_equal(both, mask) and np.allclose(moved, extra.numpy())


def test_batched_cam_previews_equal_one_call_per_map():
    from medtl.infer.geometry import cam_to_preview, cams_to_previews

    g = torch.Generator().manual_seed(0)
    cams = [torch.rand(16, 12, generator=g) for _ in range(4)]
    src = np.diag([2.5, 3.0, 1.0, 1.0])
    src[:2, 3] = 0.75
    other = src.copy()
    other[0, 3] = 2.0
    src_affines = [src, src, other, src]
    dst_affines = [np.eye(4)] * 4
    shapes = [(40, 36), (40, 36), (40, 36), (20, 18)]
    batched = cams_to_previews(cams, src_affines, dst_affines, shapes)
    for cam, s, d, shape, got in zip(cams, src_affines, dst_affines, shapes, batched):
        want = cam_to_preview(cam, s, d, shape)
        assert got.shape == shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
