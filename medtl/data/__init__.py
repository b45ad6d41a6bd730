from medtl.data.dataset import make_dataset
from medtl.data.discover import ScanRef, discover_scans, read_ref
from medtl.data.read import read_scan
from medtl.data.source import DataSource, load_source
from medtl.data.transforms import AugmentConfig, PreprocessConfig, build_transforms

__all__ = [
    "AugmentConfig",
    "DataSource",
    "PreprocessConfig",
    "ScanRef",
    "build_transforms",
    "discover_scans",
    "load_source",
    "make_dataset",
    "read_ref",
    "read_scan",
]
