"""Typed errors. Every failure a user can cause carries a reason code and the file it concerns.

The CLI turns any :class:`MedtlError` into a one-line message and an exit status; no traceback
reaches the user.
"""

from __future__ import annotations

from pathlib import Path

# Reason codes for scans that cannot be read (the data layer's contract).
SCAN_ERROR_CODES = (
    "not_dicom",
    "non_image_sop",
    "no_pixel_data",
    "undecodable_transfer_syntax",
    "inconsistent_geometry",
    "unreadable_nifti",
    "unreadable_image",
    "unsupported_format",
    "not_found",
)


class MedtlError(Exception):
    """Base class: ``code`` is a short machine-readable reason, ``path`` the file concerned."""

    code = "error"

    def __init__(self, message: str, *, path: str | Path | None = None, code: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        if code is not None:
            self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message} [{self.code}]"

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "path": self.path}

    def __reduce__(self):
        # Exceptions cross process boundaries (DataLoader workers, torchrun ranks) by pickling;
        # the default reduce re-calls __init__ with the formatted string only, losing the code.
        return (_rebuild, (type(self), self.message, self.path, self.code))


def _rebuild(cls: type, message: str, path: str | None, code: str) -> MedtlError:
    err = cls.__new__(cls)
    MedtlError.__init__(err, message, path=path, code=code)
    return err


class ScanReadError(MedtlError):
    """A scan (file, series or folder) could not be read; ``code`` is one of SCAN_ERROR_CODES."""

    def __init__(self, code: str, message: str, *, path: str | Path | None = None):
        if code not in SCAN_ERROR_CODES:
            raise ValueError(f"unknown scan error code {code!r}")
        super().__init__(message, path=path, code=code)


class DataError(MedtlError):
    """A dataset or manifest is invalid (missing column, unknown label, empty split...)."""

    code = "bad_data"


class ConfigError(MedtlError):
    """A configuration value is invalid or unknown."""

    code = "bad_config"


class WeightsError(MedtlError):
    """Pretrained or saved weights are missing, mismatched or unsafe.

    Codes: ``weights_missing`` (the message says which file to put where),
    ``weights_mismatch`` (key or shape mismatch; never a silent partial load),
    ``unsafe_weights`` (a pickle that would execute code), ``weights_hash_mismatch`` (a download
    that is not the published file; discarded), ``download_failed`` (network or HTTP error).
    """

    code = "weights_error"


class ModelDirError(MedtlError):
    """A medtl model directory is missing files or is inconsistent."""

    code = "bad_model_dir"
