"""One model's verdict on one image (Verdict), in the one record shape every entry point returns."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, decide, label_name

if TYPE_CHECKING:
    from model_zoo.input_check import InputCheck
    from model_zoo.zoo import ZooEntry


def hf_predictions(prob_fake: float) -> list[dict[str, Any]]:
    """Scores shaped like the Hugging Face image-classification pipeline, highest first.

    The scores are the calibrated probabilities; the verdict is the record's "label"
    (at the model's own threshold), which need not be the top-scored label.
    """
    real, fake = CLASS_NAMES
    scores = [{"label": fake, "score": round(float(prob_fake), 6)}, {"label": real, "score": round(1 - float(prob_fake), 6)}]
    return sorted(scores, key=lambda s: -s["score"])


def is_calibrated(card: Card) -> bool:
    """card.is_calibrated (kept for callers)."""
    return card.is_calibrated


def model_version(entry: ZooEntry) -> str:
    """"<card created>@<first 12 hex digits of model.keras's SHA-256>": names the exact weights that answered.

    The timestamp says which training run; the hash changes whenever the weights file does,
    even when a file is replaced by hand. Hashed once per file version (path, size, mtime). A consensus entry
    (no weights of its own) hashes its card, which names its members and combiner.
    """
    path = entry.model_path if entry.model_path.is_file() else entry.path / "card.json"
    stat = path.stat()
    return f"{entry.card.created or 'unknown'}@{_sha256(str(path), stat.st_size, stat.st_mtime_ns)[:12]}"


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Verdict:
    """One model's verdict on one image: the fields every entry point prints, and `as_dict` its one record shape."""

    model: str
    prob_fake: float  # calibrated P(FAKE)
    threshold: float  # the card's threshold, or the user's one threshold for every model
    decision: str  # REAL, FAKE or UNCERTAIN (model_zoo.decision.decide)
    uncertain_band: tuple[float, float]  # (t, t) when there is none
    calibrated: bool  # temperature-scaled on validation (older cards: raw sigmoid)
    input_check: InputCheck | None = None  # size and novelty against the model's training images
    model_version: str | None = None  # which weights answered (model_version)
    inference_time_ms: float | None = None  # this model's share of the judging, per image
    reason: str | None = None  # why the decision is UNCERTAIN, when a consensus says (model_zoo.consensus)
    consensus: dict[str, Any] | None = None  # a consensus's combiner, member count, spread and its cut-off

    @property
    def label(self) -> str:
        """REAL or FAKE at the threshold (no abstaining); `decision` may say UNCERTAIN instead."""
        return label_name(self.prob_fake, self.threshold)

    @property
    def in_distribution(self) -> bool | None:
        return None if self.input_check is None else self.input_check.in_distribution

    def as_dict(self) -> dict[str, Any]:
        """{"model", "label", "prob_fake", "threshold", "predictions" (Hugging Face pipeline shape), "decision",
        "uncertain_band", "calibrated"}; with an input check also "novelty", "novelty_cutoff", "in_distribution"
        and "input_check" (InputCheck.as_dict); then "model_version" and "inference_time_ms" when known; a
        consensus adds "reason" (why UNCERTAIN, when it is) and "consensus" (combiner, members, spread)."""
        record = {"model": self.model, "label": self.label, "prob_fake": round(float(self.prob_fake), 6),
                  "threshold": self.threshold, "predictions": hf_predictions(self.prob_fake),
                  "decision": self.decision, "uncertain_band": list(self.uncertain_band), "calibrated": self.calibrated}
        if self.input_check is not None:
            details = self.input_check.as_dict()
            record |= {"novelty": details["novelty"], "novelty_cutoff": details["novelty_cutoff"],
                       "in_distribution": details["in_distribution"], "input_check": details}
        if self.model_version is not None:
            record["model_version"] = self.model_version
        if self.inference_time_ms is not None:
            record["inference_time_ms"] = round(self.inference_time_ms, 2)
        if self.reason is not None:
            record["reason"] = self.reason
        if self.consensus is not None:
            record["consensus"] = self.consensus
        return record


def verdict_for(model: str, prob_fake: float, card: Card, input_check: InputCheck | None = None, *,
                override: float | None = None, version: str | None = None,
                inference_time_ms: float | None = None) -> Verdict:
    """The verdict of the model of `card` for a calibrated P(FAKE), at the card's threshold and band.

    With `override` (one threshold for every model, the dashboard's choice) the band, fitted around
    the card's threshold, does not apply: the decision is REAL or FAKE at the override.
    """
    band = (float(override),) * 2 if override is not None else card.uncertain_band
    return Verdict(model, float(prob_fake), float(override) if override is not None else card.threshold,
                   decide(prob_fake, card, override), band, card.is_calibrated, input_check, version,
                   inference_time_ms)
