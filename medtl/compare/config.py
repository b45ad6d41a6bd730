"""``CompareConfig``: what ``medtl compare`` runs (the base ``medtl train`` config is its own file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from medtl.errors import ConfigError

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


@dataclass
class CompareConfig:
    data: str  # anything `medtl train --data` accepts
    out: str  # the comparison folder: runs/, report.md, report.html, results.json
    task: str | None = None  # default: the base config's task
    arms: list[str] = field(default_factory=list)  # arm specs (medtl.compare.arms); empty = default
    fractions: list[float] = field(default_factory=lambda: list(DEFAULT_FRACTIONS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    config: str | None = None  # base `medtl train` config file
    overrides: list[str] = field(default_factory=list)  # KEY=VALUE for every run
    budget_minutes: float | None = None
    resume: bool = False
    report_only: bool = False  # train nothing: the report of the runs finished so far
    quiet: bool = False
    device: str | None = None  # auto | cpu | cuda (default: the base config's)
    plots: bool = True  # label_efficiency.png (and inline in report.html)
    bootstrap: int = 2000  # resamples of the paired bootstrap
    confidence: float = 0.95

    def validate(self) -> CompareConfig:
        fr = [float(f) for f in self.fractions]
        if not fr or any(not 0.0 < f <= 1.0 for f in fr):
            raise ConfigError(f"fractions must be in (0, 1], got {self.fractions}")
        if len(set(fr)) != len(fr):
            raise ConfigError(f"fractions repeat: {self.fractions}")
        self.fractions = sorted(fr)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or any(int(s) < 0 for s in self.seeds):
            raise ConfigError(f"seeds must be distinct non-negative integers, got {self.seeds}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ConfigError(f"--budget-minutes must be > 0, got {self.budget_minutes}")
        if self.bootstrap < 100:
            raise ConfigError(f"bootstrap must be >= 100 resamples, got {self.bootstrap}")
        if not 0.5 < self.confidence < 1.0:
            raise ConfigError(f"confidence must be in (0.5, 1), got {self.confidence}")
        for item in self.overrides:
            if "=" not in str(item):
                raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def seeds_arg(text: str) -> list[int]:
    """``3`` -> seeds 0, 1, 2; ``0,2,5`` -> those seeds."""
    text = str(text).strip()
    try:
        if "," in text:
            return [int(v) for v in text.split(",") if v.strip()]
        n = int(text)
    except ValueError:
        raise ConfigError(f"--seeds expects a count (3) or a list (0,2,5), got {text!r}") from None
    if n < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n}")
    return list(range(n))


def fractions_arg(text: str) -> list[float]:
    """``0.1,0.25,1`` (or percentages ``10%,25%``) -> fractions."""
    out = []
    for v in str(text).split(","):
        v = v.strip()
        if not v:
            continue
        try:
            out.append(float(v[:-1]) / 100 if v.endswith("%") else float(v))
        except ValueError:
            raise ConfigError(f"--fractions expects numbers like 0.1,0.25,1, got {v!r}") from None
    return out


def dedupe_overrides(items: list[str]) -> list[str]:
    """The last ``KEY=VALUE`` per key, in first-seen key order (later ones win, as in medtl train)."""
    last = {}
    for item in items:
        last[str(item).split("=", 1)[0]] = item
    return list(last.values())


def train_command(cfg: CompareConfig, overrides: list[str], out, seed: int | None) -> str:
    """The `medtl train` command of one run (overrides deduplicated: the last value of a key wins)."""
    import shlex

    parts = ["medtl", "train"]
    if cfg.config:
        parts += ["--config", str(cfg.config)]
    parts += ["--data", str(cfg.data)]
    if cfg.task:
        parts += ["--task", cfg.task]
    parts += ["--out", str(out)]
    if seed is not None:
        parts += ["--seed", str(seed)]
    for item in dedupe_overrides(overrides):
        parts += ["--set", item]
    return shlex.join(parts)
