"""model_zoo.card_markdown on hand-written cards: a model trained on a labelled folder gets a card about that folder
(its name, sizes, input policy, own test split; no CIFAKE), and a CIFAKE model's card keeps its wording. No model,
no TensorFlow: the card is a function of card.json (and robustness.csv, absent here)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from model_zoo.card_markdown import SECTIONS, front_matter, model_card_markdown, split_front_matter
from model_zoo.test_sets import rows_per_test_set
from model_zoo.zoo import ZooEntry, trained_on_folder, training_set_name
from tests.cards import typed


def _metrics(accuracy: float, n: int, confusion: list[list[int]]) -> dict:
    return {"accuracy": accuracy, "precision": 0.9, "recall": 0.8, "f1": 0.85, "roc_auc": 0.93,
            "confusion_matrix": confusion, "n": n}


CIFAKE_CARD = {
    "name": "cifake_cnn", "architecture": "cnn_maxpool", "description": "a small CNN",
    "input_shape": [32, 32, 3], "preprocessing": {"color": "RGB", "resize": "area", "mean": [0.0, 0.0, 0.0],
                                                  "std": [255.0, 255.0, 255.0]},
    "params": 1000, "size_bytes": 2**20,
    "train": {"dataset": "../shared/cifake/cifake.zip", "n_train": 90000, "n_validation": 10000, "epochs_run": 3,
              "best_epoch": 2, "batch_size": 128},
    "metrics": {"validation": {"accuracy": 0.95, "n": 10000},
                "test": _metrics(0.9, 20000, [[9000, 1000], [1000, 9000]]),
                "test_unseen": _metrics(0.89, 19622, [[8800, 1000], [1000, 8822]])},
    "decision": {"temperature": 1.0, "threshold": 0.5, "fitted_on": "validation", "uncertain_band": [0.2, 0.8],
                 "band_test": {"coverage": 0.9, "accuracy_decided": 0.97}},
    "novelty": {"method": "mahalanobis", "cutoff": 21.5, "cutoff_quantile": 0.99, "train_image_size": [32, 32]},
    "evaluation": {"test_in_train": 378, "test_ece": 0.01},
    "created": "2026-01-02T03:04:05+0000",
}


def _folder_card(**changes) -> dict:
    """A crop-policy model trained on /data/sdxl_portraits (as training.train --data writes it): train.split,
    the training images' sizes in the novelty block, metrics.test from the folder's own test split."""
    card = copy.deepcopy(CIFAKE_CARD)
    card["name"] = "portraits"
    card["input_shape"] = [64, 64, 3]
    card["preprocessing"]["input_policy"] = {"kind": "crop", "size": 64, "max_crops": 16}
    card["train"] |= {"dataset": "/data/sdxl_portraits", "n_train": 1800, "n_validation": 200,
                      "split": {"how": "test: 0.15 of each class, seed 0; validation: 0.1 of each class, seed 1",
                                "grouped_by": "SHA-1 of the file bytes (exact duplicates stay on one side)",
                                "seed": 0}}
    card["metrics"]["test"] = _metrics(0.91, 360, [[160, 20], [12, 168]])
    card["metrics"]["test_unseen"] = _metrics(0.91, 360, [[160, 20], [12, 168]])
    card["novelty"] |= {"train_image_size": [512, 512], "train_image_range": [[256, 384], [1024, 1024]]}
    card["evaluation"] = {"dataset": "/data/sdxl_portraits", "test_in_train": 0, "test_ece": 0.02}
    for key, value in changes.items():
        card[key] = value
    return card


def _card_text(card: dict, tmp_path: Path) -> tuple[dict, dict[str, str], str]:
    """(YAML metadata, body by section title, the whole text) of the card's model card."""
    text = model_card_markdown(ZooEntry(card["name"], tmp_path, typed(card)))
    front, body = split_front_matter(text)
    headings = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert headings == list(SECTIONS)
    sections = dict(zip(headings, (part.strip() for part in re.split(r"^## .+$", body, flags=re.MULTILINE)[1:]),
                        strict=True))
    return yaml.safe_load(front), sections, text


