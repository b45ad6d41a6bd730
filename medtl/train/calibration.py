"""Temperature scaling (Guo et al. 2017) fitted on the validation split, and expected calibration error.

One scalar ``T`` divides the logits; it is fitted by minimising the negative log-likelihood with
LBFGS over ``log T`` (so ``T`` stays positive), bounded to [T_MIN, T_MAX]. ``T`` is stored in model.json ("temperature") and
scoring applies it. Multi-label models use sigmoid/BCE, others softmax/CE.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

T_MIN, T_MAX = 0.05, 20.0


def probabilities(logits: np.ndarray | torch.Tensor, *, temperature: float = 1.0, multilabel: bool = False) -> np.ndarray:
    t = torch.as_tensor(np.asarray(logits, dtype=np.float32) if not torch.is_tensor(logits) else logits).float()
    t = t / float(temperature)
    p = torch.sigmoid(t) if multilabel else torch.softmax(t, dim=1)
    return p.cpu().numpy().astype(np.float64)


def _nll(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels.long())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, multilabel: bool = False, max_iter: int = 100) -> float:
    """The temperature minimising NLL on (logits, labels); 1.0 when there is nothing to fit."""
    x = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels))
    if x.shape[0] < 2:
        return 1.0
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _nll(x / log_t.exp(), y, multilabel)
        loss.backward()
        return loss

    opt.step(closure)
    # Bounded: a near-constant or inverted validation set would otherwise drive T to 0 or infinity.
    t = float(log_t.clamp(math.log(T_MIN), math.log(T_MAX)).exp().item())
    if not np.isfinite(t) or t <= 0:
        return 1.0
    before = float(_nll(x, y, multilabel))
    after = float(_nll(x / t, y, multilabel))
    return t if after <= before else 1.0  # never make the validation NLL worse


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, *, n_bins: int = 15, multilabel: bool = False) -> float:
    """Top-label ECE with equal-width confidence bins (multi-label: over every label's probability)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if multilabel:
        conf = probs.reshape(-1)
        correct = (labels.reshape(-1) == 1).astype(float)
        conf_used = conf  # the probability of the positive label against its frequency
    else:
        conf_used = probs.max(axis=1)
        correct = (probs.argmax(axis=1) == labels.reshape(-1)).astype(float)
    if conf_used.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf_used, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf_used[sel].mean())
    return float(ece)
