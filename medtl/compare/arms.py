"""The arms of a comparison: a transfer strategy (or weight source) plus the overrides that make it.

An arm spec on the command line is ``[NAME=]KIND[:KEY=VALUE[:KEY=VALUE...]]`` with KIND one of
``scratch``, ``linear-probe``, ``finetune``, or ``pretrained:MODEL_DIR[:KEY=VALUE...]`` (a
``medtl pretrain`` directory or an earlier ``medtl train`` run); NAME (letters, digits, ``.-_+``)
labels the arm in the report and names its folder, e.g. ``lr-low=finetune:optim.lr=1e-5``. Every arm is an ordinary
``medtl train`` run of the base config with the arm's overrides appended, so each run can be
reproduced by the command the report prints. One KEY is the comparison's, not a training setting:
``seeds=N`` runs the arm with the comparison's first N seeds only (an arm whose result no seed
changes, such as a linear probe on unaugmented images with all the labels, or one too slow for every seed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medtl.errors import ConfigError

KINDS = ("scratch", "linear-probe", "finetune", "pretrained")
ARM_OPTIONS = ("seeds",)  # KEY=VALUE parts of a spec that set the arm's runs, not a `medtl train` key


@dataclass(frozen=True)
class Arm:
    name: str  # unique, folder-safe: runs/<name>/...
    kind: str
    overrides: tuple[str, ...]  # what the kind implies, then the user's per-arm overrides
    user: tuple[str, ...] = ()  # the per-arm overrides as typed (shown in the report)
    source: str | None = None  # pretrained: the weight source directory
    seeds: int | None = None  # run only the comparison's first N seeds (None: every seed)


def _split_spec(spec: str) -> tuple[str | None, str, str | None, list[str]]:
    head, _, rest = spec.strip().partition(":")
    name, _, kind = head.strip().rpartition("=")
    name, kind = name.strip() or None, kind.strip()
    if name is not None and not re.fullmatch(r"[A-Za-z0-9._+-]+", name):
        raise ConfigError(f"arm {spec!r}: the name {name!r} may hold letters, digits and . _ + - only")
    if kind not in KINDS:
        raise ConfigError(f"unknown arm {spec!r}: the kind must be one of {list(KINDS)} "
                          "(e.g. finetune:optim.lr=1e-4 or pretrained:RUN_DIR)")
    parts = [p for p in rest.split(":")] if rest else []
    overrides = [p.strip() for p in parts if "=" in p]
    path_parts = [p for p in parts if "=" not in p]
    source = ":".join(path_parts).strip() or None  # a path may itself contain ':'
    if kind == "pretrained" and not source:
        raise ConfigError(f"arm {spec!r}: pretrained needs a model directory (pretrained:RUN_DIR)")
    if kind != "pretrained" and source:
        raise ConfigError(f"arm {spec!r}: {source!r} is not a KEY=VALUE override")
    return name, kind, source, overrides


def _arm_options(spec: str, parts: list[str]) -> tuple[dict, list[str]]:
    """The arm options (``seeds=N``) among a spec's KEY=VALUE parts, and the training overrides left."""
    options, overrides = {}, []
    for part in parts:
        key, _, value = part.partition("=")
        if key.strip() not in ARM_OPTIONS:
            overrides.append(part)
            continue
        try:
            options["seeds"] = int(value)
        except ValueError:
            options["seeds"] = 0
        if options["seeds"] < 1:
            raise ConfigError(f"arm {spec!r}: seeds= takes how many of the comparison's seeds the arm runs "
                              f"(a whole number >= 1), got {value.strip()!r}")
    return options, overrides


