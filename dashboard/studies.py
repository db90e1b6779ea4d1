"""The project's two controlled comparisons, read from the zoo when it holds the models they need.

Pooling: cnn_maxpool vs cnn_avgpool vs cnn_strided (identical but for downsampling).
Augmentation: models of one architecture trained with different `train.augmentation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from model_zoo import ZooEntry

POOLING_ARCHS = ("cnn_maxpool", "cnn_avgpool", "cnn_strided")
STUDY_METRICS = ("accuracy", "f1", "roc_auc")

POOLING_HINT = (
    "Train the three pooling variants (same data, same epochs) and evaluate them:\n\n"
    "    make zoo CIFAKE_PATH=/path/to/cifake.zip\n\n"
    "or one at a time: `python -m training.train --arch cnn_avgpool` then `python -m training.evaluate cnn_avgpool`."
)
AUGMENTATION_HINT = (
    "Train one architecture twice with different augmentation under different names, then evaluate both, e.g.\n\n"
    "    python -m training.train --arch cnn_maxpool --augment none --name cnn_maxpool_noaug\n"
    "    python -m training.evaluate cnn_maxpool_noaug\n\n"
    "(`training.train` defaults to `--augment flip`; `make zoo` uses `flip_shift`, which adds whole-pixel shifts)."
)


def _row(entry: ZooEntry) -> dict:
    metrics = entry.test_metrics or {}
    train = entry.card.get("train", {})
    history = entry.history()
    return {
        "model": entry.name,
        "architecture": entry.card.get("architecture", ""),
        "augmentation": train.get("augmentation", "unknown"),
        **{key: metrics.get(key) for key in STUDY_METRICS},
        "params": entry.card.get("params"),
        "epochs": train.get("epochs_run", train.get("epochs")),
        "best_val_loss": float(history["val_loss"].min()) if "val_loss" in history else None,
        "seconds_per_epoch": float(history["seconds"].mean()) if "seconds" in history else None,
    }


def pooling_study(entries: Sequence[ZooEntry]) -> pd.DataFrame | None:
    """Evaluated entries of the pooling architectures trained with the same augmentation (the most common
    one among them, so an augmentation variant does not confound the comparison); None unless two variants remain.
    """
    rows = [_row(e) for e in entries if e.card.get("architecture") in POOLING_ARCHS and e.test_metrics]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return None
    counts = frame.groupby("augmentation")["architecture"].nunique()
    common = counts[counts == counts.max()].index
    frame = frame[frame["augmentation"] == ("flip" if "flip" in common else common[0])]
    if frame["architecture"].nunique() < 2:
        return None
    order = {arch: i for i, arch in enumerate(POOLING_ARCHS)}
    frame["_order"] = frame["architecture"].map(order)
    return frame.sort_values(["_order", "model"]).drop(columns="_order").reset_index(drop=True)


def augmentation_study(entries: Sequence[ZooEntry]) -> pd.DataFrame | None:
    """Evaluated entries of architectures trained with at least two augmentation settings, or None."""
    frame = pd.DataFrame([_row(e) for e in entries if e.test_metrics])
    if frame.empty:
        return None
    varied = frame.groupby("architecture")["augmentation"].nunique()
    keep = varied[varied >= 2].index
    frame = frame[frame["architecture"].isin(keep)]
    if frame.empty:
        return None
    return frame.sort_values(["architecture", "augmentation", "model"]).reset_index(drop=True)


def history_long(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """(model, epoch, val_loss, val_accuracy) of several entries, for overlaid curves."""
    frames = []
    for entry in entries:
        history = entry.history()
        if {"epoch", "val_loss", "val_accuracy"} <= set(history.columns):
            frames.append(history[["epoch", "val_loss", "val_accuracy"]].assign(model=entry.name))
    if not frames:
        return pd.DataFrame(columns=["model", "epoch", "val_loss", "val_accuracy"])
    return pd.concat(frames, ignore_index=True)