def test_a_folder_models_card_is_about_its_folder_and_never_names_cifake(tmp_path):
    meta, section, text = _card_text(_folder_card(), tmp_path)
    assert "cifake" not in text.lower() and "CIFAR" not in text and "Stable Diffusion" not in text
    assert ("A real-vs-AI-generated image classifier trained on sdxl_portraits, a labelled folder of 384x256 to "
            "1024x1024 images, which it judges by 64x64 crops at their own resolution (a small CNN). sdxl_portraits "
            "test accuracy 91.00%, ROC-AUC 0.9300.") in text
    assert ("| Input | 64x64 RGB crops at the image's own resolution, never resized: a grid of up to 16 crops covers "
            "the image (one smaller than a crop is padded with black), their logits averaged;") in section["Model details"]
    assert "on the sdxl_portraits test set it decides 90.0% of images" in section["Model details"]
    assert "flags an image unlike the images of sdxl_portraits" in section["Model details"]
    assert ("- Scoring images like those in sdxl_portraits (the same cameras, generators and subjects; 384x256 to "
            "1024x1024 pixels) as REAL or FAKE") in section["Intended use"]
    assert section["Out-of-scope uses"].startswith(
        "- Deciding whether an image from any other source is genuine: only the REAL and FAKE images of "
        "sdxl_portraits were in its training data")
    limits = section["Limitations"].splitlines()
    assert limits[0].startswith("- It learned from one source, sdxl_portraits, and has only been measured on that "
                                "source (its own test split):")
    assert limits[1] == ("- It judges 64x64 crops at the image's own resolution and learnt from images of 384x256 to "
                         "1024x1024 pixels: on an image far bigger its 16 crops leave gaps, and one smaller than 64 "
                         "pixels along a side is padded with black; verdicts on either say less.")
    assert limits[2] == ("- P(FAKE) is calibrated on its validation images (held out of the training split of "
                         "sdxl_portraits); on other images it is a score, not a probability.")
    assert not any("byte-identical" in line for line in limits)  # none of its test images is in train
    data = section["Training and evaluation data"].splitlines()
    assert data[0] == ("- **Training**: sdxl_portraits, a labelled folder of images (`/data/sdxl_portraits`; 384x256 "
                       "to 1024x1024 pixels, most often 512x512). 1,800 training and 200 validation images (the "
                       "validation split is held out of the train split). Split: test: 0.15 of each class, seed 0; "
                       "validation: 0.1 of each class, seed 1; files with the same bytes kept on one side.")
    assert data[-1] == ("- **Evaluation**: its own test split of sdxl_portraits (360 images, never used for training "
                        "or model selection), and its images whose file bytes occur nowhere in train.")
    assert "| sdxl_portraits test | 91.00% | 0.9300 |" in section["Metrics"]
    assert "| sdxl_portraits test, unseen in train | 91.00% |" in section["Metrics"]
    assert "- **Subject**: only what sdxl_portraits shows;" in section["Factors"]
    assert "training images were 384x256 to 1024x1024 pixels" in section["Factors"]
    assert ("- **Errors by class** (sdxl_portraits test): 11.1% of REAL images are called FAKE, 6.7% of FAKE images "
            "are called REAL.") in section["Factors"]
    # The metadata: its own dataset, no CIFAKE tag or result.
    assert meta["datasets"] == ["sdxl_portraits"] and "cifake" not in meta["tags"]
    results = meta["model-index"][0]["results"]
    assert [r["dataset"] for r in results] == [
        {"type": "imagefolder", "name": "sdxl_portraits", "split": "test"},
        {"type": "imagefolder", "name": "sdxl_portraits (test images unseen in train)", "split": "test"}]
    assert results[0]["metrics"][0] == {"type": "accuracy", "value": 0.91, "name": "sdxl_portraits test accuracy"}


