from __future__ import annotations

import numpy as np
import pytest

from medtl.review import viewer


def _volume(shape=(6, 5, 4)):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def test_axial_plane_is_the_transposed_slice():
    vol = _volume()
    p = viewer.extract_plane(vol, (0.5, 0.7, 3.0), plane="axial", index=2)
    np.testing.assert_array_equal(p.image, vol[:, :, 2].T)  # rows = axis 1, cols = axis 0
    assert (p.row_spacing, p.col_spacing) == (0.7, 0.5)


@pytest.mark.parametrize("plane, fixed, expected_shape, spacings", [
    ("coronal", 1, (4, 6), (3.0, 0.5)),
    ("sagittal", 0, (4, 5), (3.0, 0.7)),
])
def test_coronal_sagittal_planes_have_slices_down_the_rows(plane, fixed, expected_shape, spacings):
    vol = _volume()
    p = viewer.extract_plane(vol, (0.5, 0.7, 3.0), plane=plane, index=1)
    assert p.image.shape == expected_shape
    assert (p.row_spacing, p.col_spacing) == spacings
    np.testing.assert_array_equal(p.image, np.take(vol, 1, axis=fixed).T)
    # with slices pointing superior (RAS affine), the last slice is drawn at the top
    up = viewer.extract_plane(vol, (0.5, 0.7, 3.0), plane=plane, index=1, affine=np.diag([0.5, 0.7, 3.0, 1]))
    np.testing.assert_array_equal(up.image, np.take(vol, 1, axis=fixed).T[::-1])


def test_index_is_clipped_and_defaults_to_the_middle():
    vol = _volume()
    assert viewer.n_slices(vol.shape, "axial") == 4 and viewer.n_slices(vol.shape, "sagittal") == 6
    np.testing.assert_array_equal(viewer.extract_plane(vol, (1, 1, 1)).image, vol[:, :, 2].T)
    np.testing.assert_array_equal(viewer.extract_plane(vol, (1, 1, 1), index=99).image, vol[:, :, 3].T)


def test_2d_and_rgb_images_are_transposed_to_rows_by_cols():
    img = np.zeros((8, 5), np.float32)
    img[7, 0] = 1  # last column, first row
    p = viewer.extract_plane(img, (0.2, 0.4))
    assert p.image.shape == (5, 8) and p.image[0, 7] == 1 and (p.row_spacing, p.col_spacing) == (0.4, 0.2)
    rgb = np.zeros((8, 5, 3), np.float32)
    assert viewer.extract_plane(rgb, (1.0, 1.0), rgb=True).image.shape == (5, 8, 3)


def test_anisotropic_slice_is_resampled_to_physical_proportions():
    # 48 x 40 x 12 voxels of 0.8 x 0.8 x 2.5 mm: a coronal slice is 30 mm tall and 38.4 mm wide
    vol = np.zeros((48, 40, 12), np.float32)
    mask = np.zeros(vol.shape, np.uint8)
    mask[10:20, :, 3:6] = 2
    p = viewer.extract_plane(vol, (0.8, 0.8, 2.5), plane="coronal", index=20, mask=mask)
    sq = viewer.to_square_pixels(p)
    assert sq.image.shape == (38, 48)  # 12 * 2.5 / 0.8 = 37.5 rows, 48 cols
    assert sq.row_spacing == pytest.approx(sq.col_spacing, rel=0.02)
    assert set(np.unique(sq.mask)) == {0, 2}  # nearest neighbour keeps labels
    assert sq.image.shape[0] / sq.image.shape[1] == pytest.approx(30.0 / 38.4, rel=0.03)


def test_square_pixel_shape_respects_max_side():
    assert viewer.square_pixel_shape(100, 400, 3.0, 1.0, max_side=300) == (225, 300)
    assert viewer.square_pixel_shape(10, 10, 1.0, 1.0) == (10, 10)


def test_window_level_maps_hu_to_grey():
    hu = np.array([[-1000.0, -160.0, 40.0, 240.0, 3000.0]])
    out = viewer.apply_window(hu, *viewer.window_bounds(400, 40))
    assert out.shape == (1, 5, 3) and out.dtype == np.uint8
    assert list(out[0, :, 0]) == [0, 0, 128, 255, 255]


def test_percentile_bounds_ignore_outliers():
    values = np.concatenate([np.linspace(0, 100, 1000), [1e6]])
    lo, hi = viewer.percentile_bounds(values, 1, 99)
    assert 0 <= lo < 2 and 98 < hi < 101
    assert viewer.percentile_bounds(np.full(10, 5.0), 1, 99) == (5.0, 6.0)  # flat image: no zero width


def test_mask_fill_and_outline():
    rgb = np.zeros((9, 9, 3), np.uint8)
    mask = np.zeros((9, 9), np.uint8)
    mask[2:7, 2:7] = 1
    fill = viewer.overlay_mask(rgb, mask, opacity=0.5, colors=((200, 0, 0),))
    assert (fill[mask > 0, 0] == 100).all() and (fill[mask == 0] == 0).all()
    outline = viewer.overlay_mask(rgb, mask, opacity=1.0, mode="outline", colors=((200, 0, 0),))
    assert outline[2, 4, 0] == 200 and outline[4, 4, 0] == 0 and outline[0, 0, 0] == 0
    with pytest.raises(ValueError):
        viewer.overlay_mask(rgb, mask, mode="glow")


def test_cam_blend_leaves_zero_attention_untouched():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0
    out = viewer.blend_cam(rgb, cam, opacity=0.5)
    assert (out[1:, :] == 100).all() and not (out[0, 0] == 100).all()


def test_render_gives_uint8_rgb_with_overlays():
    vol = np.full((32, 32, 8), 40.0, np.float32)
    mask = np.zeros(vol.shape, np.uint8)
    mask[10:20, 10:20, :] = 1
    cam = np.zeros(vol.shape, np.float32)
    p = viewer.extract_plane(vol, (1.0, 1.0, 4.0), plane="sagittal", index=15, mask=mask, cam=cam)
    plain = viewer.render(p, (-160, 240))
    shown = viewer.render(p, (-160, 240), show_mask=True, show_cam=True)
    assert plain.dtype == np.uint8 and plain.shape == (32, 32, 3)
    assert (plain != shown).any()


def test_small_previews_are_enlarged_to_min_side():
    assert viewer.square_pixel_shape(48, 38, 0.8, 0.8, min_side=384) == (384, 304)
    assert viewer.square_pixel_shape(12, 48, 2.5, 0.8, max_side=512, min_side=384) == (300, 384)
