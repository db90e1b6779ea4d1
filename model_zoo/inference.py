"""Run a zoo model on images: the one place that turns uint8 images into P(FAKE).

Evaluation, robustness, the predict CLI, the API and the dashboard all call
`predict_prob_fake`, so every number comes from the card-driven preprocessing.
"""

from __future__ import annotations

import numpy as np

from model_zoo.card import Card
from model_zoo.crops import batch_crops, mean_logit
from model_zoo.decision import apply_temperature
from model_zoo.forward import raw_scores
from model_zoo.preprocessing import batch_to_model_input, normalize_for_card

CHUNK = 256  # images per forward pass: activations of a 32x32 CNN stay ~35 MB a layer (2048 cost 0.65 GB)


def predict_prob_fake(model, images: np.ndarray | list[np.ndarray], card: Card) -> np.ndarray:
    """Calibrated P(FAKE) as float32 (N,) for uint8 RGB images of any size.

    Images are prepared by the card's preprocessing and scores calibrated by the
    card's temperature (model_zoo.decision); compare them with the card's threshold.
    """
    return apply_temperature(predict_raw_prob_fake(model, images, card), card.temperature)


def predict_raw_prob_fake(model, images: np.ndarray | list[np.ndarray], card: Card) -> np.ndarray:
    """The model's own sigmoid output (before the card's calibration), float32 (N,).

    A crop card's image gets the mean logit of its grid of crops (model_zoo.crops). A consensus
    (model_zoo.consensus.ConsensusModel) scores through its members and combines them.
    """
    if getattr(model, "combines_members", False):
        return model.raw_prob_fake(images)
    out = []
    if card.crop_spec:
        for chunk, owners, x in crop_chunks(images, card):
            out.append(mean_logit(_raw_scores(model, x), owners, chunk))
        return np.concatenate(out) if out else np.zeros(0, np.float32)
    for start in range(0, len(images), CHUNK):
        # One compiled graph for every batch size (model_zoo.forward): the same image gets the same score in any
        # batch (eager calls differ in the last bits, and are ~10x slower even for one image).
        out.append(raw_scores(model, batch_to_model_input(images[start : start + CHUNK], card)))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _raw_scores(model, x: np.ndarray) -> np.ndarray:
    """The model's sigmoid output for normalised inputs, CHUNK at a time: float32 (N,)."""
    if not len(x):
        return np.zeros(0, np.float32)
    return np.concatenate([raw_scores(model, x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)])


def crop_scores(model, crops: np.ndarray, card: Card) -> np.ndarray:
    """A crop card's raw P(FAKE) (before calibration) for each of its crops ((M, N, N, 3) uint8, already cut):
    float32 (M,). Combine an image's crops with model_zoo.crops.mean_logit, then calibrate, as the judge does."""
    return _raw_scores(model, normalize_for_card(np.asarray(crops), card))


def crops_prob_fake(model, crops: np.ndarray, owners: np.ndarray, n: int, card: Card) -> np.ndarray:
    """Calibrated P(FAKE) (n,) of n images given as their crops (M, N, N, 3) and each crop's image (M,): the mean
    logit of an image's crops, as predict_prob_fake scores an image, for crops a caller cut or changed itself."""
    return apply_temperature(mean_logit(crop_scores(model, crops, card), owners, n), card.temperature)


def crop_chunks(images, card: Card, per_chunk: int = CHUNK // 16):
    """(images in the chunk, crop owners, normalised crops) for a crop card, a few images at a time."""
    for start in range(0, len(images), per_chunk):
        chunk = images[start : start + per_chunk]
        crops, owners = batch_crops(chunk, card)
        yield len(chunk), owners, normalize_for_card(crops, card)
