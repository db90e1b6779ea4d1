"""The zoo's consensus (model_zoo.consensus), model choice (model_zoo.selection) and max-FPR operating points
(model_zoo.operating_point), on tiny zoos with known answers (tests/tiny_zoo.py, tests/zoo_builders.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_zoo.zoo import PREDICTIONS_FILE, VALIDATION_PREDICTIONS_FILE
from tests.cards import typed
from tests.tiny_zoo import brightness_entry, flat_image_bytes
from tests.zoo_builders import constant_entry


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _write_predictions(folder, paths, labels, probs, file):
    pd.DataFrame({"path": paths, "label": labels, "prob_fake": probs}).to_csv(folder / file, index=False)


def _member_predictions(n: int, seed: int, spread: float = 1.5):
    """Labels and two members' calibrated P(FAKE): A's logit is +-4 plus noise, B's is A's plus N(0, spread)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    a = np.where(labels == 1, 4.0, -4.0) + rng.normal(0, 2.0, n)
    b = a + rng.normal(0, spread, n)
    return labels, _sigmoid(a), _sigmoid(b)


@pytest.fixture()
def consensus_zoo(tmp_path):
    """bright (P(FAKE) from brightness) and always_fake (P = 0.99) with hand-written validation and test predictions
    that mostly agree; then the consensus fitted on them."""
    from model_zoo.consensus import write_consensus

    zoo = tmp_path / "zoo"
    bright = brightness_entry(zoo, "bright")
    constant_entry(zoo, "always_fake", bright, 0.99, 0.5)
    for split, file, seed in (("validation", VALIDATION_PREDICTIONS_FILE, 0), ("test", PREDICTIONS_FILE, 1)):
        labels, a, b = _member_predictions(2000, seed)
        paths = [f"{split}/{'FAKE' if y else 'REAL'}/{i}.jpg" for i, y in enumerate(labels)]
        _write_predictions(zoo / "bright", paths, labels, a, file)
        _write_predictions(zoo / "always_fake", paths, labels, b, file)
    write_consensus(zoo, created="2026-01-02T03:04:05+0000")
    return zoo


# ---- fitting on validation ------------------------------------------------------------------------------------

def test_the_mean_is_kept_when_stacking_does_not_clearly_win():
    from model_zoo.consensus import choose_combiner, cross_validated_scores

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 2000)
    signal = np.where(labels == 1, 1.5, -1.5)  # two equally good members with independent errors: the mean is optimal
    probs = np.stack([_sigmoid(signal + rng.normal(0, 2, len(labels))) for _ in range(2)], axis=1)
    scores = cross_validated_scores(labels, probs)
    assert set(scores) == {"mean", "stacking"}
    assert choose_combiner(scores)[0] == "mean"


def test_stacking_wins_when_one_member_is_inverted():
    from model_zoo.consensus import choose_combiner, cross_validated_scores, fit_combiner

    labels, a, _ = _member_predictions(4000, 0)
    inverted = 1 - a  # the mean of a and its inverse is uninformative; stacking learns the sign
    noisy = _sigmoid(np.where(labels == 1, 1.0, -1.0) + np.random.default_rng(3).normal(0, 2, len(labels)))
    probs = np.stack([noisy, inverted], axis=1)
    scores = cross_validated_scores(labels, probs)
    kind, why = choose_combiner(scores)
    assert kind == "stacking" and "stacking" in why
    assert scores["stacking"]["accuracy"] > scores["mean"]["accuracy"] + 0.05
    combiner = fit_combiner(kind, labels, probs, ["noisy", "inverted"])
    assert combiner.weights[1] < 0 < combiner.weights[0]


