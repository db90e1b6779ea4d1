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


DOWNSAMPLING = {"cnn_maxpool": "max pooling", "cnn_avgpool": "average pooling", "cnn_strided": "stride-2 convolutions"}


def _downsampling(row: pd.Series) -> str:
    return DOWNSAMPLING.get(row["architecture"], row["architecture"])


def pooling_answer(study: pd.DataFrame) -> str:
    """The pooling study's answer in words, drawn from its table: who wins, by how much, at what speed."""
    ranked = study.sort_values("accuracy", ascending=False).reset_index(drop=True)
    best = ranked.iloc[0]
    parts = [f"**{_downsampling(best).capitalize()}** ({best['model']}) is the most accurate, "
             f"at {best['accuracy']:.2%} test accuracy"]
    parts += [f"{_downsampling(row)}: {(best['accuracy'] - row['accuracy']) * 100:.2f} points behind ({row['accuracy']:.2%})"
              for _, row in ranked.iloc[1:].iterrows()]
    sentence = "; ".join(parts) + "."
    timed = ranked.dropna(subset=["seconds_per_epoch"])
    if len(timed) >= 2:
        fastest = timed.loc[timed["seconds_per_epoch"].idxmin()]
        slowest = timed.loc[timed["seconds_per_epoch"].idxmax()]
        ratio = slowest["seconds_per_epoch"] / fastest["seconds_per_epoch"]
        sentence += (f" Fastest to train: {_downsampling(fastest)}, {fastest['seconds_per_epoch']:.0f} s per epoch "
                     f"against {slowest['seconds_per_epoch']:.0f} s for {_downsampling(slowest)} ({ratio:.1f}x).")
    if study["epochs"].nunique() > 1:
        epochs = ", ".join(f"{row['model']} {row['epochs']}" for _, row in study.iterrows())
        sentence += f" The models ran different numbers of epochs ({epochs}), so part of each gap is training length."
    return sentence


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
