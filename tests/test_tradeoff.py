"""Accuracy vs latency: the Pareto front, `--model fastest`, the latency command and the leaderboards' marks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from model_zoo import ZooEntry, list_entries
from model_zoo.tradeoff import fastest_entry, fastest_ranked, front_marks, latency_ms, pareto_front
from tests.zoo_builders import copy_zoo, edit_card


def _entry(name: str, accuracy: float | None, ms: float | None, params: int = 1000) -> ZooEntry:
    card = {"name": name, "params": params, "metrics": {}}
    if accuracy is not None:
        card["metrics"]["test"] = {"accuracy": accuracy, "roc_auc": 0.9}
    if ms is not None:
        card["latency"] = {"ms_per_image": ms}
    return ZooEntry(name=name, path=Path("/nowhere") / name, card=card)


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


def test_exactly_one_point_below_the_best_still_counts():
    # 0.9712 - 0.9612 is not exactly 0.01 in floating point; the rule must not drop such a model.
    zoo = [_entry("best", 0.9712, 5.0), _entry("edge", 0.9612, 1.0)]
    assert fastest_entry(zoo).name == "edge"


def test_latency_must_be_a_positive_number():
    bad = [_entry("x", 0.9, None) for _ in range(3)]
    bad[0].card["latency"] = {"ms_per_image": "fast"}
    bad[1].card["latency"] = {"ms_per_image": 0}
    bad[2].card["latency"] = {}
    assert [latency_ms(e) for e in bad] == [None, None, None]
    assert pareto_front(bad) == set() and fastest_entry(bad) is None


def test_marks():
    marks = front_marks(ZOO)
    assert marks == {"slow_best": "★", "quick": "★ fastest", "quicker": "★", "dominated": "", "untimed": "",
                     "unevaluated": ""}


# --- on a real (small) zoo --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed_zoo(trained_zoo, tmp_path_factory) -> Path:
    """A copy of the trained zoo after `python -m training.latency` (all entries)."""
    from training.latency import main

    zoo = copy_zoo(trained_zoo, tmp_path_factory.mktemp("timed") / "zoo")
    assert main(["--zoo", str(zoo), "--repeats", "5"]) == 0
    return zoo


def test_latency_command_records_a_block_and_keeps_the_rest_of_the_card(trained_zoo, timed_zoo):
    for folder in sorted(p for p in timed_zoo.iterdir() if p.is_dir() and not p.name.startswith(".")):
        card = json.loads((folder / "card.json").read_text())
        before = json.loads((trained_zoo / folder.name / "card.json").read_text())
        block = card.pop("latency")
        assert card == before
        assert block["repeats"] == 5 and block["batch"] == 1
        assert 0 < block["ms_per_image"] <= block["p90_ms"] < 10_000
        # the batch figure: 256 images in one call beat 256 single calls, however loaded the machine
        assert block["throughput_batch"] == 256 and block["images_per_second"] > 1000 / block["ms_per_image"]


def test_predict_fastest_uses_the_rule_and_falls_back_when_a_model_will_not_load(timed_zoo, tmp_path):
    from training.lib.folder_scan import resolve_models

    zoo = copy_zoo(timed_zoo, tmp_path / "zoo")
    edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.90}, latency={"ms_per_image": 1.0})
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.895}, latency={"ms_per_image": 5.0})
    assert [m.name for m in resolve_models("fastest", zoo)] == ["cnn_maxpool"]
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.92})  # now maxpool is 2 points behind: out
    assert [m.name for m in resolve_models("fastest", zoo)] == ["cnn_strided"]
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.905})
    (zoo / "cnn_maxpool" / "model.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    warnings = []
    assert [m.name for m in resolve_models("fastest", zoo, warn=warnings.append)] == ["cnn_strided"]
    assert any("cnn_maxpool" in w for w in warnings)


def test_predict_fastest_without_latencies_says_what_to_run(trained_zoo, tmp_path):
    from model_zoo import ZooError
    from training.lib.folder_scan import resolve_models

    with pytest.raises(ZooError, match="training.latency"):
        resolve_models("fastest", trained_zoo)


def test_leaderboards_mark_the_front(timed_zoo, tmp_path):
    from dashboard.leaderboard import leaderboard_frame
    from training.leaderboard import leaderboard_markdown

    zoo = copy_zoo(timed_zoo, tmp_path / "zoo")
    edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.90}, latency={"ms_per_image": 1.0, "images_per_second": 4321.0})
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.95}, latency={"ms_per_image": 5.0})
    entries, _ = list_entries(zoo)
    board = leaderboard_frame(entries).set_index("model")
    assert board.loc["cnn_strided", "pareto"] == "★ fastest" and board.loc["cnn_maxpool", "pareto"] == "★"
    assert board.loc["cnn_maxpool", "recorded_latency_ms"] == 1.0
    assert board.loc["cnn_maxpool", "images_per_second"] == 4321.0 and pd.isna(board.loc["cnn_strided", "images_per_second"])
    minutes = {e.name: e.card["train"]["wall_seconds"] / 60 for e in entries}
    assert board["train_minutes"].to_dict() == pytest.approx({name: round(m, 1) for name, m in minutes.items()})
    rows = {line.split("|")[1].strip(): line for line in leaderboard_markdown(entries).splitlines()
            if line.startswith("| cnn_")}
    assert "| 5.00 ms | n/a | ★ fastest |" in rows["cnn_strided"] and "| 1.00 ms | 4,321 | ★ |" in rows["cnn_maxpool"]
    assert rows["cnn_maxpool"].endswith(f"| {minutes['cnn_maxpool']:.1f} min |")
    edit_card(zoo / "cnn_maxpool", latency={"ms_per_image": 6.0})  # slower and worse: off the front
    entries, _ = list_entries(zoo)
    assert leaderboard_frame(entries).set_index("model").loc["cnn_maxpool", "pareto"] == ""


def test_leaderboard_without_latencies_has_no_pareto_column(trained_zoo):
    from dashboard.leaderboard import leaderboard_frame

    entries, _ = list_entries(trained_zoo)
    board = leaderboard_frame(entries)
    assert "pareto" not in board and "recorded_latency_ms" not in board
