"""The card's input policy: how an image of any size becomes model input.

The card's preprocessing.input_policy (model_zoo.card.InputPolicy; card.input_policy, card.crop_spec) is one of
    {"kind": "resize"}                               the whole image resized to the model's input (absent: this)
    {"kind": "crop", "size": N, "max_crops": 16}     NxN crops at the image's own resolution, never resampled

A crop model is trained on random NxN crops. To judge an image it scores a grid of crops that covers
the image (at most `max_crops`; when covering would need more, an evenly spread grid of that many) and
combines them by the mean of their logits; its heatmap is the crops' maps stitched over the whole
image. An image smaller than N along a side is padded (with black, bottom and right), never stretched:
generator traces are pixel-level, and resampling would smear them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model_zoo.card import CROP, MAX_CROPS, RESIZE, Card, InputPolicy

__all__ = ["CROP", "MAX_CROPS", "RESIZE"]


def crop_policy(size: int, max_crops: int = MAX_CROPS) -> dict:
    """The card's input_policy block for NxN crops."""
    return {"kind": CROP, "size": int(size), "max_crops": int(max_crops)}


def input_policy(card: Card) -> InputPolicy:
    """card.input_policy (kept for callers written against the card dict)."""
    return card.input_policy


def crop_spec(card: Card) -> tuple[int, int] | None:
    """card.crop_spec (kept for callers written against the card dict)."""
    return card.crop_spec


