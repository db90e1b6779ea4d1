"""Verdicts for uploaded images: decode once per input format, run every model, time it.

Model inputs are made only by `model_zoo.decode_for_card` and
`model_zoo.normalize_for_card`, the same path the predict CLI and the API use,
so the dashboard shows exactly what each model sees. Verdicts follow
model_zoo.decision: FAKE when the calibrated P(FAKE) reaches the model's own
threshold, unless the user sets one threshold for every model. Each verdict also
carries its decision (REAL, FAKE or UNCERTAIN inside the card's band) and its input
check (model_zoo.input_check: resampling and novelty, in plain words).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from model_zoo import ImageError, decode_for_card, decode_image, predict_prob_fake
from model_zoo.decision import CLASS_NAMES, UNCERTAIN, decide, label_name, threshold
from model_zoo.input_check import InputCheck, check_input, original_size
from model_zoo.novelty import NoveltyStats, predict_with_novelty

DISPLAY_MAX_SIDE = 512


@dataclass
class Verdict:
    model: str
    prob_fake: float
    threshold: float  # the model's card threshold, or the user's override
    decision: str = ""  # REAL, FAKE or UNCERTAIN (model_zoo.decision.decide); "" when not decided that way
    check: InputCheck | None = None  # how far the image is from this model's training images

    @property
    def label(self) -> str:
        return label_name(self.prob_fake, self.threshold)

    @property
    def in_distribution(self) -> bool | None:
        return None if self.check is None else self.check.in_distribution


@dataclass
class ImageResult:
    """One upload: what each model saw and said, or the reason it could not be read."""

    name: str
    error: str | None = None
    seen: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (H, W, 3) uint8 model input
    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0
    size: tuple[int, int] | None = None  # (width, height) of the upload as displayed


def _format_key(card: dict) -> str:
    """Cards that would produce identical model inputs share one decode."""
    return json.dumps([card["input_shape"], card["preprocessing"].get("resize", "area")])


def model_inputs(data: bytes, cards: Mapping[str, dict], name: str = "upload") -> dict[str, np.ndarray]:
    """Each model's (H, W, 3) uint8 input for these bytes; raises model_zoo.ImageError when unusable."""
    by_format: dict[str, np.ndarray] = {}
    seen = {}
    for model_name, card in cards.items():
        key = _format_key(card)
        if key not in by_format:
            by_format[key] = decode_for_card(data, card, name=name)
        seen[model_name] = by_format[key]
    return seen


def predict_prob(model, card: dict, seen: np.ndarray) -> float:
    """P(FAKE) for one model input (what the model sees)."""
    return float(predict_prob_fake(model, seen[None], card)[0])


def thresholds_for(models: Mapping[str, tuple[object, dict]], override: float | None = None) -> dict[str, float]:
    """Each model's decision threshold: its card's, or `override` for every model when one is given."""
    return {name: threshold(card) if override is None else float(override) for name, (_, card) in models.items()}


def threshold_note(thresholds: Mapping[str, float], override: float | None = None) -> str:
    """How the verdicts were decided, for captions."""
    if override is not None:
        return f"threshold {override:.2f} for every model (your override)"
    if len(set(thresholds.values())) == 1 and len(thresholds) > 1:
        return f"each model's own threshold (all {next(iter(thresholds.values())):.3g})"
    return "each model's own threshold (" + ", ".join(f"{m} {t:.3g}" for m, t in thresholds.items()) + ")"


def judge(data: bytes, models: Mapping[str, tuple[object, dict]], name: str = "upload",
          override: float | None = None, novelty: Mapping[str, NoveltyStats | None] | None = None) -> ImageResult:
    """Every model's verdict on one uploaded file, each at its card's threshold (or `override` for all),
    with its decision and input check (`novelty`: each model's stats, model_zoo.novelty.load_stats);
    unusable files give an ImageResult with `error` set.
    """
    start = time.perf_counter()
    result = ImageResult(name=name)
    try:
        result.seen = model_inputs(data, {m: card for m, (_, card) in models.items()}, name=name)
        result.size = original_size(data, name=name)
    except ImageError as exc:
        result.error = str(exc)
        return result
    decide_at = thresholds_for(models, override)
    for model_name, (model, card) in models.items():
        probs, scores = predict_with_novelty(model, result.seen[model_name][None], card, (novelty or {}).get(model_name))
        prob = float(probs[0])
        check = check_input(result.size, card, None if scores is None else float(scores[0]))
        result.verdicts.append(Verdict(model_name, prob, decide_at[model_name], decide(prob, card, override), check))
    result.seconds = time.perf_counter() - start
    return result


