"""Human-readable run outputs: ``curves.png`` (matplotlib Agg) and ``MODEL_CARD.md``."""

from __future__ import annotations

import io
from pathlib import Path

from medtl.fileio import atomic_write_bytes, atomic_write_text
from medtl.train.metrics import INFO_KEYS


def plot_curves(path: Path, history: list[dict], *, metric_name: str) -> None:
    """Train/val loss and the validation metric per epoch (linear-probe: the C sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    if history and "C" in history[0]:  # linear-probe: validation metric against C
        cs = [h["C"] for h in history]
        ax1.semilogx(cs, [h.get("val_loss") for h in history], "o-", label="val loss")
        ax1.set_xlabel("C (inverse L2 strength)")
        ax2.semilogx(cs, [_nan(h.get(f"val_{metric_name}")) for h in history], "o-", color="C2")
        ax2.set_xlabel("C (inverse L2 strength)")
    else:
        ep = [h["epoch"] for h in history]
        ax1.plot(ep, [_nan(h.get("train_loss")) for h in history], "o-", label="train loss")
        ax1.plot(ep, [_nan(h.get("val_loss")) for h in history], "o-", label="val loss")
        ax1.set_xlabel("epoch")
        ax2.plot(ep, [_nan(h.get(f"val_{metric_name}")) for h in history], "o-", color="C2")
        ax2.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.set_ylabel(f"validation {metric_name}")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _nan(v):
    return float("nan") if v is None else v


def _positive_line(positive: str | None) -> str:
    if positive is None:
        return ""
    return f"\n- Positive class: {positive} (sensitivity = recall of {positive}, specificity = recall of the other class)"


def _fmt(v) -> str:
    return "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))


def model_card(
    path: Path,
    *,
    cfg: dict,
    data: dict,
    metrics: dict,
    provenance: dict,
    label_names: list[str],
    threshold: float,
    temperature: float,
    positive_class: int | None = None,
) -> None:
    """MODEL_CARD.md: data, strategy, metrics, intended use, limitations, provenance.

    ``positive_class`` (binary classification): the class index sensitivity/specificity refer to.
    """
    task = cfg["task"]
    positive = label_names[positive_class] if positive_class is not None else None
    rows = []
    keys = sorted({k for split in ("val", "test") for k in (metrics.get(split) or {}) if k not in INFO_KEYS})
    for k in keys:
        name = f"{k} ({positive})" if positive is not None and k in ("sensitivity", "specificity") else k
        rows.append(f"| {name} | {_fmt((metrics.get('val') or {}).get(k))} | {_fmt((metrics.get('test') or {}).get(k))} |")
    ft = cfg["finetune"]
    strategy = cfg["strategy"]
    detail = {
        "scratch": "random initialisation of the same architecture (baseline)",
        "linear-probe": "frozen pretrained encoder; only the "
        + ("logistic-regression head (C chosen on validation)" if task == "classification" else "decoder")
        + " was trained",
        "finetune": f"encoder fine-tuned (unfreeze_groups={ft['unfreeze_groups']}, gradual_every={ft['gradual_every']}, "
        f"LP-FT head init={ft['lp_init']}, frozen BatchNorm statistics={ft['freeze_bn']}), "
        f"encoder lr {cfg['optim']['encoder_lr']}, head lr {cfg['optim']['lr']}, layer decay {cfg['optim']['layer_decay']}",
    }[strategy]
    text = f"""# Model card

## Model
- Task: {task}; labels: {", ".join(label_names)}
- Encoder: `{provenance.get("encoder")}`, initial weights: `{provenance.get("weights")}`
  (file `{provenance.get("weights_file")}`, sha256 `{provenance.get("weights_sha256")}`)
- Strategy: **{strategy}** -- {detail}
- Initialised from an earlier run: {provenance.get("init_from") or "no"}
- Operating point: threshold {threshold:.4f} on P({label_names[-1]}) (binary, Youden's J on validation);
  temperature {temperature:.4f} (fitted on validation){_positive_line(positive)}

## Data
- Source: `{data.get("source")}` (fingerprint `{str(data.get("fingerprint"))[:16]}`)
- Cases per split: {data.get("counts")}; modality: {data.get("modality")}; spatial dims: {data.get("spatial_dims")}

## Metrics (selected checkpoint, epoch {metrics.get("best_epoch")})
| metric | val | test |
|---|---|---|
{chr(10).join(rows)}

Training wall time: {metrics.get("wall_time_s", 0):.1f} s over {metrics.get("epochs")} epoch(s).

## Intended use
Research and method development: ranking or triaging images for human review in the setting the
training data comes from. Every output must be checked by a qualified reader (`medtl review`).

## Limitations
- Validated only on the splits above; performance on other scanners, sites, populations or
  acquisition protocols is unknown and may be much worse.
- Small validation sets make the threshold, the temperature and the model selection noisy.
- Not a medical device; not for diagnosis.
"""
    atomic_write_text(path, text)
