"""Linear probe: L2-regularised logistic regression (scikit-learn) on cached embeddings.

Features are standardised (train mean/std) for a well-conditioned fit, then the scaling is folded
back into the weights so the result is a plain linear layer on raw pooled features, copied into the
model's ``ClassificationHead``. ``C`` is swept over ``linear_probe.c_grid`` and chosen on the
validation split (AUC, then log-loss). Binary problems become a 2-logit softmax head whose
softmax equals the logistic model's sigmoid; multi-label fits one model per label.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from medtl.train.calibration import probabilities
from medtl.train.metrics import INFO_KEYS, classification_metrics, primary_metric


@dataclass
class ProbeResult:
    weight: np.ndarray  # (K, F) on raw features
    bias: np.ndarray  # (K,)
    C: float
    history: list[dict]  # one row per C: {"C", "val_loss", "val_auc", ...}


def _fit_one(x: np.ndarray, y: np.ndarray, C: float, max_iter: int, balanced: bool):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced" if balanced else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at tiny C / tiny data is expected
        clf.fit(x, y)
    return clf


def _linear(x: np.ndarray, y: np.ndarray, C: float, k: int, multilabel: bool, max_iter: int, balanced: bool):
    """(W, b) on standardised features for K outputs."""
    if multilabel:
        rows = []
        for j in range(k):
            col = y[:, j].astype(int)
            if len(np.unique(col)) < 2:  # constant label: a bias-only output
                p = np.clip(col.mean(), 1e-4, 1 - 1e-4)
                rows.append((np.zeros(x.shape[1]), float(np.log(p / (1 - p)))))
                continue
            clf = _fit_one(x, col, C, max_iter, balanced)
            rows.append((clf.coef_[0], float(clf.intercept_[0])))
        return np.stack([r[0] for r in rows]), np.array([r[1] for r in rows])
    y = y.astype(int).reshape(-1)
    clf = _fit_one(x, y, C, max_iter, balanced)
    classes = clf.classes_.astype(int)
    if len(classes) == 2 and clf.coef_.shape[0] == 1:  # sigmoid(w.x+b) == softmax([-(w.x+b)/2, (w.x+b)/2])
        w, b = clf.coef_[0], float(clf.intercept_[0])
        cw, cb = np.stack([-w / 2, w / 2]), np.array([-b / 2, b / 2])
    else:
        cw, cb = clf.coef_, clf.intercept_
    W = np.zeros((k, x.shape[1]))
    B = np.full((k,), -1e4 if len(classes) < k else 0.0)  # classes absent from train: never predicted
    W[classes], B[classes] = cw, cb
    return W, B


def fit_probe(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *, num_classes: int,
              multilabel: bool, c_grid: list[float], max_iter: int = 2000, balanced: bool = True,
              positive: int = 1) -> ProbeResult:
    xtr, ytr = train
    xva, yva = val
    mu = xtr.mean(axis=0)
    sd = xtr.std(axis=0)
    # Floor: a (near-)constant feature must not get a huge weight once the scaling is folded back.
    sd = np.maximum(sd, 1e-2 * float(sd.mean()) + 1e-8)
    ztr, zva = (xtr - mu) / sd, (xva - mu) / sd
    best, history = None, []
    for C in c_grid:
        W, b = _linear(ztr, ytr, float(C), num_classes, multilabel, max_iter, balanced)
        logits = zva @ W.T + b
        probs = probabilities(logits, multilabel=multilabel)
        m = classification_metrics(probs, yva, multilabel=multilabel, positive=positive)
        loss = _nll(probs, yva, multilabel)
        history.append({"C": float(C), "val_loss": loss, **{f"val_{k}": v for k, v in m.items() if k not in INFO_KEYS}})
        score = (primary_metric("classification", m), -loss)
        if best is None or score > best[0]:
            best = (score, W, b, float(C))
    _, W, b, C = best
    # Fold the standardisation into the layer: W (x - mu) / sd + b == (W / sd) x + (b - W mu / sd)
    w_raw = W / sd
    b_raw = b - (W * (mu / sd)).sum(axis=1)
    return ProbeResult(w_raw.astype(np.float32), b_raw.astype(np.float32), C, history)


def _nll(probs: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    eps = 1e-7
    p = np.clip(probs, eps, 1 - eps)
    if multilabel:
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    return float(-np.log(p[np.arange(len(y)), y.astype(int).reshape(-1)]).mean())
