"""Evaluation metrics.

Classification: AUC (scikit-learn ``roc_auc_score``; macro one-vs-rest for multi-class, macro over
labels for multi-label), accuracy, balanced accuracy, sensitivity and specificity at the operating
point (binary: a threshold on P(class 1) chosen on the validation split by Youden's J; sensitivity is
the recall of the ``positive`` class, 1 unless told; multi-class: argmax, macro-averaged).
Segmentation: MONAI ``DiceMetric`` and ``HausdorffDistanceMetric`` (percentile 95) per foreground
label and their mean. A metric that is undefined on the data (e.g. AUC with one class present, HD95
with an empty mask everywhere) is reported as ``None``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

INFO_KEYS = ("n", "positive_class")  # entries of a metrics dict that describe it rather than score


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def youden_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """Threshold on ``score`` maximising sensitivity + specificity - 1 (0.5 if undefined)."""
    from sklearn.metrics import roc_curve

    y_true = np.asarray(y_true).astype(int)
    if len(np.unique(y_true)) < 2:
        return 0.5
    fpr, tpr, thr = roc_curve(y_true, score)
    j = tpr - fpr
    best = int(np.argmax(j))
    t = float(thr[best])
    return float(min(max(t, 0.0), 1.0))  # roc_curve's first threshold is +inf


def _sens_spec(y: np.ndarray, pred: np.ndarray, classes: int) -> tuple[float, float]:
    sens, spec = [], []
    for k in range(classes):
        pos, neg = y == k, y != k
        if pos.any():
            sens.append(float((pred[pos] == k).mean()))
        if neg.any():
            spec.append(float((pred[neg] != k).mean()))
    return (float(np.mean(sens)) if sens else math.nan, float(np.mean(spec)) if spec else math.nan)


def classification_metrics(
    probs: np.ndarray, labels: np.ndarray, *, threshold: float = 0.5, multilabel: bool = False, positive: int = 1
) -> dict:
    """``probs`` (N, K) probabilities; ``labels`` (N,) class indices or (N, K) 0/1 (multi-label).

    Binary: class 1 is predicted when P(class 1) >= ``threshold``; sensitivity is the recall of class
    ``positive`` and specificity that of the other class (``"positive_class"`` in the result).
    """
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    n, k = probs.shape
    out: dict = {"n": int(n)}
    if multilabel:
        y = labels.astype(int)
        pred = (probs >= threshold).astype(int)
        aucs = [roc_auc_score(y[:, j], probs[:, j]) for j in range(k) if len(np.unique(y[:, j])) == 2]
        out["auc"] = _num(np.mean(aucs)) if aucs else None
        out["accuracy"] = _num((pred == y).mean())
        sens = [(pred[y[:, j] == 1, j] == 1).mean() for j in range(k) if (y[:, j] == 1).any()]
        spec = [(pred[y[:, j] == 0, j] == 0).mean() for j in range(k) if (y[:, j] == 0).any()]
        out["sensitivity"] = _num(np.mean(sens)) if sens else None
        out["specificity"] = _num(np.mean(spec)) if spec else None
        out["balanced_accuracy"] = (
            _num((out["sensitivity"] + out["specificity"]) / 2)
            if out["sensitivity"] is not None and out["specificity"] is not None
            else None
        )
        return out
    y = labels.astype(int).reshape(-1)
    present = np.unique(y)
    if k == 2:
        score = probs[:, 1]
        pred = (score >= threshold).astype(int)
        out["auc"] = _num(roc_auc_score(y, score)) if len(present) == 2 else None
    else:
        pred = probs.argmax(axis=1)
        auc = None
        if len(present) == k:
            auc = _num(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
        elif len(present) >= 2:  # macro over the classes present (one-vs-rest)
            aucs = [roc_auc_score((y == c).astype(int), probs[:, c]) for c in present]
            auc = _num(np.mean(aucs))
        out["auc"] = auc
    out["accuracy"] = _num((pred == y).mean())
    with warnings.catch_warnings():  # one class present: sklearn warns, the value is still defined
        warnings.simplefilter("ignore")
        out["balanced_accuracy"] = _num(balanced_accuracy_score(y, pred)) if n else None
    if k == 2:
        sens, spec = _binary_sens_spec(y, pred, positive)
    else:
        sens, spec = _sens_spec(y, pred, k)
    out["sensitivity"], out["specificity"] = _num(sens), _num(spec)
    if k == 2:
        out["positive_class"] = int(positive)
    return out


def _binary_sens_spec(y: np.ndarray, pred: np.ndarray, positive: int = 1) -> tuple[float, float]:
    if positive not in (0, 1):
        raise ValueError(f"positive must be 0 or 1 for a binary problem, got {positive!r}")
    pos, neg = y == positive, y == 1 - positive
    sens = float((pred[pos] == positive).mean()) if pos.any() else math.nan
    spec = float((pred[neg] == 1 - positive).mean()) if neg.any() else math.nan
    return sens, spec


class SegmentationMeter:
    """Accumulates Dice and HD95 over batches (MONAI cumulative metrics).

    ``update(logits, mask, spacing)`` with logits (B, K, *spatial), an integer mask (B, 1, *spatial)
    and the voxel spacing (mm) of each item after preprocessing, so HD95 is in millimetres
    (``None``: voxel units).
    """

    def __init__(self, label_names: list[str], *, hd95: bool = True):
        from monai.metrics import DiceMetric, HausdorffDistanceMetric

        self.label_names = list(label_names)
        self.k = len(self.label_names)
        self.dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)
        self.hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none") if hd95 else None

    def update(self, logits, mask, spacing: list[list[float]] | None = None) -> None:
        import torch
        from monai.networks.utils import one_hot

        with torch.no_grad():
            pred = logits.argmax(dim=1, keepdim=True)
            p1 = one_hot(pred, self.k).float()
            m1 = one_hot(mask.long(), self.k).float()
            self.dice(p1, m1)
            if self.hd is not None:
                with warnings.catch_warnings():  # empty prediction or label -> nan/inf, handled below
                    warnings.simplefilter("ignore")
                    self.hd(p1, m1, spacing=spacing)

    def compute(self) -> dict:
        dice = self.dice.aggregate().cpu().numpy()  # (N, K-1), nan where the label is absent
        out = self._per_label("dice", dice)
        if self.hd is not None:
            hd = self.hd.aggregate().cpu().numpy()
            out.update(self._per_label("hd95", np.where(np.isfinite(hd), hd, np.nan)))
        out["n"] = int(dice.shape[0])
        return out

    def per_case(self, key: str = "dice") -> np.ndarray:
        """(N, labels - 1) values per case and foreground label (NaN where undefined)."""
        meter = self.dice if key == "dice" else self.hd
        buffer = None if meter is None else meter.get_buffer()
        if buffer is None or len(buffer) == 0:
            return np.zeros((0, self.k - 1), np.float64)
        values = buffer.cpu().numpy().astype(np.float64)
        return np.where(np.isfinite(values), values, np.nan)

    def _per_label(self, key: str, values: np.ndarray) -> dict:
        """``{key}_<label>`` per foreground label (mean over cases that define it) and their mean."""
        out: dict = {}
        per = []
        for j, name in enumerate(self.label_names[1:]):
            col = values[:, j]
            val = float(np.nanmean(col)) if np.isfinite(col).any() else math.nan
            out[f"{key}_{name}"] = _num(val)
            per.append(val)
        out[key] = _num(np.nanmean(per)) if np.isfinite(per).any() else None
        return out


def batch_spacing(image) -> list[list[float]] | None:
    """Per-item voxel spacing (mm) from a collated MetaTensor's affines, or ``None``."""
    affine = getattr(image, "affine", None)
    if affine is None:
        return None
    import torch

    a = torch.as_tensor(affine, dtype=torch.float64)
    if a.ndim == 2:
        a = a.unsqueeze(0).expand(image.shape[0], -1, -1)
    dims = image.ndim - 2
    if a.ndim != 3 or a.shape[0] != image.shape[0]:
        return None
    return [[float(v) for v in a[i, :3, :dims].norm(dim=0)] for i in range(a.shape[0])]


def primary_metric(task: str, metrics: dict) -> float:
    """The model-selection metric: AUC (classification) or mean Dice (segmentation); higher is better."""
    key = "auc" if task == "classification" else "dice"
    value = metrics.get(key)
    if value is None and task == "classification":
        value = metrics.get("balanced_accuracy")
    return -math.inf if value is None else float(value)
