"""Curves and calibration from stored test predictions (labels + P(FAKE)); no model is run here.

Every number the Model and Leaderboard pages show at a threshold comes from
`model_zoo.binary_metrics`, and every ECE from `model_zoo.decision`, so the dashboard
and the card always agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model_zoo import binary_metrics
from model_zoo.card import Card


def threshold_metrics(predictions: pd.DataFrame, threshold: float) -> dict:
    """Card-shaped metrics of one model's stored test predictions at a decision threshold."""
    return binary_metrics(predictions["label"].to_numpy(), predictions["prob_fake"].to_numpy(), threshold)


def _number(value: float | None, fmt: str = ".4f") -> str:
    return "n/a" if value is None else format(value, fmt)


def card_headline(card: Card) -> list[tuple[str, str, str]]:
    """(label, value, help) tiles for the Model page: test and leak-free test metrics, the decision
    threshold and how calibration changed validation ECE.
    """
    test, unseen = card.split_metrics("test") or {}, card.split_metrics("test_unseen") or {}
    decision, evaluation = card.decision_rule, card.evaluation
    tiles = [
        ("Test accuracy", _number(test.get("accuracy")) if test else "not evaluated",
         f"All {test.get('n', 0):,} test images, at the model's threshold." if test else "python -m training.evaluate NAME"),
        ("Test ROC-AUC", _number(test.get("roc_auc")), "Threshold-free ranking quality on the full test set."),
    ]
    if unseen:
        in_train = evaluation.test_in_train if evaluation else None
        excluded = f"; {in_train:,} test images that also occur in train are left out" if in_train is not None else ""
        tiles += [
            (f"Unseen accuracy (n={unseen.get('n', 0):,})", _number(unseen.get("accuracy")),
             f"Only test images whose file bytes occur nowhere in train{excluded}."),
            ("Unseen ROC-AUC", _number(unseen.get("roc_auc")), "ROC-AUC on the same unseen test images."),
        ]
    fitted = decision.fitted_on
    tiles.append(("Decision threshold", f"{card.threshold:.3f}",
                  f"P(FAKE) at or above it is called FAKE; fitted on {fitted}." if fitted else
                  "No fitted decision in the card: the default threshold."))
    if decision.ece_before is not None and decision.ece_after is not None:
        tiles.append(("Validation ECE", f"{decision.ece_before:.3f} → {decision.ece_after:.3f}",
                      f"Expected calibration error before → after temperature scaling "
                      f"(T = {card.temperature:.3g})."))
    if evaluation and evaluation.test_ece is not None:
        tiles.append(("Test ECE", f"{evaluation.test_ece:.4f}", "Expected calibration error of the calibrated "
                      "P(FAKE) on the test set."))
    return tiles


def normalized_confusion(confusion: list[list[int]] | np.ndarray) -> np.ndarray:
    """Rows divided by their totals (recall per true class); rows without samples stay 0."""
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def roc_points(labels: np.ndarray, prob_fake: np.ndarray) -> pd.DataFrame:
    """False/true positive rates over all thresholds (empty when only one class is present)."""
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        return pd.DataFrame({"fpr": [], "tpr": [], "threshold": []})
    from sklearn import metrics as skm  # imported when a curve is drawn: the inspect page never needs it

    fpr, tpr, thresholds = skm.roc_curve(labels, prob_fake)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.clip(thresholds, 0, 1)})


def pr_points(labels: np.ndarray, prob_fake: np.ndarray) -> pd.DataFrame:
    """Precision and recall over all thresholds, with average precision in `.attrs['ap']`."""
    labels = np.asarray(labels).astype(int)
    if labels.sum() == 0:
        frame = pd.DataFrame({"recall": [], "precision": []})
        frame.attrs["ap"] = None
        return frame
    from sklearn import metrics as skm

    precision, recall, _ = skm.precision_recall_curve(labels, prob_fake)
    frame = pd.DataFrame({"recall": recall, "precision": precision})
    frame.attrs["ap"] = float(skm.average_precision_score(labels, prob_fake))
    return frame


def reliability_bins(labels: np.ndarray, prob_fake: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of P(FAKE): mean predicted probability vs observed fraction FAKE, and counts."""
    labels = np.asarray(labels, dtype=float)
    prob_fake = np.clip(np.asarray(prob_fake, dtype=float), 0, 1)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(prob_fake, edges[1:-1], right=False), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        rows.append({
            "bin_low": edges[b],
            "bin_high": edges[b + 1],
            "mean_prob": float(prob_fake[mask].mean()) if count else np.nan,
            "fraction_fake": float(labels[mask].mean()) if count else np.nan,
            "count": count,
        })
    return pd.DataFrame(rows)

