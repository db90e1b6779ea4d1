"""The decision rule: temperature scaling, the validation-fitted threshold, calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from model_zoo.decision import (
    apply_temperature,
    expected_calibration_error,
    fit_decision,
    fit_temperature,
    fit_threshold,
    label_name,
    labels_for,
    threshold,
)
from tests.cards import typed


def _overconfident_scores(n: int = 20_000, true_temperature: float = 3.0, seed: int = 0):
    """Labels drawn from sigmoid(z), scores reported as sigmoid(z * T): T times too confident."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.5, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return labels, 1 / (1 + np.exp(-z * true_temperature))


def test_temperature_recovers_how_overconfident_the_scores_are():
    labels, scores = _overconfident_scores()
    assert fit_temperature(labels, scores) == pytest.approx(3.0, rel=0.08)


def test_calibration_lowers_the_calibration_error():
    labels, scores = _overconfident_scores()
    decision = fit_decision(labels, scores)
    assert decision["ece_before"] > 0.05
    assert decision["ece_after"] < decision["ece_before"] / 3
    assert decision["fitted_on"] == "validation"


def test_temperature_scaling_keeps_the_ranking_and_the_midpoint():
    scores = np.array([0.01, 0.3, 0.5, 0.7, 0.999])
    calibrated = apply_temperature(scores, 2.0)
    assert list(np.argsort(calibrated)) == list(np.argsort(scores))
    assert calibrated[2] == pytest.approx(0.5)
    assert calibrated[0] > scores[0] and calibrated[-1] < scores[-1]  # T > 1 softens both tails


def test_threshold_is_where_held_out_accuracy_peaks():
    # FAKE scores sit around 0.75, REAL around 0.55: 0.5 calls every REAL image FAKE.
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 500)
    scores = np.where(labels == 1, rng.uniform(0.7, 0.8, 1000), rng.uniform(0.5, 0.6, 1000))
    t = fit_threshold(labels, scores)
    assert 0.6 <= t <= 0.7
    assert np.mean(labels_for(scores, t) == labels) == 1.0


def test_the_card_threshold_decides_and_old_cards_default_to_one_half():
    card = typed(decision={"temperature": 1.0, "threshold": 0.8})
    assert label_name(0.7, card) == "REAL" and label_name(0.8, card) == "FAKE"
    assert threshold(typed()) == 0.5 and label_name(0.5, typed()) == "FAKE"


def test_expected_calibration_error_of_perfect_and_useless_scores():
    labels = np.repeat([0, 1], 100)
    assert expected_calibration_error(labels, labels.astype(float)) == 0.0
    assert expected_calibration_error(labels, 1.0 - labels) == pytest.approx(1.0)
