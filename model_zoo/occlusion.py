"""Occlusion sensitivity (Zeiler & Fergus 2014): where hiding the image costs the model its verdict, a model-agnostic map.

A grey patch (model_zoo.cue_vocabulary.NEUTRAL) slides over the image; at each position the model scores the
occluded image, and every pixel the patch covered gets the drop in the probability of the explained class (P(FAKE)
for FAKE, 1 - P(FAKE) for REAL), averaged over the positions that covered it. Positive: hiding it takes evidence
away. The map shown and measured is that drop, clipped at 0 and min-max scaled to [0, 1] like every other method's
(model_zoo.saliency.unit_range), so only pixels whose hiding costs evidence are hot.

The patch is PATCH_SHARE of the image's shorter side (8 px on 32x32), moved by half a patch, so every pixel is
covered by up to four positions and the map has no blocky edges. It needs no gradients: it works for a consensus
(scored as the judge scores it) and for any model. Every occluded image of a batch is scored in one forward pass
per model. A crop-policy model (model_zoo.crops) is occluded over the whole image at its own resolution, and only
the crops a patch touches are scored again: the others keep their score, and each occluded image's P(FAKE) is the
mean logit of its crops, as it is judged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model_zoo.card import Card
from model_zoo.crops import crop_spec, grid_crops
from model_zoo.cue_vocabulary import NEUTRAL
from model_zoo.decision import apply_temperature, temperature
from model_zoo.map_scale import unit_range

PATCH_SHARE = 0.25  # 8 px on 32x32: about an object part on CIFAKE, and 16 patch positions of 4x4 tiles
MIN_PATCH = 4  # never finer than 4 px: a smaller patch hides too little to move a CIFAKE detector
CROP_PATCH_SHARE = 0.25  # a crop model's patch: a quarter of its crop side, or of the image's shorter side / 16,
LARGE_IMAGE_PATCHES = 16  # whichever is larger (a 1024x768 photo: 48 px patches, about 1,300 positions)


def positions(length: int, patch: int) -> list[int]:
    """Patch starts along one side: every half patch, the last one flush with the edge."""
    stride = max(1, patch // 2)
    starts = list(range(0, max(1, length - patch + 1), stride))
    if starts[-1] != max(0, length - patch):
        starts.append(max(0, length - patch))
    return starts


def patch_size(height: int, width: int) -> int:
    return max(MIN_PATCH, int(round(PATCH_SHARE * min(height, width))))


def _support(prob_fake: np.ndarray, fake: np.ndarray) -> np.ndarray:
    return np.where(fake, prob_fake, 1.0 - prob_fake)


def _targets(targets: str | Sequence[str], n: int) -> np.ndarray:
    names = [targets] * n if isinstance(targets, str) else list(targets)
    if len(names) != n or set(names) - {"FAKE", "REAL"}:
        raise ValueError(f"one target (FAKE or REAL) per image expected, got {names!r}")
    return np.array([name == "FAKE" for name in names])


def _accumulate(drops: np.ndarray, ys: list[int], xs: list[int], patch: int, height: int, width: int) -> np.ndarray:
    """Per pixel, the mean drop of the positions whose patch covered it: (height, width)."""
    total = np.zeros((height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for drop, (y, x) in zip(drops, ((y, x) for y in ys for x in xs), strict=True):
        total[y : y + patch, x : x + patch] += drop
        count[y : y + patch, x : x + patch] += 1
    return total / np.maximum(count, 1)


def _scale(maps: np.ndarray) -> np.ndarray:
    return unit_range(np.maximum(maps, 0.0))


def occlusion_drops(model, card: Card, images: np.ndarray, targets: str | Sequence[str] = "FAKE") -> np.ndarray:
    """The raw maps (N, H, W): per pixel, the mean drop in the explained class's calibrated probability when a patch
    hides it, for same-size uint8 images as the model sees them (a resize card's input; for a crop card, one crop)."""
    from model_zoo.inference import predict_prob_fake

    images = np.asarray(images, np.uint8)
    n, height, width = images.shape[:3]
    fake = _targets(targets, n)
    patch = patch_size(height, width)
    ys, xs = positions(height, patch), positions(width, patch)
    occluded = np.repeat(images[:, None], len(ys) * len(xs), axis=1)  # (n, P, H, W, 3)
    for index, (y, x) in enumerate((y, x) for y in ys for x in xs):
        occluded[:, index, y : y + patch, x : x + patch] = NEUTRAL
    scores = predict_prob_fake(model, np.concatenate([images, occluded.reshape(-1, height, width, 3)]), card)
    base, after = scores[:n], scores[n:].reshape(n, -1)
    drops = _support(base, fake)[:, None] - _support(after, fake[:, None])
    return np.stack([_accumulate(d, ys, xs, patch, height, width) for d in drops]).astype(np.float32)


def occlusion_maps(model, card: Card, images: np.ndarray, targets: str | Sequence[str] = "FAKE") -> np.ndarray:
    """Occlusion maps (N, H, W) in [0, 1] (see the module docstring)."""
    return _scale(occlusion_drops(model, card, images, targets))


def crop_patch_size(height: int, width: int, crop: int) -> int:
    return max(MIN_PATCH, int(round(CROP_PATCH_SHARE * crop)), int(round(min(height, width) / LARGE_IMAGE_PATCHES)))


def whole_image_occlusion(model, card: Card, seen: np.ndarray, target: str = "FAKE") -> np.ndarray:
    """A crop card's occlusion map over the whole image ((H, W, 3) uint8 at its own size) in [0, 1]: the patch slides
    over the image, and each occluded image is judged by its crop grid, only the touched crops scored again."""
    from model_zoo.inference import crop_scores

    seen = np.asarray(seen, np.uint8)
    size, max_crops = crop_spec(card)
    height, width = seen.shape[:2]
    crops, grid = grid_crops(seen, size, max_crops)
    logit = _logit(crop_scores(model, crops, card))
    patch = crop_patch_size(height, width, size)
    ys, xs = positions(height, patch), positions(width, patch)
    changed, owners, which = [], [], []
    for index, (y, x) in enumerate((y, x) for y in ys for x in xs):
        for k, (cy, cx) in enumerate(grid.positions):
            top, left = max(y, cy), max(x, cx)
            bottom, right = min(y + patch, cy + size), min(x + patch, cx + size)
            if top < bottom and left < right:  # the patch touches this crop: score it again, occluded
                crop = crops[k].copy()
                crop[top - cy : bottom - cy, left - cx : right - cx] = NEUTRAL
                changed.append(crop)
                owners.append(index)
                which.append(k)
    logits = np.repeat(logit[None], len(ys) * len(xs), axis=0)
    if changed:
        logits[owners, which] = _logit(crop_scores(model, np.stack(changed), card))
    temp = temperature(card)
    base = apply_temperature(_sigmoid(logit.mean())[None], temp)
    after = apply_temperature(_sigmoid(logits.mean(axis=1)), temp)
    fake = np.array([target == "FAKE"])
    drops = _support(base, fake) - _support(after, fake)
    return _scale(_accumulate(drops, ys, xs, patch, height, width)[None])[0]


def _logit(prob: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(prob, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(values, np.float64)))
