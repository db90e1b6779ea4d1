"""Accuracy vs latency on trained zoos: the latency command, `--model fastest` and the leaderboards' marks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from model_zoo import list_entries
from tests.zoo_builders import copy_zoo, edit_card


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
    from model_zoo.leaderboard_table import leaderboard_frame, leaderboard_markdown

    zoo = copy_zoo(timed_zoo, tmp_path / "zoo")
    edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.90}, latency={"ms_per_image": 1.0, "images_per_second": 4321.0})
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.95}, latency={"ms_per_image": 5.0})
    entries, _ = list_entries(zoo)
    board = leaderboard_frame(entries).set_index("model")
    assert board.loc["cnn_strided", "pareto"] == "★ fastest" and board.loc["cnn_maxpool", "pareto"] == "★"
    assert board.loc["cnn_maxpool", "recorded_latency_ms"] == 1.0
    assert board.loc["cnn_maxpool", "images_per_second"] == 4321.0 and pd.isna(board.loc["cnn_strided", "images_per_second"])
    minutes = {e.name: e.card.to_dict()["train"]["wall_seconds"] / 60 for e in entries}
    assert board["train_minutes"].to_dict() == pytest.approx({name: round(m, 1) for name, m in minutes.items()})
    lines = [line for line in leaderboard_markdown(entries).splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {cells["model"]: cells for cells in (dict(zip(header, (c.strip() for c in line.strip("|").split("|")),
                                                         strict=True)) for line in lines[2:])}
    assert [rows["cnn_strided"][k] for k in ("latency", "images/s", "Pareto")] == ["5.00 ms", "n/a", "★ fastest"]
    assert [rows["cnn_maxpool"][k] for k in ("latency", "images/s", "Pareto")] == ["1.00 ms", "4,321", "★"]
    assert rows["cnn_maxpool"]["train time"] == f"{minutes['cnn_maxpool']:.1f} min"
    edit_card(zoo / "cnn_maxpool", latency={"ms_per_image": 6.0})  # slower and worse: off the front
    entries, _ = list_entries(zoo)
    assert leaderboard_frame(entries).set_index("model").loc["cnn_maxpool", "pareto"] == ""


def test_leaderboard_without_latencies_has_no_pareto_column(trained_zoo):
    from model_zoo.leaderboard_table import leaderboard_frame

    entries, _ = list_entries(trained_zoo)
    board = leaderboard_frame(entries)
    assert "pareto" not in board and "recorded_latency_ms" not in board