def test_a_named_resize_folder_model_measured_elsewhere_says_so(tmp_path):
    card = _folder_card(other_test_sets={"phone_photos": {**_metrics(0.6, 50, [[20, 5], [15, 10]]), "n_real": 25,
                                                          "n_fake": 25, "skipped": 1, "evaluated": "2026-02-03"}})
    card["preprocessing"].pop("input_policy")
    card["input_shape"] = [32, 32, 3]
    card["train"]["dataset_name"] = "SDXL faces"
    card["evaluation"]["test_in_train"] = 3  # a given test/ folder may share files with train/
    meta, section, text = _card_text(card, tmp_path)
    assert "cifake" not in text.lower()
    assert ("classifier trained on SDXL faces, a labelled folder of 384x256 to 1024x1024 images, which it resizes to "
            "32x32 (a small CNN). SDXL faces test accuracy 91.00%") in text
    assert "| Input | 32x32 RGB; any image is resized to it (area), then" in section["Model details"]
    limits = section["Limitations"].splitlines()
    assert limits[0].startswith("- It learned from one source, SDXL faces, and was measured on that source's own test "
                                "split and on 1 other test set (Metrics):")
    assert limits[1] == ("- Its input is 32x32 pixels, and its training images (384x256 to 1024x1024 pixels) were "
                         "resized to it: an image outside that range of sizes is resampled unlike any of them, and its "
                         "verdict says less.")
    assert ("- 3 of its test images are byte-identical to training images; the 'unseen' figures leave them out."
            in limits)
    assert "| phone_photos | 60.00% |" in section["Metrics"]
    assert meta["datasets"] == ["SDXL faces"]
    assert [r["dataset"]["name"] for r in meta["model-index"][0]["results"]] == [
        "SDXL faces", "SDXL faces (test images unseen in train)", "phone_photos"]


def test_an_unevaluated_folder_model_says_which_split_it_awaits(tmp_path):
    card = _folder_card()
    for split in ("test", "test_unseen"):
        card["metrics"].pop(split)
    _, _, text = _card_text(card, tmp_path)
    assert "Not evaluated on the sdxl_portraits test split yet." in text
    assert "model-index" not in front_matter(ZooEntry("portraits", tmp_path, typed(card)))


