"""What the evidence tests of one image measured (model_zoo.evidence) and the cut-offs their sentences name
(model_zoo.evidence_words): plain records, so measuring and wording share them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_zoo.cue_vocabulary import BANDS

LOWPASS_KEEP = (12, 8, 4)  # bands kept, of 16: three cut-offs from "no finest texture" to "only the coarse layout"
COARSE_KEEP = 8  # the cut-off the sentence names: the lower half of the frequencies, "coarse detail only"
HIGHPASS_DROP = 8  # bands removed: the upper half alone, "fine detail only" (mirrors COARSE_KEEP)
GRADCAM_SHARE = 0.25  # as the cue study's larger Grad-CAM level: enough pixels to carry evidence on 32x32

# Families, in the order the table shows them.
FREQUENCY, LOCATION, HEATMAP, LAYOUT, COLOUR, RESAVE, STABILITY = (
    "frequency", "location", "Grad-CAM", "layout", "colour", "re-save", "stability")


@dataclass(frozen=True)
class TestResult:
    """One change and the model's calibrated P(FAKE) after it."""

    key: str
    family: str
    label: str
    prob_fake: float
    verdict: str  # FAKE or REAL at the model's threshold

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "family": self.family, "change": self.label, "prob_fake": round(self.prob_fake, 4),
                "verdict": self.verdict}


@dataclass(frozen=True)
class Counterfactual:
    """The smallest blend toward the coarse-only image that flips the verdict (amount None: none does)."""

    amount: float | None  # share of the way from the image (0) to its coarse-only version (1)
    prob_fake: float  # at `amount`, or at the full blend when nothing flips
    target_prob_fake: float  # the coarse-only image's own P(FAKE)
    bands: int
    image: np.ndarray = field(repr=False)  # the whole image blended at `amount` (the full blend when none flips)
    target: np.ndarray = field(repr=False)  # the coarse-only image
    original: np.ndarray = field(repr=False)  # the image as the model sees it

    def as_dict(self) -> dict[str, Any]:
        return {"blend_toward": f"coarse detail only (lowest {self.bands} of {BANDS} bands)",
                "flips_at": None if self.amount is None else round(self.amount, 4),
                "prob_fake": round(self.prob_fake, 4), "target_prob_fake": round(self.target_prob_fake, 4)}


@dataclass(frozen=True)
class Evidence:
    """Every evidence test of one image under one model, and what they say in words (model_zoo.evidence_words)."""

    model: str
    prob_fake: float
    threshold: float
    verdict: str
    tests: tuple[TestResult, ...]
    crops: int  # views each change was applied to: 1, or the crop grid's size
    left_out: dict[str, str]
    counterfactual: Counterfactual | None
    seconds: float
    sentences: tuple[str, ...] = ()
    stability: tuple[str, ...] = ()

    def test(self, key: str) -> TestResult | None:
        return next((t for t in self.tests if t.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "prob_fake": round(self.prob_fake, 4), "threshold": round(self.threshold, 4),
                "verdict": self.verdict, "sentences": list(self.sentences), "stability": list(self.stability),
                "tests": [t.as_dict() for t in self.tests if t.key != "none"], "crops": self.crops,
                "left_out": self.left_out,
                "counterfactual": None if self.counterfactual is None else self.counterfactual.as_dict(),
                "seconds": round(self.seconds, 3)}
