"""training.faithfulness and training.cues on folder-trained models: each measured on its own folder's test split,
every image as the model sees it (training/lib/study_images.py), and the Studies page naming those images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_zoo import decode_for_card, read_entry
from model_zoo.card import Card
from model_zoo.crops import central_grid_crop
from model_zoo.images import decode_image
from model_zoo.zoo import CUES_FILE
from tests.cards import typed
from tests.dashboard_app import open_dashboard
from training.lib.data import stratified_sample
from training.lib.image_folders import load_labelled_data

QUIET = {"progress": lambda _: None}
SMALL_FAITHFULNESS = ["--per-class", "3", "--steps", "2", "--sanity-images", "2", "--heatmap-per-group", "2"]


def _test_split(folder: Path, card: Card):
    """The entry's own test split, rebuilt from its card as the commands rebuild it."""
    return load_labelled_data(folder, split=card.train.split, **QUIET).test


@pytest.fixture(scope="module")
def resized_zoo(tmp_path_factory) -> tuple[Path, Path]:
    """(folder, zoo): 40x40 PNGs (30 a class) and "resized", a cnn_maxpool trained one epoch on them resized to
    24x24 (resize policy), not evaluated: no test_predictions.csv."""
    from training.lib.synthetic import make_image_folder
    from training.lib.training_run import TrainConfig, train

    base = tmp_path_factory.mktemp("resized")
    folder = make_image_folder(base / "squares", 30, 40, seed=7)
    dataset = load_labelled_data(folder, **QUIET)
    train(TrainConfig(arch="cnn_maxpool", name="resized", epochs=1, batch_size=16, augment="none",
                      input_policy="resize", input_size=24), dataset, base / "zoo")
    return folder, base / "zoo"


def test_faithfulness_measures_a_crop_model_on_the_judges_crops_of_its_own_test_split(crop_zoo, tmp_path, capsys,
                                                                                      monkeypatch):
    import training.lib.faithfulness_study as study
    from training.faithfulness import main

    folder, trained = crop_zoo
    zoo = shutil.copytree(trained, tmp_path / "zoo")
    explained = []
    real_report = study.faithfulness_report

    def spy(model, card, sample, **kwargs):
        explained.append(sample)
        return real_report(model, card, sample, **kwargs)

    monkeypatch.setattr(study, "faithfulness_report", spy)
    assert main(["crop", "--data", str(folder), "--zoo", str(zoo), *SMALL_FAITHFULNESS]) == 0
    captured = capsys.readouterr()
    assert "crop: faithfulness on 6 trace test images" in captured.out
    assert "of the trace test split (the 32x32 crop of the judge's grid nearest the image centre" in captured.err
    entry = read_entry("crop", zoo)
    report = entry.faithfulness()
    assert report["dataset"] == str(folder) and report["test_set"] == "trace"
    assert report["view"].startswith("the 32x32 crop of the judge's grid nearest the image centre")
    # the sample is the card's seeded stratified draw from the folder's own test split, never a training image
    test = _test_split(folder, entry.card)
    expected = [test.paths[i] for i in stratified_sample(test.labels, 3, 0)]
    assert report["sample"]["paths"] == expected and report["sample"]["per_class"] == {"REAL": 3, "FAKE": 3}
    # each explained image is the crop of the judge's grid nearest the centre of the 64x64 file, at full resolution
    (sample,) = explained
    assert sample.images.shape == (6, 32, 32, 3)
    for path, seen in zip(expected, sample.images, strict=True):
        np.testing.assert_array_equal(seen, central_grid_crop(decode_image(folder / path), 32))
    heatmaps = entry.class_heatmaps()
    assert heatmaps["maps"].shape == (4, 32, 32) and str(heatmaps["test_set"]) == "trace"
    assert heatmaps["totals"].sum() == len(test) == entry.card.to_dict()["train"]["split"]["n_test"]
    assert str(heatmaps["verdicts_from"]) == "test_predictions.csv"  # the judge's verdicts on whole images


