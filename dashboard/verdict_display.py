"""The inspect page's plain functions around model_zoo.judge: thresholds, notes, table rows, the JSON download.

Uploads are judged by model_zoo.judge.judge, the path the predict CLI and the API use, so the dashboard
shows exactly what each model sees and says. Verdicts follow model_zoo.decision: FAKE when the calibrated
P(FAKE) reaches the model's own threshold, unless the user sets one threshold for every model. Each verdict
also carries its decision (REAL, FAKE or UNCERTAIN inside the card's band) and its input check
(model_zoo.input_check: resampling and novelty, in plain words).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from model_zoo import LoadedModel, decode_image, predict_prob_fake
from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, UNCERTAIN
from model_zoo.judge import JudgedImage
from model_zoo.zoo import CIFAKE_NAME, ZooEntry

DISPLAY_MAX_SIDE = 512


def predict_prob(model, card: Card, seen: np.ndarray) -> float:
    """P(FAKE) for one model input (what the model sees)."""
    return float(predict_prob_fake(model, seen[None], card)[0])


def thresholds_for(models: Mapping[str, LoadedModel], override: float | None = None) -> dict[str, float]:
    """Each model's decision threshold: its card's, or `override` for every model when one is given."""
    return {name: loaded.card.threshold if override is None else float(override) for name, loaded in models.items()}


def threshold_note(thresholds: Mapping[str, float], override: float | None = None) -> str:
    """How the verdicts were decided, for captions."""
    if override is not None:
        return f"threshold {override:.2f} for every model (your override)"
    if len(set(thresholds.values())) == 1 and len(thresholds) > 1:
        return f"each model's own threshold (all {next(iter(thresholds.values())):.3g})"
    return "each model's own threshold (" + ", ".join(f"{m} {t:.3g}" for m, t in thresholds.items()) + ")"


def study_arms_note(left_out: int) -> str:
    """Why `left_out` zoo entries give no verdict here ("" when none is left out), for the verdict caption."""
    if not left_out:
        return ""
    arms = "1 study arm is" if left_out == 1 else f"{left_out} study arms are"
    return f" The zoo's {arms} left out: worse on purpose, they are compared on the studies page."


def display_image(data: bytes, name: str = "upload", max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The upload as a screen-sized RGB picture (display only; never a model input)."""
    rgb = decode_image(data, name=name, min_size=(max_side, max_side))
    scale = max_side / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    return rgb


def input_notes(result: JudgedImage) -> list[str]:
    """The input check in plain words, once per distinct sentence: the resampling note (one for all
    models of an input size) and which models find the image unlike their training images."""
    by_message: dict[str, list[str]] = {}
    for verdict in result.verdicts:
        message = verdict.input_check.size_message() if verdict.input_check else None
        if message:
            by_message.setdefault(message, []).append(verdict.model)
    # Unless every model saw the image alike, each sentence names its models: "the model" in one sentence must not
    # be read as every model's (input sizes and crops differ between models).
    checked = sum(1 for verdict in result.verdicts if verdict.input_check)
    notes = [message if len(models) == checked else f"{_names(models)}: {message}"
             for message, models in by_message.items()]
    flagged = [v for v in result.verdicts if v.input_check and v.input_check.novel]
    if flagged:
        novel = [v.model for v in flagged]
        finds, it_was, its = ("finds", "it was", "its") if len(novel) == 1 else ("find", "they were", "their")
        # Models calibrated on different data (CIFAKE, a folder's own validation images) share no one name for it.
        sets = {v.input_check.calibration_set for v in flagged}
        calibrated_on = flagged[0].input_check.calibration_images(its) if len(sets) == 1 else f"of {its} validation images"
        notes.append(f"{_names(novel)} {finds} this image unlike the images {it_was} trained on (novelty above a "
                     f"cut-off that only 1 in 100 {calibrated_on} exceed), so {its} verdict is unreliable.")
    return notes


def unscored_note(result: JudgedImage) -> str | None:
    """For an image of the training size that no model flagged: which models could not score its novelty, and why."""
    untrusted = [v.model for v in result.verdicts if v.input_check and v.input_check.noise_flagged is not None]
    missing = [v.model for v in result.verdicts if v.in_distribution is None and v.model not in untrusted]
    parts = []
    if untrusted:
        parts.append(f"{_names(untrusted)} cannot tell whether it looks like {'its' if len(untrusted) == 1 else 'their'} "
                     "training images (a novelty check that let pure noise through when calibrated is not used)")
    if missing:
        parts.append(f"{_names(missing)} {'has' if len(missing) == 1 else 'have'} no novelty score "
                     "(fit one with `python -m training.calibrate NAME`)")
    return f"Input check: the image has the training images' size; {'; '.join(parts)}." if parts else None


def _names(models: Sequence[str]) -> str:
    return models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]


CIFAKE_NOTE = ("These models were trained on **32x32** CIFAKE images (CIFAR-10 photos vs. Stable Diffusion images). "
               "A large modern photo is judged after being downscaled to the model's input size, shown below as "
               "\"what each model sees\"; verdicts on such images say little about real-world photos.")


def training_data_note(entries: Sequence[ZooEntry]) -> str:
    """The banner above the uploads: what the answering models learnt from. A detector knows only the generators of
    its training images, so a zoo holding models trained on a user's folder names each set and its models."""
    by_set: dict[str, list[str]] = {}
    for entry in entries:
        by_set.setdefault(entry.card.training_set_name, []).append(entry.name)
    if set(by_set) <= {CIFAKE_NAME}:
        return CIFAKE_NOTE
    sets = [f"{_names(models)} on **32x32** CIFAKE images (CIFAR-10 photos vs. Stable Diffusion 1.4)"
            if name == CIFAKE_NAME else f"{_names(models)} on the labelled folder **{name}**"
            for name, models in by_set.items()]
    return ("Each model knows only the kinds of image it was trained on: " + "; ".join(sets) + ". Each one judges "
            "an upload as it saw its training images (\"what each model sees\" below), and its verdict on images "
            "from another source or generator says little.")


def input_summary(result: JudgedImage) -> str:
    """A few words for a table cell: in distribution, or what is off."""
    if result.error or not result.verdicts:
        return ""
    parts = []
    checks = [v.input_check for v in result.verdicts if v.input_check]
    if any(c.resampled for c in checks):
        shrink = max(c.shrink_factor for c in checks)
        parts.append(f"shrunk {shrink:.0f}x" if shrink >= 1.5 else "resized")
    novel = sum(bool(c.novel) for c in checks)
    if novel:
        parts.append(f"novel for {novel}/{len(result.verdicts)}")
    if parts:
        return "unreliable: " + ", ".join(parts)
    return "like training images" if all(c.novel is False for c in checks) and checks else "no novelty score"


def verdict_rows(results: Sequence[JudgedImage]) -> list[dict]:
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


def verdicts_json(results: Sequence[JudgedImage]) -> str:
    """The verdicts as a JSON document for download: per image, the API's verdict records (Verdict.as_dict)."""
    images = []
    for result in results:
        item: dict = {"image": result.name}
        if result.error:
            item["error"] = result.error
        else:
            item["models"] = [verdict.as_dict() for verdict in result.verdicts]
        images.append(item)
    return json.dumps({"images": images}, indent=2)


def measure_latency_ms(model, card: Card, repeats: int = 7) -> float:
    """Median wall time of one single-image forward pass on this machine's CPU, after a warm-up call."""
    height, width = card.input_size
    seen = np.zeros((height, width, 3), np.uint8)
    predict_prob(model, card, seen)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_prob(model, card, seen)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
