"""Image attributes and slices on the real CIFAKE dataset; they run only when CIFAKE_PATH points at it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import model_zoo
from model_zoo import list_entries
from model_zoo.decision import labels_for
from model_zoo.image_attributes import CIFAR10_CLASSES, duplicate_facts
from training.lib.data import load_attributes, load_cifake

CIFAKE = os.environ.get("CIFAKE_PATH", "")
SHIPPED_ZOO = Path(model_zoo.__file__).resolve().parent / "entries"
MANIFEST = Path(CIFAKE).with_name("MANIFEST.txt") if CIFAKE else Path()

pytestmark = pytest.mark.skipif(not CIFAKE or not Path(CIFAKE).exists(),
                                reason="real CIFAKE not available: set CIFAKE_PATH to the Kaggle zip or folder")


@pytest.fixture(scope="module")
def attributes():
    return load_attributes(load_cifake(CIFAKE, progress=lambda _: None), progress=lambda _: None)


def _manifest_facts() -> dict[str, int]:
    """The leak facts as the MANIFEST beside the zip states them."""
    if not MANIFEST.is_file():
        pytest.skip(f"no MANIFEST.txt beside {CIFAKE}")
    text = MANIFEST.read_text()
    leaked = re.search(r"(\d[\d,]*) test/FAKE files are byte-identical to a train/FAKE file", text)
    within = re.search(r"train/FAKE (\d[\d,]*) extra copies, test/FAKE (\d[\d,]*); REAL none", text)
    assert leaked and within, "MANIFEST.txt no longer states the leak facts this test reads"
    number = lambda match, group: int(match.group(group).replace(",", ""))  # noqa: E731
    return {"test/FAKE in train": number(leaked, 1), "test/REAL in train": 0,
            "train/FAKE extra copies": number(within, 1), "test/FAKE extra copies": number(within, 2),
            "train/REAL extra copies": 0, "test/REAL extra copies": 0}


def test_exact_duplicates_match_the_manifest_leak_facts(attributes):
    facts = duplicate_facts(attributes)
    for key, expected in _manifest_facts().items():
        assert facts[key] == expected, key
    test = attributes[attributes["split"] == "test"]
    assert int((test["exact_other_split"] & (test["label"] == 1)).sum()) == facts["test/FAKE in train"]


def test_every_test_slice_holds_a_thousand_images_per_label_and_the_properties_vary(attributes):
    test = attributes[attributes["split"] == "test"]
    counts = test.groupby(["content", "label"]).size()
    assert set(test["content"]) == set(CIFAR10_CLASSES) and (counts == 1000).all()
    for name in ("brightness", "contrast", "colourfulness", "high_freq"):
        assert test[name].std() > 0, name
    assert (attributes["jpeg_quality"] == attributes["jpeg_quality"].iloc[0]).all()  # one JPEG setting for both classes


def test_stored_slices_are_recomputed_from_the_predictions_and_the_file_names():
    entries, _ = list_entries(SHIPPED_ZOO)
    stored = [entry for entry in entries if entry.slices() is not None]
    if not stored:
        pytest.skip("no shipped entry has slices.csv: run `python -m training.slices all`")
    for entry in stored:
        predictions = entry.test_predictions()
        number = predictions["path"].str.extract(r"\((\d+)\)\.jpg$")[0].fillna("1").astype(int)
        content = np.array(CIFAR10_CLASSES)[number - 1]
        wrong = labels_for(predictions["prob_fake"].to_numpy(), entry.card) != predictions["label"].to_numpy()
        table = entry.slices()
        for label, name in ((0, "REAL"), (1, "FAKE")):
            for value in CIFAR10_CLASSES:
                member = (content == value) & (predictions["label"].to_numpy() == label)
                row = table[(table["by"] == "content") & (table["value"] == value) & (table["true_class"] == name)]
                assert int(row["n"].iloc[0]) == member.sum() == 1000, (entry.name, value, name)
                assert int(row["errors"].iloc[0]) == int(wrong[member].sum()), (entry.name, value, name)
