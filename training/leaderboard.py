"""Print the zoo's leaderboard as a Markdown table (pasted into the README).

    python -m training.leaderboard [--zoo DIR]
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import ZooEntry, list_entries


def leaderboard_markdown(entries: list[ZooEntry]) -> str:
    """One row per evaluated model, best test accuracy first."""
    evaluated = sorted((e for e in entries if e.test_metrics), key=lambda e: -e.test_metrics["accuracy"])
    if not evaluated:
        return "_No evaluated models in the zoo yet: `make zoo CIFAKE_PATH=/path/to/cifake.zip` fills it._"
    rows = [
        "| model | test accuracy | precision | recall | F1 | ROC-AUC | parameters | size | epochs | train time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in evaluated:
        m, card = entry.test_metrics, entry.card
        rows.append(
            f"| {entry.name} | {m['accuracy']:.2%} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | "
            f"{m['roc_auc']:.4f} | {card['params']:,} | {card['size_bytes'] / 1e6:.1f} MB | "
            f"{card['train']['epochs_run']} | {card['train']['wall_seconds'] / 60:.1f} min |"
        )
    n = evaluated[0].test_metrics["n"]
    rows.append(f"\nAll figures on the test split ({n:,} images), never seen in training or model selection.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.leaderboard", description=__doc__)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    args = parser.parse_args(argv)
    entries, problems = list_entries(args.zoo)
    for problem in problems:
        print(f"skipped {problem.name}: {problem.message}", file=sys.stderr)
    print(leaderboard_markdown(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
