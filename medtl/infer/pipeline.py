"""Pipelined loading: DataLoader workers read, hash, preprocess and downsample the next cases
while the main process runs the model on the current batch.

A worker never raises for a bad case: it returns a failed item carrying the data layer's reason
code, so one unreadable scan cannot stop the run. Only what the main process needs travels
between processes: the preprocessed array and its affine, the input's geometry (not its voxels)
and the small preview. Arrays travel as numpy (pickled through the worker's pipe): a torch tensor
would go through a shared-memory file and a file-descriptor handshake per tensor, which costs
more than copying a small image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from medtl.errors import MedtlError


@dataclass
class Item:
    index: int
    ok: bool
    input_sha256: str | None = None
    x: np.ndarray | None = None  # (C, *spatial) float32 preprocessed
    x_affine: np.ndarray | None = None  # affine of the preprocessed grid
    geometry: dict = field(default_factory=dict)  # shape, affine, spacing of the input scan
    preview: tuple | None = None  # (image, spacing, affine)
    meta: dict = field(default_factory=dict)  # modality, format, ...
    code: str = ""
    message: str = ""


def _medtl_cause(exc: BaseException) -> MedtlError | None:
    """MONAI's Compose wraps errors in RuntimeError; find the data layer's typed error."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MedtlError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def read_case(case):
    from medtl.data import read_ref, read_scan

    if case.error is not None:
        raise case.error
    return read_ref(case.ref) if case.ref is not None else read_scan(case.path)


class CaseDataset(torch.utils.data.Dataset):
    """Case index -> :class:`Item` (read + preprocess + preview), never raising.

    ``transforms`` is the model's ``build_transforms(cfg, train=False)``.
    """

    def __init__(self, cases: list, transforms):
        from medtl.infer.preprocess import Preprocessor

        self.cases = cases
        self.transforms = transforms
        self.preprocess = Preprocessor(transforms)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> Item:
        from medtl.infer.geometry import make_preview
        from medtl.infer.outputs import compact_image
        from medtl.infer.resume import input_sha256

        case = self.cases[index]
        try:
            scan = read_case(case)
            digest = input_sha256(scan.files or case.files, case.path)
            # untracked MONAI only in a worker process (no other thread uses MONAI there)
            x, x_affine = self.preprocess(scan, allow_untracked=torch.utils.data.get_worker_info() is not None)
            rgb = scan.meta.get("photometric_interpretation", "").startswith(("RGB", "YBR")) or (
                scan.format == "image" and scan.channels >= 3)
            array = scan.array
            if scan.spatial_dims == 3 and x.ndim == 3 and array.shape[-1] == 1:  # 2D model, one-slice scan
                array = array[..., 0]
            image, p_spacing, p_affine = make_preview(array, scan.affine, rgb)
            # compacted here, in the worker: a uint8 preview is a quarter of the bytes to send
            preview = (compact_image(image), p_spacing, p_affine)
        except Exception as exc:  # one bad case never stops the run
            typed = _medtl_cause(exc)
            if typed is not None:
                return Item(index, False, code=typed.code, message=typed.message)
            return Item(index, False, code="preprocess_failed", message=f"{type(exc).__name__}: {exc}")
        return Item(
            index, True, input_sha256=digest, x=x, x_affine=x_affine,
            geometry={"shape": scan.spatial_shape, "affine": scan.affine, "spacing": tuple(scan.spacing)},
            preview=preview, meta={"modality": scan.modality, "format": scan.format, "channels": scan.channels},
        )


def _single_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)  # workers share the CPU with the model; avoid oversubscription


def make_loader(dataset: CaseDataset, indices: list[int], *, batch_size: int, workers: int):
    """Batches of :class:`Item` lists for the cases at ``indices`` (in order)."""
    subset = torch.utils.data.Subset(dataset, indices)
    return torch.utils.data.DataLoader(
        subset, batch_size=max(1, batch_size), shuffle=False, num_workers=max(0, workers),
        collate_fn=list, worker_init_fn=_single_thread if workers else None,
        prefetch_factor=2 if workers else None, persistent_workers=False,
    )


def group_by_shape(items: list[Item]) -> list[list[Item]]:
    """Preprocessed tensors of one shape stack into one batch (shapes differ when only spacing is
    fixed, e.g. segmentation with sliding windows)."""
    groups: dict[tuple, list[Item]] = {}
    for item in items:
        groups.setdefault(tuple(item.x.shape), []).append(item)
    return list(groups.values())
