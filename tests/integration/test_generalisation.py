"""Named evaluation sets and the generalisation matrix: `training.evaluate --folder DIR --set NAME` stores each set in
the card (with the shares UNCERTAIN and out of distribution and a fingerprint), the matrix and its sentences are read
from the cards, the leaderboard ranks by a chosen set, and the pages show it all. Generated folders only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model_zoo import list_entries, read_card, read_entry, staged_entry, write_card
from model_zoo import test_sets as generalisation
from model_zoo.card import Card
from model_zoo.decision import decide
from model_zoo.novelty import NoveltyStats, write_stats
from model_zoo.test_sets import (
    OTHER_TEST_SETS,
    measured_sets,
    rank_by_set,
    set_names,
)
from model_zoo.zoo import CARD_FILE, training_set_name
from tests.cards import typed
from tests.tiny_zoo import brightness_entry, expected_prob_fake, flat_image_bytes, metrics_block
from training.evaluate import main
from training.lib.folder_eval import folder_fingerprint, labelled_files

CIFAKE_ZIP = "../shared/cifake/cifake.zip"
# Grey levels. The brightness models call bright images FAKE; "dark" (inverted) calls dark ones FAKE.
DDPM = {"REAL": [30, 50, 70, 90, 120], "FAKE": [60, 130, 180, 200, 220]}
NIGHT = {"REAL": [200, 210, 220], "FAKE": [30, 40, 50]}  # inverted: the brightness cue fails completely


def _write_set(root: Path, greys: dict[str, list[int]]) -> Path:
    for label, values in greys.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for value in values:
            (root / label / f"grey_{value}.png").write_bytes(flat_image_bytes(value))
    return root


def _with_novelty(zoo: Path, name: str) -> None:
    """Novelty stats on the brightness feature (mean pixel in [0, 1]): class means 0.2 and 0.8, sd 0.1, cut-off 2,
    so grey levels from 103 to 152 (features within 0.4 to 0.6) are out of distribution."""
    with staged_entry(name, zoo, from_existing=True) as folder:
        write_stats(folder, NoveltyStats(np.array([[0.2], [0.8]]), np.array([[100.0]]), 2.0))
        card = read_card(folder / CARD_FILE).to_dict()
        write_card(folder, {**card, "novelty": {"method": "mahalanobis", "cutoff": 2.0, "file": "novelty.npz",
                                                "train_image_size": [32, 32]}})


def _inverted(zoo: Path, name: str, **card) -> None:
    """A brightness entry with its output weights negated: dark images are FAKE."""
    import keras

    folder = brightness_entry(zoo, name, **card)
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True, compile=False)
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([-kernel, -bias])
    with staged_entry(name, zoo, from_existing=True) as staged:
        model.save(staged / "model.keras")


def _zoo(root: Path) -> Path:
    """bright (band 0.2-0.8, novelty check) and strict (threshold 0.9) trained on CIFAKE; dark on night_shots."""
    zoo = root / "zoo"
    cifake = {"epochs_run": 1, "n_train": 200, "n_validation": 40, "dataset": CIFAKE_ZIP}
    brightness_entry(zoo, "bright", train=cifake, decision={
        "temperature": 1.0, "threshold": 0.5, "fitted_on": "validation", "uncertain_band": [0.2, 0.8]})
    _with_novelty(zoo, "bright")
    brightness_entry(zoo, "strict", threshold=0.9, train=cifake)
    own = {"validation": metrics_block(0.9, 40), "test": {**metrics_block(0.97, 100), "roc_auc": 0.995}}
    _inverted(zoo, "dark", train={**cifake, "dataset": "/data/night_shots.zip"}, metrics=own)
    return zoo


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sets")
    return {"ddpm": _write_set(root / "ddpm_images", DDPM), "night": _write_set(root / "night", NIGHT)}


@pytest.fixture(scope="module")
def measured_zoo(tmp_path_factory, folders) -> Path:
    """The zoo measured on both generated sets (read-only for tests: copy it before changing anything)."""
    zoo = _zoo(tmp_path_factory.mktemp("measured"))
    assert main(["all", "--folder", str(folders["ddpm"]), "--zoo", str(zoo), "--set", "DDPM"]) == 0
    assert main(["all", "--folder", str(folders["night"]), "--zoo", str(zoo)]) == 0  # named after the folder
    return zoo


def _entries(zoo: Path) -> list:
    entries, problems = list_entries(zoo)
    assert not problems
    return entries


# --- the card entries ---------------------------------------------------------------------------------------------

def test_each_set_is_stored_under_its_name_with_the_shares_and_a_fingerprint(measured_zoo, folders):
    bright = read_entry("bright", measured_zoo).card.to_dict()[OTHER_TEST_SETS]
    assert sorted(bright) == ["DDPM", "night"]
    ddpm = bright["DDPM"]
    # 22 of the 25 (REAL, FAKE) pairs are ordered right (the FAKE grey-60 beats only greys 30 and 50).
    assert ddpm["n"] == 10 and ddpm["roc_auc"] == pytest.approx(22 / 25)
    assert ddpm["accuracy"] == 0.9  # at 0.5 only the dark FAKE is wrong
    # The band 0.2-0.8 leaves greys 120 (P 0.36) and 130 (P 0.55) undecided; the novelty check flags the same two.
    assert ddpm["share_uncertain"] == 0.2 and ddpm["share_out_of_distribution"] == 0.2
    probs = [expected_prob_fake(v) for values in DDPM.values() for v in values]
    card = read_entry("bright", measured_zoo).card
    assert ddpm["share_uncertain"] == np.mean([decide(p, card) == "UNCERTAIN" for p in probs])  # the verdicts' rule
    assert ddpm["fingerprint"].startswith("sha256:") and len(ddpm["fingerprint"]) == len("sha256:") + 16
    assert ddpm["folder"] == str(folders["ddpm"])
    assert bright["night"]["roc_auc"] == 0.0 and bright["night"]["share_out_of_distribution"] == 0.0

    strict = read_entry("strict", measured_zoo).card.to_dict()[OTHER_TEST_SETS]["DDPM"]
    assert strict["accuracy"] == 0.8 and strict["roc_auc"] == pytest.approx(22 / 25)
    assert strict["share_uncertain"] == 0.0  # no band: never UNCERTAIN
    assert strict["share_out_of_distribution"] is None  # no novelty check
    assert strict["fingerprint"] == ddpm["fingerprint"]  # one folder, one fingerprint
    assert read_entry("dark", measured_zoo).card.to_dict()[OTHER_TEST_SETS]["night"]["roc_auc"] == 1.0


def test_running_again_under_the_same_name_replaces_that_set(measured_zoo, folders, tmp_path, capsys):
    zoo = shutil.copytree(measured_zoo, tmp_path / "zoo")
    changed = shutil.copytree(folders["ddpm"], tmp_path / "ddpm_v2")
    (changed / "FAKE" / "grey_240.png").write_bytes(flat_image_bytes(240))
    before = read_entry("bright", zoo).card.to_dict()[OTHER_TEST_SETS]
    assert main(["bright", "--folder", str(changed), "--zoo", str(zoo), "--set-name", "DDPM"]) == 0  # the old flag
    after = read_entry("bright", zoo).card.to_dict()[OTHER_TEST_SETS]
    assert sorted(after) == ["DDPM", "night"] and after["night"] == before["night"]
    assert after["DDPM"]["n"] == 11 and after["DDPM"]["folder"] == str(changed)
    assert after["DDPM"]["fingerprint"] != before["DDPM"]["fingerprint"]
    output = capsys.readouterr().out
    assert "bright on 'DDPM':" in output and "18.2% UNCERTAIN, 18.2% out of distribution (novelty)" in output
    assert read_entry("strict", zoo).card.to_dict()[OTHER_TEST_SETS]["DDPM"]["n"] == 10  # only the named model re-ran


def test_the_fingerprint_follows_the_images_not_their_names(folders, tmp_path):
    original = folder_fingerprint(*labelled_files(folders["night"]))
    renamed = tmp_path / "elsewhere"
    for label in ("REAL", "FAKE"):
        (renamed / label.lower()).mkdir(parents=True)
        for index, path in enumerate(sorted((folders["night"] / label).iterdir())):
            shutil.copy(path, renamed / label.lower() / f"copy_{index}.png")
    assert folder_fingerprint(*labelled_files(renamed)) == original
    moved = renamed / "fake" / "copy_0.png"
    moved.rename(renamed / "real" / "moved.png")  # the same bytes, relabelled
    assert folder_fingerprint(*labelled_files(renamed)) != original


# --- what each model was trained on ---------------------------------------------------------------------------

@pytest.mark.parametrize(("train", "expected"), [
    ({"dataset": "../shared/cifake/cifake.zip"}, "CIFAKE"),
    ({"dataset": "/data/CIFAKE"}, "CIFAKE"),
    ({}, "CIFAKE"),  # older cards name no dataset: training read CIFAKE only
    ({"dataset": "/data/sdxl_portraits/"}, "sdxl_portraits"),
    ({"dataset": "/data/faces.tar.gz"}, "faces"),
    ({"dataset": "/data/x.zip", "dataset_name": "SDXL faces"}, "SDXL faces"),
])
def test_training_set_name(train, expected):
    assert training_set_name(typed(train=train)) == expected


def test_scope_sentences_are_built_from_the_numbers(measured_zoo):
    cards = {entry.name: entry.card.to_dict() for entry in _entries(measured_zoo)}

    def scope_sentence(raw: dict) -> str:
        return generalisation.scope_sentence(Card.from_dict(raw))

    assert scope_sentence(cards["bright"]) == ("Trained on CIFAKE: ROC-AUC 0.990 there (CIFAKE test), 0.880 on DDPM, "
                                               "0.000 on night.")
    assert scope_sentence(cards["dark"]) == ("Trained on night_shots: ROC-AUC 0.995 there (night_shots test), "
                                             "0.120 on DDPM, 1.000 on night.")
    lone = {**cards["strict"], OTHER_TEST_SETS: {}}
    assert scope_sentence(lone) == ("Trained on CIFAKE: ROC-AUC 0.990 there (CIFAKE test); not measured on any other "
                                    "set, so how well it does beyond CIFAKE is unknown.")
    unevaluated = {**cards["strict"], "metrics": {"validation": cards["strict"]["metrics"]["validation"]}}
    assert scope_sentence(unevaluated) == ("Trained on CIFAKE; not evaluated on its CIFAKE test set yet; "
                                           "ROC-AUC 0.880 on DDPM, ROC-AUC 0.000 on night.")
    one_class = {**lone, OTHER_TEST_SETS: {"fakes": {**cards["strict"][OTHER_TEST_SETS]["DDPM"], "roc_auc": None}}}
    assert scope_sentence(one_class).endswith(", accuracy 0.800 on fakes (one class only, so no ROC-AUC).")


def test_the_own_test_set_is_a_column_with_its_recorded_shares():
    card = {"train": {}, "metrics": {"test": metrics_block(0.95)},
            "decision": {"threshold": 0.5, "uncertain_band": [0.3, 0.7], "band_test": {"coverage": 0.9}},
            "novelty": {"cutoff": 3.0, "checks": {"test_flagged": 0.01, "noise_flagged": 1.0}}}
    own = measured_sets(typed(card))["CIFAKE test"]
    assert own["accuracy"] == 0.95 and own["share_uncertain"] == pytest.approx(0.1)
    assert own["share_out_of_distribution"] == 0.01
    untrusted = {**card, "novelty": {"cutoff": 3.0, "checks": {"test_flagged": 0.01, "noise_flagged": 0.0}}}
    assert measured_sets(typed(untrusted))["CIFAKE test"]["share_out_of_distribution"] is None  # a check not believed


# --- the matrix, the ranking --------------------------------------------------------------------------------------

def test_the_matrix_has_models_by_sets_with_own_columns_first(measured_zoo):
    from dashboard.generalisation_matrix import OWN_MARK, matrix_figure, roc_auc_matrix

    entries = _entries(measured_zoo)
    matrix = roc_auc_matrix(entries)
    assert list(matrix.columns) == ["trained on", "CIFAKE test", "night_shots test", "DDPM", "night"]
    assert list(matrix.index) == ["bright", "strict", "dark"]  # leaderboard order: CIFAKE's test set first
    assert matrix.loc["dark", "trained on"] == "night_shots" and matrix.loc["bright", "trained on"] == "CIFAKE"
    assert matrix.loc["bright", "DDPM"] == pytest.approx(0.88) and matrix.loc["dark", "DDPM"] == pytest.approx(0.12)
    assert matrix.loc["dark", "night"] == 1.0 and matrix.loc["bright", "CIFAKE test"] == 0.99
    assert np.isnan(matrix.loc["dark", "CIFAKE test"]) and np.isnan(matrix.loc["bright", "night_shots test"])
    heatmap = matrix_figure(entries).data[0]
    text = dict(zip(heatmap.y, heatmap.text, strict=True))
    assert tuple(text["bright (CIFAKE)"]) == (f"{OWN_MARK} 0.990", "", "0.880", "0.000")
    assert tuple(text["dark (night_shots)"]) == ("", f"{OWN_MARK} 0.995", "0.120", "1.000")


def test_ranking_by_a_set(measured_zoo):
    from dashboard.generalisation_matrix import DEFAULT_RANKING, board_ranked_by, ranking_choices
    from model_zoo.leaderboard_table import leaderboard_frame

    entries = _entries(measured_zoo)
    assert set_names(entries) == ["CIFAKE test", "night_shots test", "DDPM", "night"]  # own test sets first
    assert [e.name for e in rank_by_set(entries, "DDPM")] == ["bright", "strict", "dark"]  # equal ROC-AUC: accuracy
    assert [e.name for e in rank_by_set(entries, "night")] == ["dark", "bright", "strict"]
    assert [e.name for e in rank_by_set(entries, "night_shots test")] == ["dark", "bright", "strict"]  # unmeasured last
    board = leaderboard_frame(entries)
    assert list(board_ranked_by(board, entries, DEFAULT_RANKING)["model"]) == ["bright", "strict", "dark"]
    ranked = board_ranked_by(board, entries, "DDPM")
    assert list(ranked["model"]) == ["bright", "strict", "dark"] and list(ranked.index) == [0, 1, 2]
    assert ranked.loc[0, "DDPM ROC-AUC"] == pytest.approx(0.88)
    assert ranking_choices(entries) == [DEFAULT_RANKING, "CIFAKE test", "night_shots test", "DDPM", "night"]


def test_a_set_name_on_different_images_is_flagged(measured_zoo, folders, tmp_path):
    from dashboard.generalisation_matrix import fingerprint_conflicts

    zoo = shutil.copytree(measured_zoo, tmp_path / "zoo")
    assert fingerprint_conflicts(_entries(zoo)) == {}
    assert main(["strict", "--folder", str(folders["night"]), "--zoo", str(zoo), "--set", "DDPM"]) == 0
    assert fingerprint_conflicts(_entries(zoo)) == {"DDPM": 2}


# --- the pages ----------------------------------------------------------------------------------------------------

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def _page(zoo: Path, monkeypatch, page: str | None):
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = streamlit_testing.AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(f"dashboard/pages/{page}_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_generalisation_page_shows_the_matrix_and_the_sentences(measured_zoo, monkeypatch):
    at = _page(measured_zoo, monkeypatch, "generalisation")
    assert at.title[0].value == "Generalisation"
    assert len(at.get("plotly_chart")) == 1 and not at.code  # sets are measured: no how-to
    text = " ".join(m.value for m in at.markdown)
    assert "**bright**: Trained on CIFAKE: ROC-AUC 0.990 there (CIFAKE test), 0.880 on DDPM, 0.000 on night." in text
    matrix = at.dataframe[0].value
    assert list(matrix.index) == ["bright", "strict", "dark"] and matrix.loc["strict", "DDPM"] == pytest.approx(0.88)
    assert len(at.dataframe[1].value) == 3 * 3  # every (model, set) result: own test + 2 sets each


def test_generalisation_page_says_how_to_add_a_set(tmp_path, monkeypatch):
    from dashboard.generalisation_matrix import EVALUATE_COMMAND

    at = _page(_zoo(tmp_path), monkeypatch, "generalisation")
    assert [c.value for c in at.code] == [EVALUATE_COMMAND]
    assert any("beyond its own test split" in i.value for i in at.info)
    assert EVALUATE_COMMAND == ".venv/bin/python -m training.evaluate all --folder DIR --set NAME"


def test_leaderboard_ranks_by_a_chosen_set(measured_zoo, monkeypatch):
    at = _page(measured_zoo, monkeypatch, None)
    assert list(at.dataframe[0].value["model"]) == ["bright", "strict", "dark"]
    at.selectbox(key="leaderboard_rank_by").set_value("DDPM").run()
    assert not at.exception
    assert list(at.dataframe[0].value["model"]) == ["bright", "strict", "dark"]
    assert any("Ranked by ROC-AUC on **DDPM**" in c.value for c in at.caption)


def test_inspect_page_states_each_models_scope(measured_zoo, monkeypatch):
    at = _page(measured_zoo, monkeypatch, "inspect_image")
    at.file_uploader(key="inspect_uploads").upload("grey.png", flat_image_bytes(90), "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "**dark**: Trained on night_shots: ROC-AUC 0.995 there (night_shots test), 0.120 on DDPM" in text
    assert "**strict**: Trained on CIFAKE: ROC-AUC 0.990 there (CIFAKE test), 0.880 on DDPM" in text