def pad_to(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image padded with black (bottom and right) to at least size x size; unchanged when big enough."""
    height, width = rgb.shape[:2]
    if height >= size and width >= size:
        return rgb
    return np.pad(rgb, ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0)))


@dataclass(frozen=True)
class CropGrid:
    """Where the crops of one image are: top-left corners, and how many full coverage would need."""

    positions: tuple[tuple[int, int], ...]  # (y, x) of each crop in the (padded) image
    needed: int  # crops a grid covering the whole image needs (> len(positions) when capped)
    padded: bool  # the image was smaller than a crop along some side

    @property
    def capped(self) -> bool:
        return self.needed > len(self.positions)


def _starts(length: int, size: int, count: int) -> list[int]:
    if count <= 1 or length <= size:
        return [0] if length <= size else [(length - size) // 2]
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def crop_grid(height: int, width: int, size: int, max_crops: int = MAX_CROPS) -> CropGrid:
    """The crops that cover an image of height x width (evenly spread, overlapping where the size does not divide),
    at most `max_crops` of them: beyond that the grid thins out evenly and leaves gaps between crops."""
    rows, cols = math.ceil(max(height, size) / size), math.ceil(max(width, size) / size)
    needed = rows * cols
    while rows * cols > max_crops:  # thin the denser direction first
        if rows >= cols:
            rows -= 1
        else:
            cols -= 1
    ys, xs = _starts(max(height, size), size, rows), _starts(max(width, size), size, cols)
    return CropGrid(tuple((y, x) for y in ys for x in xs), needed, height < size or width < size)


def grid_crops(rgb: np.ndarray, size: int, max_crops: int = MAX_CROPS) -> tuple[np.ndarray, CropGrid]:
    """(K, size, size, 3) uint8 crops of one image and their grid."""
    grid = crop_grid(rgb.shape[0], rgb.shape[1], size, max_crops)
    padded = pad_to(rgb, size)
    return np.stack([padded[y : y + size, x : x + size] for y, x in grid.positions]), grid


def batch_crops(images, card: Card) -> tuple[np.ndarray, np.ndarray]:
    """Every image's grid crops stacked, (M, N, N, 3) uint8, and the image each crop belongs to, (M,)."""
    size, max_crops = card.crop_spec
    crops, owners = [], []
    for row, image in enumerate(images):
        image_crops, _ = grid_crops(np.asarray(image), size, max_crops)
        crops.append(image_crops)
        owners.append(np.full(len(image_crops), row))
    if not crops:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros(0, int)
    return np.concatenate(crops), np.concatenate(owners)


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One size x size crop at a random position of the (padded) image: what a crop model trains on."""
    padded = pad_to(rgb, size)
    y = int(rng.integers(0, padded.shape[0] - size + 1))
    x = int(rng.integers(0, padded.shape[1] - size + 1))
    return padded[y : y + size, x : x + size]


def central_grid_crop(rgb: np.ndarray, size: int, max_crops: int = MAX_CROPS) -> np.ndarray:
    """The crop of the image's judging grid (crop_grid) nearest its centre, (size, size, 3): one of the crops its
    verdict is the mean of, so its map is one tile of the heatmap stitched over the image (not center_crop, which
    can fall between the grid's crops)."""
    grid = crop_grid(rgb.shape[0], rgb.shape[1], size, max_crops)
    padded = pad_to(rgb, size)
    middle_y, middle_x = (padded.shape[0] - size) / 2, (padded.shape[1] - size) / 2
    # min keeps the first of equally near crops (grid order): the same crop every time
    y, x = min(grid.positions, key=lambda p: (p[0] - middle_y) ** 2 + (p[1] - middle_x) ** 2)
    return padded[y : y + size, x : x + size]


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    padded = pad_to(rgb, size)
    y, x = (padded.shape[0] - size) // 2, (padded.shape[1] - size) // 2
    return padded[y : y + size, x : x + size]


def mean_logit(probs: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """Per image, the sigmoid of the mean logit of its crops' P(FAKE): float32 (n,)."""
    p = np.clip(np.asarray(probs, np.float64), 1e-7, 1 - 1e-7)
    logits = np.log(p) - np.log1p(-p)
    total = np.bincount(owners, weights=logits, minlength=n)
    count = np.maximum(np.bincount(owners, minlength=n), 1)
    return (1 / (1 + np.exp(-total / count))).astype(np.float32)


def mean_rows(values: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """Per image, the mean of its crops' rows (e.g. feature vectors): float32 (n, D)."""
    values = np.asarray(values, np.float64).reshape(len(owners), -1)
    total = np.zeros((n, values.shape[1]))
    np.add.at(total, owners, values)
    return (total / np.maximum(np.bincount(owners, minlength=n), 1)[:, None]).astype(np.float32)


def stitch(maps: np.ndarray, grid: CropGrid, height: int, width: int) -> np.ndarray:
    """The crops' (K, N, N) maps placed over the (height, width) image, averaged where crops overlap; 0 where no
    crop looked (a capped grid's gaps) and over the padding."""
    maps = np.asarray(maps, np.float32)
    size = maps.shape[1]
    total = np.zeros((max(height, size), max(width, size)), np.float32)
    count = np.zeros_like(total)
    for heat, (y, x) in zip(maps, grid.positions, strict=True):
        total[y : y + size, x : x + size] += heat
        count[y : y + size, x : x + size] += 1
    return (total / np.maximum(count, 1))[:height, :width]


def crop_window(size: int) -> np.ndarray:
    """A (size, size) tent: 1 at the crop's centre falling towards 0 at its edges (never 0, so a pixel only one crop
    covers keeps that crop's value). Where crops overlap, each pixel leans on the crop it is deeper inside."""
    ramp = 1.0 - np.abs((np.arange(size) + 0.5) / size * 2.0 - 1.0)
    ramp = np.maximum(ramp, 1.0 / size)
    return np.outer(ramp, ramp).astype(np.float32)


def crop_shares(crop_logits: np.ndarray, fake: bool) -> np.ndarray:
    """Each crop's share of the evidence for the explained class in the averaged logit: the crops' logits toward that
    class (negative ones count 0), over their sum; equal shares when no crop leans that way."""
    toward = np.maximum(np.asarray(crop_logits, np.float64) * (1.0 if fake else -1.0), 0.0)
    total = toward.sum()
    return (toward / total if total > 0 else np.full(len(toward), 1.0 / max(1, len(toward)))).astype(np.float32)


def blend_crops(maps: np.ndarray, shares: np.ndarray, grid: CropGrid, height: int, width: int) -> np.ndarray:
    """The crops' (K, N, N) maps on one scale over the (height, width) image: each weighted by its crop's share
    (crop_shares), blended with crop_window where crops overlap, so no crop edge shows as a seam; 0 where no crop
    looked. Not rescaled: the caller scales the whole map once."""
    maps = np.asarray(maps, np.float32)
    size = maps.shape[1]
    window = crop_window(size)
    total = np.zeros((max(height, size), max(width, size)), np.float32)
    weight = np.zeros_like(total)
    for heat, share, (y, x) in zip(maps, shares, grid.positions, strict=True):
        total[y : y + size, x : x + size] += window * share * heat
        weight[y : y + size, x : x + size] += window
    return (total / np.maximum(weight, 1e-12))[:height, :width]