def _kind_overrides(kind: str, source: str | None, base) -> list[str]:
    """What ``kind`` means as ``medtl train`` overrides of the base config ``base``."""
    if kind == "scratch":
        return ["strategy=scratch", "model.weights=none"]
    if kind in ("linear-probe", "finetune"):
        return [f"strategy={kind}"]
    from medtl.errors import ModelDirError
    from medtl.models.io import model_dir_info

    path = Path(source).expanduser().resolve()
    try:
        info = model_dir_info(path) if path.is_dir() else None
    except ModelDirError as exc:
        info, why = None, exc.message
    else:
        why = "no such folder" if not path.is_dir() else "not a model directory"
    if info is None:
        raise ConfigError(f"arm pretrained:{source}: not a medtl model directory ({why}); give a `medtl pretrain` "
                          f"or `medtl train` output folder", code="bad_config")
    out = ["strategy=finetune", f"model.weights={path}"]
    if info.get("pretraining"):
        # Self-supervised weights are in-domain but not features for this task: the encoder trains at
        # the head's rate, BatchNorm statistics are re-estimated (they were computed on corrupted
        # inputs), no linear-probe warm start, and a segmentation decoder starts from the pretrained one.
        out += [f"optim.encoder_lr={base.optim.lr}", "finetune.freeze_bn=false", "finetune.lp_init=false"]
        if base.task == "segmentation":
            out.append("model.pretrained_decoder=true")
    return out


def _folder_name(kind: str, source: str | None, user: list[str]) -> str:
    name = kind if kind != "pretrained" else f"pretrained-{Path(source).name or 'dir'}"
    if user:
        name += "_" + "_".join(user)
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", name)[:120]


def parse_arms(specs: list[str], base) -> list[Arm]:
    """``Arm`` objects for ``specs`` against the base TrainConfig (names must be unique)."""
    arms: list[Arm] = []
    for spec in specs:
        name, kind, source, parts = _split_spec(spec)
        options, user = _arm_options(spec, parts)
        name = name or _folder_name(kind, source, user)
        if any(a.name == name for a in arms):
            raise ConfigError(f"arm {spec!r}: the name {name!r} is used twice (name arms with NAME=KIND:...)")
        arms.append(Arm(name, kind, tuple(_kind_overrides(kind, source, base) + user), tuple(user), source,
                        **options))
    if not arms:
        raise ConfigError("no arms to compare")
    return arms


def arm_weights(arm: Arm, base) -> str:
    """The arm's ``model.weights``: its own last override, else the base config's."""
    return str(next((o.split("=", 1)[1] for o in reversed(arm.overrides) if o.startswith("model.weights=")),
                    base.model.weights))


def needs_own_weights(arm: Arm, base) -> bool:
    """Does the arm start from weights the user has to make or fetch (a `medtl pretrain` or `medtl train`
    directory, a MedicalNet or other weight file), rather than none or the ImageNet weights that install
    with the package? Between arms equally good and equally fast, the one that needs none is simpler."""
    return arm.kind == "pretrained" or arm_weights(arm, base) not in ("none", "imagenet")


def random_init_warning(arm: Arm, base) -> str | None:
    """linear-probe/finetune of a randomly initialised encoder is not transfer (a random-features or
    scratch-like baseline): said in the log and in the report, so nobody reads it as transfer."""
    if arm.kind not in ("linear-probe", "finetune"):
        return None
    if arm_weights(arm, base) != "none":
        return None
    return (f"arm {arm.name} starts from random weights (model.weights: none): it is not transfer; set "
            f"pretrained weights (--set model.weights=imagenet, or {arm.kind}:model.weights=RUN_DIR) or compare "
            "a pretrained:RUN_DIR arm")


def default_arm_specs(base) -> tuple[list[str], str]:
    """The default arms for the base config, and why: every strategy when the encoder has pretrained
    weights, else scratch alone (with the hint to add a pretrained source)."""
    if str(base.model.weights) == "none":
        return ["scratch"], ("the config has no pretrained weights (model.weights: none), so only scratch is "
                             "compared; add --arms scratch pretrained:RUN_DIR (e.g. a `medtl pretrain` output) or "
                             "--set model.weights=imagenet")
    return ["scratch", "linear-probe", "finetune"], (
        f"scratch, linear-probe and finetune from {base.model.encoder} weights {base.model.weights!r}")
