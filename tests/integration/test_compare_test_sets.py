"""The leaderboard's side-by-side comparison across test sets: models are joined image by image only within one set.

The zoo holds a folder model ("crop", crop_zoo: its predictions name files of its own folder's test split) beside
two CIFAKE-style entries evaluated on the same ten CIFAKE paths ("bright" and "dim", which disagree on DISAGREE of
them) and one CIFAKE-style entry with test metrics in its card but no stored predictions ("unscored").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_zoo import list_entries, write_predictions
from model_zoo.zoo import VALIDATION_PREDICTIONS_FILE
from tests.dashboard_app import open_dashboard

PATHS = [f"test/REAL/{i}.jpg" for i in range(5)] + [f"test/FAKE/{i}.jpg" for i in range(5)]
LABELS = [0] * 5 + [1] * 5
BRIGHT = [0.1] * 5 + [0.9] * 5  # every image right
DIM = [0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1]  # two REAL and two FAKE the other way
DISAGREE = 4
CHOSEN = ["bright", "dim", "crop"]


@pytest.fixture(scope="module")
def compare_zoo(crop_zoo, tmp_path_factory) -> Path:
    from tests.tiny_zoo import brightness_entry

    _, trained = crop_zoo
    zoo = tmp_path_factory.mktemp("compare") / "zoo"
    shutil.copytree(trained, zoo, ignore=shutil.ignore_patterns(".runs"))
    for name, probs in (("bright", BRIGHT), ("dim", DIM)):
        brightness_entry(zoo, name)
        write_predictions(zoo / name, PATHS, LABELS, probs)
        write_predictions(zoo / name, PATHS, LABELS, probs, file=VALIDATION_PREDICTIONS_FILE)
    brightness_entry(zoo, "unscored")
    return zoo


def _entries(zoo: Path):
    return list_entries(zoo)[0]


def test_per_image_comparisons_join_only_models_of_the_same_test_set(compare_zoo):
    from dashboard.comparison import compare_by_test_set, comparison_note
    from dashboard.misclassified import predictions_table

    entries = _entries(compare_zoo)
    chosen = [e for e in entries if e.name in CHOSEN]
    assert predictions_table(chosen).empty  # the one table the page used to draw from: no image in common

    cifake, own = compare_by_test_set(entries, [*CHOSEN, "unscored"])
    assert (cifake.test_set.label, cifake.models, sorted(cifake.table["path"])) == (
        "synthetic test", ["bright", "dim"], sorted(PATHS))
    assert (own.test_set.label, own.models, len(own.table)) == ("trace test", ["crop"], 48)
    assert not set(own.table["path"]) & set(PATHS)  # the folder's own files, never CIFAKE's

    matrix, mixed = cifake.disagreement()
    assert matrix.loc["bright", "dim"] == pytest.approx(DISAGREE / len(PATHS))
    assert sorted(mixed["path"]) == sorted(PATHS[i] for i in (3, 4, 8, 9))
    assert own.disagreement() is None  # one model alone on its set: nothing to disagree with
    labels, probs = cifake.curves()["dim"]
    assert list(labels) == LABELS and list(probs) == pytest.approx(DIM)
    assert set(own.curves()) == {"crop"} and len(own.curves()["crop"][0]) == 48

    note = comparison_note([*CHOSEN, "unscored"], [cifake, own])
    assert "2 different test sets" in note
    assert "bright, dim on **synthetic test**; crop on **trace test** (alone there)" in note
    assert "No stored test predictions, so not in the curves: unscored" in note


def test_models_of_one_test_set_are_compared_together_without_a_note(compare_zoo):
    from dashboard.comparison import compare_by_test_set, comparison_note, panel_titles

    entries = _entries(compare_zoo)
    [together] = compare_by_test_set(entries, ["bright", "dim"])
    assert together.models == ["bright", "dim"] and len(together.table) == len(PATHS)
    assert comparison_note(["bright", "dim"], [together]) is None
    assert panel_titles(entries, ["bright", "dim"]) == {"bright": "bright", "dim": "dim"}
    assert panel_titles(entries, ["bright", "crop"]) == {"bright": "bright (on synthetic test)",
                                                         "crop": "crop (on trace test)"}


def test_two_models_on_one_set_with_no_image_in_common_are_said_to_be(compare_zoo, tmp_path):
    from dashboard.comparison import compare_by_test_set, comparison_note

    zoo = shutil.copytree(compare_zoo, tmp_path / "zoo")
    write_predictions(zoo / "dim", [p.replace("test/", "other/") for p in PATHS], LABELS, DIM)
    [apart] = compare_by_test_set(_entries(zoo), ["bright", "dim"])
    assert apart.table.empty and apart.disagreement() is None
    assert "bright, dim share no test image on **synthetic test**" in comparison_note(["bright", "dim"], [apart])


def test_per_model_tables_keep_every_model_and_name_its_test_set(compare_zoo):
    from dashboard import charts
    from dashboard.comparison import TEST_SET, metrics_long, operating_point_frame, with_test_set_column
    from dashboard.misclassified import test_set_labels
    from model_zoo.leaderboard_table import leaderboard_frame

    entries = _entries(compare_zoo)
    expected = {"bright": "synthetic test", "dim": "synthetic test", "unscored": "synthetic test",
                "crop": "trace test"}
    assert test_set_labels(entries) == expected  # "unscored": from its card's own test set, no predictions needed

    board = with_test_set_column(leaderboard_frame(entries), entries)
    assert dict(zip(board["model"], board[TEST_SET], strict=True)) == expected
    assert list(board.columns).index(TEST_SET) == list(board.columns).index("weights") + 1
    one_set = [e for e in entries if e.name != "crop"]
    assert TEST_SET not in with_test_set_column(leaderboard_frame(one_set), one_set)  # nothing to tell apart

    chosen = [e for e in entries if e.name in CHOSEN]
    bars = metrics_long(chosen)
    assert dict(zip(bars["model"], bars[TEST_SET], strict=True)) == {k: expected[k] for k in CHOSEN}
    figure = charts.metric_bars(bars)
    assert {trace.name for trace in figure.data} == {"bright (on synthetic test)", "dim (on synthetic test)",
                                                     "crop (on trace test)"}
    assert "each model on its own test set" in figure.layout.title.text
    cifake_only = [e for e in entries if e.name in ("bright", "dim")]
    assert {trace.name for trace in charts.metric_bars(metrics_long(cifake_only)).data} == {"bright", "dim"}

    points = operating_point_frame(entries, 0.2).set_index("model")  # crop's validation predictions: evaluate's
    assert points[TEST_SET].to_dict() == {"bright": "synthetic test", "dim": "synthetic test", "crop": "trace test"}
    assert TEST_SET not in operating_point_frame(one_set, 0.2)


def test_leaderboard_page_compares_each_test_set_on_its_own(compare_zoo, monkeypatch):
    at = open_dashboard(compare_zoo, monkeypatch)
    at.multiselect(key="compare_models").set_value(CHOSEN).run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]

    board = at.dataframe[0].value
    assert board.set_index("model").loc["crop", "test set"] == "trace test"
    assert any("`test set`: the images each row's figures are on" in c.value for c in at.caption)
    assert any("bright, dim on **synthetic test**; crop on **trace test** (alone there)" in i.value for i in at.info)
    assert [s.value for s in at.subheader] == ["On synthetic test: bright, dim", "On trace test: crop"]
    [agree] = [m for m in at.metric if m.label.startswith("Test images where")]
    assert agree.value == str(DISAGREE)  # bright and dim, on their own ten images
    assert any(f"{DISAGREE / len(PATHS):.1%} of {len(PATHS)} synthetic test images" in c.value for c in at.caption)

    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    curves = [[trace.get("name", "") for trace in spec["data"]] for spec in specs
              if spec["layout"].get("title", {}).get("text") in ("ROC curve", "Precision-recall curve")]
    assert len(curves) == 4  # ROC and PR for each set, and none of them empty
    assert all(any("AUC" in name or "AP" in name for name in names) for names in curves)
    assert any(any(name.startswith("crop (") for name in names) for names in curves)


def test_the_markdown_leaderboard_says_each_model_is_on_its_own_test_split(compare_zoo):
    from model_zoo.leaderboard_table import leaderboard_markdown

    entries = _entries(compare_zoo)
    mixed = leaderboard_markdown(entries)
    assert "All figures on each model's own test split (" in mixed and "trace: 48 images" in mixed
    alone = leaderboard_markdown([e for e in entries if e.name == "crop"])
    assert "All figures on the trace test split (48 images)" in alone
