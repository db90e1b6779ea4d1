"""Slices end to end on a folder model: content classes from sub-folders, a planted harder sub-folder found and named,
slices.csv stored atomically, shown on the Model page's functions and in the model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model_zoo import read_entry
from model_zoo.card_markdown import model_card_markdown
from model_zoo.slice_errors import weak_slices, weakest_sentence
from model_zoo.zoo import SLICES_FILE
from training.lib.synthetic import upsampling_trace_image

QUIET = {"progress": lambda _: None}
GROUPS = ("car", "cat", "boat")
PLANTED = "boat"  # its FAKE images carry no trace: the model cannot tell them from REAL ones


def _planted_folder(root: Path, per_group: int = 70, seed: int = 11) -> Path:
    """car/, cat/ and boat/, each with 0_real/ and 1_fake/ (CNNDetection's layout) of 32x32 PNGs; FAKE images carry
    the upsampling trace except in boat/1_fake/."""
    rng = np.random.default_rng(seed)
    for group in GROUPS:
        for fake, folder in ((False, "0_real"), (True, "1_fake")):
            target = root / group / folder
            target.mkdir(parents=True)
            for i in range(per_group):
                trace = fake and group != PLANTED
                image = upsampling_trace_image(rng, trace, 32, amplitude=18.0)
                Image.fromarray(image).save(target / f"{i:04d}.png", compress_level=1)
    return root


@pytest.fixture(scope="module")
def planted_zoo(tmp_path_factory) -> tuple[Path, Path]:
    """(folder, zoo) with "planted", a cnn_maxpool trained and evaluated on the planted folder. About 20 s."""
    from training.lib.evaluation_run import evaluate
    from training.lib.image_folders import load_labelled_data
    from training.lib.training_run import TrainConfig, train

    base = tmp_path_factory.mktemp("planted")
    folder = _planted_folder(base / "objects")
    dataset = load_labelled_data(folder, **QUIET)
    zoo = base / "zoo"
    train(TrainConfig(arch="cnn_maxpool", name="planted", epochs=4, batch_size=16, lr=3e-3, augment="none"),
          dataset, zoo)
    evaluate("planted", dataset, zoo)
    return folder, zoo


def test_the_planted_harder_sub_folder_is_found_and_named(planted_zoo, capsys):
    from training.slices import main

    folder, zoo = planted_zoo
    assert main(["planted", "--data", str(folder), "--zoo", str(zoo), "--by", "content", "brightness"]) == 0
    printed = capsys.readouterr().out
    table = read_entry("planted", zoo).slices()
    assert table is not None
    content = table[table["by"] == "content"]
    assert set(content["value"]) == set(GROUPS)
    weak = weak_slices(table, "FAKE")
    # The worst content slice is the planted one. A property slice may rank above it: boat's FAKE images lack the
    # high-frequency trace, so the lowest high-frequency quartile holds many of them (how many varies by training run).
    assert weak[weak["by"] == "content"].iloc[0]["value"] == PLANTED
    missed = float(content[(content["value"] == PLANTED) & (content["true_class"] == "FAKE")]["rate"].iloc[0])
    assert f"misses FAKE {PLANTED} images most often: {missed:.1%}" in printed
    assert f"content: {PLANTED}" in printed and "brightness: Q1" in printed
    # The card holds the same sentence (after a REAL clause when some REAL slice is weak too, in some training runs).
    card_text = model_card_markdown(read_entry("planted", zoo))
    assert weakest_sentence("planted", table) in card_text and f"misses FAKE {PLANTED} images" in card_text


def test_folder_attributes_name_sub_folders_and_measure_every_image(planted_zoo):
    from training.lib.image_folders import dataset_attributes, load_labelled_data

    folder, _ = planted_zoo
    dataset = load_labelled_data(folder, **QUIET)
    attributes = dataset_attributes(dataset, **QUIET)
    assert len(attributes) == len(dataset.train) + len(dataset.test)
    assert set(attributes["content"]) == set(GROUPS)
    test = attributes[attributes["split"] == "test"]
    assert sorted(test["path"]) == sorted(dataset.test.paths)
    assert test["brightness"].between(0, 1).all() and test["jpeg_quality"].isna().all()  # PNGs: no JPEG tables
    again = dataset_attributes(dataset, **QUIET)  # from the cache
    pd.testing.assert_frame_equal(attributes, again)


def test_a_folder_without_sub_folders_has_no_content_slices(tmp_path):
    from training.lib.image_folders import dataset_attributes, load_labelled_data
    from training.lib.synthetic import make_image_folder

    folder = make_image_folder(tmp_path / "plain", 30, 32, seed=3)
    attributes = dataset_attributes(load_labelled_data(folder, **QUIET), **QUIET)
    assert (attributes["content"] == "").all()


def test_slices_of_an_unknown_entry_or_other_data_end_in_one_line(planted_zoo, tmp_path, capsys):
    from training.lib.synthetic import make_image_folder
    from training.slices import main

    folder, zoo = planted_zoo
    assert main(["nosuch", "--data", str(folder), "--zoo", str(zoo)]) == 2
    assert "nosuch" in capsys.readouterr().err
    other = make_image_folder(tmp_path / "other", 30, 32, seed=4)
    assert main(["planted", "--data", str(other), "--zoo", str(zoo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: planted was trained on") and "Traceback" not in "\n".join(err)


def test_the_model_page_shows_the_stored_slices_sentence_and_chart(planted_zoo, tmp_path, monkeypatch):
    import shutil

    from tests.dashboard_app import open_dashboard
    from training.slices import main

    folder, zoo = planted_zoo
    zoo = Path(shutil.copytree(zoo, tmp_path / "zoo"))
    (zoo / "planted" / SLICES_FILE).unlink(missing_ok=True)  # another test may have stored it (random order)
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = open_dashboard(zoo, monkeypatch, "model")
    assert any("python -m training.slices planted" in c.value for c in at.caption)  # none stored yet
    assert main(["planted", "--data", str(folder), "--zoo", str(zoo)]) == 0
    at = open_dashboard(zoo, monkeypatch, "model")
    assert not at.exception, [e.value for e in at.exception]
    sentence = next(m.value for m in at.markdown if m.value.startswith("planted "))
    assert f"misses FAKE {PLANTED} images most often" in sentence
    assert at.selectbox(key="slices_by_planted").value == "content"
    shown = at.dataframe[-1].value
    assert list(shown.iloc[:, 0]) == ["all test images", *sorted(GROUPS)]


def test_a_folder_models_errors_page_slices_by_its_sub_folders_and_properties(planted_zoo, monkeypatch):
    from tests.dashboard_app import open_dashboard

    folder, zoo = planted_zoo
    at = open_dashboard(zoo, monkeypatch, "errors")
    assert not at.exception, [e.value for e in at.exception]
    slice_by = at.selectbox(key="errors_slice_by")
    assert {"content", "brightness"} <= set(slice_by.options)
    slice_by.set_value("content").run()
    assert not at.exception
    assert set(at.selectbox(key="errors_slice_value").options) == set(GROUPS)  # the sub-folders between split and class
    at.selectbox(key="errors_slice_value").set_value(PLANTED).run()
    assert not at.exception
    shown = [c.value for c in at.caption if " test images wrong at its threshold" in c.value]
    assert shown and "match the filters" in shown[0]