def test_consensus_entry_is_fitted_on_validation_and_measured_on_test(consensus_zoo):
    from model_zoo import list_entries
    from model_zoo.consensus import aligned_predictions, consensus_prob_fake
    from model_zoo.metrics import binary_metrics

    entries, problems = list_entries(consensus_zoo)
    assert not problems
    entry = next(e for e in entries if e.name == "zoo_consensus")
    typed_card = entry.card
    card = typed_card.to_dict()  # the card as written
    assert not (entry.path / "model.keras").exists()
    assert card["consensus"]["members"] == ["always_fake", "bright"]
    assert set(card["consensus"]["choice"]["scores"]) == {"mean", "stacking"}
    assert card["decision"]["fitted_on"] == "validation"
    members = [e for e in entries if e.name in card["consensus"]["members"]]
    members.sort(key=lambda e: card["consensus"]["members"].index(e.name))
    _, labels, probs = aligned_predictions(members, "test")
    expected = binary_metrics(labels, consensus_prob_fake(typed_card, probs), card["decision"]["threshold"])
    assert card["metrics"]["test"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert card["metrics"]["test"]["n"] == 2000
    # The disagreement cut-off is the validation 99th percentile: 1% of validation images are above it.
    assert card["consensus"]["disagreement"]["validation_above"] == pytest.approx(0.01, abs=0.002)
    stored = entry.validation_predictions()
    assert len(stored) == 2000 and list(stored.columns) == ["path", "label", "prob_fake"]


def test_members_must_share_one_validation_split(consensus_zoo):
    from model_zoo import ZooError, read_entry
    from model_zoo.consensus import aligned_predictions

    frame = pd.read_csv(consensus_zoo / "bright" / VALIDATION_PREDICTIONS_FILE).iloc[:-5]
    frame.to_csv(consensus_zoo / "bright" / VALIDATION_PREDICTIONS_FILE, index=False)
    with pytest.raises(ZooError, match="different images"):
        aligned_predictions([read_entry("bright", consensus_zoo), read_entry("always_fake", consensus_zoo)])


# ---- verdicts -----------------------------------------------------------------------------------------------

def _consensus(zoo):
    from model_zoo.selection import load_choice

    (loaded,) = load_choice("zoo", zoo)
    return loaded


def test_agreeing_members_give_a_decided_verdict(consensus_zoo):
    from model_zoo.judge import judge

    result = judge(flat_image_bytes(230), [_consensus(consensus_zoo)])  # bright and always_fake both say FAKE
    (verdict,) = result.verdicts
    assert verdict.model == "zoo_consensus"
    assert verdict.decision == "FAKE" and verdict.reason is None
    assert verdict.consensus["spread"] <= verdict.consensus["spread_cutoff"]


def test_disagreement_beyond_validation_makes_it_uncertain(consensus_zoo):
    from model_zoo.consensus import REASON_DISAGREE
    from model_zoo.judge import judge

    (verdict,) = judge(flat_image_bytes(25), [_consensus(consensus_zoo)]).verdicts  # bright: REAL; always_fake: FAKE
    assert verdict.consensus["spread"] > verdict.consensus["spread_cutoff"]
    assert verdict.decision == "UNCERTAIN" and verdict.reason == REASON_DISAGREE
    assert verdict.as_dict()["reason"] == REASON_DISAGREE


def test_an_image_unlike_the_training_data_is_not_guessed(consensus_zoo):
    from model_zoo.consensus import REASON_UNLIKE
    from model_zoo.judge import judge

    (verdict,) = judge(flat_image_bytes(230, size=(64, 48)), [_consensus(consensus_zoo)]).verdicts
    assert verdict.in_distribution is False
    assert verdict.decision == "UNCERTAIN" and verdict.reason == REASON_UNLIKE
    assert 0 <= verdict.prob_fake <= 1  # the score is still shown


@pytest.fixture()
def bright_pair_zoo(tmp_path):
    """Two brightness models (each with a feature map to explain) and their consensus."""
    from model_zoo.consensus import write_consensus

    zoo = tmp_path / "pair"
    for name, threshold in (("bright", 0.5), ("bright_too", 0.45)):
        brightness_entry(zoo, name, threshold=threshold)
        for file, seed in ((VALIDATION_PREDICTIONS_FILE, 0), (PREDICTIONS_FILE, 1)):
            labels, a, _ = _member_predictions(400, seed)
            _write_predictions(zoo / name, [f"x/{i}.jpg" for i in range(len(labels))], labels, a, file)
    write_consensus(zoo)
    return zoo


def test_consensus_heatmap_is_the_mean_of_the_members_maps(bright_pair_zoo):
    from model_zoo.saliency import explanation_map

    consensus = _consensus(bright_pair_zoo)
    seen = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    maps = [explanation_map(m.model, m.card, seen, "Grad-CAM", "FAKE") for m in consensus.model.members]
    combined = explanation_map(consensus.model, consensus.card, seen, "Grad-CAM", "FAKE")
    np.testing.assert_allclose(combined, np.mean(maps, axis=0), atol=1e-6)


# ---- choosing models ---------------------------------------------------------------------------------------

def test_one_home_for_model_choice(consensus_zoo):
    from model_zoo import list_entries
    from model_zoo.selection import choose

    entries, _ = list_entries(consensus_zoo)
    assert [e.name for e in choose("zoo", entries).candidates] == ["zoo_consensus"]
    assert "zoo_consensus" not in [e.name for e in choose("best", entries).candidates]
    assert sorted(e.name for e in choose("all", entries).candidates) == ["always_fake", "bright"]
    assert [e.name for e in choose("bright", entries).candidates] == ["bright"]


def test_zoo_without_a_consensus_falls_back_to_the_best_model_with_a_note(tmp_path):
    from model_zoo.selection import load_choice

    zoo = tmp_path / "zoo"
    brightness_entry(zoo, "bright")
    notes: list[str] = []
    assert [m.name for m in load_choice("zoo", zoo, warn=notes.append)] == ["bright"]
    assert any("no consensus entry" in note for note in notes)


# ---- entry points: the CLI and the API default to the consensus, and agree -------------------------------------

def _cli_records(zoo, image, *extra):
    from training.predict import main

    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        assert main([str(image), "--zoo", str(zoo), "--format", "jsonl", *extra]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_cli_and_api_default_to_the_consensus_and_give_the_same_verdict(consensus_zoo, tmp_path):
    from dashboard.server.api import create_app
    from model_zoo.judge import judge

    data = flat_image_bytes(200)
    image = tmp_path / "grey.png"
    image.write_bytes(data)
    (record,) = _cli_records(consensus_zoo, image)
    assert record["model"] == "zoo_consensus"

    client = create_app(consensus_zoo).test_client()
    body = client.post("/predict", data={"image": (io.BytesIO(data), "grey.png")},
                       content_type="multipart/form-data").get_json()
    assert body["model"] == "zoo_consensus"
    assert sorted(v["model"] for v in body["verdicts"]) == ["always_fake", "bright"]

    (direct,) = judge(data, [_consensus(consensus_zoo)]).verdicts
    for got in (record, body):
        assert got["prob_fake"] == pytest.approx(round(direct.prob_fake, 6))
        assert (got["decision"], got["label"], got.get("reason")) == (direct.decision, direct.label, direct.reason)


# ---- max-FPR operating points -----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["0", "1", "-0.1", "1.5", "abc", "nan", "", "inf"])
def test_bad_max_fpr_values_are_refused(bad):
    from model_zoo.operating_point import MaxFprError, parse_max_fpr

    with pytest.raises(MaxFprError, match="max_fpr must be"):
        parse_max_fpr(bad)


def test_max_fpr_threshold_holds_on_validation_and_approximately_on_a_fresh_sample():
    from model_zoo.operating_point import rates, threshold_for_max_fpr

    def draw(seed, n=20000):
        rng = np.random.default_rng(seed)
        labels = np.repeat([0, 1], n // 2)
        return labels, _sigmoid(np.where(labels == 1, 2.0, -2.0) + rng.normal(0, 1.5, n))

    labels, probs = draw(0)
    for rate in (0.01, 0.05, 0.2):
        cut = threshold_for_max_fpr(labels, probs, rate)
        assert rates(labels, probs, cut)["fpr"] <= rate
        assert rates(labels, probs, cut)["fpr"] > rate - 0.002  # the lowest such threshold, not a needlessly high one
        test_labels, test_probs = draw(1)
        assert rates(test_labels, test_probs, cut)["fpr"] == pytest.approx(rate, abs=max(0.004, rate * 0.25))


def test_max_fpr_threshold_never_splits_ties():
    from model_zoo.operating_point import threshold_for_max_fpr

    labels = np.array([0] * 100 + [1] * 10)
    probs = np.array([0.9] * 5 + [0.1] * 95 + [0.95] * 10)  # 5 REAL tied at 0.9: 5% or nothing
    cut = threshold_for_max_fpr(labels, probs, 0.03)
    assert cut > 0.9 and np.mean(probs[:100] >= cut) == 0


def test_cli_and_api_max_fpr(consensus_zoo, tmp_path):
    from dashboard.server.api import create_app
    from model_zoo import read_entry
    from model_zoo.operating_point import operating_point
    from training.predict import main

    image = tmp_path / "grey.png"
    image.write_bytes(flat_image_bytes(140))
    point = operating_point(read_entry("zoo_consensus", consensus_zoo), 0.01)
    (record,) = _cli_records(consensus_zoo, image, "--max-fpr", "0.01")
    assert record["threshold"] == pytest.approx(point.threshold)
    assert record["label"] == ("FAKE" if record["prob_fake"] >= point.threshold else "REAL")
    with pytest.raises(SystemExit) as stopped:
        main([str(image), "--zoo", str(consensus_zoo), "--max-fpr", "0"])
    assert stopped.value.code == 2

    client = create_app(consensus_zoo).test_client()

    def post(rate):
        return client.post("/predict", data={"image": (io.BytesIO(image.read_bytes()), "grey.png"), "max_fpr": rate},
                           content_type="multipart/form-data")

    for bad in ("0", "1", "abc", "-1"):
        response = post(bad)
        assert response.status_code == 400 and "max_fpr" in response.get_json()["error"]
    body = post("0.01").get_json()
    assert body["threshold"] == pytest.approx(point.threshold)
    assert body["operating_points"]["zoo_consensus"]["expected_test"]["fpr"] is not None


def test_compiled_grad_cam_equals_tf_keras_vis():
    """The compiled Grad-CAM (fast enough for the consensus's eight maps) gives tf-keras-vis' Gradcam maps."""
    import keras
    from tf_keras_vis.gradcam import Gradcam

    from model_zoo import UNIT_RANGE, normalize_for_card
    from model_zoo.saliency import explanation_maps, unit_range

    keras.utils.set_random_seed(3)
    inputs = keras.Input((32, 32, 3))
    hidden = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    hidden = keras.layers.Conv2D(6, 3, name="last_conv")(hidden)
    hidden = keras.layers.Activation("relu")(hidden)  # the named layer is not a Conv: both seek back to last_conv
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(hidden))
    model = keras.Model(inputs, output)
    card = typed(name="random", input_shape=[32, 32, 3], preprocessing=dict(UNIT_RANGE),
                 explain={"gradcam_layer": model.layers[-3].name})
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    targets = ["FAKE", "REAL", "FAKE"]
    ours = explanation_maps(model, card, images, "Grad-CAM", targets)
    for index, target in enumerate(targets):
        def score(out, fake=target == "FAKE"):
            return out[:, 0] if fake else 1.0 - out[:, 0]

        reference = Gradcam(model, clone=False)(score, normalize_for_card(images[index : index + 1], card),
                                                penultimate_layer=card.explain.gradcam_layer)
        np.testing.assert_allclose(ours[index], unit_range(np.asarray(reference))[0], atol=1e-5)


def test_inspect_page_puts_the_consensus_on_top(bright_pair_zoo, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from model_zoo.judge import judge

    monkeypatch.setenv("MODEL_ZOO_DIR", str(bright_pair_zoo))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard/pages/inspect_image_page.py"),
                          default_timeout=120).run()
    data = flat_image_bytes(200)
    at.file_uploader(key="inspect_uploads").upload("grey.png", data, "image/png")
    at.run()
    assert not at.exception
    (direct,) = judge(data, [_consensus(bright_pair_zoo)]).verdicts
    assert any(f"The zoo's answer: {direct.decision}" in m.value for m in at.markdown)
    assert sorted(at.dataframe[0].value["model"]) == ["bright", "bright_too"]  # the members, below it
    assert any("zoo_consensus" in c for image in at.image for c in image.captions)  # its heatmap is shown first
    at.toggle(key="inspect_max_fpr_on").set_value(True).run()
    assert not at.exception
    assert any("at most 1.00% false positives" in c.value for c in at.caption)


def test_concurrent_uploads_share_a_batch_and_get_their_own_verdicts(bright_pair_zoo, monkeypatch):
    """model_zoo.judge.judge batches concurrent callers; each still gets exactly the verdict it gets alone."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import model_zoo.judge as judge_module
    from model_zoo.selection import with_members

    models = with_members([_consensus(bright_pair_zoo)])
    images = [flat_image_bytes(value) for value in (20, 90, 128, 170, 240, 60, 200, 110)]
    alone = [judge_module.judge(data, models, name=f"{i}.png") for i, data in enumerate(images)]

    sizes, real = [], judge_module.judge_decoded
    gate = threading.Barrier(len(images))

    def spy(decoded, *args, **kwargs):
        sizes.append(len(decoded.names))
        return real(decoded, *args, **kwargs)

    def call(i):
        gate.wait()  # all arrive together
        return judge_module.judge(images[i], models, name=f"{i}.png")

    monkeypatch.setattr(judge_module, "judge_decoded", spy)
    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(call, range(len(images))))
    assert sum(sizes) == len(images) and max(sizes) > 1  # some were judged in one batch
    for one, other in zip(alone, together, strict=True):
        assert one.name == other.name
        assert [(v.model, v.prob_fake, v.decision) for v in one.verdicts] == \
               [(v.model, v.prob_fake, v.decision) for v in other.verdicts]


def test_the_model_page_opens_on_the_zoos_answer(bright_pair_zoo, monkeypatch):
    from model_zoo.consensus import DEFAULT_NAME
    from tests.dashboard_app import open_dashboard

    at = open_dashboard(bright_pair_zoo, monkeypatch, "model")
    assert not at.exception
    model = at.selectbox(key="model_page_model")
    assert model.value == DEFAULT_NAME and sorted(model.options)[0] != DEFAULT_NAME  # not merely the first by name
