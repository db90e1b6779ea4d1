"""An operating point chosen by the cost of mistakes: the threshold that keeps false positives on REAL images rare.

The user picks a maximum false-positive rate: the share of REAL images a model may call FAKE. The threshold
is chosen on the model's stored validation predictions (validation_predictions.csv; never the test set):
the lowest threshold at which at most that share of the REAL validation images score at or above it
(threshold_for_max_fpr). The stored test predictions then say what to expect at it: test false-positive
rate, precision and recall (OperatingPoint).

What the rate means: it is measured on CIFAKE's REAL images (CIFAR-10 photos). On images unlike CIFAKE (other
cameras, sizes, generators, compression) nothing is guaranteed: the false-positive rate there can be anything.
Precision also depends on how common fakes are; CIFAKE's test set is half FAKE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_zoo.zoo import ZooEntry, ZooError


class MaxFprError(ValueError):
    """A maximum false-positive rate that is not a number strictly between 0 and 1; the message says so."""


def parse_max_fpr(value: object) -> float:
    """The rate as a float in (0, 1); MaxFprError (with the bad value) for anything else."""
    try:
        rate = float(str(value).strip())
    except (TypeError, ValueError):
        raise MaxFprError(f"max_fpr must be a number between 0 and 1 (e.g. 0.01 for 1%), got {value!r}") from None
    if not math.isfinite(rate) or not 0 < rate < 1:
        raise MaxFprError(f"max_fpr must be between 0 and 1, exclusive (e.g. 0.01 for 1%), got {value!r}")
    return rate


def threshold_for_max_fpr(labels: np.ndarray, prob_fake: np.ndarray, max_fpr: float) -> float:
    """The lowest threshold t (FAKE when P(FAKE) >= t) at which at most `max_fpr` of the REAL images (label 0)
    score >= t. Tied scores get one verdict, so the cut never splits them; it sits halfway between the last
    REAL score allowed through and the next higher one, not glued to one image."""
    max_fpr = parse_max_fpr(max_fpr)
    labels, prob_fake = np.asarray(labels).astype(int), np.asarray(prob_fake, np.float64)
    real = np.sort(prob_fake[labels == 0])[::-1]  # most FAKE-looking REAL images first
    if not len(real):
        raise ZooError("no REAL images to measure a false-positive rate on")
    allowed = int(math.floor(max_fpr * len(real) + 1e-9))  # REAL images that may be called FAKE
    if allowed >= len(real):
        return float(real[-1])
    kept = real[allowed]  # the highest REAL score that must stay below the threshold
    above = real[:allowed][real[:allowed] > kept]
    upper = float(above[-1]) if len(above) else 1.0
    cut = (kept + upper) / 2 if upper > kept else float(np.nextafter(kept, np.inf))
    return float(cut if cut > kept else np.nextafter(kept, np.inf))


def rates(labels: np.ndarray, prob_fake: np.ndarray, cut: float) -> dict[str, float | int | None]:
    """False-positive rate, precision and recall (FAKE positive) at `cut`, with the counts they rest on."""
    labels, called = np.asarray(labels).astype(int), np.asarray(prob_fake, np.float64) >= cut
    real, fake = labels == 0, labels == 1
    false_pos, true_pos = int((called & real).sum()), int((called & fake).sum())
    return {"fpr": false_pos / real.sum() if real.any() else None,
            "precision": true_pos / called.sum() if called.any() else None,
            "recall": true_pos / fake.sum() if fake.any() else None,
            "n_real": int(real.sum()), "n_fake": int(fake.sum())}


@dataclass(frozen=True)
class OperatingPoint:
    """A model's threshold for a maximum false-positive rate, with how it did on validation and test."""

    model: str
    max_fpr: float
    threshold: float
    validation: dict  # rates() on the validation predictions (where the threshold was chosen)
    test: dict | None  # rates() on the stored test predictions (what to expect), None before evaluation

    def describe(self) -> str:
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2%}"

        line = (f"{self.model}: FAKE at P(FAKE) >= {self.threshold:.4f} for at most {self.max_fpr:.2%} false positives "
                f"on REAL (chosen on {self.validation['n_real']:,} REAL validation images: {pct(self.validation['fpr'])})")
        if self.test:
            line += (f"; expected on CIFAKE test: false-positive rate {pct(self.test['fpr'])}, precision "
                     f"{pct(self.test['precision'])}, recall {pct(self.test['recall'])}")
        return line + ". On images unlike CIFAKE nothing is guaranteed."

    def as_dict(self) -> dict:
        return {"model": self.model, "max_fpr": self.max_fpr, "threshold": round(self.threshold, 6),
                "chosen_on": "validation", "validation": self.validation, "expected_test": self.test,
                "note": "measured on CIFAKE; on images unlike CIFAKE nothing is guaranteed"}


def operating_point(entry: ZooEntry, max_fpr: float) -> OperatingPoint:
    """The entry's threshold for `max_fpr`, from its validation predictions; ZooError when they are not stored."""
    max_fpr = parse_max_fpr(max_fpr)
    validation = entry.validation_predictions()
    if validation is None:
        raise ZooError(f"{entry.path}: no validation_predictions.csv to choose a threshold on (run `python -m "
                       f"training.evaluate {entry.name} --validation-only`)")
    labels, probs = validation["label"].to_numpy(), validation["prob_fake"].to_numpy()
    cut = threshold_for_max_fpr(labels, probs, max_fpr)
    test = entry.test_predictions()
    return OperatingPoint(entry.name, max_fpr, cut, rates(labels, probs, cut),
                          None if test is None else rates(test["label"].to_numpy(), test["prob_fake"].to_numpy(), cut))


def operating_points(entries: Sequence[ZooEntry], max_fpr: float) -> dict[str, OperatingPoint]:
    """operating_point for each entry, by name."""
    return {entry.name: operating_point(entry, max_fpr) for entry in entries}
