"""`training.evaluate --folder`: your own labelled images (mixed sizes and formats, unreadable files) scored through
the card's preprocessing and decision rule, stored in the card, shown on the leaderboards."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import numpy as np
import pytest

from model_zoo import binary_metrics, read_entry
from model_zoo.card import Card, CardError
from model_zoo.test_sets import OTHER_TEST_SETS, leaderboard_columns, other_test_sets, rows_per_test_set
from tests.cards import typed
from tests.tiny_zoo import brightness_entry, expected_prob_fake, flat_image_bytes
from training.evaluate import main

# (file, grey level, size, format): the brightness model calls an image FAKE when it is bright.
REAL_FILES = [("a.png", 40, (32, 32), "PNG"), ("b.jpg", 60, (640, 480), "JPEG"), ("c.webp", 80, (100, 300), "WEBP"),
              ("d.bmp", 100, (33, 17), "BMP"), ("bright_real.png", 200, (64, 64), "PNG")]
FAKE_FILES = [("e.png", 140, (32, 32), "PNG"), ("f.jpg", 180, (1200, 900), "JPEG"), ("g.webp", 200, (48, 48), "WEBP"),
              ("sub/h.gif", 220, (40, 40), "GIF"), ("dark_fake.jpg", 60, (50, 70), "JPEG")]


def _write(folder: Path, files: list[tuple]) -> None:
    for name, value, size, fmt in files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(flat_image_bytes(value, size, fmt, **({"quality": 95} if fmt == "JPEG" else {})))


@pytest.fixture(scope="module")
def own_images(tmp_path_factory) -> Path:
    """holiday_photos/REAL and /FAKE: mixed sizes and formats, two unreadable files, a hidden one, a subfolder."""
    root = tmp_path_factory.mktemp("sets") / "holiday_photos"
    _write(root / "REAL", REAL_FILES)
    _write(root / "FAKE", FAKE_FILES)
    (root / "REAL" / "notes.jpg").write_bytes(b"this is not an image\n")
    truncated = flat_image_bytes(150, (64, 64), "PNG")
    (root / "FAKE" / "cut.png").write_bytes(truncated[: len(truncated) // 2])
    (root / "FAKE" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


@pytest.fixture
def zoo(tmp_path) -> Path:
    brightness_entry(tmp_path / "zoo", "bright", threshold=0.5)
    brightness_entry(tmp_path / "zoo", "strict", threshold=0.9)
    return tmp_path / "zoo"


def _expected_metrics(threshold: float) -> dict:
    labels = np.array([0] * len(REAL_FILES) + [1] * len(FAKE_FILES))
    probs = np.array([expected_prob_fake(value) for _, value, _, _ in REAL_FILES + FAKE_FILES])
    return binary_metrics(labels, probs, threshold)


def test_folder_metrics_follow_each_cards_threshold_and_skip_unreadable_files(own_images, zoo, capsys):
    assert main(["all", "--folder", str(own_images), "--zoo", str(zoo)]) == 0
    output = capsys.readouterr().out
    assert "skipped 2 file(s) that could not be read:" in output
    assert f"{own_images / 'REAL' / 'notes.jpg'}: not an image" in output
    assert f"{own_images / 'FAKE' / 'cut.png'}: image data is truncated or corrupt" in output
    assert ".DS_Store" not in output

    bright = other_test_sets(read_entry("bright", zoo).card)["holiday_photos"]
    strict = other_test_sets(read_entry("strict", zoo).card)["holiday_photos"]
    # Threshold 0.5: one bright REAL and one dark FAKE are wrong. Threshold 0.9 also calls the grey-140 FAKE REAL.
    assert bright["accuracy"] == 0.8 and bright["confusion_matrix"] == [[4, 1], [1, 4]]
    assert strict["accuracy"] == 0.7 and strict["confusion_matrix"] == [[4, 1], [2, 3]]
    for result, threshold in ((bright, 0.5), (strict, 0.9)):
        expected = _expected_metrics(threshold)
        assert result["confusion_matrix"] == expected["confusion_matrix"]
        assert result["roc_auc"] == pytest.approx(expected["roc_auc"])
        assert result["n"] == 10 and result["n_real"] == 5 and result["n_fake"] == 5 and result["skipped"] == 2
        assert result["threshold"] == threshold and result["folder"] == str(own_images)
        assert result["evaluated"] == datetime.date.today().isoformat()
    assert "bright on 'holiday_photos': accuracy 0.8000" in output and "(5 REAL, 5 FAKE; 2 skipped)" in output


def test_folder_scores_equal_the_predict_cli_on_the_same_files(own_images, zoo, tmp_path):
    """One preprocessing path: the metrics stored equal those computed from `training.predict`'s scores."""
    from training.predict import main as predict_main

    assert main(["bright", "--folder", str(own_images), "--zoo", str(zoo)]) == 0
    out = tmp_path / "scores.csv"
    assert predict_main([str(own_images), "--recursive", "--zoo", str(zoo), "--model", "bright", "--out", str(out)]) == 0
    rows = [r for r in csv.DictReader(out.open()) if not r["error"]]
    assert len(rows) == 10
    labels = np.array([1 if "/FAKE/" in r["path"] else 0 for r in rows])
    probs = np.array([float(r["prob_fake"]) for r in rows])
    from_cli = binary_metrics(labels, probs, 0.5)
    stored = other_test_sets(read_entry("bright", zoo).card)["holiday_photos"]
    assert stored["confusion_matrix"] == from_cli["confusion_matrix"]
    assert stored["roc_auc"] == pytest.approx(from_cli["roc_auc"], abs=1e-6)


