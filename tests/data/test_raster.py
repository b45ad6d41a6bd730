import numpy as np
import pytest
from PIL import Image

from medtl.data.raster import raster_header_info, read_raster
from medtl.errors import ScanReadError


def test_png_grey_orientation(tmp_path):
    pixels = np.zeros((4, 6), np.uint8)  # 4 rows (H) x 6 columns (W)
    pixels[1, 4] = 200  # row 1, column 4
    Image.fromarray(pixels).save(tmp_path / "g.png")
    scan = read_raster(tmp_path / "g.png")
    assert scan.array.shape == (1, 6, 4)  # (C, W, H)
    assert scan.array[0, 4, 1] == 200 and scan.array.sum() == 200
    assert scan.array.dtype == np.float32 and scan.spacing == (1.0, 1.0)
    np.testing.assert_array_equal(scan.affine, np.eye(4))


def test_png_rgb_and_rgba_channels(tmp_path):
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[2, 1] = (10, 20, 30)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(np.dstack([rgb, np.full((3, 5), 128, np.uint8)])).save(tmp_path / "a.png")
    for name in ("c.png", "a.png"):
        scan = read_raster(tmp_path / name)
        assert scan.array.shape == (3, 5, 3)
        assert list(scan.array[:, 1, 2]) == [10, 20, 30]
        assert raster_header_info(tmp_path / name) == (2, 3)


def test_tiff_16bit_and_rgb(tmp_path):
    grey = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.tif")
    scan = read_raster(tmp_path / "g16.tif")
    assert scan.array.shape == (1, 5, 4)
    np.testing.assert_array_equal(scan.array[0], grey.T.astype(np.float32))
    assert scan.array.max() == 57000
    rgb = np.random.default_rng(0).integers(0, 255, (6, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.tiff")
    np.testing.assert_array_equal(read_raster(tmp_path / "rgb.tiff").array, rgb.transpose(2, 1, 0))


def test_grey_palette_gif_is_one_channel(tmp_path):
    mask = np.zeros((8, 9), np.uint8)
    mask[2:5, 3:7] = 255
    Image.fromarray(mask).convert("P").save(tmp_path / "m.gif")
    scan = read_raster(tmp_path / "m.gif")
    assert scan.array.shape == (1, 9, 8)
    np.testing.assert_array_equal(scan.array[0], mask.T)


def test_errors(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ScanReadError) as err:
        read_raster(tmp_path / "x.png")
    assert err.value.code == "unreadable_image" and "x.png" in str(err.value)
    with pytest.raises(ScanReadError) as err:
        read_raster(tmp_path / "missing.jpg")
    assert err.value.code == "not_found"