def test_cues_score_a_crop_models_own_test_images_as_it_sees_them(crop_zoo, tmp_path, capsys, monkeypatch):
    import training.lib.cue_study as study
    from model_zoo.cue_vocabulary import CUES_COLUMNS
    from training.cues import main
    from training.lib.cue_study import CONDITIONS, sample_index

    folder, trained = crop_zoo
    zoo = shutil.copytree(trained, tmp_path / "zoo")
    scored = []
    real_table = study.cue_table

    def spy(model, card, images, labels, **kwargs):
        scored.append((np.array(images), np.array(labels)))
        return real_table(model, card, images, labels, **kwargs)

    monkeypatch.setattr(study, "cue_table", spy)
    assert main(["crop", "--data", str(folder), "--zoo", str(zoo), "--sample", "8"]) == 0
    assert "crop: accuracy after each change" in capsys.readouterr().out
    entry = read_entry("crop", zoo)
    table = entry.cues()
    assert list(table.columns) == [*CUES_COLUMNS, "test_set"] and set(table["test_set"]) == {"trace"}
    assert len(table) == len(CONDITIONS) and (table["n"] == 8).all()  # every condition applies to 32x32 crops
    block = entry.card.to_dict()["cues"]
    assert block["dataset"] == str(folder) and block["test_set"] == "trace" and "left_out" not in block
    assert block["view"].startswith("the 32x32 crop") and block["per_class"] == {"REAL": 4, "FAKE": 4}
    # the images scored are the seeded sample of the folder's own test split, each its judge's central crop
    test = _test_split(folder, entry.card)
    picked = sample_index(test.labels, 8, 0)
    (images, labels), = scored
    np.testing.assert_array_equal(labels, test.labels[picked])
    for index, seen in zip(picked, images, strict=True):
        np.testing.assert_array_equal(seen, central_grid_crop(decode_image(folder / test.paths[index]), 32))
    spectra = entry.cue_spectra()
    assert spectra["class_difference"].shape == spectra["gradient_power"].shape == (32, 32)
    assert str(spectra["test_set"]) == "trace" and spectra["image_n"].tolist() == [4, 4]  # of the sample only


def test_a_resized_folder_model_is_measured_on_its_images_resized_for_its_card(resized_zoo, tmp_path, monkeypatch):
    import training.lib.cue_study as cues
    import training.lib.faithfulness_study as faithfulness
    from training.cues import main as cues_main
    from training.faithfulness import main as faithfulness_main

    folder, trained = resized_zoo
    zoo = shutil.copytree(trained, tmp_path / "zoo")
    card = read_entry("resized", zoo).card
    seen = {}
    real_report, real_table = faithfulness.faithfulness_report, cues.cue_table

    def report_spy(model, card_, sample, **kwargs):
        seen["faithfulness"] = (list(sample.paths), sample.images)
        return real_report(model, card_, sample, **kwargs)

    def table_spy(model, card_, images, labels, **kwargs):
        seen["cues"] = (np.array(images), kwargs["conditions"])
        return real_table(model, card_, images, labels, **kwargs)

    monkeypatch.setattr(faithfulness, "faithfulness_report", report_spy)
    monkeypatch.setattr(cues, "cue_table", table_spy)
    assert faithfulness_main(["resized", "--data", str(folder), "--zoo", str(zoo), *SMALL_FAITHFULNESS]) == 0
    paths, images = seen["faithfulness"]
    assert images.shape == (6, 24, 24, 3)
    for path, image in zip(paths, images, strict=True):  # the one preprocessing path: what the judge scores
        np.testing.assert_array_equal(image, decode_for_card(folder / path, card))
    entry = read_entry("resized", zoo)
    assert entry.faithfulness()["view"] == "the whole image resized to 24x24 (area)"
    heatmaps = entry.class_heatmaps()
    assert heatmaps["maps"].shape == (4, 24, 24)
    assert str(heatmaps["verdicts_from"]) == "model run over the test split"  # no test_predictions.csv: judged here

    assert cues_main(["resized", "--data", str(folder), "--zoo", str(zoo), "--sample", "6"]) == 0
    images, conditions = seen["cues"]
    assert images.shape == (6, 24, 24, 3)
    assert "16 px tiles" not in {c.label for c in conditions} and "8 px tiles" in {c.label for c in conditions}
    block = read_entry("resized", zoo).card.to_dict()["cues"]
    assert block["left_out"] == [{"condition": "tiles", "level": 16, "label": "16 px tiles",
                                  "why": "16 px tiles do not divide the 24x24 view"}]
    table = pd.read_csv(zoo / "resized" / CUES_FILE)
    assert "16 px tiles" not in set(table["label"]) and set(table["test_set"]) == {"squares"}


