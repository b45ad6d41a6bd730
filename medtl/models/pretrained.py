"""Pretrained weight files: what each source publishes and the one loading path they share.

A :class:`WeightSpec` pins a published file (accepted names, URL, normalisation, licence). Each
source module supplies only its key mapping; :func:`load_pretrained` does the rest:
locate -> safe load -> sha256 -> map keys -> adapt (channels, layout, inflation) -> exact load ->
record provenance in ``encoder.pretrained_cfg``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from medtl.errors import WeightsError
from medtl.fileio import sha256_file
from medtl.models.adapt import adapt_normalisation, adapt_state_dict
from medtl.models.registry import Encoder, PretrainedConfig
from medtl.models.weights import find_weights_file, load_exact, load_torch_file, search_dirs, tensors_only

StateMapper = Callable[[dict, Path], dict]


@dataclass(frozen=True)
class WeightSpec:
    source: str  # "imagenet" | "medicalnet"
    file_names: tuple[str, ...]  # accepted published names, first preferred
    url: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_chans: int
    input_size: tuple[int, ...]
    licence: str
    notes: str = ""
    spatial_dims: int = 2  # of the published weights (2D kernels are transposed and inflated)
    extra_paths: tuple[str, ...] = ()  # files shipped inside installed packages
    downloadable: bool = True  # ``url`` is the file itself (not a package page)


def locate(spec: WeightSpec, *, weights_dir: str | Path | None = None, what: str = "weights",
           fetch: bool = False) -> Path:
    """The file for ``spec`` (``weights_missing`` with instructions when absent). ``fetch``: when
    it is absent and has a published URL and hash, download it into the first weights folder
    (medtl.models.download); offline, the ``weights_missing`` message says why it could not."""
    try:
        return find_weights_file(spec.file_names, weights_dir=weights_dir, url=spec.url, what=what,
                                 extra_paths=[Path(p) for p in spec.extra_paths])
    except WeightsError as missing:
        from medtl.models import download as dl

        pub = dl.published(spec) if fetch and not dl.offline() else None
        if pub is None:
            raise
        try:
            return dl.download(pub, search_dirs(weights_dir)[0])
        except WeightsError as exc:
            if exc.code != "download_failed":
                raise  # a file that fails its checks is an error, not "missing"
            raise WeightsError(f"{missing.message} (automatic download failed: {exc.message})",
                               path=missing.path, code="weights_missing") from None


def load_pretrained(
    encoder: Encoder,
    spec: WeightSpec,
    mapper: StateMapper,
    *,
    first_conv: str,
    weights_dir: str | Path | None = None,
    module: nn.Module | None = None,
) -> None:
    """Load ``spec``'s file into ``module`` (default: the encoder) and fill ``pretrained_cfg``."""
    module = encoder if module is None else module
    path = locate(spec, weights_dir=weights_dir, what=f"{encoder.name} {spec.source} weights", fetch=True)
    raw = load_torch_file(path)
    state = tensors_only(mapper(raw, path), path=path)
    state = adapt_state_dict(state, module.state_dict(), first_conv=first_conv,
                             transpose_2d=spec.spatial_dims == 2)
    load_exact(module, state, path=path, what=f"{spec.source} weights for {encoder.name}")
    mean, std = adapt_normalisation(spec.mean, spec.std, encoder.in_channels)
    notes = [spec.notes] if spec.notes else []
    if encoder.in_channels != spec.in_chans:
        notes.append(f"first conv adapted from {spec.in_chans} to {encoder.in_channels} channels")
    if encoder.spatial_dims != spec.spatial_dims:
        notes.append(f"{spec.spatial_dims}D kernels inflated to {encoder.spatial_dims}D (I3D)")
    encoder.pretrained_cfg = PretrainedConfig(
        source=spec.source, file_name=path.name, url=spec.url, sha256=sha256_file(path),
        input_size=spec.input_size, mean=mean, std=std, in_chans=spec.in_chans,
        licence=spec.licence, notes="; ".join(notes), path=str(path),
    )


def rename(state: dict[str, torch.Tensor], rules: Callable[[str], str | None], *,
           path: Path) -> dict[str, torch.Tensor]:
    """Apply ``rules(key) -> new key`` (``None`` drops the key) to every key; refuses collisions."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = rules(key)
        if new is None:
            continue
        if new in out:
            raise WeightsError(f"two keys map to {new!r} (second: {key!r})", path=path,
                               code="weights_mismatch")
        out[new] = value
    return out
