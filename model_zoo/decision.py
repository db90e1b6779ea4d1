"""The decision rule: from a model's raw P(FAKE) to a calibrated score and a label.

Every consumer (evaluation, the predict CLI, the API, the dashboard, the leaderboard)
decides through here, so a model's verdict is the same wherever it is shown. The
card's "decision" block, fitted on the validation split by training, holds
    {"temperature": T, "threshold": t, "fitted_on": "validation", ...}
and P(FAKE) = sigmoid(logit(raw) / T); the verdict is FAKE when P(FAKE) >= t.
A card without the block (older entries) means T = 1 and t = 0.5.

The block may also hold an uncertain band around t, "uncertain_band": [low, high]
(fit_band): REAL below low, FAKE at or above high, UNCERTAIN in between. Cards
without it (older entries) decide REAL/FAKE at t, never UNCERTAIN.
"""

from __future__ import annotations

import numpy as np

from model_zoo.card import DEFAULT_THRESHOLD, Card

__all__ = ["DEFAULT_THRESHOLD"]
CLASS_NAMES = ("REAL", "FAKE")  # label 0, label 1 (FAKE is the positive class)
_EPS = 1e-7


def temperature(card: Card) -> float:
    """card.temperature (kept for callers written against the card dict)."""
    return card.temperature


def threshold(card: Card) -> float:
    """card.threshold (kept for callers written against the card dict)."""
    return card.threshold


