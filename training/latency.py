"""Measure each model's single-image latency and batch throughput; record both in its card (the "latency" block).

    python -m training.latency [NAME ...] [--repeats 30] [--zoo DIR]

Without names every usable entry is measured. The models are loaded together and timed
round-robin (one call of each per round, after a warm-up), so load from other programs
slows all of them alike and their figures compare; rerun it for all entries after adding
one. Latency is one image's wait (an upload); throughput, images per second in batches of
256 (a folder scan), is what bulk work gets. The leaderboard's Pareto front and `--model fastest`
(model_zoo.tradeoff) read this block; why it is not evaluation.images_per_second is said there.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np

from model_zoo import LoadedModel, ZooError, load_usable_models, predict_prob_fake, staged_entry
from model_zoo.tradeoff import LATENCY_KEY
from model_zoo.zoo import read_card, write_card
from training.cli import exit_on_user_error, read_named_entries, warn_skipped

THROUGHPUT_BATCH = 256  # model_zoo.inference's chunk: the batch a folder scan or an evaluation runs


def _one_image(loaded: LoadedModel) -> np.ndarray:
    height, width, _ = loaded.card["input_shape"]
    return np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)


def _round_robin_seconds(models: Sequence[LoadedModel], images: dict[str, np.ndarray], rounds: int,
                        warmup: int) -> dict[str, list[float]]:
    """name -> `rounds` wall times (s) of predict_prob_fake on its images, one call of each model per round,
    so that load from other programs slows them all alike."""
    for _ in range(warmup):  # the first call of a batch shape compiles
        for m in models:
            predict_prob_fake(m.model, images[m.name], m.card)
    seconds: dict[str, list[float]] = {m.name: [] for m in models}
    for _ in range(rounds):
        for m in models:
            start = time.perf_counter()
            predict_prob_fake(m.model, images[m.name], m.card)
            seconds[m.name].append(time.perf_counter() - start)
    return seconds


def measure_latencies(models: Sequence[LoadedModel], repeats: int = 30, warmup: int = 3) -> dict[str, list[float]]:
    """name -> `repeats` wall times (ms) of one single-image predict_prob_fake call, measured round-robin."""
    seconds = _round_robin_seconds(models, {m.name: _one_image(m) for m in models}, repeats, warmup)
    return {name: [1000.0 * v for v in values] for name, values in seconds.items()}


def measure_throughput(models: Sequence[LoadedModel], batch: int = THROUGHPUT_BATCH, rounds: int = 3) -> dict[str, float]:
    """name -> images per second of one `batch`-image predict_prob_fake call, median of `rounds`, round-robin."""
    images = {m.name: np.repeat(_one_image(m), batch, axis=0) for m in models}
    seconds = _round_robin_seconds(models, images, rounds, warmup=1)
    return {name: batch / statistics.median(values) for name, values in seconds.items()}


def latency_block(times_ms: list[float], images_per_second: float | None = None) -> dict:
    """The card's "latency" block from one model's single-image timings and, when measured, its batch throughput."""
    import tensorflow as tf

    ordered = sorted(times_ms)
    throughput = {} if images_per_second is None else {"images_per_second": round(images_per_second, 1),
                                                       "throughput_batch": THROUGHPUT_BATCH}
    return {
        "ms_per_image": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "repeats": len(ordered),
        "batch": 1,
        **throughput,
        "method": "median of single-image predict_prob_fake calls after warm-up, entries timed round-robin; "
                  f"throughput: median of {THROUGHPUT_BATCH}-image calls, also round-robin",
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, TF {tf.__version__}",
    }


def record_latency(name: str, block: dict, zoo: str | os.PathLike | None = None) -> None:
    """Add the block to the entry's card atomically (the rest of the entry is untouched)."""
    with staged_entry(name, zoo, from_existing=True) as folder:
        card = read_card(folder / "card.json")  # read inside the staged copy: the freshest card
        card[LATENCY_KEY] = block
        write_card(folder, card)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="zoo entries (default: all)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per model (default 30)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/)")
    args = parser.parse_args(argv)
    # Named or all, every model that loads is timed; one that will not is skipped with its reason.
    loaded, unusable = load_usable_models(read_named_entries(args.names or ["all"], args.zoo))
    warn_skipped(unusable)
    if not loaded:
        raise ZooError("no usable models to time")
    print(f"timing {len(loaded)} model(s): single images, then batches of {THROUGHPUT_BATCH}", flush=True)
    times = measure_latencies(list(loaded.values()), max(1, args.repeats))
    throughput = measure_throughput(list(loaded.values()))
    for name, values in times.items():
        block = latency_block(values, throughput[name])
        record_latency(name, block, args.zoo)
        print(f"{name}: {block['ms_per_image']:.2f} ms per image (median of {block['repeats']}, "
              f"p90 {block['p90_ms']:.2f} ms); {block['images_per_second']:,.0f} images/s in batches of "
              f"{THROUGHPUT_BATCH}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