def test_the_studies_page_names_a_folder_models_own_test_images(crop_zoo, trained_zoo, tmp_path, monkeypatch):
    from dashboard.cue_figures import cue_groups, sample_note
    from dashboard.faithfulness_tables import map_note, ranking_sentence
    from model_zoo import list_entries
    from tests.zoo_builders import with_cues
    from training.faithfulness import main

    folder, crop = crop_zoo
    zoo = shutil.copytree(crop, tmp_path / "zoo")
    shutil.copytree(trained_zoo / "cnn_maxpool", zoo / "cnn_maxpool")
    with_cues(zoo / "cnn_maxpool")  # CIFAKE's cues, written as before: no test_set anywhere
    assert main(["crop", "--data", str(folder), "--zoo", str(zoo), *SMALL_FAITHFULNESS]) == 0
    card = Card.from_json((zoo / "crop" / "card.json").read_text()).updated(
        cues={"n": 8, "seed": 0, "dataset": str(folder), "test_set": "trace", "view": "the 32x32 crop"})
    (zoo / "crop" / "card.json").write_text(card.to_json())
    with_cues(zoo / "crop")
    entries = list_entries(zoo)[0]
    groups = cue_groups(entries)
    assert [(label, [e.name for e in members]) for label, members in groups] == [("CIFAKE", ["cnn_maxpool"]),
                                                                                  ("trace", ["crop"])]
    note = sample_note(groups[1][1])
    assert "8 trace test images" in note and "crop saw the 32x32 crop" in note
    assert f"python -m training.cues all --data {folder}" in note
    report = read_entry("crop", zoo).faithfulness()
    # The note names the folder's own test images. Whether a 3-epoch crop model's maps also pass the randomisation
    # check on 6 images varies by training run; when they fail, the note says so first ("⚠ fails the sanity check").
    note = map_note("crop", "Grad-CAM", report)
    assert note.removeprefix("⚠ fails the sanity check: ").startswith("Grad-CAM for crop, on 6 trace test images: rank")
    assert ranking_sentence("crop", report).startswith("**crop** (on its own trace test images): ")
    assert f"--data {folder}" in map_note("crop", "Grad-CAM", None, card=card)  # not measured: its own folder

    at = open_dashboard(zoo, monkeypatch, "studies")
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert [h.value for h in at.subheader if h.value.startswith("On the ")] == ["On the CIFAKE test images",
                                                                                 "On the trace test images"]
    assert any("**crop** (on its own trace test images)" in m.value for m in at.markdown)


def test_the_split_rebuilt_is_that_of_an_entry_trained_on_the_data_given(tmp_path):
    from model_zoo.zoo import ZooEntry
    from training.lib.cli import _split_to_rebuild

    def entry(name: str, train: dict) -> ZooEntry:
        return ZooEntry(name, tmp_path / name, typed(name=name, train=train))

    cifake = entry("a_cifake", {"dataset": "/data/cifake.zip"})
    other = entry("b_other", {"dataset": "/data/other", "split": {"seed": 3}})
    own = entry("c_own", {"dataset": "/data/own", "split": {"seed": 0, "validation_fraction": 0.4}})
    assert _split_to_rebuild([cifake, other, own], "/data/own") == {"seed": 0, "validation_fraction": 0.4}
    assert _split_to_rebuild([cifake, other, own], "/data/elsewhere") == {"seed": 3}  # the first folder model's
    assert _split_to_rebuild([cifake], "/data/cifake.zip") is None  # CIFAKE: nothing to rebuild
    here = entry("d_here", {"dataset": str(tmp_path / "mine"), "split": {"seed": 7}})
    assert _split_to_rebuild([other, here], str(tmp_path / "." / "mine")) == {"seed": 7}  # the same path, spelt otherwise


def test_a_split_rebuilt_with_other_settings_is_refused_even_when_its_counts_match(crop_zoo):
    from model_zoo import ZooError
    from training.lib.image_folders import check_trained_on

    folder, zoo = crop_zoo
    card = read_entry("crop", zoo).card
    dataset = load_labelled_data(folder, split=card.train.split, progress=lambda _: None)
    check_trained_on(card, dataset)  # the card's own split: accepted
    reseeded = {**card.train.split, "seed": card.train.split["seed"] + 1}
    other = load_labelled_data(folder, split=reseeded, progress=lambda _: None)
    assert other.split["n_test"] == card.train.split["n_test"]  # same counts, other test images
    with pytest.raises(ZooError, match="seed"):
        check_trained_on(card, other)
