"""Window/level presets and display settings for the review app, from ``configs/review.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from medtl.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "review.yaml"


@dataclass(frozen=True)
class WindowPreset:
    """A fixed window (``width``/``level`` in image units) or a percentile range (``low``/``high``)."""

    name: str
    kind: str  # "window" | "percentile"
    width: float | None = None
    level: float | None = None
    low: float | None = None
    high: float | None = None
    modalities: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewSettings:
    presets: dict[str, WindowPreset]
    default_preset: dict[str, str]
    opacity: float = 0.4
    cam_opacity: float = 0.45
    colors: tuple[tuple[int, int, int], ...] = ((255, 80, 80),)
    max_side: int = 512
    min_side: int = 384
    source: str = ""

    def preset_names(self, modality: str | None = None) -> list[str]:
        """All preset names, those made for ``modality`` first (then the generic ones)."""
        names = list(self.presets)
        own = [n for n in names if modality and modality in self.presets[n].modalities]
        generic = [n for n in names if not self.presets[n].modalities]
        return own + generic + [n for n in names if n not in own and n not in generic]

    def default_for(self, modality: str | None) -> str:
        name = self.default_preset.get(modality or "", self.default_preset.get("default"))
        return name if name in self.presets else next(iter(self.presets))


def _preset(entry: dict, path: Path) -> WindowPreset:
    try:
        kind = entry["kind"]
        name = str(entry["name"])
        mods = tuple(str(m) for m in entry.get("modalities") or ())
        if kind == "window":
            width, level = float(entry["width"]), float(entry["level"])
            if width <= 0:
                raise ValueError(f"width must be > 0, got {width}")
            return WindowPreset(name, kind, width=width, level=level, modalities=mods)
        if kind == "percentile":
            low, high = float(entry["low"]), float(entry["high"])
            if not 0.0 <= low < high <= 100.0:
                raise ValueError(f"need 0 <= low < high <= 100, got {low}, {high}")
            return WindowPreset(name, kind, low=low, high=high, modalities=mods)
        raise ValueError(f"unknown kind {kind!r} (window or percentile)")
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"bad window preset {entry!r}: {exc}", path=path) from exc


def load_settings(path: str | Path | None = None) -> ReviewSettings:
    """Read the review settings; raises :class:`ConfigError` naming the file on any problem."""
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError("review settings file not found", path=path) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=path) from exc
    if not isinstance(raw, dict) or not raw.get("window_presets"):
        raise ConfigError("expected a mapping with a non-empty 'window_presets' list", path=path)
    presets = {p.name: p for p in (_preset(e, path) for e in raw["window_presets"])}
    defaults = {str(k): str(v) for k, v in (raw.get("default_preset") or {}).items()}
    unknown = sorted(v for v in defaults.values() if v not in presets)
    if unknown:
        raise ConfigError(f"default_preset names unknown presets: {unknown}", path=path)
    overlay = raw.get("overlay") or {}
    colors = tuple(tuple(int(c) for c in rgb) for rgb in overlay.get("colors") or [(255, 80, 80)])
    return ReviewSettings(
        presets=presets,
        default_preset=defaults,
        opacity=float(overlay.get("opacity", 0.4)),
        cam_opacity=float(overlay.get("cam_opacity", 0.45)),
        colors=colors,
        max_side=int((raw.get("display") or {}).get("max_side", 512)),
        min_side=int((raw.get("display") or {}).get("min_side", 384)),
        source=str(path),
    )
