"""Single-image latency and batch throughput, timed round-robin: the library behind `python -m training.latency`."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence

import numpy as np

from model_zoo import LoadedModel, predict_prob_fake, staged_entry
from model_zoo.tradeoff import LATENCY_KEY
from model_zoo.zoo import read_card, write_card

THROUGHPUT_BATCH = 256  # model_zoo.inference's chunk: the batch a folder scan or an evaluation runs


def _one_image(loaded: LoadedModel) -> np.ndarray:
    height, width = loaded.card.input_size
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
        write_card(folder, card.updated(**{LATENCY_KEY: block}))

