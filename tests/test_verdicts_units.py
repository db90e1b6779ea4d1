"""model_zoo.verdicts: the one record shape of a verdict, field by field (no model, no TensorFlow)."""

from __future__ import annotations

import hashlib
import os

import pytest

from model_zoo.verdicts import hf_predictions, is_calibrated, model_version, verdict_record
from model_zoo.zoo import ZooEntry


def test_hf_predictions_are_both_labels_highest_first_rounded():
    assert hf_predictions(0.8) == [{"label": "FAKE", "score": 0.8}, {"label": "REAL", "score": pytest.approx(0.2)}]
    assert hf_predictions(0.1234567) == [{"label": "REAL", "score": 0.876543}, {"label": "FAKE", "score": 0.123457}]
    tie = hf_predictions(0.5)
    assert [p["label"] for p in tie] == ["FAKE", "REAL"]  # a stable sort keeps FAKE first on a tie
    assert all(type(p["score"]) is float for p in hf_predictions(0.3))


def test_calibrated_means_a_validation_fitted_temperature():
    assert is_calibrated({"decision": {"fitted_on": "validation", "temperature": 1.3}})
    assert not is_calibrated({"decision": {"fitted_on": "validation"}})
    assert not is_calibrated({"decision": {"fitted_on": "test", "temperature": 1.3}})
    assert not is_calibrated({"decision": None}) and not is_calibrated({})


def test_model_version_names_the_card_time_and_the_weights_hash(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"weights v1")
    entry = ZooEntry("m", folder, {"created": "2026-01-02T03:04:05+0000"})
    digest = hashlib.sha256(b"weights v1").hexdigest()[:12]
    assert model_version(entry) == f"2026-01-02T03:04:05+0000@{digest}"
    assert model_version(ZooEntry("m", folder, {})) == f"unknown@{digest}"
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
    assert model_version(ZooEntry("m", tmp_path, {"created": "c"})) == f"c@{hashlib.sha256(data).hexdigest()[:12]}"


def test_record_fields_for_a_card():
    card = {"decision": {"threshold": 0.6, "temperature": 1.2, "fitted_on": "validation", "uncertain_band": [0.3, 0.9]}}
    record = verdict_record("cnn", 0.7, card)
    assert record == {"model": "cnn", "label": "FAKE", "prob_fake": 0.7, "threshold": 0.6,
                      "predictions": hf_predictions(0.7), "decision": "UNCERTAIN", "uncertain_band": [0.3, 0.9],
                      "calibrated": True}
    assert verdict_record("cnn", 0.5999999, card)["label"] == "REAL"
    assert verdict_record("cnn", 0.95, card)["decision"] == "FAKE"
    assert verdict_record("cnn", 0.12345678, card)["prob_fake"] == 0.123457


def test_record_for_a_bare_threshold_has_no_band_and_unknown_calibration():
    record = verdict_record("m", 0.3, 0.25)
    assert record["label"] == "FAKE" and record["threshold"] == 0.25 and record["decision"] == "FAKE"
    assert record["uncertain_band"] == [0.25, 0.25] and record["calibrated"] is None
    assert verdict_record("m", 0.3, {})["calibrated"] is False  # a card without a decision block: raw scores


class _Check:
    def as_dict(self) -> dict:
        return {"novelty": 3.5, "novelty_cutoff": 2.0, "in_distribution": False, "size": [640, 480]}


def test_record_with_an_input_check_carries_its_findings():
    record = verdict_record("m", 0.3, 0.5, check=_Check())
    plain = verdict_record("m", 0.3, 0.5)
    assert {key: record[key] for key in plain} == plain  # the check adds to the record, never replaces it
    assert record["novelty"] == 3.5 and record["novelty_cutoff"] == 2.0 and record["in_distribution"] is False
    assert record["input_check"] == _Check().as_dict()
    assert "novelty" not in verdict_record("m", 0.3, 0.5)


def test_record_keys_without_a_check():
    assert set(verdict_record("m", 0.3, 0.5)) == {"model", "label", "prob_fake", "threshold", "predictions", "decision",
                                                  "uncertain_band", "calibrated"}
