"""Run a zoo model on images: the one place that turns uint8 images into P(FAKE).

Evaluation, robustness, the predict CLI, the API and the dashboard all call
`predict_prob_fake`, so every number comes from the card-driven preprocessing.
"""

from __future__ import annotations

import numpy as np

from model_zoo.decision import calibrate, temperature
from model_zoo.preprocessing import batch_to_model_input

CHUNK = 256  # images per forward pass: activations of a 32x32 CNN stay ~35 MB a layer (2048 cost 0.65 GB)


def predict_prob_fake(model, images: np.ndarray | list[np.ndarray], card: dict) -> np.ndarray:
    """Calibrated P(FAKE) as float32 (N,) for uint8 RGB images of any size.

    Images are prepared by the card's preprocessing and scores calibrated by the
    card's temperature (model_zoo.decision); compare them with the card's threshold.
    """
    return calibrate(predict_raw_prob_fake(model, images, card), temperature(card))


def predict_raw_prob_fake(model, images: np.ndarray | list[np.ndarray], card: dict) -> np.ndarray:
    """The model's own sigmoid output (before the card's calibration), float32 (N,)."""
    out = []
    for start in range(0, len(images), CHUNK):
        x = batch_to_model_input(images[start : start + CHUNK], card)
        # One compiled call for every batch size: the same image gets the same score in any batch
        # (eager calls differ in the last bits, and are ~10x slower even for one image).
        out.append(np.asarray(model.predict_on_batch(x), dtype=np.float32).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
