"""One model's verdict on one image, in the record shape the predict CLI and the JSON API both return."""

from __future__ import annotations

from typing import Any

from model_zoo.decision import CLASS_NAMES, label_name, threshold


def hf_predictions(prob_fake: float) -> list[dict[str, Any]]:
    """Scores shaped like the Hugging Face image-classification pipeline, highest first.

    The scores are the calibrated probabilities; the verdict is the record's "label"
    (at the model's own threshold), which need not be the top-scored label.
    """
    real, fake = CLASS_NAMES
    scores = [{"label": fake, "score": round(float(prob_fake), 6)}, {"label": real, "score": round(1 - float(prob_fake), 6)}]
    return sorted(scores, key=lambda s: -s["score"])


def verdict_record(model: str, prob_fake: float, card_or_threshold: dict | float) -> dict[str, Any]:
    """{"model", "label", "prob_fake", "threshold", "predictions"} for a calibrated P(FAKE)."""
    decide_at = threshold(card_or_threshold) if isinstance(card_or_threshold, dict) else float(card_or_threshold)
    return {"model": model, "label": label_name(prob_fake, decide_at), "prob_fake": round(float(prob_fake), 6),
            "threshold": decide_at, "predictions": hf_predictions(prob_fake)}
