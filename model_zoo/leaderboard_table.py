"""The leaderboard: one table of every model's figures, built once from the cards and shown twice.

`leaderboard_frame` is the dashboard's table; `leaderboard_markdown` is the same frame, evaluated models only,
formatted for Markdown (`python -m training.leaderboard`, and the docs site's table). Rows follow
model_zoo.ranking.all_best_first, so the top row is `--model best`'s pick (after the consensus, which ranks by
its own test accuracy like any entry). Every figure is at the model's own decision threshold (fitted on
validation). "Pareto" marks the models no other model beats on both test accuracy and recorded single-image
latency (model_zoo.tradeoff); "Unseen" counts only the test images whose bytes occur nowhere in train.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from model_zoo.ranking import all_best_first
from model_zoo.test_sets import leaderboard_columns, other_test_sets_markdown
from model_zoo.tradeoff import front_marks, images_per_second, recorded_latency_ms
from model_zoo.zoo import ZooEntry

METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc")
UNSEEN_COLUMNS = ("unseen_accuracy", "unseen_roc_auc", "unseen_n")
UNTIMED = "not timed"  # the pareto cell of a model without a recorded latency
EMPTY = "_No evaluated models in the zoo yet: `make zoo CIFAKE_PATH=/path/to/cifake.zip` fills it._"
# What the Pareto column means, in both leaderboards' legends (model_zoo.tradeoff has the rule).
PARETO_LEGEND = ("Pareto: ★ when no other single model is both at least as accurate and as fast by its recorded "
                 "latency (and better at one), with *fastest* on the quickest model within one point of the best "
                 "accuracy, latencies within 10% counting as a tie won by the more accurate (`--model fastest`)")
FOOTNOTE = ("All figures on {split}, never seen in training or model selection, at each "
            "model's own decision threshold (fitted on the validation split). Unseen: only the test images whose "
            "file bytes occur nowhere in the training split. Latency: one image, median, CPU; images/s: batches "
            "of 256; all models timed together (`python -m training.latency`). " + PARETO_LEGEND + ".")


def test_split_words(evaluated: list[ZooEntry]) -> str:
    """Which test split the figures are on: one shared split named with its size, or each model's own (a zoo
    holding models trained on users' folders, each evaluated on its folder's test split)."""
    splits = {(entry.card.training_set_name, entry.test_metrics["n"]) for entry in evaluated}
    if len(splits) == 1:
        (name, n), = splits
        return f"the {name} test split ({n:,} images)"
    return "each model's own test split (" + "; ".join(f"{name}: {n:,} images" for name, n in sorted(splits)) + ")"


def leaderboard_frame(entries: Sequence[ZooEntry], measured_ms: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per model, in model_zoo.all_best_first order (so the top row is `predict --model best`'s pick):
    test metrics at the model's own threshold (validation when not yet evaluated), the same on the test
    images unseen in train when measured, size, speed. `recorded_latency_ms` is the card's (training.latency),
    which places the model on the accuracy-latency Pareto front (★) and picks `--model fastest`
    (model_zoo.tradeoff); `measured_ms` (column measured_latency_ms) is timed now by the caller.
    """
    rows = []
    # The Pareto front and `fastest` are over single models, as `--model fastest` picks (model_zoo.selection).
    marks = front_marks([entry for entry in entries if not entry.card.is_consensus])
    for entry in all_best_first(entries):
        card = entry.card
        metrics = card.split_metrics("test")
        split = "test"
        if metrics is None:
            metrics, split = card.split_metrics("validation") or {}, "validation"
        unseen = entry.test_unseen_metrics or {}
        train = card.train
        rows.append({
            "model": entry.name,
            "architecture": card.architecture,
            "weights": card.trained_from,
            **{key: metrics.get(key) for key in METRIC_COLUMNS},
            "unseen_accuracy": unseen.get("accuracy"),
            "unseen_roc_auc": unseen.get("roc_auc"),
            "unseen_n": unseen.get("n"),
            **leaderboard_columns(card),  # "<set> accuracy", "<set> ROC-AUC" per other test set (--folder)
            "threshold": card.threshold,
            "metrics_on": split,
            "params": card.params,
            "size_mb": round(card.size_bytes / 1e6, 2),
            "measured_latency_ms": None if measured_ms is None else measured_ms.get(entry.name),
            "recorded_latency_ms": recorded_latency_ms(entry),
            "images_per_second": images_per_second(entry),
            # An untimed model is on no front; say so rather than leave it looking dominated.
            "pareto": marks.get(entry.name, "") if recorded_latency_ms(entry) is not None else UNTIMED,
            "robust_accuracy": _mean_corrupted_accuracy(entry.robustness()),
            "augmentation": train.augmentation or "",
            "epochs": train.epochs_run if train.epochs_run is not None else train.epochs,
            "train_minutes": round(train.wall_seconds / 60, 1) if train.wall_seconds else None,
            "input": "x".join(str(v) for v in card.input_size),
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    optional = ["robust_accuracy", "measured_latency_ms", "recorded_latency_ms", "images_per_second", "train_minutes",
                *UNSEEN_COLUMNS]
    frame = frame.drop(columns=[c for c in optional if frame[c].isna().all()])
    if "recorded_latency_ms" not in frame:  # no latency recorded: no front to mark
        frame = frame.drop(columns="pareto")
    if (frame["metrics_on"] == "test").all():
        frame = frame.drop(columns="metrics_on")
    return frame


def _mean_corrupted_accuracy(robustness: pd.DataFrame | None) -> float | None:
    """Mean accuracy over the corrupted conditions (the clean "none" row is the baseline, not a condition)."""
    if robustness is None:
        return None
    corrupted = robustness[robustness["corruption"] != "none"]
    return float(corrupted["accuracy"].mean()) if len(corrupted) else None


def _cell(fmt: str) -> Callable[[object], str]:
    """A formatter that writes n/a for a missing figure."""
    return lambda value: "n/a" if value is None or (isinstance(value, float) and pd.isna(value)) else fmt.format(value)


# frame column -> (Markdown header, cell format, alignment); "unseen accuracy (n)" joins two columns below
MARKDOWN_COLUMNS = {
    "model": ("model", _cell("{}"), "left"),
    "weights": ("weights", _cell("{}"), "left"),
    "accuracy": ("test accuracy", _cell("{:.2%}"), "right"),
    "roc_auc": ("ROC-AUC", _cell("{:.4f}"), "right"),
    "unseen": ("unseen accuracy (n)", _cell("{}"), "right"),
    "unseen_roc_auc": ("unseen ROC-AUC", _cell("{:.4f}"), "right"),
    "precision": ("precision", _cell("{:.4f}"), "right"),
    "recall": ("recall", _cell("{:.4f}"), "right"),
    "f1": ("F1", _cell("{:.4f}"), "right"),
    "threshold": ("threshold", _cell("{:.3f}"), "right"),
    "params": ("parameters", _cell("{:,}"), "right"),
    "size_mb": ("size", _cell("{:.1f} MB"), "right"),
    "recorded_latency_ms": ("latency", _cell("{:.2f} ms"), "right"),
    "images_per_second": ("images/s", _cell("{:,.0f}"), "right"),
    "pareto": ("Pareto", _cell("{}"), "center"),
    "epochs": ("epochs", _cell("{}"), "right"),
    "train_minutes": ("train time", _cell("{:.1f} min"), "right"),
}


def leaderboard_markdown(entries: Sequence[ZooEntry]) -> str:
    """The evaluated models' leaderboard as a Markdown table with its footnote, then any other test sets."""
    evaluated = [entry for entry in entries if entry.test_metrics]
    if not evaluated:
        return EMPTY
    frame = leaderboard_frame(evaluated)
    if "unseen_accuracy" in frame:
        frame["unseen"] = [None if pd.isna(a) else f"{a:.2%} ({int(n):,})"
                           for a, n in zip(frame["unseen_accuracy"], frame["unseen_n"], strict=True)]
    frame = frame.astype(object).where(frame.notna(), None)
    shown = [column for column in MARKDOWN_COLUMNS if column in frame]
    table = pd.DataFrame({MARKDOWN_COLUMNS[c][0]: [MARKDOWN_COLUMNS[c][1](v) for v in frame[c]] for c in shown})
    markdown = table.to_markdown(index=False, colalign=[MARKDOWN_COLUMNS[c][2] for c in shown], disable_numparse=True)
    others = other_test_sets_markdown(all_best_first(evaluated))  # users' own labelled folders (evaluate --folder)
    footnote = FOOTNOTE.format(split=test_split_words(evaluated))
    return f"{markdown}\n\n{footnote}" + (f"\n\n{others}" if others else "")
