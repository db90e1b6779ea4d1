"""Print the zoo's leaderboard as a Markdown table (the docs site builds docs/zoo.md's table with it).

    python -m training.leaderboard [--zoo DIR]

Rows follow model_zoo.decision.rank_entries, the order the dashboard shows and the
pick of `python -m training.predict --model best`. Every figure is at the model's own
decision threshold (fitted on validation). "Pareto" marks the models that no other model
beats on both test accuracy and recorded single-image latency (`python -m training.latency`;
model_zoo.tradeoff), "fastest" the pick of `--model fastest`. "Unseen" columns count only the test images
whose file bytes occur nowhere in train (when `training.evaluate` recorded them).
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import ZooEntry, list_entries
from model_zoo.decision import rank_entries, threshold
from model_zoo.test_sets import other_test_sets_markdown
from model_zoo.tradeoff import front_marks, images_per_second, latency_ms
from model_zoo.zoo import trained_from


def _unseen_cells(entry: ZooEntry) -> tuple[str, str]:
    """Accuracy (with its n) and ROC-AUC on the unseen test subset, or n/a when not measured."""
    unseen = entry.test_unseen_metrics
    if not unseen:
        return "n/a", "n/a"
    roc_auc = "n/a" if unseen.get("roc_auc") is None else f"{unseen['roc_auc']:.4f}"
    return f"{unseen['accuracy']:.2%} ({unseen['n']:,})", roc_auc


def _latency_cell(entry: ZooEntry) -> str:
    ms = latency_ms(entry)
    return "n/a" if ms is None else f"{ms:.2f} ms"


def _throughput_cell(entry: ZooEntry) -> str:
    rate = images_per_second(entry)
    return "n/a" if rate is None else f"{rate:,.0f}"


def leaderboard_markdown(entries: list[ZooEntry]) -> str:
    """One row per evaluated model, best first (rank_entries)."""
    ranked = rank_entries(entries)
    if not ranked:
        return "_No evaluated models in the zoo yet: `make zoo CIFAKE_PATH=/path/to/cifake.zip` fills it._"
    rows = [
        "| model | weights | test accuracy | ROC-AUC | unseen accuracy (n) | unseen ROC-AUC | precision | recall | F1 "
        "| threshold | parameters | size | latency | images/s | Pareto | epochs | train time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    marks = front_marks(entries)
    for entry in ranked:
        m, card = entry.test_metrics, entry.card
        roc_auc = "n/a" if m.get("roc_auc") is None else f"{m['roc_auc']:.4f}"
        unseen_accuracy, unseen_roc_auc = _unseen_cells(entry)
        rows.append(
            f"| {entry.name} | {trained_from(card)} | {m['accuracy']:.2%} | {roc_auc} | {unseen_accuracy} | {unseen_roc_auc} | "
            f"{m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {threshold(card):.3f} | "
            f"{card['params']:,} | {card['size_bytes'] / 1e6:.1f} MB | {_latency_cell(entry)} | "
            f"{_throughput_cell(entry)} | {marks[entry.name]} | {card['train'].get('epochs_run', '?')} | "
            f"{card['train'].get('wall_seconds', 0) / 60:.1f} min |"
        )
    n = ranked[0].test_metrics["n"]
    rows.append(f"\nAll figures on the test split ({n:,} images), never seen in training or model selection, at each "
                "model's own decision threshold (fitted on the validation split). Unseen: only the test images whose "
                "file bytes occur nowhere in the training split. Latency: one image, median, CPU; images/s: batches "
                "of 256; all models timed together (`python -m training.latency`). Pareto: ★ when no other model is "
                "both at least as accurate and as fast (and better at one), with *fastest* on the quickest model "
                "within one point of the best accuracy, latencies within 10% counting as a tie won by the more "
                "accurate (`--model fastest`).")
    others = other_test_sets_markdown(ranked)  # the users' own labelled folders, beside CIFAKE (training.evaluate --folder)
    return "\n".join(rows) + (f"\n\n{others}" if others else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args(argv)
    entries, problems = list_entries(args.zoo)
    for problem in problems:
        print(f"skipped {problem.name}: {problem.message}", file=sys.stderr)
    print(leaderboard_markdown(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
