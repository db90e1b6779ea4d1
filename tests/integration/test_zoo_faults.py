"""Broken zoo entries are reported and skipped by every reader; the healthy entries keep working."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from model_zoo import ZooError, all_best_first, list_entries, load_model, load_usable_models, read_entry

GOOD = {"cnn_maxpool", "cnn_strided"}
# Entries whose card is unusable: list_entries reports them.
CARD_FAULTS = {"missing_model": "no model.keras", "bad_json": "not valid JSON", "incomplete_card": "missing key 'metrics'",
               "bad_threshold": "zoo entry 'bad_threshold': decision.threshold must be a number between 0 and 1, "
                                "got '0.5x'"}
# Entries whose card is fine but whose model is unusable: load_model refuses them.
MODEL_FAULTS = {"wrong_output": "output shape", "wrong_input": "input shape", "garbage_model": "cannot load"}


def _tiny_model(input_shape: tuple[int, int, int], outputs: int):
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation="softmax" if outputs > 1 else "sigmoid")(x))


def _clone(zoo: Path, name: str, **card_changes) -> Path:
    folder = zoo / name
    shutil.copytree(zoo / "cnn_maxpool", folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(name=name, **card_changes)
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="module")
def faulty_zoo(trained_zoo, tmp_path_factory) -> Path:
    zoo = tmp_path_factory.mktemp("faulty") / "zoo"
    shutil.copytree(trained_zoo, zoo)
    (_clone(zoo, "missing_model") / "model.keras").unlink()
    (_clone(zoo, "bad_json") / "card.json").write_text('{"name": "bad_json", "input_shape": [32, 32')
    card = json.loads((zoo / "cnn_maxpool" / "card.json").read_text())
    del card["metrics"]
    (_clone(zoo, "incomplete_card") / "card.json").write_text(json.dumps({**card, "name": "incomplete_card"}))
    bad = json.loads((zoo / "cnn_maxpool" / "card.json").read_text())
    _clone(zoo, "bad_threshold", decision={**bad["decision"], "threshold": "0.5x"})  # issue 27: this crashed validation
    # The wrong-output model claims perfect accuracy, so 'best' would pick it if it did not check.
    perfect = json.loads((zoo / "cnn_maxpool" / "card.json").read_text())["metrics"]
    perfect["test"] = {**perfect["test"], "accuracy": 1.0}
    # Fewer parameters win a tie with a test model that also scores 1.0.
    _tiny_model((32, 32, 3), 2).save(_clone(zoo, "wrong_output", metrics=perfect, params=1) / "model.keras")
    _tiny_model((64, 64, 3), 1).save(_clone(zoo, "wrong_input") / "model.keras")
    (_clone(zoo, "garbage_model") / "model.keras").write_bytes(b"PK\x03\x04 definitely not a keras archive")
    (zoo / "README.txt").write_text("a stray file at the zoo root is not an entry")
    return zoo


def test_list_entries_reports_broken_cards_and_keeps_the_rest(faulty_zoo):
    entries, problems = list_entries(faulty_zoo)
    assert {e.name for e in entries} == GOOD | set(MODEL_FAULTS)
    assert {p.name for p in problems} == set(CARD_FAULTS)
    for problem in problems:
        assert CARD_FAULTS[problem.name] in problem.message


@pytest.mark.parametrize("name", sorted(MODEL_FAULTS))
def test_load_model_refuses_unusable_models(faulty_zoo, name):
    with pytest.raises(ZooError, match=MODEL_FAULTS[name]) as error:
        load_model(read_entry(name, faulty_zoo))
    assert name in str(error.value)  # names the entry's path


def test_load_usable_models_reports_the_broken_and_keeps_the_others(faulty_zoo):
    entries, _ = list_entries(faulty_zoo)
    loaded, problems = load_usable_models(entries)
    assert set(loaded) == GOOD and all(loaded[name].entry.name == name for name in GOOD)
    assert {p.name for p in problems} == set(MODEL_FAULTS)
    for problem in problems:
        assert MODEL_FAULTS[problem.name] in problem.message and problem.name in problem.message
    # limit=1 over the ranking: the best model that loads; the 'best' card's unusable model is reported.
    ranked = all_best_first(entries)
    assert ranked[0].name == "wrong_output"
    tried = []
    best, skipped = load_usable_models(ranked, load=lambda e: tried.append(e.name) or load_model(e), limit=1)
    assert list(best) == [next(e.name for e in ranked if e.name in GOOD)]
    assert [p.name for p in skipped] == ["wrong_output"] and tried == ["wrong_output", *best]


@pytest.mark.parametrize("name", sorted(CARD_FAULTS))
def test_read_entry_names_the_card_fault(faulty_zoo, name):
    with pytest.raises(ZooError, match=CARD_FAULTS[name]):
        read_entry(name, faulty_zoo)


def test_predict_cli_skips_broken_entries(faulty_zoo, synthetic_folder, tmp_path, capsys):
    from training.predict import main

    out = tmp_path / "rows.csv"
    folder = str(synthetic_folder / "test" / "REAL")
    assert main([folder, "--zoo", str(faulty_zoo), "--model", "all", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    for name in {**CARD_FAULTS, **MODEL_FAULTS}:
        assert f"skipping zoo entry '{name}'" in err
    models = {line.split(",")[1] for line in out.read_text().splitlines()[1:]}
    assert models == GOOD

    assert main([folder, "--zoo", str(faulty_zoo), "--model", "best", "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    assert "skipping zoo entry 'wrong_output'" in captured.err  # the 'best' card, but its model is unusable
    assert {json.loads(line)["model"] for line in captured.out.splitlines()} <= GOOD

    assert main([folder, "--zoo", str(faulty_zoo), "--model", "wrong_output"]) == 2
    assert "output shape" in capsys.readouterr().err


def test_api_serves_the_healthy_entries_and_lists_the_skipped(faulty_zoo, synthetic_folder):
    from dashboard.server.api import create_app

    client = create_app(faulty_zoo).test_client()
    health = client.get("/health").get_json()
    assert set(health["models"]) == GOOD and health["skipped"] == len(CARD_FAULTS) + len(MODEL_FAULTS)
    skipped = {s["name"]: s["error"] for s in client.get("/models").get_json()["skipped"]}
    for name, message in {**CARD_FAULTS, **MODEL_FAULTS}.items():
        assert message in skipped[name]
    image = sorted((synthetic_folder / "test" / "FAKE").iterdir())[0].read_bytes()
    body = client.post("/predict", data={"image": (io.BytesIO(image), "a.jpg")}).get_json()
    assert {v["model"] for v in body["verdicts"]} == GOOD
    response = client.post("/predict", data={"image": (io.BytesIO(image), "a.jpg"), "model": "wrong_output"})
    assert response.status_code == 404 and "cnn_maxpool" in response.get_json()["error"]


def test_robustness_all_skips_broken_entries(faulty_zoo, synthetic_zip, tmp_path, capsys, monkeypatch):
    from training.lib.robustness_study import ROBUSTNESS_FILE
    from training.robustness import main

    zoo = tmp_path / "zoo"
    shutil.copytree(faulty_zoo, zoo)
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["all", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 0
    err = capsys.readouterr().err
    for name in {**CARD_FAULTS, **MODEL_FAULTS}:
        assert f"skipping zoo entry '{name}'" in err
        assert not (zoo / name / ROBUSTNESS_FILE).exists()
    for name in GOOD:
        assert (zoo / name / ROBUSTNESS_FILE).is_file()
    assert not list(zoo.glob(".tmp-*"))


def test_all_means_every_readable_entry_for_every_command(faulty_zoo, tmp_path, capsys):
    from training.lib.cli import read_named_entries
    from training.model_card import main as model_card_main

    entries = read_named_entries(["all"], str(faulty_zoo))
    err = capsys.readouterr().err
    for name in CARD_FAULTS:  # an unreadable card is skipped with its reason; its model is never opened
        assert f"skipping zoo entry '{name}'" in err
    # cards that read fine stay, even where the model is broken: commands that need no model (cards) use them
    assert {e.name for e in entries} == GOOD | set(MODEL_FAULTS)
    assert [e.name for e in read_named_entries([*sorted(GOOD), *sorted(GOOD)], str(faulty_zoo))] == sorted(GOOD)
    with pytest.raises(ZooError, match="not valid JSON"):
        read_named_entries(["bad_json"], str(faulty_zoo))  # named: an error, not a warning
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ZooError, match=rf"no usable entries in {empty}"):
        read_named_entries(["all"], str(empty))

    zoo = tmp_path / "zoo"
    shutil.copytree(faulty_zoo, zoo)
    assert model_card_main(["all", "--zoo", str(zoo)]) == 0
    assert {path.parent.name for path in zoo.glob("*/README.md")} >= GOOD
    assert model_card_main(["all", "--zoo", str(empty)]) == 2
    assert f"no usable entries in {empty}" in capsys.readouterr().err
