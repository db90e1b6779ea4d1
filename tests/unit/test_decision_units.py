"""model_zoo.decision rule by rule, on hand-made numbers (no model, no TensorFlow: fast enough for mutation testing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from model_zoo.card import CardError
from model_zoo.decision import (
    BAND_TARGET_PRECISION,
    UNCERTAIN,
    _logit,
    _side_cut,
    apply_temperature,
    band_summary,
    decide,
    expected_calibration_error,
    fit_band,
    fit_decision,
    fit_temperature,
    fit_threshold,
    label_name,
    labels_for,
    temperature,
    threshold,
    uncertain_band,
)
from model_zoo.ranking import best_entry, comparable_group, evaluated_best_first, rank_key
from model_zoo.zoo import ZooEntry
from tests.cards import typed


def test_card_defaults_and_values():
    assert temperature(typed()) == 1.0 and temperature(typed(decision={})) == 1.0 and threshold(typed(decision={})) == 0.5
    card = typed({"decision": {"temperature": 2.5, "threshold": 0.7}})
    assert temperature(card) == 2.5 and threshold(card) == 0.7
    with pytest.raises(CardError, match="decision.threshold must be a number between 0 and 1, got '0.7'"):
        typed({"decision": {"threshold": "0.7"}})  # stored as text by hand: named, never guessed


def test_logit_is_clipped_and_exact():
    assert _logit(np.array([0.5]))[0] == 0.0
    assert _logit(np.array([0.75]))[0] == pytest.approx(np.log(3))
    ends = _logit(np.array([0.0, 1.0]))
    assert np.isfinite(ends).all() and ends[0] == pytest.approx(-np.log(1 / 1e-7 - 1)) and ends[1] == pytest.approx(-ends[0])
    # float32 scores are clipped in float64: 1 - 1e-7 does not exist in float32.
    assert _logit(np.array([1.0], np.float32))[0] == pytest.approx(np.log((1 - 1e-7) / 1e-7))


def test_calibrate_values():
    raw = np.array([0.2, 0.5, 0.9])
    same = apply_temperature(raw, 1.0)
    assert same.dtype == np.float32 and np.array_equal(same, raw.astype(np.float32))
    halved = apply_temperature(raw, 2.0)
    assert halved.dtype == np.float32
    np.testing.assert_allclose(halved, 1 / (1 + np.exp(-np.log(raw / (1 - raw)) / 2)), rtol=1e-6)
    np.testing.assert_allclose(apply_temperature(raw, 0.5), 1 / (1 + np.exp(-2 * np.log(raw / (1 - raw)))), rtol=1e-6)


def test_labels_at_a_threshold_count_the_threshold_as_fake():
    probs = np.array([0.1, 0.6, 0.7, 0.9])
    assert list(labels_for(probs, 0.7)) == [0, 0, 1, 1]
    assert list(labels_for(probs, typed({"decision": {"threshold": 0.6}}))) == [0, 1, 1, 1]
    assert list(labels_for(probs, typed())) == [0, 1, 1, 1]
    assert labels_for(probs, 0.7).dtype.kind == "i"
    assert label_name(0.7, 0.7) == "FAKE" and label_name(0.69, 0.7) == "REAL"


def _nll_minimiser(labels: np.ndarray, scores: np.ndarray) -> float:
    logits = _logit(scores)

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        return float(np.mean(np.logaddexp(0, z) - labels * z))

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.01), np.log(50)), method="bounded",
                                        options={"xatol": 1e-10}).x))


@pytest.mark.parametrize("true_t", [0.3, 1.0, 4.0])
def test_fit_temperature_finds_the_likelihood_minimum(true_t):
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(float)
    scores = 1 / (1 + np.exp(-z * true_t))
    assert fit_temperature(labels, scores) == pytest.approx(_nll_minimiser(labels, scores), rel=1e-4)


def test_fit_threshold_picks_peak_accuracy_and_breaks_ties_towards_one_half():
    labels = np.array([0, 0, 1, 1])
    # Every threshold in (0.3, 0.7] is perfect: the tie goes to 0.5.
    assert fit_threshold(labels, np.array([0.2, 0.3, 0.7, 0.8])) == 0.5
    # Perfect in (0.6, 0.8]: the candidate nearest 0.5 is 0.605.
    assert fit_threshold(labels, np.array([0.55, 0.6, 0.8, 0.9])) == 0.605
    # Perfect in (0.1, 0.2]: nearest 0.5 is 0.2 itself (FAKE at the threshold).
    assert fit_threshold(labels, np.array([0.05, 0.1, 0.2, 0.3])) == 0.2
    # Candidates run from 0.05 to 0.95 in steps of 0.005: both ends are candidates.
    assert fit_threshold(labels, np.array([0.9, 0.945, 0.955, 0.99])) == 0.95
    assert fit_threshold(labels, np.array([0.01, 0.045, 0.05, 0.2])) == 0.05
    assert fit_threshold(labels, np.array([0.01, 0.02, 0.03, 0.04])) == 0.5  # all below every candidate: all tie
    assert fit_threshold(labels, np.array([0.96, 0.97, 0.98, 0.99])) == 0.5  # never a threshold above 0.95
    assert isinstance(fit_threshold(labels, np.array([0.2, 0.3, 0.7, 0.8])), float)


def test_expected_calibration_error_by_hand():
    labels = np.array([0, 1, 1, 1, 0])
    probs = np.array([0.1, 0.1, 0.9, 0.9, 0.5])
    # bins (15): [0.1, 0.1] gap |0.1 - 0.5| weight 2/5; [0.9, 0.9] gap |0.9 - 1| weight 2/5; [0.5] gap 0.5 weight 1/5
    assert expected_calibration_error(labels, probs) == pytest.approx(0.4 * 0.4 + 0.4 * 0.1 + 0.2 * 0.5)
    # Two bins: 0.5 falls in the upper one with 0.9: gaps |0.1 - 0.5| (weight 2/5) and |2.3/3 - 2/3| (weight 3/5).
    assert expected_calibration_error(labels, probs, bins=2) == pytest.approx(0.4 * 0.4 + 0.6 * 0.1)
    # 15 bins by default: 0.40 and 0.45 share a bin (width 1/15), so their gaps average out.
    assert expected_calibration_error(np.array([0, 1]), np.array([0.40, 0.45])) == pytest.approx(0.075)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.40, 0.45]), bins=16) == pytest.approx(0.475)
    # Edges: a score of exactly 1 falls in the last bin, 0 in the first.
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0
    assert expected_calibration_error(np.array([0, 1]), np.array([1.0, 0.0]), bins=1) == pytest.approx(0.0)
    assert isinstance(expected_calibration_error(labels, probs), float)


def test_fit_decision_block():
    rng = np.random.default_rng(5)
    labels = np.array([0] * 50 + [1] * 50)
    scores = np.concatenate([rng.uniform(0.01, 0.45, 50), rng.uniform(0.55, 0.99, 50)])
    block = fit_decision(labels, scores)
    assert set(block) == {"temperature", "threshold", "fitted_on", "ece_before", "ece_after"}
    temp = fit_temperature(labels, scores)
    assert block["temperature"] == round(temp, 4) and block["fitted_on"] == "validation"
    assert block["threshold"] == fit_threshold(labels, apply_temperature(scores, temp))
    assert block["ece_before"] == round(expected_calibration_error(labels, scores), 5)
    assert block["ece_after"] == round(expected_calibration_error(labels, apply_temperature(scores, temp)), 5)
    assert block["temperature"] < 0.5  # perfectly separated: sharper is likelier


# --- the uncertain band ---------------------------------------------------------------------------------

def test_uncertain_band_from_the_card():
    assert uncertain_band(typed({"decision": {"threshold": 0.7}})) == (0.7, 0.7)
    assert uncertain_band(typed({})) == (0.5, 0.5)
    low, high = uncertain_band(typed({"decision": {"uncertain_band": [0.2, 0.8]}}))
    assert (low, high) == (0.2, 0.8) and isinstance(low, float)


def test_decide_inside_outside_and_on_the_band_edges():
    card = typed({"decision": {"threshold": 0.5, "uncertain_band": [0.3, 0.8]}})
    assert [decide(p, card) for p in (0.1, 0.3, 0.5, 0.79, 0.8, 0.95)] == [
        "REAL", UNCERTAIN, UNCERTAIN, UNCERTAIN, "FAKE", "FAKE"]
    assert decide(0.6, card, override=0.55) == "FAKE" and decide(0.5, card, override=0.55) == "REAL"
    assert decide(0.3, card, override=0.3) == "FAKE"
    # high == 1: validation never supported a FAKE verdict, not even at P(FAKE) = 1.
    never_fake = typed({"decision": {"threshold": 0.5, "uncertain_band": [0.3, 1.0]}})
    assert decide(1.0, never_fake) == UNCERTAIN and decide(0.2, never_fake) == "REAL"
    # No band: REAL/FAKE at the threshold.
    assert decide(0.5, typed({"decision": {"threshold": 0.5}})) == "FAKE" and decide(0.49, typed()) == "REAL"


def test_side_cut_counts_precision_minimum_size_and_ties():
    target = 0.99
    assert _side_cut(np.array([]), np.array([], bool), target) == 0
    scores = np.linspace(1.0, 0.5, 200)
    correct = np.ones(200, bool)
    assert _side_cut(scores, correct, target) == 200
    assert _side_cut(scores[:99], correct[:99], target) == 0  # 99 < 100 images cannot show 99%
    assert _side_cut(scores[:100], correct[:100], target) == 100
    one_wrong = correct[:100].copy()
    one_wrong[-1] = False
    assert _side_cut(scores[:100], one_wrong, target) == 100  # 99/100 is exactly the target: enough
    wrong_at = correct.copy()
    wrong_at[150:] = False  # precision >= 0.99 holds up to 151 images (150/151 = 0.9934), not 152 (0.9868)
    assert _side_cut(scores, wrong_at, target) == 151
    tied = scores.copy()
    tied[149:153] = tied[149]  # images 150..153 share one score: the cut may not split them
    assert _side_cut(tied, wrong_at, target) == 149
    assert _side_cut(scores, wrong_at, 0.5) == 200  # 150/200 right is 75%


def test_fit_band_on_a_clean_and_a_noisy_side():
    rng = np.random.default_rng(0)
    # 300 REAL-looking scores all right; FAKE side: the top 200 right, then 100 where half are wrong.
    real_scores = np.sort(rng.uniform(0.0, 0.45, 300))
    fake_scores = np.sort(rng.uniform(0.5, 1.0, 300))[::-1]
    labels = np.concatenate([np.zeros(300, int), np.ones(200, int), np.arange(100) % 2])
    probs = np.concatenate([real_scores, fake_scores])
    block = fit_band(labels, probs, decide_at=0.5)
    low, high = block["uncertain_band"]
    assert low == 0.5  # the REAL side is already precise at the threshold: no band below it
    # Precision stays >= 99% through 204 images (202 right: 0.9902), not 205 (0.9854): cut between 204 and 205.
    assert high == round((fake_scores[203] + fake_scores[204]) / 2, 6)
    assert block["band_target_precision"] == BAND_TARGET_PRECISION
    assert block["band_validation"] == band_summary(labels, probs, (low, high))
    called_fake = probs >= high
    assert labels[called_fake].mean() >= 0.99 and called_fake.sum() >= 200


def test_fit_band_without_a_precise_side_leaves_that_verdict_unused():
    labels = np.array([0, 1] * 150)
    probs = np.linspace(0.01, 0.99, 300)  # labels alternate: no side reaches 99%
    block = fit_band(labels, probs, decide_at=0.5)
    assert block["uncertain_band"] == [0.0, 1.0]
    assert decide(0.99, typed({"decision": {"threshold": 0.5, "uncertain_band": block["uncertain_band"]}})) == UNCERTAIN


def test_fit_band_cuts_halfway_between_scores():
    labels = np.array([1] * 100 + [0] * 100)
    probs = np.concatenate([np.linspace(0.99, 0.9, 100), np.linspace(0.7, 0.6, 100)])  # 0.6..0.7 are REAL but called FAKE
    block = fit_band(labels, probs, decide_at=0.5)
    low, high = block["uncertain_band"]
    # 100 right then one wrong is still 100/101 >= 99%: the cut falls after the first REAL image.
    assert high == round((probs[100] + probs[101]) / 2, 6)
    assert low == 0.5  # nothing is called REAL: no band below the threshold


def test_fit_band_counts_a_score_at_the_threshold_as_fake():
    # 100 REAL right below; 2 FAKE exactly at the threshold and 98 above, all right: both sides already precise.
    labels = np.array([0] * 100 + [1] * 100)
    probs = np.concatenate([np.linspace(0.05, 0.4, 100), [0.5, 0.5], np.linspace(0.6, 0.99, 98)])
    assert fit_band(labels, probs, decide_at=0.5)["uncertain_band"] == [0.5, 0.5]


def test_fit_band_reads_the_real_side_from_its_most_real_looking_image():
    # 100 REAL right, then 2 FAKE at 0.45 (called REAL, wrong) next to the threshold; 100 FAKE right above.
    labels = np.array([0] * 100 + [1] * 2 + [1] * 100)
    probs = np.concatenate([np.linspace(0.05, 0.4, 100), [0.4512345, 0.4512345], np.linspace(0.6, 0.99, 100)])
    low, high = fit_band(labels, probs, decide_at=0.5)["uncertain_band"]
    assert low == round((0.4 + 0.4512345) / 2, 6) == 0.425617 and high == 0.5


def test_band_summary_values():
    labels = np.array([0, 0, 1, 1, 1, 0])
    probs = np.array([0.1, 0.4, 0.5, 0.9, 0.95, 0.92])
    summary = band_summary(labels, probs, (0.3, 0.9))
    # decided: 0.1 (REAL, right), 0.9/0.95/0.92 (FAKE: right, right, wrong)
    assert summary == {"n": 6, "coverage": round(4 / 6, 5), "accuracy_decided": 0.75, "fake_precision": round(2 / 3, 5),
                       "real_precision": 1.0}
    never = band_summary(labels, probs, (0.05, 1.0))
    assert never["fake_precision"] is None and never["real_precision"] is None and never["accuracy_decided"] is None
    assert never["coverage"] == 0.0
    assert band_summary(np.array([]), np.array([]), (0.3, 0.9))["coverage"] is None
    thirds = band_summary(np.array([0, 0, 1]), np.array([0.1, 0.95, 0.96]), (0.3, 0.9))
    assert thirds["accuracy_decided"] == 0.66667 and thirds["fake_precision"] == 0.5
    # On the edges: exactly `low` is UNCERTAIN, and with high == 1 not even P(FAKE) = 1 is called FAKE.
    edges = band_summary(np.array([0, 1, 1]), np.array([0.3, 1.0, 0.5]), (0.3, 1.0))
    assert edges["coverage"] == 0.0 and edges["fake_precision"] is None and edges["real_precision"] is None


# --- ranking ---------------------------------------------------------------------------------------------

def _entry(name: str, accuracy=None, roc_auc=None, params: int = 100) -> ZooEntry:
    metrics = {} if accuracy is None else {"test": {"accuracy": accuracy, "roc_auc": roc_auc}}
    return ZooEntry(name=name, path=Path(name), card=typed({"params": params, "metrics": metrics}))


def test_ranking_by_accuracy_then_auc_then_size_then_name():
    entries = [_entry("d", 0.9, 0.95, 10), _entry("c", 0.9, 0.95, 5), _entry("b", 0.9, 0.97, 500),
               _entry("a", 0.95, 0.9, 1000), _entry("e", 0.9, 0.95, 5), _entry("unevaluated")]
    assert [e.name for e in evaluated_best_first(entries)] == ["a", "b", "c", "e", "d"]
    assert best_entry(entries).name == "a"
    assert best_entry([_entry("x")]) is None and evaluated_best_first([]) == []
    assert rank_key(_entry("z", 0.8, None, 7)) == (0, "", -0.8, -0.0, 7, "z")
    assert rank_key(ZooEntry("n", Path("n"), typed(params=0, metrics={"test": {"accuracy": 0.0}}))) == (0, "", -0.0, -0.0, 0, "n")


def test_accuracies_on_different_test_sets_are_never_compared():
    def folder_model(name: str, accuracy: float, folder: str) -> ZooEntry:
        card = typed({"params": 1, "metrics": {"test": {"accuracy": accuracy, "roc_auc": 1.0}},
                "train": {"dataset": f"/photos/{folder}", "split": {"seed": 0}}})
        return ZooEntry(name=name, path=Path(name), card=card)

    entries = [folder_model("mine", 1.0, "sdxl"), _entry("cifake_b", 0.97, 0.99), folder_model("other", 0.99, "flux"),
               _entry("cifake_a", 0.98, 0.99), folder_model("mine_2", 0.95, "sdxl")]
    # CIFAKE's models first (the shared benchmark), then each folder's own, best first within each
    assert [e.name for e in evaluated_best_first(entries)] == ["cifake_a", "cifake_b", "other", "mine", "mine_2"]
    assert best_entry(entries).name == "cifake_a"  # not "mine", perfect on a few hundred images of its own folder
    assert best_entry([e for e in entries if e.name.startswith("mine")]).name == "mine"  # a zoo of one folder's
    # A 32x32 set in CIFAKE's layout is read like CIFAKE (no split in its card), but it is not CIFAKE's test set.
    lookalike = ZooEntry("sd3", Path("sd3"), typed(metrics={"test": {"accuracy": 0.999}}, train={"dataset": "/d/sd3_32"}))
    assert comparable_group(lookalike.card) == (1, "sd3_32") and best_entry([*entries, lookalike]).name == "cifake_a"
    cifake = typed({"train": {"dataset": "../shared/cifake/cifake.zip"}})
    assert comparable_group(cifake) == comparable_group(typed()) == (0, "")
