"""Dataset-layout folder fixtures (tests/data/layouts/folders.py)."""

from tests.data.layouts.folders import busi_folder, msd_folder  # noqa: F401
