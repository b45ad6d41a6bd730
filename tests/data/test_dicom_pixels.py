"""Pixel values: modality LUT, MONOCHROME1, RGB, compressed syntaxes, and the error codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from medtl.data.dicom import read_dicom
from medtl.data.read import read_scan
from medtl.data.synthetic import write_dicom_non_image, write_dicom_series
from medtl.errors import ScanReadError

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def test_rescale_gives_hounsfield_units(tmp_path):
    stored = np.array([0, 24, 1024, 2024], dtype=np.int16).reshape(2, 2, 1).repeat(3, axis=2)
    write_dicom_series(tmp_path, stored, slope=2.0, intercept=-1000.0)
    scan = read_dicom(tmp_path)
    np.testing.assert_array_equal(scan.array[0, :, :, 0], [[-1000, -952], [1048, 3048]])
    assert scan.meta["rescale_applied"] is True and scan.array.dtype == np.float32


def test_no_rescale_tags_keeps_stored_values(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume, modality="MR", slope=None, intercept=None)
    scan = read_dicom(tmp_path)
    np.testing.assert_array_equal(scan.array[0], small_volume)
    assert scan.meta["rescale_applied"] is False and scan.modality == "MR"


def test_monochrome1_is_inverted_so_high_is_bright(tmp_path):
    stored = np.array([[0, 100], [4000, 65535]], dtype=np.uint16)[:, :, None].repeat(2, axis=2)
    write_dicom_series(tmp_path / "m1", stored, photometric="MONOCHROME1", slope=None, intercept=None)
    write_dicom_series(tmp_path / "m2", stored, photometric="MONOCHROME2", slope=None, intercept=None)
    inverted, plain = read_dicom(tmp_path / "m1"), read_dicom(tmp_path / "m2")
    np.testing.assert_array_equal(inverted.array[0, :, :, 0], [[65535, 65435], [61535, 0]])
    np.testing.assert_array_equal(plain.array[0], stored)
    assert inverted.meta["photometric_interpretation"] == "MONOCHROME1"


def test_monochrome1_with_rescale_stays_in_the_rescaled_range(tmp_path):
    stored = np.array([[-2048, 0], [1000, 2047]], dtype=np.int16)[:, :, None].repeat(2, axis=2)
    write_dicom_series(tmp_path, stored, photometric="MONOCHROME1", slope=1.0, intercept=-1024.0,
                       extra_tags={"BitsStored": 12, "HighBit": 11})
    values = read_dicom(tmp_path).array[0, :, :, 0]
    # range of 12-bit signed stored values through the rescale: [-3072, 1023]; mirrored
    np.testing.assert_array_equal(values, [[1023, -1025], [-2025, -3072]])


def test_rgb_keeps_three_channels(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (3, 8, 6, 3)).astype(np.uint8)
    write_dicom_series(tmp_path, rgb, photometric="RGB", modality="OT", slope=None, intercept=None)
    scan = read_dicom(tmp_path)
    assert scan.channels == 3 and scan.array.shape == (3, 8, 6, 3)
    np.testing.assert_array_equal(scan.array, rgb)
    assert scan.meta["photometric_interpretation"] == "RGB"


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless, ImplicitVRLittleEndian])
def test_compressed_syntaxes_decode_exactly(tmp_path, syntax):
    volume = (np.arange(32 * 32 * 3).reshape(32, 32, 3) % 1500 - 200).astype(np.int16)
    files = write_dicom_series(tmp_path, volume, transfer_syntax=syntax)
    assert pydicom.dcmread(files[0]).file_meta.TransferSyntaxUID == syntax
    np.testing.assert_array_equal(read_dicom(tmp_path).array[0], volume - 1024.0)


def test_rle_multiframe_rgb(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (3, 8, 6, 4)).astype(np.uint8)
    (file,) = write_dicom_series(tmp_path, rgb, photometric="RGB", modality="OT", slope=None, intercept=None,
                                 multiframe="plain", transfer_syntax=RLELossless)
    np.testing.assert_array_equal(read_dicom(file).array, rgb)


@pytest.mark.parametrize("name,channels", [("SC_rgb_jpeg_dcmtk.dcm", 3), ("JPGExtended.dcm", 1),
                                           ("693_J2KI.dcm", 1), ("MR_small_jpeg_ls_lossless.dcm", 1)])
def test_pydicom_bundled_jpeg_files_decode(name, channels):
    path = PYDICOM_FILES / name
    if not path.is_file():
        pytest.skip(f"{name} not bundled with this pydicom")
    scan = read_scan(path)
    assert scan.channels == channels and scan.spatial_dims == 2 and np.isfinite(scan.array).all()
    assert scan.array.std() > 0


def test_text_file_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "image.dcm").write_text("not really a DICOM file")
    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path / "notes.txt")
    assert info.value.code == "unsupported_format" and "notes.txt" in str(info.value)
    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path / "image.dcm")
    assert info.value.code == "not_dicom" and "image.dcm" in str(info.value)


def test_structured_report_is_non_image(tmp_path):
    path = write_dicom_non_image(tmp_path / "report.dcm", kind="sr")
    with pytest.raises(ScanReadError, match="SR") as info:
        read_scan(path)
    assert info.value.code == "non_image_sop" and info.value.path == str(path)


def test_image_without_pixel_data(tmp_path):
    path = write_dicom_non_image(tmp_path / "empty.dcm", kind="no_pixels")
    with pytest.raises(ScanReadError) as info:
        read_scan(path)
    assert info.value.code == "no_pixel_data"


def test_truncated_pixel_data_is_undecodable(tmp_path, small_volume):
    files = write_dicom_series(tmp_path, small_volume[:, :, :1])
    data = files[0].read_bytes()
    files[0].write_bytes(data[:-20])
    with pytest.raises(ScanReadError) as info:
        read_scan(files[0])
    assert info.value.code == "undecodable_transfer_syntax" and files[0].name in str(info.value)


def test_file_without_preamble_still_reads(tmp_path, small_volume):
    (file,) = write_dicom_series(tmp_path / "src", small_volume[:, :, :1])
    bare = tmp_path / "bare"
    bare.write_bytes(file.read_bytes()[132:])  # drop the 128-byte preamble and "DICM"
    scan = read_scan(bare)
    np.testing.assert_array_equal(scan.array[0], small_volume[:, :, 0] - 1024.0)


def test_missing_path_is_not_found(tmp_path):
    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path / "absent")
    assert info.value.code == "not_found"
