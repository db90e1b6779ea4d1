"""Shared pieces of the benchmarks: a CIFAKE-sized generated dataset made once and reused."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import model_zoo  # noqa: E402, F401  (quiets TensorFlow's start-up log)

BENCH_DIR = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "cifake-bench"))


def cifake_sized_zip(train_per_class: int = 50_000, test_per_class: int = 10_000) -> Path:
    """120,000 generated 32x32 JPEGs in the Kaggle layout, made once in a temp dir."""
    from training.lib.synthetic import make_synthetic_cifake

    path = BENCH_DIR / f"synthetic-{train_per_class}-{test_per_class}.zip"
    if not path.exists():
        print(f"generating {2 * (train_per_class + test_per_class):,} synthetic images in {path} (once) ...", flush=True)
        partial = path.with_suffix(".partial.zip")
        make_synthetic_cifake(partial, train_per_class, test_per_class, as_zip=True)
        partial.rename(path)
    return path