def test_a_cifake_models_card_keeps_its_wording(tmp_path):
    meta, section, text = _card_text(copy.deepcopy(CIFAKE_CARD), tmp_path)
    assert ("A real-vs-AI-generated image classifier for 32x32 CIFAKE images (a small CNN). CIFAKE test accuracy "
            "90.00%, ROC-AUC 0.9300. Generated from the entry's card.json by `python -m training.model_card "
            "cifake_cnn`.") in text
    assert ("| Input | 32x32 RGB; any image is resized to it (area), then (pixel - [0.0, 0.0, 0.0]) / "
            "[255.0, 255.0, 255.0] |") in section["Model details"]
    assert ("| Abstains | UNCERTAIN when P(FAKE) lies in [0.200, 0.800); on the CIFAKE test set it decides 90.0% of "
            "images, 97.00% of those correctly |") in section["Model details"]
    assert "above 21.5 flags an image unlike CIFAKE (99% of validation images fall below) |" in section["Model details"]
    assert ("- Scoring small, CIFAKE-like images (32x32 photos in the style of CIFAR-10 against Stable Diffusion "
            "imitations of them) as REAL or FAKE, with a calibrated P(FAKE) and the model's own threshold."
            in section["Intended use"])
    assert section["Out-of-scope uses"].startswith("- Deciding whether one real-world photo is genuine. A camera photo "
                                                   "is shrunk to 32x32 before the model sees it,")
    limits = section["Limitations"].splitlines()
    assert limits[0].startswith("- It learned the differences between two specific sources: CIFAR-10 photos (REAL)")
    assert limits[1] == ("- Its input is 32x32 pixels: the detail of a larger image is averaged away, and a verdict on "
                         "a heavily shrunk photo says little.")
    assert limits[2] == ("- P(FAKE) is calibrated on CIFAKE validation images; on other images it is a score, not a "
                         "probability.")
    assert ("- 378 CIFAKE test images are byte-identical to training images; the 'unseen' figures leave them out."
            in limits)
    data = section["Training and evaluation data"].splitlines()
    assert data[0] == ("- **Training**: CIFAKE (Kaggle birdy654/cifake-real-and-ai-generated-synthetic-images; 32x32 "
                       "RGB, REAL = CIFAR-10, FAKE = Stable Diffusion v1.4, classes airplane, automobile, bird, cat, "
                       "deer, dog, frog, horse, ship, truck). 90,000 training and 10,000 validation images (the "
                       "validation split is held out of the train split).")
    assert data[-1] == ("- **Evaluation**: the CIFAKE test split (20,000 images, never used for training or model "
                        "selection), and its images whose file bytes occur nowhere in train.")
    assert "| CIFAKE test | 90.00% |" in section["Metrics"]
    assert "| CIFAKE test, unseen in train | 89.00% |" in section["Metrics"]
    assert ("- **Size and resampling**: every image is resized to 32x32 (area); the more an image is shrunk, the less "
            "its verdict means.") in section["Factors"]
    assert ("- **Errors by class** (CIFAKE test): 10.0% of REAL images are called FAKE, 10.0% of FAKE images are "
            "called REAL.") in section["Factors"]
    assert meta["datasets"] == ["cifake"] and "cifake" in meta["tags"]
    assert [r["dataset"] for r in meta["model-index"][0]["results"]] == [
        {"type": "cifake", "name": "CIFAKE", "split": "test"},
        {"type": "cifake", "name": "CIFAKE (test images unseen in train)", "split": "test"}]


# ---- which dataset a card is of: one answer for the card, the test-set rows and the input check ---------------

@pytest.mark.parametrize(("card", "folder", "name", "calibrated_on"), [
    (CIFAKE_CARD, False, "CIFAKE", "CIFAKE"),
    ({"train": {}}, False, "CIFAKE", "CIFAKE"),  # older cards record no dataset: CIFAKE
    (_folder_card(), True, "sdxl_portraits", None),
    ({"train": {"split": {"seed": 0}}}, True, "training folder", None),  # a folder card that names no path
    ({"train": {"dataset": "/data/x"}, "novelty": {"cutoff": 1.0, "train_image_range": [[8, 8], [64, 64]]}}, True, "x", None),
    ({"train": {"dataset": "/data/x.zip", "dataset_name": "SDXL faces"}}, True, "SDXL faces", "SDXL faces"),
    # A folder cut from CIFAKE is still a folder: its own split, its own figures, named for itself.
    ({"train": {"dataset": "/data/cifake_subset.zip", "split": {"seed": 0}}}, True, "cifake_subset", None),
])
def test_one_answer_to_which_dataset_a_card_is_of(card, folder, name, calibrated_on):
    card = typed(card)
    assert card.trained_on_folder is folder and trained_on_folder(card) is folder
    assert card.training_set_name == name and training_set_name(card) == name
    assert card.calibration_set == calibrated_on


def test_the_test_set_rows_name_a_folder_models_own_split():
    assert [(r["test set"], r["kind"]) for r in rows_per_test_set(typed(_folder_card()))] == [
        ("sdxl_portraits test", "own"), ("sdxl_portraits test, unseen in train", "own")]
    assert [r["test set"] for r in rows_per_test_set(typed(CIFAKE_CARD))] == ["CIFAKE test", "CIFAKE test, unseen in train"]
