"""Accuracy vs latency on hand-made cards: the Pareto front, `--model fastest` and the leaderboards' marks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from model_zoo import ZooEntry
from model_zoo.card import CardError
from model_zoo.tradeoff import fastest_entry, fastest_ranked, front_marks, pareto_front, recorded_latency_ms
from tests.cards import typed


def _entry(name: str, accuracy: float | None, ms: float | None, params: int = 1000) -> ZooEntry:
    card = {"name": name, "params": params, "metrics": {}}
    if accuracy is not None:
        card["metrics"]["test"] = {"accuracy": accuracy, "roc_auc": 0.9}
    if ms is not None:
        card["latency"] = {"ms_per_image": ms}
    return ZooEntry(name=name, path=Path("/nowhere") / name, card=typed(card))


# accuracy, latency (ms): "slow_best" is best; "quick" is 0.8 points worse and 3x faster; "quicker" is
# 1.5 points worse (outside the point) and faster still; "dominated" is worse and slower than "quick".
ZOO = [_entry("slow_best", 0.975, 6.0), _entry("quick", 0.967, 2.0), _entry("quicker", 0.960, 1.0),
       _entry("dominated", 0.966, 2.5), _entry("untimed", 0.970, None), _entry("unevaluated", None, 0.5)]


def test_pareto_front_keeps_the_models_nothing_beats_on_both_axes():
    assert pareto_front(ZOO) == {"slow_best", "quick", "quicker"}


def test_equal_models_are_both_on_the_front_and_a_tie_on_one_axis_is_decided_by_the_other():
    twins = [_entry("a", 0.95, 2.0), _entry("b", 0.95, 2.0)]
    assert pareto_front(twins) == {"a", "b"}
    same_speed = [_entry("a", 0.95, 2.0), _entry("b", 0.96, 2.0)]
    assert pareto_front(same_speed) == {"b"}


def test_fastest_is_the_quickest_within_one_point_of_the_best_accuracy():
    assert fastest_entry(ZOO).name == "quick"
    assert [e.name for e in fastest_ranked(ZOO)] == ["quick", "dominated", "slow_best"]  # fall-backs in speed order
    assert fastest_entry(ZOO, within=0.02).name == "quicker"
    assert fastest_entry(ZOO, within=0.0).name == "slow_best"


def test_near_equal_latencies_are_a_tie_won_by_the_more_accurate():
    # 3.17 vs 3.38 ms is run-to-run noise on a shared CPU; 96.96% vs 96.58% is not.
    zoo = [_entry("best", 0.9712, 3.9), _entry("arm", 0.9658, 3.17), _entry("strided", 0.9696, 3.38),
           _entry("other_arm", 0.9689, 3.39), _entry("slower", 0.9704, 3.6)]
    assert [e.name for e in fastest_ranked(zoo)] == ["strided", "other_arm", "arm", "slower", "best"]
    assert fastest_entry(zoo, speed_tie=0.0).name == "arm"  # without the tie: strictly the quickest
    assert fastest_entry(zoo, speed_tie=0.25).name == "best"  # 3.9 <= 3.17 * 1.25: everything ties, best wins


def test_the_best_accuracy_counts_untimed_models():
    # The best model has no latency: `fastest` is still measured against its accuracy, not the best timed one's.
    zoo = [_entry("untimed_best", 0.99, None), _entry("timed", 0.975, 1.0)]
    assert fastest_entry(zoo) is None
    assert fastest_entry(zoo + [_entry("close", 0.981, 3.0)]).name == "close"


def test_a_folder_model_neither_dominates_nor_is_fastest_among_cifake_models():
    # Perfect and quickest, but on 120 images of its own folder: its accuracy is not comparable with CIFAKE's.
    folder = _entry("mine", 1.0, 0.5)
    folder = replace(folder, card=folder.card.updated(train={"dataset": "/photos/mine", "split": {"seed": 0}}))
    assert pareto_front([*ZOO, folder]) == {"slow_best", "quick", "quicker", "mine"}  # each front on its own set
    assert fastest_entry([*ZOO, folder]).name == "quick"
    assert fastest_entry([folder]).name == "mine"  # a zoo of one folder's models: ranked among themselves


def test_exactly_one_point_below_the_best_still_counts():
    # 0.9712 - 0.9612 is not exactly 0.01 in floating point; the rule must not drop such a model.
    zoo = [_entry("best", 0.9712, 5.0), _entry("edge", 0.9612, 1.0)]
    assert fastest_entry(zoo).name == "edge"


def test_latency_must_be_a_positive_number():
    with pytest.raises(CardError, match="latency.ms_per_image must be a number >= 0, got 'fast'"):
        _entry("x", 0.9, "fast")  # a card that says so is refused when read
    bad = [_entry("x", 0.9, None) for _ in range(2)]
    bad[0] = replace(bad[0], card=bad[0].card.updated(latency={"ms_per_image": 0}))
    bad[1] = replace(bad[1], card=bad[1].card.updated(latency={}))
    assert [recorded_latency_ms(e) for e in bad] == [None, None]
    assert pareto_front(bad) == set() and fastest_entry(bad) is None


def test_marks():
    marks = front_marks(ZOO)
    assert marks == {"slow_best": "★", "quick": "★ fastest", "quicker": "★", "dominated": "", "untimed": "",
                     "unevaluated": ""}


# --- on a real (small) zoo --------------------------------------------------------------------------------------
