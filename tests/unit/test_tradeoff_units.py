"""model_zoo.tradeoff on its edges: ties on one axis, the accuracy floor itself, a zoo with nothing timed."""

from __future__ import annotations

from pathlib import Path

from model_zoo import ZooEntry
from model_zoo.tradeoff import fastest_ranked, front_marks, pareto_front
from tests.cards import typed


def _entry(name: str, accuracy: float, ms: float | None) -> ZooEntry:
    card = {"name": name, "params": 1000, "metrics": {"test": {"accuracy": accuracy, "roc_auc": 0.9}}}
    if ms is not None:
        card["latency"] = {"ms_per_image": ms}
    return ZooEntry(name=name, path=Path("/nowhere") / name, card=typed(card))


def test_as_accurate_and_faster_dominates():
    assert pareto_front([_entry("slow", 0.95, 2.0), _entry("fast", 0.95, 1.0)]) == {"fast"}


def test_an_entry_exactly_at_the_accuracy_floor_counts():
    floor = 0.5 - 0.25 - 1e-12  # fastest_ranked's floor for a best of 0.5 and within=0.25
    ranked = fastest_ranked([_entry("best", 0.5, 9.0), _entry("edge", floor, 1.0)], within=0.25)
    assert [e.name for e in ranked] == ["edge", "best"]


def test_marks_without_any_latency():
    assert front_marks([_entry("a", 0.9, None), _entry("b", 0.8, None)]) == {"a": "", "b": ""}
