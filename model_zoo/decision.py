"""The decision rule: from a model's raw P(FAKE) to a calibrated score and a label.

Every consumer (evaluation, the predict CLI, the API, the dashboard, the leaderboard)
decides through here, so a model's verdict is the same wherever it is shown. The
card's "decision" block, fitted on the validation split by training, holds
    {"temperature": T, "threshold": t, "fitted_on": "validation", ...}
and P(FAKE) = sigmoid(logit(raw) / T); the verdict is FAKE when P(FAKE) >= t.
A card without the block (older entries) means T = 1 and t = 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model_zoo.zoo import ZooEntry

CLASS_NAMES = ("REAL", "FAKE")  # label 0, label 1 (FAKE is the positive class)
DEFAULT_THRESHOLD = 0.5
_EPS = 1e-7


def temperature(card: dict) -> float:
    return float(card.get("decision", {}).get("temperature", 1.0))


def threshold(card: dict) -> float:
    return float(card.get("decision", {}).get("threshold", DEFAULT_THRESHOLD))


def _logit(prob: np.ndarray) -> np.ndarray:
    prob = np.clip(np.asarray(prob, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(prob) - np.log1p(-prob)


def calibrate(raw_prob_fake: np.ndarray, temp: float) -> np.ndarray:
    """Temperature-scale sigmoid outputs: sigmoid(logit(p) / T), as float32."""
    if temp == 1.0:
        return np.asarray(raw_prob_fake, dtype=np.float32)
    return (1.0 / (1.0 + np.exp(-_logit(raw_prob_fake) / temp))).astype(np.float32)


def labels_for(prob_fake: np.ndarray, card_or_threshold: dict | float) -> np.ndarray:
    """0/1 labels (1 = FAKE) for calibrated P(FAKE) at the card's (or a given) threshold."""
    t = threshold(card_or_threshold) if isinstance(card_or_threshold, dict) else float(card_or_threshold)
    return (np.asarray(prob_fake) >= t).astype(int)


def label_name(prob_fake: float, card_or_threshold: dict | float) -> str:
    """"REAL" or "FAKE" for one calibrated P(FAKE)."""
    return CLASS_NAMES[int(labels_for(np.array([prob_fake]), card_or_threshold)[0])]


def fit_temperature(labels: np.ndarray, raw_prob_fake: np.ndarray) -> float:
    """The T that minimises the negative log-likelihood of sigmoid(logit / T) on held-out data."""
    logits, y = _logit(raw_prob_fake), np.asarray(labels, dtype=np.float64)

    def nll(temp: float) -> float:
        z = logits / temp
        return float(np.mean(np.logaddexp(0, z) - y * z))

    # NLL is smooth and unimodal in log T: a coarse grid then a golden-section refinement.
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 121))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    low, high = best / 1.07, best * 1.07
    golden = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = high - golden * (high - low), low + golden * (high - low)
        low, high = (low, b) if nll(a) < nll(b) else (a, high)
    return float((low + high) / 2)


def fit_threshold(labels: np.ndarray, prob_fake: np.ndarray) -> float:
    """The threshold with the highest accuracy on held-out data (ties: the one nearest 0.5)."""
    labels = np.asarray(labels).astype(int)
    candidates = np.round(np.arange(0.05, 0.951, 0.005), 3)
    accuracy = np.array([np.mean((prob_fake >= t) == labels) for t in candidates])
    best = np.flatnonzero(accuracy == accuracy.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def expected_calibration_error(labels: np.ndarray, prob_fake: np.ndarray, bins: int = 15) -> float:
    """ECE of P(FAKE): the bin-weighted gap between mean score and the fraction that is FAKE."""
    labels, prob_fake = np.asarray(labels, dtype=float), np.asarray(prob_fake, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob_fake, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(prob_fake[mask].mean() - labels[mask].mean())
    return float(total)


def fit_decision(labels: np.ndarray, raw_prob_fake: np.ndarray) -> dict:
    """The card's "decision" block from validation labels and raw model scores."""
    temp = fit_temperature(labels, raw_prob_fake)
    calibrated = calibrate(raw_prob_fake, temp)
    return {
        "temperature": round(temp, 4),
        "threshold": fit_threshold(labels, calibrated),
        "fitted_on": "validation",
        "ece_before": round(expected_calibration_error(labels, raw_prob_fake), 5),
        "ece_after": round(expected_calibration_error(labels, calibrated), 5),
    }


def rank_key(entry: ZooEntry) -> tuple:
    """Sort key, best model first: highest test accuracy, then ROC-AUC, then fewer parameters, then name."""
    metrics = entry.test_metrics or {}
    return (-(metrics.get("accuracy") or 0.0), -(metrics.get("roc_auc") or 0.0), entry.card.get("params", 0), entry.name)


def rank_entries(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """Evaluated entries, best first (the leaderboard's order and `--model best`)."""
    return sorted((e for e in entries if e.test_metrics), key=rank_key)


def best_entry(entries: Sequence[ZooEntry]) -> ZooEntry | None:
    ranked = rank_entries(entries)
    return ranked[0] if ranked else None
