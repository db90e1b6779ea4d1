"""The project's controlled comparisons, read from the zoo when it holds the models they need.

Pooling: cnn_maxpool vs cnn_avgpool vs cnn_strided (identical but for downsampling).
Augmentation: models of one architecture trained with different `train.augmentation`,
clean accuracy beside accuracy under corruption (robustness.csv).
Seed variance: one recipe trained with several seeds (model_zoo.seed_runs), the yardstick for
whether a gap between two zoo models means anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from model_zoo import ZooEntry
from model_zoo.seed_runs import describe_spread

POOLING_ARCHS = ("cnn_maxpool", "cnn_avgpool", "cnn_strided")
STUDY_METRICS = ("accuracy", "f1", "roc_auc")
# The two conditions the augmentation study aims at: re-saved photos and soft focus.
TARGET_CONDITIONS = (("jpeg", 40.0), ("blur", 1.0))
COSTLY_POINTS = 0.5  # an arm this far behind the clean winner is named in the study's answer

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

SEED_VARIANCE_HINT = (
    "No seed runs are recorded in this zoo yet. Train the best model's recipe with two more seeds and record "
    "all three (about half an hour of CPU per seed):\n\n"
    "    python -m training.seed_variance cnn_maxpool --seeds 1 2 --data /path/to/cifake.zip --max-minutes 30\n\n"
    "or, for runs already trained and evaluated elsewhere: `python -m training.seed_variance cnn_maxpool --runs DIR`."
)


def _row(entry: ZooEntry) -> dict:
    metrics = entry.test_metrics or {}
    train = entry.card.train
    history = entry.history()
    return {
        "model": entry.name,
        "architecture": entry.card.architecture,
        "augmentation": train.augmentation or "unknown",
        **{key: metrics.get(key) for key in STUDY_METRICS},
        **robustness_summary(entry.robustness()),
        "params": entry.card.params,
        "epochs": train.epochs_run if train.epochs_run is not None else train.epochs,
        "best_val_loss": float(history["val_loss"].min()) if "val_loss" in history else None,
        "seconds_per_epoch": float(history["seconds"].mean()) if "seconds" in history else None,
    }


def _condition_key(corruption: str, level: float) -> str:
    return f"roc_auc_{corruption}_{level:g}"


def robustness_summary(robustness: pd.DataFrame | None) -> dict:
    """Mean accuracy over the corrupted conditions and ROC-AUC at the study's target conditions (None if unmeasured)."""
    summary: dict = {"robust_accuracy": None, **{_condition_key(*c): None for c in TARGET_CONDITIONS}}
    if robustness is None:
        return summary
    corrupted = robustness[robustness["corruption"] != "none"]
    summary["robust_accuracy"] = float(corrupted["accuracy"].mean()) if len(corrupted) else None
    if "roc_auc" in robustness:
        for corruption, level in TARGET_CONDITIONS:
            match = robustness[(robustness["corruption"] == corruption) & (robustness["level"].astype(float) == level)]
            if len(match) and pd.notna(match["roc_auc"].iloc[0]):
                summary[_condition_key(corruption, level)] = float(match["roc_auc"].iloc[0])
    return summary


def pooling_study(entries: Sequence[ZooEntry]) -> pd.DataFrame | None:
    """Evaluated entries of the pooling architectures trained with the same augmentation (the most common
    one among them, so an augmentation variant does not confound the comparison); None unless two variants remain.
    """
    rows = [_row(e) for e in entries if e.card.architecture in POOLING_ARCHS and e.test_metrics]
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


def augmentation_answer(study: pd.DataFrame) -> str:
    """The augmentation study in words: the clean winner, the robust winner, and what robustness cost."""
    parts = []
    for architecture, arms in study.groupby("architecture"):
        arms = arms.dropna(subset=["accuracy"])
        clean = arms.loc[arms["accuracy"].idxmax()]
        sentence = f"For {architecture}, **{clean['augmentation']}** gives the best clean accuracy ({clean['accuracy']:.2%})"
        robust = arms.dropna(subset=["robust_accuracy"])
        if len(robust) >= 2:
            best = robust.loc[robust["robust_accuracy"].idxmax()]
            cost = (clean["accuracy"] - best["accuracy"]) * 100
            sentence += (f"; **{best['augmentation']}** holds up best under corruption "
                         f"({best['robust_accuracy']:.2%} mean accuracy over the corruptions")
            sentence += (f", {cost:.2f} points of clean accuracy below the best)" if cost > 0
                         else ", and is also the clean winner)")
            aucs = [f"{key.removeprefix('roc_auc_').replace('_', ' ')} {best[key]:.3f}"
                    for key in (_condition_key(*c) for c in TARGET_CONDITIONS) if pd.notna(best.get(key))]
            if aucs:
                sentence += f"; its ROC-AUC at {', '.join(aucs)}"
        # Arms that cost clean accuracy, worst first: the study's other answer (which augmentations hurt).
        behind = arms[(clean["accuracy"] - arms["accuracy"]) * 100 >= COSTLY_POINTS].sort_values("accuracy")
        if len(behind):
            costs = ", ".join(f"{row['augmentation']} {(clean['accuracy'] - row['accuracy']) * 100:.2f}"
                              for _, row in behind.iterrows())
            sentence += f". Points of clean accuracy lost against {clean['augmentation']}: {costs}"
        parts.append(sentence + ".")
    return " ".join(parts)


def display_table(study: pd.DataFrame) -> pd.DataFrame:
    """The study's table as shown: columns nobody in it has measured (ROC-AUC under corruption before
    robustness.csv recorded it, training time before history.csv did) are dropped, not shown as "None"."""
    empty = [c for c in study.columns if study[c].isna().all()]
    return study.drop(columns=empty)


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


def seed_variance_answer(summary: pd.DataFrame, zoo_accuracy: Mapping[str, float] | None = None) -> str:
    """One sentence per model of model_zoo.seed_runs.seed_summary: mean +- sd over the seeds, and what gap that makes noise.

    With `zoo_accuracy` (test accuracy of each zoo entry), the other entries within 2 sd of the mean are named:
    their difference from this model is no larger than what a different seed could make.
    """
    sentences = []
    for _, row in summary.iterrows():
        model, seeds = row["model"], int(row["seeds"])
        if seeds < 2 or pd.isna(row["accuracy_sd"]):
            sentences.append(f"Only one seed of **{model}** is recorded so far: {describe_spread(row)}.")
            continue
        noise = 2 * row["accuracy_sd"]
        sentence = (f"Over {seeds} seeds, **{model}** scores {describe_spread(row)}, so accuracy gaps smaller than "
                    f"about {noise * 100:.2f} points (2 sd) between zoo models are within seed noise")
        if zoo_accuracy:
            close = [f"{name} ({(accuracy - row['accuracy_mean']) * 100:+.2f} points)"
                     for name, accuracy in sorted(zoo_accuracy.items(), key=lambda item: -item[1])
                     if name != model and abs(accuracy - row["accuracy_mean"]) < noise]
            sentence += (f"; that covers {', '.join(close)}" if close
                         else "; no other zoo model is that close to it")
        sentences.append(sentence + ".")
    return " ".join(sentences)
