"""Flip test-time augmentation (TTA): which flips to use, and the prediction averaged over them.

The views are the identity plus one flip per axis in the TTA axes. Those are the flips the model
was trained with (``augment`` in the model directory's ``config.yaml``): a model trained with
left-right flips only must not be shown front-back flipped images it never saw (labels such as
anterior/posterior depend on orientation). Axes are spatial (0 = the first spatial axis).
:func:`tta_flips` resolves them (with an explicit override, or every axis for a model directory
without config.yaml); :func:`flip_views` is the one implementation of "predict each view, flip
spatial outputs back", shared by ``medtl score`` (``Predictor``) and ``medtl evaluate``.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from medtl.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class TTAFlips:
    """The TTA flip axes and where they come from.

    ``source``: ``"training"`` (config.yaml's augment), ``"override"`` (``tta_axes=`` /
    ``--tta-axes``) or ``"default"`` (no readable config.yaml: every spatial axis, as before).
    ``note`` says why there is something to warn about (no flips, or the default), else "".
    """

    axes: tuple[int, ...]
    source: str
    note: str = ""


def check_axes(axes: Sequence[int], spatial_dims: int, *, what: str = "TTA axes") -> tuple[int, ...]:
    """``axes`` as sorted unique ints, each in ``0..spatial_dims-1``; else a ConfigError."""
    if isinstance(axes, (str, bytes)) or not isinstance(axes, Sequence):
        raise ConfigError(f"{what} must be a list of spatial axis indices, got {axes!r}")
    bad = [a for a in axes
           if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not 0 <= a < spatial_dims]
    if bad:
        raise ConfigError(f"{what} {list(axes)}: {', '.join(map(repr, bad))} is not a spatial axis of a "
                          f"{spatial_dims}D model (use 0..{spatial_dims - 1})")
    return tuple(sorted({int(a) for a in axes}))


def model_spatial_dims(info: dict, model_dir: str | Path | None = None) -> int:
    """Spatial dimensions (2 or 3) of a model.json dict; a ModelDirError when it does not say."""
    try:
        return int(info["model"]["spatial_dims"])
    except (KeyError, TypeError, ValueError):
        from medtl.errors import ModelDirError

        raise ModelDirError("model.json lacks model.spatial_dims", path=model_dir, code="bad_json") from None


def tta_flips(model_dir: str | Path, spatial_dims: int | None = None, *,
              override: Sequence[int] | None = None) -> TTAFlips:
    """The flip axes for TTA with the model in ``model_dir`` (logs a warning when noteworthy).

    ``override`` (validated against the model's spatial axes) wins. Otherwise the training flips:
    ``augment.flip_axes`` (null = every axis) when ``augment.enabled`` and ``flip_prob > 0``; none
    when the model was trained without flips (augmentation disabled, ``flip_prob`` 0, empty
    ``flip_axes``, or a linear-probe classifier, fitted on un-augmented images). Without a readable
    config.yaml (old or hand-made model directories): every spatial axis, with a warning.
    """
    model_dir = Path(model_dir)
    if spatial_dims is None:
        from medtl.models.io import read_model_info

        spatial_dims = model_spatial_dims(read_model_info(model_dir), model_dir)
    if override is not None:
        axes = check_axes(override, spatial_dims)
        flips = TTAFlips(axes, "override", "" if axes else "no flip axes given")
    else:
        flips = _trained_flips(model_dir, spatial_dims)
    if flips.note:
        if flips.axes:
            log.warning("TTA: %s: flipping along spatial axes %s", flips.note, list(flips.axes))
        else:
            log.warning("TTA: %s: no flips, the identity view only (predictions equal those without TTA)",
                        flips.note)
    return flips


def resolve_tta(model_dir: str | Path, tta: bool, tta_axes: Sequence[int] | None,
                spatial_dims: int | None = None) -> TTAFlips | None:
    """The flips of a ``tta`` / ``tta_axes`` request (``None`` without TTA), as ``medtl score`` and
    ``medtl evaluate`` take it; axes without TTA are a ConfigError."""
    if not tta:
        if tta_axes is not None:
            raise ConfigError("--tta-axes needs --tta (tta_axes= needs tta=True)")
        return None
    return tta_flips(model_dir, spatial_dims, override=tta_axes)


def _trained_flips(model_dir: Path, spatial_dims: int) -> TTAFlips:
    import yaml

    from medtl.data.transforms import AugmentConfig

    every = tuple(range(spatial_dims))
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        return TTAFlips(every, "default", f"{model_dir} has no {CONFIG_FILE}, so its training flips are "
                                          "unknown (choose with --tta-axes / tta_axes=)")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        aug = AugmentConfig(**(cfg.get("augment") or {}))
        enabled, prob = bool(aug.enabled), float(aug.flip_prob)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError, TypeError, ValueError,
            ConfigError) as exc:
        return TTAFlips(every, "default", f"unreadable {path} ({type(exc).__name__}), so the training flips "
                                          "are unknown (choose with --tta-axes / tta_axes=)")
    if cfg.get("task") == "classification" and cfg.get("strategy") == "linear-probe":
        reason = "strategy linear-probe (the classifier is fitted on un-augmented images)"
    elif not enabled:
        reason = "augment.enabled is false"
    elif prob <= 0:
        reason = "augment.flip_prob is 0"
    elif aug.flip_axes is not None and not aug.flip_axes:
        reason = "augment.flip_axes is empty"
    else:
        # RandFlipd accepts negative axes (numpy style); -1 is the last spatial axis
        trained = [a % spatial_dims if isinstance(a, int) and -spatial_dims <= a < 0 else a
                   for a in aug.flip_axes or ()]
        axes = every if aug.flip_axes is None else check_axes(trained, spatial_dims,
                                                             what=f"augment.flip_axes in {path}")
        return TTAFlips(axes, "training")
    return TTAFlips((), "training", f"{model_dir} was trained without flips ({reason})")


def flip_views(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, axes: Sequence[int], *,
               spatial_output: bool, identity: torch.Tensor | None = None) -> torch.Tensor:
    """``(V, B, ...)``: ``predict(x)`` then, per spatial axis in ``axes``, ``predict`` of ``x``
    flipped along it; spatial outputs (segmentation) are flipped back onto the input's grid.

    ``x`` is ``(B, C, *spatial)``; ``predict`` maps such a batch to probabilities (or whatever is
    to be averaged); ``identity`` is ``predict(x)`` when the caller already has it. The mean over
    the first dimension is the TTA prediction.
    """
    views = [predict(x) if identity is None else identity]
    for axis in axes:
        dim = int(axis) + 2
        if not 2 <= dim < x.ndim:
            raise ConfigError(f"flip axis {axis} is not a spatial axis of an input of shape {tuple(x.shape)}")
        out = predict(torch.flip(x, (dim,)))
        views.append(torch.flip(out, (dim,)) if spatial_output else out)
    return torch.stack(views)
