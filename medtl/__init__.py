"""medtl: transfer learning for medical images (DICOM, NIfTI, 2D) on MONAI and PyTorch.

Flow: ``medtl.data`` (read scans, manifests, transforms) -> ``medtl.models`` (encoder
registry, weights, heads) -> ``medtl.train`` (strategies, loop, metrics) -> ``medtl.infer``
(batch scoring) -> ``medtl.review`` (clinician decisions) -> ``apps/`` (Streamlit).
"""

__version__ = "0.1.0"
