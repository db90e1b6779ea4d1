"""One model's verdict on one image, in the record shape the predict CLI and the JSON API both return."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_zoo.decision import CLASS_NAMES, decide, label_name, threshold, uncertain_band

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


def is_calibrated(card: dict) -> bool:
    """Whether the card's P(FAKE) is temperature-scaled on validation (older cards give raw sigmoid scores)."""
    return (card.get("decision") or {}).get("fitted_on") == "validation" and "temperature" in card["decision"]


def model_version(entry: ZooEntry) -> str:
    """"<card created>@<first 12 hex digits of model.keras's SHA-256>": names the exact weights that answered.

    The timestamp says which training run; the hash changes whenever the weights file does,
    even when a file is replaced by hand. Hashed once per file version (path, size, mtime).
    """
    stat = entry.model_path.stat()
    return f"{entry.card.get('created', 'unknown')}@{_sha256(str(entry.model_path), stat.st_size, stat.st_mtime_ns)[:12]}"


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verdict_record(model: str, prob_fake: float, card_or_threshold: dict | float,
                   check: InputCheck | None = None) -> dict[str, Any]:
    """One model's verdict for a calibrated P(FAKE).

    {"model", "label" (REAL/FAKE at the threshold), "prob_fake", "threshold", "predictions" (Hugging Face
    pipeline shape), "decision" (REAL/FAKE/UNCERTAIN, model_zoo.decision.decide), "uncertain_band",
    "calibrated"}; with an input check also "novelty", "novelty_cutoff", "in_distribution" and
    "input_check" (model_zoo.input_check.InputCheck.as_dict). Given a bare threshold there is no band
    and "calibrated" is None (unknown).
    """
    card = card_or_threshold if isinstance(card_or_threshold, dict) else {"decision": {"threshold": card_or_threshold}}
    decide_at = threshold(card)
    record = {"model": model, "label": label_name(prob_fake, decide_at), "prob_fake": round(float(prob_fake), 6),
              "threshold": decide_at, "predictions": hf_predictions(prob_fake), "decision": decide(prob_fake, card),
              "uncertain_band": list(uncertain_band(card)),
              "calibrated": is_calibrated(card) if isinstance(card_or_threshold, dict) else None}
    if check is not None:
        details = check.as_dict()
        record |= {"novelty": details["novelty"], "novelty_cutoff": details["novelty_cutoff"],
                   "in_distribution": details["in_distribution"], "input_check": details}
    return record