def _logit(prob: np.ndarray) -> np.ndarray:
    prob = np.clip(np.asarray(prob, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(prob) - np.log1p(-prob)


def logit(prob: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) as float64, with p clipped away from 0 and 1 (so a saturated score stays finite)."""
    return _logit(prob)


def apply_temperature(raw_prob_fake: np.ndarray, temp: float) -> np.ndarray:
    """Temperature-scale sigmoid outputs: sigmoid(logit(p) / T), as float32."""
    if temp == 1.0:
        return np.asarray(raw_prob_fake, dtype=np.float32)
    return (1.0 / (1.0 + np.exp(-_logit(raw_prob_fake) / temp))).astype(np.float32)


def labels_for(prob_fake: np.ndarray, card_or_threshold: Card | float) -> np.ndarray:
    """0/1 labels (1 = FAKE) for calibrated P(FAKE) at the card's (or a given) threshold."""
    t = card_or_threshold.threshold if isinstance(card_or_threshold, Card) else float(card_or_threshold)
    return (np.asarray(prob_fake) >= t).astype(int)


def label_name(prob_fake: float, card_or_threshold: Card | float) -> str:
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


ECE_BINS = 15  # equal-width bins of P(FAKE) for every ECE figure: the cards', the dashboard's reliability chart


def expected_calibration_error(labels: np.ndarray, prob_fake: np.ndarray, bins: int = ECE_BINS) -> float:
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
    calibrated = apply_temperature(raw_prob_fake, temp)
    return {
        "temperature": round(temp, 4),
        "threshold": fit_threshold(labels, calibrated),
        "fitted_on": "validation",
        "ece_before": round(expected_calibration_error(labels, raw_prob_fake), 5),
        "ece_after": round(expected_calibration_error(labels, calibrated), 5),
    }


UNCERTAIN = "UNCERTAIN"
# The band's rule: each verdict it gives (REAL or FAKE) was right at least this often on validation.
BAND_TARGET_PRECISION = 0.99


def uncertain_band(card: Card) -> tuple[float, float]:
    """card.uncertain_band (kept for callers written against the card dict)."""
    return card.uncertain_band


def decide(prob_fake: float, card: Card, override: float | None = None) -> str:
    """"REAL", "FAKE" or "UNCERTAIN" for one calibrated P(FAKE).

    With `override` (a user's own threshold for every model) the band, fitted around the
    card's threshold, no longer applies: the decision is REAL/FAKE at the override.
    """
    if override is not None:
        return label_name(prob_fake, float(override))
    low, high = card.uncertain_band
    if prob_fake >= high and high < 1.0:  # high == 1: validation never supported a FAKE verdict
        return CLASS_NAMES[1]
    return CLASS_NAMES[0] if prob_fake < low else UNCERTAIN


def _side_cut(scores: np.ndarray, correct: np.ndarray, target: float) -> int:
    """How many of `scores` (sorted most confident first) to call: the most whose precision stays >= target.

    A cut never splits tied scores (they must get the same verdict), and holds at least 1 / (1 - target)
    images (100 for 99%): fewer cannot show that rate. 0 when no cut qualifies.
    """
    if not len(scores):
        return 0
    count = np.arange(1, len(scores) + 1)
    precise = (np.cumsum(correct) / count >= target) & (count >= np.ceil(1 / (1 - target) - 1e-9))
    boundary = np.append(scores[1:] != scores[:-1], True)  # the next score differs: a legal place to cut
    ok = np.flatnonzero(precise & boundary)
    return int(ok[-1] + 1) if len(ok) else 0


def fit_band(labels: np.ndarray, prob_fake: np.ndarray, decide_at: float,
             target: float = BAND_TARGET_PRECISION) -> dict:
    """The uncertain band around `decide_at`, from validation labels and calibrated P(FAKE).

    Rule (why): someone acting on one verdict needs to know how often that verdict is wrong, so
    each side is set on its own: FAKE from the lowest score at which the validation images called
    FAKE are still >= `target` FAKE (precision), REAL up to the highest score at which those called
    REAL are still >= `target` REAL, counting only cuts of at least 1 / (1 - target) images. Everything
    between is UNCERTAIN. A model already that precise at its threshold gets no band. A side that never
    reaches the target (or has too few validation images) leaves that verdict unused (its edge is
    1 for FAKE or 0 for REAL). Validation is balanced, like CIFAKE; on data where fakes
    are rarer, FAKE verdicts are wrong more often than this.
    """
    labels = np.asarray(labels).astype(int)
    prob_fake = np.asarray(prob_fake, dtype=np.float64)
    order = np.argsort(-prob_fake, kind="stable")  # most FAKE-looking first
    called_fake = order[prob_fake[order] >= decide_at]
    called_real = order[prob_fake[order] < decide_at][::-1]  # most REAL-looking first
    fake_side, fake_correct = prob_fake[called_fake], labels[called_fake] == 1
    real_side, real_correct = prob_fake[called_real], labels[called_real] == 0
    k_fake = _side_cut(fake_side, fake_correct, target)
    k_real = _side_cut(real_side, real_correct, target)
    # Cut halfway between the last score called and the next one, so the band is not glued to one image.
    if k_fake == len(fake_side):
        high = decide_at
    else:
        high = 1.0 if k_fake == 0 else (fake_side[k_fake - 1] + fake_side[k_fake]) / 2
    if k_real == len(real_side):
        low = decide_at
    else:
        low = 0.0 if k_real == 0 else (real_side[k_real - 1] + real_side[k_real]) / 2
    low, high = float(min(low, decide_at)), float(max(high, decide_at))
    summary = band_summary(labels, prob_fake, (low, high))
    return {"uncertain_band": [round(low, 6), round(high, 6)], "band_target_precision": target,
            "band_validation": summary}


def band_summary(labels: np.ndarray, prob_fake: np.ndarray, band: tuple[float, float]) -> dict:
    """How a band does on labelled data: share decided, and how often REAL and FAKE verdicts are right."""
    labels = np.asarray(labels).astype(int)
    prob_fake = np.asarray(prob_fake, dtype=np.float64)
    fake, real = (prob_fake >= band[1]) & (band[1] < 1.0), prob_fake < band[0]
    decided = fake | real

    def share(mask: np.ndarray, wanted: int) -> float | None:
        return round(float(np.mean(labels[mask] == wanted)), 5) if mask.any() else None

    return {
        "n": int(len(labels)),
        "coverage": round(float(decided.mean()), 5) if len(labels) else None,
        "accuracy_decided": round(float(np.mean(labels[decided] == fake[decided])), 5) if decided.any() else None,
        "fake_precision": share(fake, 1),
        "real_precision": share(real, 0),
    }
