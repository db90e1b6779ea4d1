"""Crop-policy entries (model_zoo.crops) in the export, calibrate and the errors page, on the crop_zoo fixture."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_zoo import decode_for_card, load_model, normalize_for_card, predict_prob_fake, read_entry, write_predictions
from model_zoo.card import Card
from model_zoo.crops import batch_crops, mean_logit
from model_zoo.decision import apply_temperature
from model_zoo.novelty import NOVELTY_FILE
from tests.dashboard_app import open_dashboard
from tests.zoo_builders import with_known_errors

# --- export: h5 and TFLite score one crop; a SavedModel would resize, so it is refused --------------------------------


def test_export_refuses_a_crop_models_savedmodel_in_one_line(crop_zoo, tmp_path, capsys):
    from training.export import main

    _, zoo = crop_zoo
    out = tmp_path / "out"
    assert main(["crop", "--format", "savedmodel", "--out", str(out), "--zoo", str(zoo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: crop is a crop model and has no savedmodel") and "\n" not in err
    assert "export h5 or tflite" in err and not out.exists()  # refused before anything was written


def test_export_all_writes_the_crop_files_checked_on_the_grid_the_judge_scores(crop_zoo, tmp_path, capsys):
    from training.export import main
    from training.lib.export_formats import TFLiteRunner

    folder, zoo = crop_zoo
    out = tmp_path / "out"
    assert main(["crop", "--format", "all", "--out", str(out), "--zoo", str(zoo), "--data", str(folder)]) == 0
    printed = capsys.readouterr()
    assert "note: crop is a crop model and has no savedmodel" in printed.err
    assert f"48 test images from {folder}" in printed.out and "FAILED" not in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["crop-int8.tflite", "crop.card.json", "crop.h5", "crop.tflite"]
    # Used as the card beside it says (its crops, their mean logit, the temperature), the file gives the zoo's score.
    entry = read_entry("crop", zoo)
    card = Card.from_json((out / "crop.card.json").read_text())
    images = [decode_for_card(path, card) for path in sorted((folder / "FAKE").iterdir())[:3]]
    crops, owners = batch_crops(images, card)
    raw = TFLiteRunner(out / "crop.tflite")(normalize_for_card(crops, card))
    served = apply_temperature(mean_logit(raw, owners, len(images)), card.temperature)
    assert len(crops) == 4 * len(images)  # 64x64 images: a 2x2 grid of 32x32 crops each
    assert np.allclose(served, predict_prob_fake(load_model(entry), images, entry.card), atol=1e-4)


# --- calibrate: the folder's own split, each image scored by its crop grid -----------------------------------------


def test_calibrate_refits_a_crop_model_exactly_as_training_fitted_it(crop_zoo, tmp_path, capsys):
    from training.calibrate import main

    folder, trained = crop_zoo
    zoo = tmp_path / "zoo"
    shutil.copytree(trained, zoo, ignore=shutil.ignore_patterns(".runs"))
    before = json.loads((zoo / "crop" / "card.json").read_text())
    card = {k: v for k, v in before.items() if k != "novelty"}
    card["decision"] = {k: v for k, v in before["decision"].items() if not k.startswith(("band", "uncertain"))}
    (zoo / "crop" / "card.json").write_text(json.dumps(card))
    (zoo / "crop" / NOVELTY_FILE).unlink()

    assert main(["crop", "--zoo", str(zoo), "--data", str(folder)]) == 0
    printed = capsys.readouterr()
    assert "differs from the card's" not in printed.err  # validation scored as training scored it
    after = read_entry("crop", zoo).card.to_dict()
    checks = after["novelty"].pop("checks")
    assert after["novelty"] == before["novelty"]  # the same crops' features: the same statistics and cut-off
    assert after["decision"]["band_validation"] == before["decision"]["band_validation"]
    assert checks["n"] == 48 and checks["noise_flagged"] >= 0.9  # the folder's test split; noise as big as its images
    assert (zoo / "crop" / NOVELTY_FILE).is_file() and "crop: UNCERTAIN for P(FAKE) in [" in printed.out


# --- the errors page: a folder model's errors come from its own folder, never CIFAKE's ------------------------------

WRONG = 3


@pytest.fixture(scope="module")
def mixed_zoo(crop_zoo, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """(folder, zoo, the crop model's wrong paths): the crop entry with WRONG known errors beside a CIFAKE-style
    entry ("bright") whose stored predictions name CIFAKE paths."""
    from tests.tiny_zoo import brightness_entry

    folder, trained = crop_zoo
    zoo = tmp_path_factory.mktemp("mixed") / "zoo"
    shutil.copytree(trained, zoo, ignore=shutil.ignore_patterns(".runs"))
    wrong = with_known_errors(zoo / "crop", WRONG)
    brightness_entry(zoo, "bright")
    write_predictions(zoo / "bright", [f"test/FAKE/{i}.jpg" for i in range(10)], [1] * 10, [0.2] * 10)
    return folder, zoo, wrong


def test_each_test_set_gets_its_own_table_and_its_own_images(mixed_zoo, tmp_path):
    from dashboard.misclassified import FolderTestImages, filter_errors, model_thresholds, predictions_table, test_sets
    from model_zoo import list_entries

    folder, zoo, wrong = mixed_zoo
    entries = list_entries(zoo)[0]
    assert predictions_table(entries).empty  # one table for both (as before) would hold no image at all
    cifake, own = test_sets(entries)
    assert (cifake.label, cifake.folder, [e.name for e in cifake.entries]) == ("synthetic test", None, ["bright"])
    assert (own.label, own.folder, [e.name for e in own.entries]) == ("trace test", str(folder), ["crop"])
    table = predictions_table(own.entries)
    assert sorted(filter_errors(table, "crop", model_thresholds(own.entries))["path"]) == sorted(wrong)
    assert len(filter_errors(predictions_table(cifake.entries), "bright", model_thresholds(cifake.entries))) == 10

    images = FolderTestImages(own.folder)
    card = own.entries[0].card
    assert images.seen(wrong[0], card).shape == (64, 64, 3)  # the whole image, as the judge sees it: not resized
    assert np.array_equal(images.picture(wrong[0]), images.seen(wrong[0], card))
    outside = tmp_path / "outside.png"
    shutil.copy(folder / wrong[0], outside)
    assert images.picture("FAKE/missing.png") is None and images.picture(os.path.relpath(outside, folder)) is None
    assert not FolderTestImages(tmp_path / "moved").available


def test_errors_page_browses_a_crop_models_errors_in_its_own_folder(mixed_zoo, tmp_path, monkeypatch):
    folder, zoo, wrong = mixed_zoo
    at = open_dashboard(zoo, monkeypatch, "errors")
    assert at.selectbox(key="errors_set").options == ["synthetic test", "trace test"]
    at.selectbox(key="errors_set").set_value("trace test").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert any(f"crop gets {WRONG} of 48 test images wrong" in c.value for c in at.caption)
    buttons = [b for b in at.button if b.label == "Heatmaps"]
    assert len(buttons) == WRONG and len(at.image) == WRONG  # the folder's own pictures, read by their stored paths
    buttons[0].click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert [h.value for h in at.subheader if h.value.startswith("Heatmaps: ")] == [f"Heatmaps: {sorted(wrong)[0]}"]
    assert any("crop" in c and "Grad-CAM" in c for image in at.image for c in image.captions)


def test_errors_page_says_why_when_the_folder_is_not_there(mixed_zoo, tmp_path, monkeypatch):
    _, source, wrong = mixed_zoo
    zoo = tmp_path / "zoo"
    shutil.copytree(source / "crop", zoo / "crop")
    card = json.loads((zoo / "crop" / "card.json").read_text())
    card["evaluation"]["dataset"] = str(tmp_path / "gone")
    (zoo / "crop" / "card.json").write_text(json.dumps(card))
    at = open_dashboard(zoo, monkeypatch, "errors")
    assert not at.exception and not at.error
    assert any("not on this server" in i.value and str(tmp_path / "gone") in i.value for i in at.info)
    assert sorted(at.dataframe[0].value["path"]) == sorted(wrong) and not at.image


def test_a_folder_models_report_names_its_own_test_set(crop_zoo):
    from dashboard.report import model_report_html
    from dashboard.views.model_card_view import test_sets_frame

    _, zoo = crop_zoo
    entry = read_entry("crop", zoo)
    html = model_report_html(entry)
    assert "<h2>Test sets: trace and others</h2>" in html and "Confusion matrix (trace test)" in html
    assert "CIFAKE test" not in html  # its numbers are on the folder's own split
    assert list(test_sets_frame(entry.card)["test set"])[0] == "trace test"


# --- faithfulness and cues: a model is measured on its own test split only (tests/integration/test_folder_studies.py) -

@pytest.mark.parametrize("command", ["faithfulness", "cues"])
def test_studies_refuse_a_model_on_data_it_was_not_trained_on(command, crop_zoo, trained_zoo, synthetic_zip, tmp_path,
                                                              capsys, monkeypatch):
    import importlib

    from model_zoo.zoo import CUES_FILE, FAITHFULNESS_FILE

    folder, zoo = crop_zoo
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    main = importlib.import_module(f"training.{command}").main
    # a folder model on CIFAKE: one line naming the entry and the --data to pass, nothing written
    assert main(["crop", "--data", str(synthetic_zip), "--zoo", str(zoo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: crop was trained on a labelled folder ({folder}), not on {synthetic_zip}; "
                       f"pass --data {folder}")
    assert not (zoo / "crop" / CUES_FILE).exists() and not (zoo / "crop" / FAITHFULNESS_FILE).exists()
    # and a CIFAKE model on the folder
    assert main(["cnn_maxpool", "--data", str(folder), "--zoo", str(trained_zoo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cnn_maxpool was trained on CIFAKE") and f"not on {folder}" in err[-1]
    assert not (trained_zoo / "cnn_maxpool" / CUES_FILE).exists()
    assert not (trained_zoo / "cnn_maxpool" / FAITHFULNESS_FILE).exists()


@pytest.mark.parametrize("command", ["faithfulness", "cues"])
def test_all_measures_the_entries_trained_on_the_data_and_notes_the_others(command, crop_zoo, trained_zoo,
                                                                            synthetic_zip, tmp_path, capsys,
                                                                            monkeypatch):
    import importlib

    from model_zoo.zoo import CUES_FILE, FAITHFULNESS_FILE

    folder, crop = crop_zoo
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    main = importlib.import_module(f"training.{command}").main
    written = {"faithfulness": FAITHFULNESS_FILE, "cues": CUES_FILE}[command]
    small = {"faithfulness": ["--per-class", "2", "--steps", "2", "--sanity-images", "2", "--heatmap-per-group", "2"],
             "cues": ["--sample", "8"]}[command]
    zoo = tmp_path / "zoo"
    shutil.copytree(crop, zoo, ignore=shutil.ignore_patterns(".runs"))
    shutil.copytree(trained_zoo / "cnn_maxpool", zoo / "cnn_maxpool")
    assert main(["all", "--data", str(folder), "--zoo", str(zoo), *small]) == 0
    assert f"note: 'all' leaves out cnn_maxpool (trained on other data than {folder})" in capsys.readouterr().err
    assert (zoo / "crop" / written).is_file() and not (zoo / "cnn_maxpool" / written).exists()
    (zoo / "crop" / written).unlink()
    assert main(["all", "--data", str(synthetic_zip), "--zoo", str(zoo), *small]) == 0
    assert f"note: 'all' leaves out crop (trained on other data than {synthetic_zip})" in capsys.readouterr().err
    assert (zoo / "cnn_maxpool" / written).is_file() and not (zoo / "crop" / written).exists()
