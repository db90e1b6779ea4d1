"""model_zoo.verdicts: the one Verdict type and its record shape, field by field (no model, no TensorFlow)."""

from __future__ import annotations

import hashlib
import os

import pytest

from model_zoo.input_check import check_input
from model_zoo.verdicts import hf_predictions, is_calibrated, model_version, verdict_for
from model_zoo.zoo import ZooEntry
from tests.cards import typed


def test_hf_predictions_are_both_labels_highest_first_rounded():
    assert hf_predictions(0.8) == [{"label": "FAKE", "score": 0.8}, {"label": "REAL", "score": pytest.approx(0.2)}]
    assert hf_predictions(0.1234567) == [{"label": "REAL", "score": 0.876543}, {"label": "FAKE", "score": 0.123457}]
    tie = hf_predictions(0.5)
    assert [p["label"] for p in tie] == ["FAKE", "REAL"]  # a stable sort keeps FAKE first on a tie
    assert all(type(p["score"]) is float for p in hf_predictions(0.3))


def test_calibrated_means_a_validation_fitted_temperature():
    assert is_calibrated(typed({"decision": {"fitted_on": "validation", "temperature": 1.3}}))
    assert not is_calibrated(typed({"decision": {"fitted_on": "validation"}}))
    assert not is_calibrated(typed({"decision": {"fitted_on": "test", "temperature": 1.3}}))
    assert not is_calibrated(typed(decision=None)) and not is_calibrated(typed())


def test_model_version_names_the_card_time_and_the_weights_hash(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"weights v1")
    entry = ZooEntry("m", folder, typed(created="2026-01-02T03:04:05+0000"))
    digest = hashlib.sha256(b"weights v1").hexdigest()[:12]
    assert model_version(entry) == f"2026-01-02T03:04:05+0000@{digest}"
    assert model_version(ZooEntry("m", folder, typed())) == f"unknown@{digest}"
    # Replaced weights get a new version, even though the card is the same: a new size at the same time...
    os.utime(folder / "model.keras", ns=(5, 5))
    model_version(entry)
    (folder / "model.keras").write_bytes(b"weights version 2")
    os.utime(folder / "model.keras", ns=(5, 5))
    assert model_version(entry).endswith(hashlib.sha256(b"weights version 2").hexdigest()[:12])
    # ... or the same size at a new time.
    (folder / "model.keras").write_bytes(b"weights version 3")
    os.utime(folder / "model.keras", ns=(6, 6))
    assert model_version(entry).endswith(hashlib.sha256(b"weights version 3").hexdigest()[:12])


def test_model_version_hashes_big_files_whole(tmp_path):
    data = os.urandom(3 * (1 << 20) + 5)  # more than one read block
    (tmp_path / "model.keras").write_bytes(data)
    assert model_version(ZooEntry("m", tmp_path, typed(created="c"))) == f"c@{hashlib.sha256(data).hexdigest()[:12]}"


def test_record_fields_for_a_card():
    card = typed(decision={"threshold": 0.6, "temperature": 1.2, "fitted_on": "validation", "uncertain_band": [0.3, 0.9]})
    verdict = verdict_for("cnn", 0.7, card)
    assert verdict.as_dict() == {"model": "cnn", "label": "FAKE", "prob_fake": 0.7, "threshold": 0.6,
                                 "predictions": hf_predictions(0.7), "decision": "UNCERTAIN",
                                 "uncertain_band": [0.3, 0.9], "calibrated": True}
    assert verdict.label == "FAKE" and verdict.in_distribution is None
    assert verdict_for("cnn", 0.5999999, card).label == "REAL"
    assert verdict_for("cnn", 0.95, card).decision == "FAKE"
    assert verdict_for("cnn", 0.12345678, card).as_dict()["prob_fake"] == 0.123457
    assert verdict_for("m", 0.3, typed()).as_dict()["calibrated"] is False  # a card without a decision block: raw scores


def test_an_override_decides_every_model_at_one_threshold_without_a_band():
    card = typed(decision={"threshold": 0.6, "uncertain_band": [0.3, 0.9]})
    verdict = verdict_for("m", 0.5, card, override=0.45)
    assert (verdict.threshold, verdict.label, verdict.decision, verdict.uncertain_band) == (0.45, "FAKE", "FAKE",
                                                                                            (0.45, 0.45))
    assert verdict_for("m", 0.5, card).decision == "UNCERTAIN"  # the card's own band, without the override


def test_a_verdict_with_an_input_check_carries_its_findings():
    card = typed({"input_shape": [32, 32, 3], "decision": {"threshold": 0.5}, "novelty": {"cutoff": 2.0}})
    check = check_input((640, 480), card, 3.5)
    record = verdict_for("m", 0.3, card, check).as_dict()
    plain = verdict_for("m", 0.3, card).as_dict()
    assert {key: record[key] for key in plain} == plain  # the check adds to the record, never replaces it
    assert record["novelty"] == 3.5 and record["novelty_cutoff"] == 2.0 and record["in_distribution"] is False
    assert record["input_check"] == check.as_dict() and "shrunk 20x" in record["input_check"]["messages"][0]
    assert "novelty" not in plain and verdict_for("m", 0.3, card, check).in_distribution is False


def test_version_and_time_are_in_the_record_only_when_known():
    assert set(verdict_for("m", 0.3, typed()).as_dict()) == {"model", "label", "prob_fake", "threshold", "predictions",
                                                        "decision", "uncertain_band", "calibrated"}
    record = verdict_for("m", 0.3, typed(), version="c@abc", inference_time_ms=1.23456).as_dict()
    assert record["model_version"] == "c@abc" and record["inference_time_ms"] == 1.23
