"""model_zoo.zoo piece by piece on hand-written entries (a card and a stand-in model file; no training).

Only test_load_model_checks_the_card imports Keras; the rest runs in a second (mutation testing reruns it often).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_zoo import zoo as Z
from model_zoo.card import Card, migrate
from model_zoo.loading import load_model, load_usable_models
from model_zoo.ranking import all_best_first
from model_zoo.zoo import (
    LoadedModel,
    ZooEntry,
    ZooError,
    ZooProblem,
    list_entries,
    read_card,
    read_entry,
    staged_entry,
    trained_from,
    validate_card,
    write_card,
    write_predictions,
    zoo_dir,
)
from tests.tiny_zoo import metrics_block


def _card(name: str = "m", **changes) -> dict:
    card = {"name": name, "architecture": "a", "input_shape": [32, 32, 3],
            "preprocessing": {"mean": [0, 0, 0], "std": [255, 255, 255]}, "params": 10, "size_bytes": 0,
            "train": {"weights": None}, "metrics": {"validation": metrics_block(0.8)}}
    card.update(changes)
    return card


def _typed(name: str = "m", **changes) -> Card:
    return Card.from_dict(_card(name, **changes))


def _entry_folder(zoo: Path, name: str = "m", model: bytes = b"stand-in weights", **changes) -> Path:
    folder = zoo / name
    folder.mkdir(parents=True)
    write_card(folder, _card(name, **changes))
    (folder / "model.keras").write_bytes(model)
    return folder


# --- small helpers ----------------------------------------------------------------------------------------

def test_trained_from_says_where_the_weights_started():
    assert trained_from(_typed(train={})) == "from scratch" and _typed(train={"weights": None}).trained_from == "from scratch"
    assert _typed(train={"weights": "imagenet"}).trained_from == "ImageNet-pretrained, fine-tuned"
    assert _typed(train={"weights": "imagenet"}, backbone={"frozen": True}).trained_from == \
        "ImageNet-pretrained, frozen backbone"
    assert _typed(train={"weights": "/data/weights/vgg16_notop.h5"}).trained_from == "fine-tuned from vgg16_notop.h5"


def test_zoo_dir_argument_then_environment_then_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv(Z.ZOO_ENV, str(tmp_path / "env"))
    assert zoo_dir(tmp_path / "arg") == tmp_path / "arg"
    assert zoo_dir() == tmp_path / "env"
    monkeypatch.setenv(Z.ZOO_ENV, "")
    assert zoo_dir() == Path(Z.__file__).resolve().parent / "entries"
    monkeypatch.delenv(Z.ZOO_ENV)
    assert zoo_dir() == Path(Z.__file__).resolve().parent / "entries"


def test_entry_properties(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed(metrics={"test": metrics_block(0.9), "test_unseen": metrics_block(0.8)}))
    assert entry.model_path == tmp_path / "model.keras"
    assert entry.test_metrics["accuracy"] == 0.9 and entry.test_unseen_metrics["accuracy"] == 0.8
    bare = ZooEntry("m", tmp_path, _typed())
    assert bare.test_metrics is None and bare.test_unseen_metrics is None
    loaded = LoadedModel(entry, model="keras model")
    assert loaded.name == "m" and loaded.card is entry.card and loaded.model == "keras model"


# --- optional files ---------------------------------------------------------------------------------------

def test_history_and_predictions(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed())
    assert entry.history().empty and entry.test_predictions() is None and not entry.has_test_predictions
    (tmp_path / "history.csv").write_text("epoch,loss\n1,0.5\n2,0.4\n")
    assert list(entry.history()["loss"]) == [0.5, 0.4]
    write_predictions(tmp_path, ["a.jpg", "b.jpg"], [0, 1], np.array([0.1234567891, 0.9], np.float32))
    frame = entry.test_predictions()
    assert entry.has_test_predictions
    assert list(frame.columns) == ["path", "label", "prob_fake"] and list(frame.path) == ["a.jpg", "b.jpg"]
    assert np.float32(frame.prob_fake[0]) == np.float32(0.1234567891)  # full float32 precision survives the CSV
    (tmp_path / "test_predictions.csv").write_text("path,prob\nx,0.1\n")
    with pytest.raises(ZooError, match=r"missing columns \['label', 'prob_fake'\]"):
        entry.test_predictions()


def test_predictions_are_read_once_per_version_of_the_file_and_handed_out_as_copies(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed())
    write_predictions(tmp_path, ["a.jpg", "b.jpg"], [0, 1], np.array([0.1, 0.9], np.float32))
    first = entry.test_predictions()
    first.loc[0, "prob_fake"] = 0.5  # a caller changing its copy changes nothing for the next one
    assert entry.test_predictions().prob_fake[0] == pytest.approx(0.1)
    write_predictions(tmp_path, ["a.jpg", "b.jpg", "c.jpg"], [0, 1, 1], np.array([0.2, 0.8, 0.7], np.float32))
    assert list(entry.test_predictions().path) == ["a.jpg", "b.jpg", "c.jpg"]  # a rewritten file is read again


def test_robustness_is_optional_and_ignored_when_unusable(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed())
    path = tmp_path / "robustness.csv"
    assert entry.robustness() is None
    path.write_text("corruption,level,accuracy\nnone,0,0.9\njpeg,50,0.8\n")
    assert list(entry.robustness()["accuracy"]) == [0.9, 0.8]
    for broken in ("corruption,level\nnone,0\n", "corruption,level,accuracy\n", "", '"unclosed\n'):
        path.write_text(broken)
        assert entry.robustness() is None, broken
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert entry.robustness() is None


def test_faithfulness_report_must_hold_methods_as_objects(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed())
    path = tmp_path / "faithfulness.json"
    assert entry.faithfulness() is None
    good = {"methods": {"gradcam": {"deletion_auc": 0.1}}, "n": 3}
    path.write_text(json.dumps(good))
    assert entry.faithfulness() == good
    for broken in ("{not json", "[1, 2]", '{"n": 1}', '{"methods": [1]}', '{"methods": {"gradcam": 3}}'):
        path.write_text(broken)
        assert entry.faithfulness() is None, broken
    path.write_text(json.dumps({"methods": {}}))
    assert entry.faithfulness() == {"methods": {}}


def test_class_heatmaps_are_checked_and_never_unpickled(tmp_path):
    entry = ZooEntry("m", tmp_path, _typed())
    path = tmp_path / "class_heatmaps.npz"
    assert entry.class_heatmaps() is None
    maps = np.zeros((2, 4, 4), np.float32)
    np.savez(path, groups=np.array(["REAL right", "FAKE wrong"]), maps=maps, counts=np.array([3, 1]))
    arrays = entry.class_heatmaps()
    assert set(arrays) == {"groups", "maps", "counts"} and arrays["maps"].shape == (2, 4, 4)
    np.savez(path, groups=np.array(["a"]), maps=maps)  # 1 group, 2 maps
    assert entry.class_heatmaps() is None
    np.savez(path, groups=np.array(["a", "b"]), maps=np.zeros((2, 4)))  # not a stack of 2-D maps
    assert entry.class_heatmaps() is None
    np.savez(path, maps=maps)
    assert entry.class_heatmaps() is None
    np.savez(path, groups=np.array(["a", "b"]))
    assert entry.class_heatmaps() is None
    np.savez(path, groups=np.array([{"a": 1}, {"b": 2}], dtype=object), maps=maps)  # needs pickle: refused
    assert entry.class_heatmaps() is None
    path.write_bytes(b"PK\x03\x04 truncated")
    assert entry.class_heatmaps() is None


# --- card validation --------------------------------------------------------------------------------------

def test_a_complete_card_is_valid():
    assert validate_card(_card()) == []
    assert validate_card(_card(input_shape=[1, 1, 3])) == []  # tiny, but a size
    assert validate_card("card") == ["card is not a JSON object"]


def test_each_missing_key_is_named():
    for key in Z.REQUIRED_CARD_KEYS:
        card = _card()
        del card[key]
        assert validate_card(card) == [f"missing key '{key}'"], key


@pytest.mark.parametrize("shape", [[32, 32], [32, 32, 1], [0, 32, 3], [32, -1, 3], [32.0, 32, 3], "32x32", [32, 32, 3, 1]])
def test_input_shape_must_be_positive_integers_with_three_channels(shape):
    assert validate_card(_card(input_shape=shape)) == [f"input_shape must be [H, W, 3], got {shape!r}"]


@pytest.mark.parametrize("prep", [{"mean": [0, 0], "std": [1, 1, 1]}, {"mean": [0, 0, 0]}, {"std": [1, 1, 1]}])
def test_preprocessing_needs_three_means_and_stds(prep):
    assert validate_card(_card(preprocessing=prep)) == ["preprocessing must give 'mean' and 'std' with 3 values each"]
    assert validate_card(_card(preprocessing=[0, 0, 0])) == ["preprocessing must be an object, got [0, 0, 0]"]


def test_metrics_blocks_are_objects_with_every_figure():
    assert validate_card(_card(metrics=[1])) == ["metrics must be an object, got [1]"]
    assert validate_card(_card(metrics={"test": 0.9})) == ["metrics.test must be an object, got 0.9"]
    partial = {key: value for key, value in metrics_block(0.8).items() if key != "f1"}
    assert validate_card(_card(metrics={"validation": metrics_block(0.8), "test": partial})) == ["metrics.test missing 'f1'"]
    assert validate_card(_card(metrics={})) == []
    assert validate_card(_card(metrics={"a": 0.9, "b": partial})) == ["metrics.a must be an object, got 0.9",
                                                                      "metrics.b missing 'f1'"]


@pytest.mark.parametrize("band", [[0.2, 0.8], [0.5, 0.5], [0.0, 1.0], [0, 1]])
def test_a_well_formed_band_is_valid(band):
    assert validate_card(_card(decision={"threshold": 0.5, "uncertain_band": band})) == []


@pytest.mark.parametrize("band", [[0.6, 0.8], [0.2, 0.4], [0.2], [0.8, 0.2]])
def test_a_malformed_band_is_named(band):
    problems = validate_card(_card(decision={"threshold": 0.5, "uncertain_band": band}))
    assert problems == ["decision.uncertain_band must be [low, high] with 0 <= low <= threshold <= high <= 1, "
                        f"got {band!r}"]


@pytest.mark.parametrize(("band", "problem"), [
    ([0.2, "0.8"], "decision.uncertain_band[1] must be a number between 0 and 1, got '0.8'"),
    ([-0.1, 0.8], "decision.uncertain_band[0] must be a number between 0 and 1, got -0.1"),
    ([0.2, 1.1], "decision.uncertain_band[1] must be a number between 0 and 1, got 1.1"),
    ([True, 0.8], "decision.uncertain_band[0] must be a number between 0 and 1, got True"),
    ([float("nan"), 0.8], "decision.uncertain_band[0] must be a number between 0 and 1, got nan"),
    ("0.2-0.8", "decision.uncertain_band must be a list, got '0.2-0.8'"),
])
def test_a_band_of_non_numbers_names_the_value(band, problem):
    assert validate_card(_card(decision={"threshold": 0.5, "uncertain_band": band})) == [problem]


def test_the_band_must_hold_the_cards_threshold_which_defaults_to_one_half():
    assert validate_card(_card(decision={"uncertain_band": [0.4, 0.6]})) == []
    assert len(validate_card(_card(decision={"uncertain_band": [0.55, 0.6]}))) == 1
    assert validate_card(_card(decision={"threshold": 0.7, "uncertain_band": [0.6, 0.8]})) == []
    assert len(validate_card(_card(decision={"threshold": 0.7, "uncertain_band": [0.4, 0.6]}))) == 1


def test_decision_and_novelty_must_be_objects():
    assert validate_card(_card(decision=[0.5])) == ["decision must be an object, got [0.5]"]
    assert validate_card(_card(decision={})) == [] and validate_card(_card(decision=None)) == []
    assert validate_card(_card(novelty="high")) == ["novelty must be an object, got 'high'"]


def test_novelty_block_fields():
    assert validate_card(_card(novelty={"cutoff": 2.5})) == []
    assert validate_card(_card(novelty={"cutoff": 2, "train_image_size": [32, 32], "file": "novelty.npz"})) == []
    assert validate_card(_card(novelty={"cutoff": 0.001, "train_image_size": [1, 1]})) == []
    for cutoff in (0, -1.0, "3", None, True, float("nan")):
        assert validate_card(_card(novelty={"cutoff": cutoff})) == [
            f"novelty.cutoff must be a positive number, got {cutoff!r}"], cutoff
    for size in ([32], [32, 0], [32.0, 32], "32x32", [32, 32, 3]):
        assert validate_card(_card(novelty={"cutoff": 1, "train_image_size": size})) == [
            f"novelty.train_image_size must be [H, W], got {size!r}"], size
    for file in ("../novelty.npz", "sub/n.npz", ""):
        assert validate_card(_card(novelty={"cutoff": 1, "file": file})) == [
            "novelty.file must be a file name inside the entry"], file
    assert validate_card(_card(novelty={"cutoff": 1, "file": 3})) == ["novelty.file must be a string, got 3"]


def test_a_folder_models_range_of_training_sizes_is_checked():
    folder = {"cutoff": 1, "train_image_size": [48, 64], "train_image_range": [[40, 40], [64, 64]]}
    assert validate_card(_card(novelty=folder)) == []
    assert validate_card(_card(novelty={"cutoff": 1, "train_image_range": [[32, 32], [32, 32]]})) == []  # size 32x32
    for extent in ([[40, 40]], [[64, 64], [40, 40]], [[50, 40], [64, 64]], [[40, 40], [64, 60]]):
        assert validate_card(_card(novelty={**folder, "train_image_range": extent})) == [
            "novelty.train_image_range must be [[H, W], [H, W]] from the smallest to the biggest, around "
            f"train_image_size, got {extent!r}"], extent
    for extent, problem in (([[40, 40], [64]], "train_image_range[1] must be [H, W], got [64]"),
                            ([[0, 40], [64, 64]], "train_image_range[0] must be [H, W], got [0, 40]"),
                            ("40-64", "train_image_range must be a list, got '40-64'"),
                            ([[40.0, 40], [64, 64]], "train_image_range[0] must be [H, W], got [40.0, 40]")):
        assert validate_card(_card(novelty={**folder, "train_image_range": extent})) == [f"novelty.{problem}"], extent
    # A bad size is reported once, on its own; the range is still checked for its order.
    assert validate_card(_card(novelty={**folder, "train_image_size": [48]})) == [
        "novelty.train_image_size must be [H, W], got [48]"]


def test_problems_add_up():
    card = _card(input_shape=[1], decision={"uncertain_band": [0.9, 0.1]}, novelty={"cutoff": 0})
    del card["params"]
    assert len(validate_card(card)) == 4


# --- reading ----------------------------------------------------------------------------------------------

def test_read_card_names_the_file_and_the_problem(tmp_path):
    path = tmp_path / "card.json"
    with pytest.raises(ZooError, match=rf"^{path}: no card.json$"):
        read_card(path)
    path.write_text("{half")
    with pytest.raises(ZooError, match=rf"^{path}: not valid JSON \("):
        read_card(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ZooError, match="not valid JSON"):
        read_card(path)
    path.write_text(json.dumps({"name": "x"}))
    with pytest.raises(ZooError, match=rf"^zoo entry '{tmp_path.name}': missing key 'architecture'; missing key 'input_shape'"):
        read_card(path)
    write_card(tmp_path, _card())
    assert read_card(path) == _typed()
    path.write_text(json.dumps(_card(decision={"threshold": "0.5x"})))
    with pytest.raises(ZooError, match=rf"^zoo entry '{tmp_path.name}': decision.threshold must be a number between 0 "
                                       r"and 1, got '0.5x'$"):
        read_card(path)


def test_write_card_is_indented_json_ending_in_a_newline(tmp_path):
    write_card(tmp_path, _card())
    assert (tmp_path / "card.json").read_text() == json.dumps(migrate(_card()), indent=2) + "\n"
    with pytest.raises(ZooError, match=rf"^zoo entry '{tmp_path.name}': missing key 'name'"):
        write_card(tmp_path, {"b": 1})  # writing goes through the typed card too


def test_read_entry(tmp_path):
    with pytest.raises(ZooError, match=rf"no model named 'nope' in {tmp_path} \(see `python -m training.train --help`\)"):
        read_entry("nope", tmp_path)
    folder = _entry_folder(tmp_path)
    entry = read_entry("m", tmp_path)
    assert entry == ZooEntry("m", folder, _typed())
    (folder / "model.keras").unlink()
    with pytest.raises(ZooError, match=rf"^{folder}: no model.keras$"):
        read_entry("m", tmp_path)


def test_list_entries_sorted_with_problems_and_skips(tmp_path):
    assert list_entries(tmp_path / "missing") == ([], [])
    for name in ("b", "a", ".hidden", "_private"):
        _entry_folder(tmp_path, name)
    (tmp_path / "broken").mkdir()
    (tmp_path / "notes.txt").write_text("not an entry")
    entries, problems = list_entries(tmp_path)
    assert [e.name for e in entries] == ["a", "b"]
    assert problems == [ZooProblem("broken", f"{tmp_path / 'broken' / 'card.json'}: no card.json")]


def test_interrupted_swaps_are_recovered_or_cleaned(tmp_path):
    _entry_folder(tmp_path, "kept")
    (tmp_path / "kept").rename(tmp_path / ".old-kept-0123abcd")  # died between the two renames
    _entry_folder(tmp_path, "new-name")
    stale = _entry_folder(tmp_path / "stale", "x").parent
    stale.rename(tmp_path / ".old-new-name-deadbeef")  # the new entry is in place: the old copy goes
    entries, problems = list_entries(tmp_path)
    assert [e.name for e in entries] == ["kept", "new-name"] and problems == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "new-name"]


def test_a_leftover_copy_that_cannot_be_deleted_never_fails_reading_or_publishing(tmp_path, monkeypatch):
    real_rmtree = Z.shutil.rmtree

    def stubborn_rmtree(path, ignore_errors=False, **kwargs):
        if Path(path).name.startswith(".old-"):  # e.g. a file held open on a network drive
            if not ignore_errors:
                raise OSError(f"cannot delete {path}")
            return
        real_rmtree(path, ignore_errors=ignore_errors, **kwargs)

    monkeypatch.setattr(Z.shutil, "rmtree", stubborn_rmtree)
    _entry_folder(tmp_path, model=b"old")
    with staged_entry("m", tmp_path, from_existing=True) as folder:
        (folder / "model.keras").write_bytes(b"new")
    assert (tmp_path / "m" / "model.keras").read_bytes() == b"new"
    entries, problems = list_entries(tmp_path)  # the stale copy is still there and still cannot be deleted
    assert [e.name for e in entries] == ["m"] and problems == []


# --- writing ----------------------------------------------------------------------------------------------

def test_staged_entry_publishes_with_the_real_size(tmp_path):
    with staged_entry("m", tmp_path) as folder:
        assert folder.parent == tmp_path and folder.name.startswith(".tmp-m-")
        (folder / "model.keras").write_bytes(b"12345")
        write_card(folder, _card(size_bytes=999))
    assert read_entry("m", tmp_path).card.size_bytes == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_staged_entry_from_existing_starts_from_a_copy_and_replaces(tmp_path):
    _entry_folder(tmp_path, model=b"weights")
    (tmp_path / "m" / "history.csv").write_text("epoch\n1\n")
    with staged_entry("m", tmp_path, from_existing=True) as folder:
        assert (folder / "history.csv").read_text() == "epoch\n1\n"
        (folder / "robustness.csv").write_text("corruption,level,accuracy\n")
    assert (tmp_path / "m" / "robustness.csv").is_file() and (tmp_path / "m" / "model.keras").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_staged_entry_refuses_to_publish_without_a_model_or_a_valid_card(tmp_path):
    with pytest.raises(ZooError, match=r"\.tmp-m-[0-9a-f]{8}: refusing to publish an entry without model\.keras"):
        with staged_entry("m", tmp_path) as folder:
            write_card(folder, _card())
    with pytest.raises(ZooError, match="no card.json"):
        with staged_entry("m", tmp_path) as folder:
            (folder / "model.keras").write_bytes(b"x")
    with pytest.raises(ZooError, match="missing key 'params'"):
        with staged_entry("m", tmp_path) as folder:
            (folder / "model.keras").write_bytes(b"x")
            card = _card()
            del card["params"]
            write_card(folder, card)
    assert list(tmp_path.iterdir()) == []


def test_staged_entry_keeps_the_old_entry_on_error(tmp_path):
    _entry_folder(tmp_path, model=b"old")
    with pytest.raises(RuntimeError):
        with staged_entry("m", tmp_path, from_existing=True) as folder:
            (folder / "model.keras").write_bytes(b"new")
            raise RuntimeError("crash")
    assert (tmp_path / "m" / "model.keras").read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_staged_entry_creates_the_zoo(tmp_path):
    zoo = tmp_path / "a" / "zoo"
    with staged_entry("m", zoo) as folder:
        (folder / "model.keras").write_bytes(b"x")
        write_card(folder, _card())
    assert read_entry("m", zoo).name == "m"


# --- loading and ranking ----------------------------------------------------------------------------------

def _entries(tmp_path: Path) -> list[ZooEntry]:
    def entry(name, test=None, validation=0.5):
        metrics = {"validation": metrics_block(validation)} | ({"test": metrics_block(test)} if test is not None else {})
        return ZooEntry(name, tmp_path / name, _typed(name, metrics=metrics))

    return [entry("c", validation=0.9), entry("b", 0.8), entry("a", validation=0.7), entry("d", 0.95),
            entry("e", validation=0.9)]


def test_ranked_entries_put_evaluated_first_then_by_validation_then_name(tmp_path):
    assert [e.name for e in all_best_first(_entries(tmp_path))] == ["d", "b", "c", "e", "a"]
    no_validation = ZooEntry("z", tmp_path, _typed("z", metrics={}))
    assert [e.name for e in all_best_first([no_validation, *_entries(tmp_path)])][-1] == "z"


def test_load_usable_models_in_order_with_a_limit_and_problems(tmp_path):
    entries = _entries(tmp_path)
    calls: list[str] = []

    def load(entry: ZooEntry):
        calls.append(entry.name)
        if entry.name == "b":
            raise ZooError("b: cannot load")
        return f"model {entry.name}"

    loaded, problems = load_usable_models(entries, load=load)
    assert list(loaded) == ["c", "a", "d", "e"] and loaded["d"].model == "model d" and loaded["d"].entry is entries[3]
    assert problems == [ZooProblem("b", "b: cannot load")]
    calls.clear()
    loaded, problems = load_usable_models(entries, load=load, limit=2)
    assert list(loaded) == ["c", "a"] and calls == ["c", "b", "a"] and len(problems) == 1
    assert load_usable_models(entries, load=load, limit=0) == ({}, [])


def test_load_model_checks_the_card(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(inputs)))
    two = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    folder = _entry_folder(tmp_path, input_shape=[8, 8, 3])
    model.save(folder / "model.keras")
    loaded = load_model(read_entry("m", tmp_path))
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    assert not loaded.compiled  # loaded without its optimizer: serving never trains
    write_card(folder, _card(input_shape=[16, 8, 3]))
    with pytest.raises(ZooError, match=rf"^{folder / 'model.keras'}: input shape \(8, 8, 3\) differs from card \[16, 8, 3\]$"):
        load_model(read_entry("m", tmp_path))
    write_card(folder, _card(input_shape=[8, 8, 3]))
    two.save(folder / "model.keras")
    with pytest.raises(ZooError, match=r"output shape \(2,\), expected one probability \(1,\)$"):
        load_model(read_entry("m", tmp_path))
    (folder / "model.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    with pytest.raises(ZooError, match=rf"^{folder / 'model.keras'}: cannot load \((?!NoneType)\w+: "):
        load_model(read_entry("m", tmp_path))
    # safe_mode: a model with a Python lambda inside is refused, not executed.
    lam = keras.Model(inputs, keras.layers.Lambda(lambda x: x[:, :1, 0, 0])(inputs))
    lam.save(folder / "model.keras")
    with pytest.raises(ZooError, match="cannot load"):
        load_model(read_entry("m", tmp_path))