def test_the_card_keeps_its_cifake_metrics_and_stays_valid(own_images, zoo):
    before = read_entry("bright", zoo).card.to_dict()
    assert main(["bright", "--folder", str(own_images), "--zoo", str(zoo), "--set-name", "phone pictures"]) == 0
    assert main(["bright", "--folder", str(own_images), "--zoo", str(zoo)]) == 0
    after = read_entry("bright", zoo).card.to_dict()  # read_entry validates the card
    assert after["metrics"] == before["metrics"]
    assert sorted(after[OTHER_TEST_SETS]) == ["holiday_photos", "phone pictures"]
    assert [r["test set"] for r in rows_per_test_set(Card.from_dict(after))] == [
        "CIFAKE test", "CIFAKE test, unseen in train", "holiday_photos", "phone pictures"]
    assert leaderboard_columns(Card.from_dict(after))["holiday_photos accuracy"] == 0.8
    assert read_entry("strict", zoo).card.other_test_sets is None  # only the named entry was evaluated


def test_class_folders_match_case_insensitively_and_one_class_is_enough(zoo, tmp_path, capsys):
    root = tmp_path / "fakes_only"
    _write(root / "fake", FAKE_FILES)
    assert main(["bright", "--folder", str(root), "--zoo", str(zoo)]) == 0
    result = other_test_sets(read_entry("bright", zoo).card)["fakes_only"]
    assert result["n"] == 5 and result["n_real"] == 0 and result["roc_auc"] is None
    assert result["accuracy"] == 0.8 and result["skipped"] == 0
    assert "only FAKE images" in capsys.readouterr().out


@pytest.mark.parametrize(("layout", "message"), [
    ("missing", "no such folder"),
    ("no_classes", "no REAL/ or FAKE/ subfolder"),
    ("unreadable", "none of its 2 file(s) under REAL/ and FAKE/ is a readable image"),
])
def test_bad_folders_are_one_line_errors(zoo, tmp_path, capsys, layout, message):
    root = tmp_path / layout
    if layout == "no_classes":
        _write(root / "photos", REAL_FILES[:1])
    elif layout == "unreadable":
        (root / "REAL").mkdir(parents=True)
        (root / "REAL" / "a.jpg").write_bytes(b"")
        (root / "REAL" / "b.png").write_bytes(b"not a png")
    assert main(["bright", "--folder", str(root), "--zoo", str(zoo)]) == 2
    assert message in capsys.readouterr().err
    assert OTHER_TEST_SETS not in read_entry("bright", zoo).card


def test_an_unknown_model_fails_before_any_decoding(own_images, zoo, capsys):
    assert main(["nope", "--folder", str(own_images), "--zoo", str(zoo)]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def test_leaderboards_show_other_test_sets_beside_cifake(own_images, zoo):
    from model_zoo import list_entries
    from model_zoo.leaderboard_table import leaderboard_frame, leaderboard_markdown

    assert main(["all", "--folder", str(own_images), "--zoo", str(zoo)]) == 0
    entries, _ = list_entries(zoo)
    markdown = leaderboard_markdown(entries)
    assert "| model | other test set | accuracy | ROC-AUC | n | skipped | CIFAKE test accuracy | evaluated |" in markdown
    assert "| bright | holiday_photos | 80.00% |" in markdown and "| strict | holiday_photos | 70.00% |" in markdown
    frame = leaderboard_frame(entries).set_index("model")
    assert frame.loc["bright", "holiday_photos accuracy"] == 0.8
    assert frame.loc["strict", "holiday_photos accuracy"] == 0.7
    assert frame.loc["bright", "accuracy"] == 0.95  # the CIFAKE test column is unchanged beside it


def test_malformed_other_sets_are_named_when_the_card_is_read():
    with pytest.raises(CardError, match=r"other_test_sets.bad must be an object, got 3"):
        typed({"metrics": {"test": {"accuracy": 0.9, "n": 10}}, OTHER_TEST_SETS: {"bad": 3}})
    with pytest.raises(CardError, match=r"other_test_sets.partial missing 'n'"):
        Card.from_dict({**typed().to_dict(), OTHER_TEST_SETS: {"partial": {
            "accuracy": 1, "precision": 1, "recall": 1, "f1": 1, "roc_auc": 1, "confusion_matrix": [[1, 0], [0, 1]]}}})
    card = typed({"metrics": {"test": {"accuracy": 0.9, "n": 10}}})
    assert other_test_sets(card) == {} and [r["test set"] for r in rows_per_test_set(card)] == ["CIFAKE test"]
    assert json.dumps(rows_per_test_set(card))