def display_image(data: bytes, name: str = "upload", max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The upload as a screen-sized RGB picture (display only; never a model input)."""
    rgb = decode_image(data, name=name, min_size=(max_side, max_side))
    scale = max_side / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    return rgb


def input_notes(result: ImageResult) -> list[str]:
    """The input check in plain words, once per distinct sentence: the resampling note (one for all
    models of an input size) and which models find the image unlike their training images."""
    notes: list[str] = []
    for verdict in result.verdicts:
        message = verdict.check.size_message() if verdict.check else None
        if message and message not in notes:
            notes.append(message)
    novel = [v.model for v in result.verdicts if v.check and v.check.novel]
    if novel:
        finds, it_was, its = ("finds", "it was", "its") if len(novel) == 1 else ("find", "they were", "their")
        notes.append(f"{_names(novel)} {finds} this image unlike the images {it_was} trained on (novelty above a "
                     f"cut-off that only 1 in 100 CIFAKE validation images exceed), so {its} verdict is unreliable.")
    return notes


def _names(models: Sequence[str]) -> str:
    return models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]


def input_summary(result: ImageResult) -> str:
    """A few words for a table cell: in distribution, or what is off."""
    if result.error or not result.verdicts:
        return ""
    parts = []
    checks = [v.check for v in result.verdicts if v.check]
    if any(c.resampled for c in checks):
        shrink = max(c.shrink_factor for c in checks)
        parts.append(f"shrunk {shrink:.0f}x" if shrink >= 1.5 else "resized")
    novel = sum(bool(c.novel) for c in checks)
    if novel:
        parts.append(f"novel for {novel}/{len(result.verdicts)}")
    if parts:
        return "unreliable: " + ", ".join(parts)
    return "like training images" if all(c.novel is False for c in checks) and checks else "no novelty score"


def verdict_rows(results: Sequence[ImageResult]) -> list[dict]:
    """One row per image: its name, how many models call it FAKE / UNCERTAIN, its input check,
    then P(FAKE) per model (or the error)."""
    rows = []
    for result in results:
        row: dict = {"image": result.name}
        if result.error:
            row["error"] = result.error
        else:
            fake = sum(v.label == CLASS_NAMES[1] for v in result.verdicts)
            row["FAKE votes"] = f"{fake}/{len(result.verdicts)}"
            row["UNCERTAIN"] = sum(v.decision == UNCERTAIN for v in result.verdicts)
            row["input check"] = input_summary(result)
        for verdict in result.verdicts:
            row[verdict.model] = round(verdict.prob_fake, 4)
        rows.append(row)
    return rows


def verdicts_json(results: Sequence[ImageResult]) -> str:
    """The verdicts as a JSON document for download."""
    images = []
    for result in results:
        item: dict = {"image": result.name}
        if result.error:
            item["error"] = result.error
        else:
            item["models"] = [
                {"model": v.model, "verdict": v.label, "decision": v.decision, "prob_fake": round(v.prob_fake, 6),
                 "threshold": v.threshold, "in_distribution": v.in_distribution,
                 "input_check": v.check.as_dict() if v.check else None}
                for v in result.verdicts
            ]
        images.append(item)
    return json.dumps({"images": images}, indent=2)


def measure_latency_ms(model, card: dict, repeats: int = 7) -> float:
    """Median wall time of one single-image forward pass on this machine's CPU, after a warm-up call."""
    height, width, _ = card["input_shape"]
    seen = np.zeros((height, width, 3), np.uint8)
    predict_prob(model, card, seen)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_prob(model, card, seen)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
