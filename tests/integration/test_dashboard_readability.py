"""What the dashboard shows reads right on a mixed zoo: shared chart axes in a sensible order, no columns of
"None", no model that looks dominated only because it was never timed (found by looking at the real zoo)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard import charts
from dashboard.study_figures import display_table
from model_zoo import ZooEntry
from model_zoo.leaderboard_table import UNTIMED, leaderboard_frame
from tests.cards import typed


def _robustness() -> pd.DataFrame:
    # "old" was measured before JPEG quality 40 was added; "new" has it between 50 and 30 (mildest first).
    old = [("none", 0), ("jpeg", 95), ("jpeg", 50), ("jpeg", 30), ("blur", 0.5), ("blur", 2)]
    new = [("none", 0), ("jpeg", 95), ("jpeg", 50), ("jpeg", 40), ("jpeg", 30), ("blur", 0.5), ("blur", 1), ("blur", 2)]
    rows = [(m, c, float(v), 0.9 - 0.01 * i) for m, levels in (("old", old), ("new", new))
            for i, (c, v) in enumerate(levels)]
    return pd.DataFrame(rows, columns=["model", "corruption", "level", "accuracy"])


def test_levels_of_models_measured_at_different_levels_share_one_axis_mildest_first():
    table = _robustness()
    assert charts.level_order(table, "jpeg") == ["95", "50", "40", "30"]  # quality falls: 40 before 30
    assert charts.level_order(table, "blur") == ["0.5", "1", "2"]  # sigma rises
    figure = charts.robustness_figure(table)
    assert list(figure.layout.xaxis.categoryarray) == ["95", "50", "40", "30"]
    assert list(figure.layout.xaxis2.categoryarray) == ["0.5", "1", "2"]
    named = pd.DataFrame({"corruption": ["fog", "fog"], "level": ["heavy", "light"], "accuracy": [0.5, 0.8]})
    assert charts.level_order(named, "fog") == ["heavy", "light"]  # not numbers: the stored order


def test_study_table_drops_what_no_model_measured_and_keeps_partial_columns():
    study = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.97, 0.96], "roc_auc_jpeg_40": [None, 0.98],
                          "roc_auc_blur_1": [None, None], "seconds_per_epoch": [None, None]})
    shown = display_table(study)
    assert list(shown.columns) == ["model", "accuracy", "roc_auc_jpeg_40"]
    assert shown["roc_auc_jpeg_40"].isna().tolist() == [True, False]


def _entry(name: str, accuracy: float, ms: float | None) -> ZooEntry:
    card = {"name": name, "architecture": "cnn", "params": 10, "size_bytes": 100, "input_shape": [32, 32, 3],
            "metrics": {"test": {"accuracy": accuracy, "roc_auc": 0.99, "precision": 0.9, "recall": 0.9, "f1": 0.9}}}
    if ms is not None:
        card["latency"] = {"ms_per_image": ms}
    return ZooEntry(name=name, path=Path("/nowhere") / name, card=typed(card))


def test_an_untimed_model_is_marked_not_timed_not_left_looking_dominated():
    board = leaderboard_frame([_entry("fast", 0.97, 2.0), _entry("slow", 0.96, 3.0), _entry("new", 0.98, None)])
    marks = board.set_index("model")["pareto"].to_dict()
    assert marks == {"new": UNTIMED, "fast": "★ fastest", "slow": ""}


def test_model_card_headings_shrink_inside_the_page_and_code_stays_as_written():
    from dashboard.views.model_card_view import demote_headings

    card = "# name\n\ntext #1\n## Metrics\n```bash\n# a shell comment\n```\n##### deep\n#hashtag"
    assert demote_headings(card).splitlines() == [
        "### name", "", "text #1", "#### Metrics", "```bash", "# a shell comment", "```", "###### deep", "#hashtag"]
