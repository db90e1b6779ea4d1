"""Where a model looks, on average: class-mean Grad-CAM maps over the test set.

Test images fall in four groups by true class and by whether the model's verdict (at its card
threshold) is right: REAL correct, REAL wrong, FAKE correct, FAKE wrong. From each group a fixed
seeded sample (all of it when smaller) is explained with Grad-CAM for the class the model
predicted, and the maps (each min-max scaled to [0, 1]) are averaged. The verdicts come from the
entry's test_predictions.csv when it covers the test split, else from running the model. The images
explained are the model's own test split as it sees it (training/lib/study_images.py): CIFAKE's arrays,
or a labelled folder's images decoded on access to the model's view, only the chosen ones.
Written by `python -m training.faithfulness` into the entry as class_heatmaps.npz (no pickles);
a folder model's file also names its test set (test_set, a 0-d string).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, labels_for
from model_zoo.inference import predict_prob_fake
from model_zoo.saliency import explanation_maps

METHOD = "Grad-CAM"  # the cheapest method: one forward and backward pass per image
PER_GROUP = 200
GROUPS = tuple(f"{name}_{outcome}" for name in CLASS_NAMES for outcome in ("correct", "wrong"))


def group_of(label: int, predicted: int) -> str:
    return f"{CLASS_NAMES[int(label)]}_{'correct' if int(label) == int(predicted) else 'wrong'}"


def prob_fake_on_test(model, card: Card, images: np.ndarray | Sequence[np.ndarray], paths: list[str],
                   predictions: pd.DataFrame | None) -> tuple[np.ndarray, str]:
    """Calibrated P(FAKE) for every test image, and where it came from (the stored predictions when
    they cover these paths: the model need not run over the whole test set again)."""
    if predictions is not None:
        stored = dict(zip(predictions["path"], predictions["prob_fake"], strict=True))
        if all(path in stored for path in paths):
            return np.array([stored[path] for path in paths], np.float32), "test_predictions.csv"
    return predict_prob_fake(model, images, card), "model run over the test split"


def class_mean_heatmaps(model, card: Card, images: np.ndarray | Sequence[np.ndarray], labels: np.ndarray,
                        prob_fake: np.ndarray, per_group: int = PER_GROUP, seed: int = 0,
                        progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Arrays for class_heatmaps.npz: groups (4,), maps (4, H, W) mean Grad-CAM, counts (4,) images
    averaged, totals (4,) images in each group, empty (4,) averaged maps that were all zero (Grad-CAM
    found no positive evidence for the verdict), plus method and target as 0-d strings."""
    labels = np.asarray(labels).astype(int)
    predicted = labels_for(prob_fake, card)
    rng = np.random.default_rng(seed)
    height, width = card.input_size
    maps = np.zeros((len(GROUPS), height, width), np.float32)
    counts, totals, empty = (np.zeros(len(GROUPS), np.int64) for _ in range(3))
    for g, group in enumerate(GROUPS):
        members = np.flatnonzero([group_of(y, p) == group for y, p in zip(labels, predicted, strict=True)])
        totals[g] = len(members)
        chosen = np.sort(rng.choice(members, min(per_group, len(members)), replace=False)) if len(members) else members
        counts[g] = len(chosen)
        if len(chosen):
            targets = [CLASS_NAMES[p] for p in predicted[chosen]]
            explained = explanation_maps(model, card, np.asarray(images[chosen]), METHOD, targets)
            maps[g] = explained.mean(axis=0)
            empty[g] = int((explained.max(axis=(1, 2)) == 0).sum())  # no positive evidence for the verdict
        if progress:
            progress(f"  class heatmap {group}: {counts[g]} of {totals[g]:,} images, {empty[g]} without positive evidence")
    return {"groups": np.array(GROUPS), "maps": maps, "counts": counts, "totals": totals, "empty": empty,
            "method": np.array(METHOD), "target": np.array("predicted class"), "seed": np.array(seed)}
