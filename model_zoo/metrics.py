"""Binary classification metrics in the card's shape (FAKE = 1 is the positive class)."""

from __future__ import annotations

import numpy as np

from model_zoo.decision import labels_for

METRIC_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix", "n")


def binary_metrics(labels: np.ndarray, prob_fake: np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC and [[TN, FP], [FN, TP]] at a threshold.

    The threshold has no default: pass the card's (model_zoo.decision.threshold), so no
    caller silently decides at 0.5. ROC-AUC is None when only one class is present.
    """
    from sklearn import metrics as skm  # here, not at the top: `import model_zoo` (every process) skips its ~1 s

    labels = np.asarray(labels).astype(int)
    prob_fake = np.asarray(prob_fake, dtype=float)
    predicted = labels_for(prob_fake, threshold)
    confusion = skm.confusion_matrix(labels, predicted, labels=[0, 1])
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "precision": float(skm.precision_score(labels, predicted, zero_division=0)),
        "recall": float(skm.recall_score(labels, predicted, zero_division=0)),
        "f1": float(skm.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(labels, prob_fake)) if both_classes else None,
        "confusion_matrix": confusion.astype(int).tolist(),
        "n": int(len(labels)),
    }
