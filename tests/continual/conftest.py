"""Helpers shared by the continual tests: tiny scoring output folders (predictions.csv)."""

from __future__ import annotations

import csv

import pytest

HEADER = ["case_id", "source", "prob_benign", "prob_malignant", "predicted_label", "confidence", "uncertainty",
          "status"]


def _write_predictions(folder, rows, header=HEADER):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "predictions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return folder


def _row(case_id, uncertainty, confidence=None, status="ok"):
    p = 0.5 if confidence is None else confidence
    return {"case_id": case_id, "source": f"{case_id}.png", "prob_benign": p, "prob_malignant": 1 - p,
            "predicted_label": "benign", "confidence": "" if confidence is None else confidence,
            "uncertainty": "" if uncertainty is None else uncertainty, "status": status}


@pytest.fixture
def write_predictions():
    """``write_predictions(folder, rows, header=HEADER) -> folder`` with OUT/predictions.csv."""
    return _write_predictions


@pytest.fixture
def pred_row():
    """``pred_row(case_id, uncertainty, confidence=None, status="ok") -> dict`` (a classification row)."""
    return _row
