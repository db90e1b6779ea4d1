"""Accuracy against latency: which models are on the Pareto front, and which one is `fastest`.

Accuracy is the test accuracy that ranks the leaderboard (model_zoo.decision.rank_key).
Latency is the card's "latency" block, written by `python -m training.latency`:
    {"ms_per_image": 1.9, "p90_ms": 2.3, "repeats": 30, "batch": 1, "measured": "...", "machine": "...", ...}
the median wall time of one single-image call of predict_prob_fake (card preprocessing,
forward pass, calibration) after a warm-up, every entry measured in the same process,
round-robin, so that load on a shared machine slows them all alike.

Why not evaluation.images_per_second: it is the throughput of 256-image batches over the
test set, measured while whatever else ran on the machine ran, one model at a time; it
says little about one image's wait and cannot compare models measured on different days.
Entries without a latency block are on no front and never `fastest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from model_zoo.ranking import comparable_group, evaluated_best_first, rank_key

if TYPE_CHECKING:
    from model_zoo.zoo import ZooEntry

LATENCY_KEY = "latency"
FASTEST_WITHIN = 0.01  # "within one point of the best accuracy": accuracies are fractions
# Latencies within 10% of the quickest count as the same speed, and the more accurate of those wins: two runs
# of training.latency on the 2-core machine reorder models that close (cnn_strided and its study arms).
SPEED_TIE = 0.10


def _recorded(entry: ZooEntry, key: str) -> float | None:
    """A positive number from the card's latency block, else None (not measured, or not a usable figure)."""
    value = getattr(entry.card.latency, key, None)  # the latency block (model_zoo.card.Latency) or None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def recorded_latency_ms(entry: ZooEntry) -> float | None:
    """The entry's recorded single-image latency in ms, or None before `python -m training.latency`."""
    return _recorded(entry, "ms_per_image")


def images_per_second(entry: ZooEntry) -> float | None:
    """The entry's recorded batch throughput (images/s, batches of 256), or None where training.latency did not measure it."""
    return _recorded(entry, "images_per_second")


def _accuracy(entry: ZooEntry) -> float:
    return float(entry.test_metrics["accuracy"])


def _timed(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """Evaluated entries with a recorded latency."""
    return [e for e in evaluated_best_first(entries) if recorded_latency_ms(e) is not None]


def pareto_front(entries: Sequence[ZooEntry]) -> set[str]:
    """Names of the entries no other entry beats on both axes (at least as accurate and as fast, better on one)."""
    timed = _timed(entries)
    front = set()
    for entry in timed:
        acc, ms = _accuracy(entry), recorded_latency_ms(entry)
        dominated = any(  # only by a model measured on the same test images: other accuracies do not compare
            _accuracy(o) >= acc and recorded_latency_ms(o) <= ms and (_accuracy(o) > acc or recorded_latency_ms(o) < ms)
            for o in timed if o is not entry and comparable_group(o.card) == comparable_group(entry.card)
        )
        if not dominated:
            front.add(entry.name)
    return front


def fastest_ranked(entries: Sequence[ZooEntry], within: float = FASTEST_WITHIN,
                   speed_tie: float = SPEED_TIE) -> list[ZooEntry]:
    """Entries within `within` of the best test accuracy that have a latency, fastest first (on the best's test set).

    Those within `speed_tie` of the quickest latency are tied for first and come in rank order (the most
    accurate first); the rest follow by latency. The best accuracy is over every evaluated entry, timed or
    not, so `fastest` never settles for "within a point of the best model we happened to time". The first
    entry is `--model fastest`; the next ones are its fall-backs when a model will not load.
    """
    ranked = evaluated_best_first(entries)
    if not ranked:
        return []
    floor = _accuracy(ranked[0]) - within - 1e-12  # 1e-12: accuracies are ratios of counts, not exact decimals
    same_set = comparable_group(ranked[0].card)  # the best's test set: accuracies on other images do not compare
    close = [e for e in _timed(entries) if comparable_group(e.card) == same_set and _accuracy(e) >= floor]
    if not close:
        return []
    tie_ms = min(recorded_latency_ms(e) for e in close) * (1 + speed_tie)
    tied = sorted((e for e in close if recorded_latency_ms(e) <= tie_ms), key=rank_key)
    rest = sorted((e for e in close if recorded_latency_ms(e) > tie_ms), key=lambda e: (recorded_latency_ms(e), rank_key(e)))
    return tied + rest


def fastest_entry(entries: Sequence[ZooEntry], within: float = FASTEST_WITHIN,
                  speed_tie: float = SPEED_TIE) -> ZooEntry | None:
    candidates = fastest_ranked(entries, within, speed_tie)
    return candidates[0] if candidates else None


def front_marks(entries: Sequence[ZooEntry]) -> dict[str, str]:
    """name -> "★" (on the Pareto front), "★ fastest", "fastest" or "": the leaderboards' marks."""
    front, fastest = pareto_front(entries), fastest_entry(entries)
    fastest_name = fastest.name if fastest is not None else None
    marks = {}
    for entry in entries:
        words = (["★"] if entry.name in front else []) + (["fastest"] if entry.name == fastest_name else [])
        marks[entry.name] = " ".join(words)
    return marks
