"""The one path from an image to a model's input, driven by the zoo card.

Training, evaluation, the predict CLI, the HTTP API and the dashboard all call
these functions, so a model always sees its inputs prepared exactly as it was
trained (no train/serve skew).

A card's "preprocessing" block looks like:
    {"color": "RGB", "resize": "area", "mean": [0, 0, 0], "std": [255, 255, 255]}
and the model input is (resize(image) - mean) / std, channel by channel.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from model_zoo.card import Card
from model_zoo.crops import pad_to
from model_zoo.images import decode_image

# Custom CNNs take pixels scaled to [0, 1].
UNIT_RANGE: dict[str, Any] = {"color": "RGB", "resize": "area", "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]}

# The card allows exactly these (model_zoo.card.RESIZE_METHODS), so a card's method is always one of them.
_RESIZE_METHODS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


def input_size(card: Card) -> tuple[int, int]:
    """card.input_size (kept for callers written against the card dict)."""
    return card.input_size


def decode_key(card: Card) -> tuple:
    """card.decode_key (kept for callers written against the card dict)."""
    return card.decode_key


def resize_for_card(rgb: np.ndarray, card: Card) -> np.ndarray:
    """Resize one (H, W, 3) uint8 image to the card's input size; this is what the model 'sees'."""
    height, width = card.input_size
    if rgb.shape[:2] == (height, width):
        return rgb
    method = card.resize_method
    interpolation = _RESIZE_METHODS[method]
    if method == "area" and (rgb.shape[0] < height or rgb.shape[1] < width):
        interpolation = cv2.INTER_LINEAR  # INTER_AREA only averages when shrinking
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def normalization(card: Card) -> tuple[bool, np.ndarray, np.ndarray]:
    """(swap RGB to BGR?, per-channel mean, per-channel std) from the card.

    The training pipeline applies these same constants to uint8 batches inside
    tf.data, so a model is trained on exactly what normalize_for_card serves it.
    """
    spec = card.preprocessing
    return spec.color == "BGR", np.asarray(spec.mean, dtype=np.float32), np.asarray(spec.std, dtype=np.float32)


def normalize_for_card(images: np.ndarray, card: Card) -> np.ndarray:
    """uint8 images (..., H, W, 3) at the model's size -> float32 model input."""
    to_bgr, mean, std = normalization(card)
    x = images.astype(np.float32)
    if to_bgr:
        x = x[..., ::-1]
    return (x - mean) / std


def batch_to_model_input(images: np.ndarray | list[np.ndarray], card: Card) -> np.ndarray:
    """A batch of uint8 RGB images (any sizes) -> float32 (N, H, W, 3) model input."""
    height, width = card.input_size
    if isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[1:3] == (height, width):
        return normalize_for_card(images, card)
    resized = np.stack([resize_for_card(image, card) for image in images]) if len(images) else (
        np.zeros((0, height, width, 3), np.uint8)
    )
    return normalize_for_card(resized, card)


def decode_for_card(source: bytes | str | os.PathLike, card: Card, name: str | None = None) -> np.ndarray:
    """Decode a file or bytes and resize it for this card: (H, W, 3) uint8, what the model sees.

    A crop card (model_zoo.crops) sees the image at its own resolution, padded up to one crop where it is
    smaller; its crops are cut when it is scored (model_zoo.inference).
    """
    height, width = card.input_size
    # Draft-decode big JPEGs to at least 4x the input size, then resize exactly; a crop card keeps every pixel.
    rgb = decode_image(source, name=name, min_size=None if card.crop_spec else (4 * height, 4 * width))
    return view_for_card(rgb, card)


def view_for_card(rgb: np.ndarray, card: Card) -> np.ndarray:
    """What the card's model sees of a decoded (H, W, 3) uint8 image: the whole image padded up to one crop (crop
    cards, whose crops are cut when scoring), else resized to the model's input."""
    crop = card.crop_spec
    return pad_to(rgb, crop[0]) if crop else resize_for_card(rgb, card)


def image_to_model_input(source: bytes | str | os.PathLike, card: Card, name: str | None = None) -> np.ndarray:
    """Decode one image and return a (1, H, W, 3) float32 batch ready for model.predict."""
    return normalize_for_card(decode_for_card(source, card, name)[None], card)
