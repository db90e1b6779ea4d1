"""One decision rule everywhere (model_zoo.decision): each model's card threshold decides in the predict CLI,
the API and the dashboard, and one ranking gives `--model best` and the top row of both leaderboards.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from model_zoo import all_best_first, binary_metrics, list_entries, load_usable_models, verdict_for
from model_zoo.ranking import best_entry
from tests.cards import typed
from tests.zoo_builders import constant_entry, copy_zoo, edit_card

# Both constant models say P(FAKE) = 0.7 for every image; "strict" decides at 0.8, "lenient" at 0.6.
PROB = 0.7
EXPECTED = {"strict": ("REAL", 0.8), "lenient": ("FAKE", 0.6)}


@pytest.fixture(scope="module")
def threshold_zoo(trained_zoo, tmp_path_factory) -> Path:
    zoo = tmp_path_factory.mktemp("thresholds") / "zoo"
    for name, (_, threshold) in EXPECTED.items():
        constant_entry(zoo, name, trained_zoo / "cnn_maxpool", PROB, threshold)
    return zoo


@pytest.fixture(scope="module")
def image(synthetic_folder) -> Path:
    return sorted((synthetic_folder / "test" / "FAKE").iterdir())[0]


def test_verdict_and_metrics_decide_at_the_given_threshold():
    record = verdict_for("m", PROB, typed(decision={"threshold": 0.8})).as_dict()
    assert record["label"] == "REAL" and record["threshold"] == 0.8 and record["prob_fake"] == PROB
    assert record["predictions"][0] == {"label": "FAKE", "score": PROB}  # scores stay probabilities
    assert verdict_for("m", PROB, typed()).label == "FAKE"  # a card without a decision block: 0.5
    assert binary_metrics([1, 1], [PROB, 0.9], 0.8)["confusion_matrix"] == [[0, 0], [1, 1]]


def test_predict_cli_rows_use_each_cards_threshold(threshold_zoo, image, tmp_path):
    from training.predict import main

    out = tmp_path / "rows.csv"
    assert main([str(image), "--zoo", str(threshold_zoo), "--model", "all", "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    for name, (label, _) in EXPECTED.items():
        assert rows[name]["label"] == label and float(rows[name]["prob_fake"]) == pytest.approx(PROB, abs=1e-6)

    out = tmp_path / "rows.jsonl"
    assert main([str(image), "--zoo", str(threshold_zoo), "--model", "all", "--out", str(out)]) == 0
    records = {r["model"]: r for r in map(json.loads, out.read_text().splitlines())}
    for name, (label, threshold) in EXPECTED.items():
        assert records[name]["label"] == label and records[name]["threshold"] == threshold


def test_api_json_uses_each_cards_threshold(threshold_zoo, image):
    from dashboard.server.api import create_app

    client = create_app(threshold_zoo).test_client()
    body = client.post("/predict", data={"image": (io.BytesIO(image.read_bytes()), "a.jpg")}).get_json()
    verdicts = {v["model"]: v for v in body["verdicts"]}
    for name, (label, threshold) in EXPECTED.items():
        assert verdicts[name]["label"] == label and verdicts[name]["threshold"] == threshold
        assert verdicts[name]["prob_fake"] == pytest.approx(PROB, abs=1e-6)
    models = {m["name"]: m for m in client.get("/models").get_json()["models"]}
    assert {name: models[name]["threshold"] for name in EXPECTED} == {n: t for n, (_, t) in EXPECTED.items()}


def test_dashboard_verdicts_use_each_cards_threshold(threshold_zoo, image):
    from dashboard.verdict_display import threshold_note, thresholds_for, verdict_rows, verdicts_json
    from model_zoo.judge import judge

    models, _ = load_usable_models(list_entries(threshold_zoo)[0])
    result = judge(image.read_bytes(), models.values(), name=image.name)
    assert {v.model: (v.label, v.threshold) for v in result.verdicts} == EXPECTED
    assert verdict_rows([result])[0]["FAKE votes"] == "1/2"
    document = json.loads(verdicts_json([result]))
    assert {m["model"]: m["label"] for m in document["images"][0]["models"]} == {"strict": "REAL", "lenient": "FAKE"}
    assert "strict 0.8" in threshold_note(thresholds_for(models))
    # One threshold for every model, when the user asks for it.
    overridden = judge(image.read_bytes(), models.values(), override=0.75)
    assert {v.label for v in overridden.verdicts} == {"REAL"}
    assert "0.75 for every model" in threshold_note(thresholds_for(models, 0.75), 0.75)


def test_dashboard_error_filters_and_disagreements_use_each_models_threshold():
    import pandas as pd

    from dashboard.comparison import disagreement_matrix
    from dashboard.misclassified import disagreements, filter_errors

    table = pd.DataFrame({"path": list("uvwxyz"), "label": [0, 0, 0, 1, 1, 1],
                          "a": [0.9, 0.6, 0.1, 0.2, 0.45, 0.8], "b": [0.2, 0.7, 0.1, 0.3, 0.9, 0.9]})
    thresholds = {"a": 0.85, "b": 0.5}  # at 0.5 for both, a is wrong on 0, 1, 3, 4
    errors = filter_errors(table, "a", thresholds)
    assert list(errors.index) == [0, 3, 4, 5]  # P(FAKE) 0.6 is REAL at 0.85 (right); 0.8 is REAL (wrong)
    assert errors["confidence"].tolist() == pytest.approx([0.9, 0.8, 0.55, 0.2])
    assert list(disagreements(table, ["a", "b"], thresholds).index) == [0, 1, 4, 5]
    assert disagreement_matrix(table, ["a", "b"], thresholds).loc["a", "b"] == pytest.approx(4 / 6)


# --- one ranking: `--model best` is the leaderboards' top row ---------------------------------------------------

def _validation_only(folder: Path, accuracy: float) -> None:
    card = json.loads((folder / "card.json").read_text())
    card["metrics"] = {"validation": {**card["metrics"]["validation"], "accuracy": accuracy}}
    (folder / "card.json").write_text(json.dumps(card))


# Each scenario makes cnn_strided the best model where the old rules disagreed or picked cnn_maxpool:
# `pick_best` took the first of equal test accuracies (by name) and the dashboard sorted evaluated
# and unevaluated models together by whichever accuracy they had.
SCENARIOS = {
    "equal accuracy, higher ROC-AUC": lambda zoo: (
        edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.9, "roc_auc": 0.91}),
        edit_card(zoo / "cnn_strided", test={"accuracy": 0.9, "roc_auc": 0.95})),
    "equal accuracy and ROC-AUC, fewer parameters": lambda zoo: (
        edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.9, "roc_auc": 0.95}),
        edit_card(zoo / "cnn_strided", params=1000, test={"accuracy": 0.9, "roc_auc": 0.95})),
    "evaluated beats a better validation score": lambda zoo: (
        edit_card(zoo / "cnn_strided", test={"accuracy": 0.6}),
        _validation_only(zoo / "cnn_maxpool", 0.99)),
    "nothing evaluated: validation accuracy": lambda zoo: (
        _validation_only(zoo / "cnn_maxpool", 0.7), _validation_only(zoo / "cnn_strided", 0.8)),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_best_model_is_the_top_leaderboard_row(trained_zoo, tmp_path, scenario):
    from model_zoo.leaderboard_table import leaderboard_frame, leaderboard_markdown
    from training.lib.folder_scan import resolve_models

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    SCENARIOS[scenario](zoo)
    entries, problems = list_entries(zoo)
    assert not problems
    assert [m.name for m in resolve_models("best", zoo)] == ["cnn_strided"]
    assert all_best_first(entries)[0].name == "cnn_strided"
    assert leaderboard_frame(entries)["model"].tolist()[0] == "cnn_strided"
    if best_entry(entries) is not None:  # the Markdown table lists evaluated models only
        assert best_entry(entries).name == "cnn_strided"
        rows = [line for line in leaderboard_markdown(entries).splitlines() if line.startswith("| cnn_")]
        assert rows[0].split("|")[1].strip() == "cnn_strided"


def test_best_falls_back_to_the_next_ranked_model_that_loads(trained_zoo, tmp_path):
    from training.lib.folder_scan import resolve_models

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    edit_card(zoo / "cnn_strided", test={"accuracy": 1.0})
    edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.99})  # the test zoo's models can all score 1.0: break the tie
    (zoo / "cnn_strided" / "model.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    warnings = []
    assert [m.name for m in resolve_models("best", zoo, warn=warnings.append)] == ["cnn_maxpool"]
    assert len(warnings) == 1 and "cnn_strided" in warnings[0] and "cannot load" in warnings[0]
