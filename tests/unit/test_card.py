"""model_zoo.card: every shipped card loads, round-trips and fits the published schema; bad values are named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from model_zoo.card import SCHEMA_VERSION, Card, CardError, card_json_schema, migrate, parse_card

ENTRIES = Path(__file__).resolve().parents[2] / "model_zoo" / "entries"
SHIPPED = sorted(ENTRIES.glob("*/card.json"))


def _write(raw: dict) -> str:
    return json.dumps(raw, indent=2) + "\n"


def test_there_are_shipped_cards():
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_a_shipped_card_loads_and_round_trips_through_the_migration(path):
    text = path.read_text()
    raw = json.loads(text)
    card = Card.from_json(text)
    written = card.to_json()
    migrated = migrate(raw)
    assert written == _write(migrated)  # what is written is exactly the documented migration of what was read
    assert Card.from_json(written).to_json() == written  # and a current card is written back byte-identical
    again = json.loads(written)
    assert again["schema_version"] == SCHEMA_VERSION
    for key, value in raw.items():  # the migration only adds: every old key keeps its value
        if key == "preprocessing":
            assert {k: v for k, v in again[key].items() if k != "input_policy"} == value
        else:
            assert again[key] == value, key


def test_a_current_card_is_written_back_byte_identical_with_unknown_keys_in_place():
    raw = migrate(json.loads((ENTRIES / "cnn_strided" / "card.json").read_text()))
    raw = {"future_block": {"b": 1, "a": [1, 2]}, **raw}
    raw["decision"] = {"zz_new": "kept", **raw["decision"]}
    text = _write(raw)
    assert Card.from_json(text).to_json() == text


def test_the_migration_upgrades_an_old_card_and_only_adds():
    old = json.loads((ENTRIES / "cnn_strided-aug-flip" / "card.json").read_text())
    for key in ("decision", "role"):
        old.pop(key)
    card = Card.from_dict(old)
    assert card.schema_version == SCHEMA_VERSION and card.kind == "network" and card.role == "study"
    assert card.threshold == 0.5 and card.temperature == 1.0 and not card.is_calibrated
    assert card.input_policy.kind == "resize" and card.crop_spec is None
    assert migrate(migrate(old)) == migrate(old)
    consensus = json.loads((ENTRIES / "zoo_consensus" / "card.json").read_text())
    consensus.pop("kind")
    assert Card.from_dict(consensus).is_consensus


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_the_published_schema_validates_every_shipped_card_before_and_after_migration(path):
    raw = json.loads(path.read_text())
    schema = card_json_schema()
    jsonschema.validate(raw, schema)
    jsonschema.validate(migrate(raw), schema)


def test_the_schema_rejects_what_the_model_rejects():
    raw = migrate(json.loads((ENTRIES / "cnn_strided" / "card.json").read_text()))
    raw["decision"]["threshold"] = "0.5x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, card_json_schema())


def _changed(path: str, value) -> dict:
    raw = copy.deepcopy(json.loads((ENTRIES / "cnn_strided" / "card.json").read_text()))
    raw["other_test_sets"] = {"phone": {**raw["metrics"]["test"], "n_real": 1}}
    raw["backbone"] = {"name": "b", "input_size": 96, "frozen": True}
    *parents, last = path.split(".")
    block = raw
    for key in parents:
        block = block[key]
    block[last] = value
    return raw


# One bad value per block: the message names the entry, the field's path and what was expected.
BAD = [
    ("name", None, "name must be a string, got None"),
    ("role", "baseline", "role must be one of detector, study, consensus, got 'baseline'"),
    ("kind", "other", "kind must be one of 'network' or 'consensus', got 'other'"),
    ("input_shape", [32, 32], "input_shape must be [H, W, 3], got [32, 32]"),
    ("params", "many", "params must be a whole number >= 0, got 'many'"),
    ("preprocessing.mean", [0], "preprocessing must give 'mean' and 'std' with 3 values each"),
    ("preprocessing.resize", "cubic", "preprocessing.resize must be one of 'area', 'bilinear' or 'nearest'"),
    ("preprocessing.input_policy", {"kind": "crop"}, "preprocessing.input_policy.size must be given"),
    ("explain.gradcam_layer", 3, "explain.gradcam_layer must be a string, got 3"),
    ("backbone.frozen", "yes", "backbone.frozen must be true or false, got 'yes'"),
    ("train.dataset", 3, "train.dataset must be a string, got 3"),
    ("train.validation_fraction", 1.5, "train.validation_fraction must be a number between 0 and 1, got 1.5"),
    ("decision.threshold", "0.5x", "decision.threshold must be a number between 0 and 1, got '0.5x'"),
    ("decision.temperature", 0, "decision.temperature must be a positive number, got 0"),
    ("decision.uncertain_band", [0.6, 0.9], "decision.uncertain_band must be [low, high] with 0 <= low <= threshold"),
    ("decision.band_test.coverage", 2, "decision.band_test.coverage must be a number between 0 and 1, got 2"),
    ("novelty.cutoff", -1, "novelty.cutoff must be a positive number, got -1"),
    ("novelty.train_image_size", [0, 3], "novelty.train_image_size must be [H, W], got [0, 3]"),
    ("novelty.file", "../x.npz", "novelty.file must be a file name inside the entry"),
    ("novelty.checks.noise_flagged", 2, "novelty.checks.noise_flagged must be a number between 0 and 1, got 2"),
    ("metrics.test.f1", "x", "metrics.test.f1 must be a number between 0 and 1, got 'x'"),
    ("metrics.validation", 0.9, "metrics.validation must be an object, got 0.9"),
    ("other_test_sets.phone.accuracy", 2, "other_test_sets.phone.accuracy must be a number between 0 and 1, got 2"),
    ("evaluation.test_in_train", -1, "evaluation.test_in_train must be a whole number >= 0, got -1"),
    ("robustness.n", "all", "robustness.n must be a whole number >= 0, got 'all'"),
    ("cues.seed", "zero", "cues.seed must be a whole number, got 'zero'"),
    ("latency.ms_per_image", -1, "latency.ms_per_image must be a number >= 0, got -1"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_in_any_block_is_one_line_naming_entry_field_and_expectation(path, value, expected):
    with pytest.raises(CardError) as raised:
        parse_card(_changed(path, value), "x")
    message = str(raised.value)
    assert message.startswith(f"zoo entry 'x': {expected}"), message
    assert "\n" not in message


def test_a_consensus_card_must_list_members_and_say_its_kind():
    raw = json.loads((ENTRIES / "zoo_consensus" / "card.json").read_text())
    with pytest.raises(CardError, match=r"consensus.members must have at least 1 item"):
        parse_card({**raw, "consensus": {**raw["consensus"], "members": []}}, "c")
    with pytest.raises(CardError, match="kind must be 'consensus' for the architecture 'consensus'"):
        parse_card({**raw, "schema_version": SCHEMA_VERSION, "kind": "network"}, "c")


def test_derived_facts_follow_the_cards_values():
    raw = migrate(json.loads((ENTRIES / "cnn_strided" / "card.json").read_text()))
    card = Card.from_dict(raw)
    assert (card.input_size, card.crop_spec, card.training_set_name, card.trained_on_folder) == (
        (32, 32), None, "CIFAKE", False)
    assert card.is_detector and not card.is_consensus and card.novelty_believed
    assert card.trained_from == "from scratch" and card.own_test_set_name == "CIFAKE test"
    crop = card.updated(preprocessing={**raw["preprocessing"], "input_policy": {"kind": "crop", "size": 64}},
                        train={**raw["train"], "dataset_name": "phone photos", "weights": "imagenet"},
                        novelty={**raw["novelty"], "checks": {"noise_flagged": 0.5}})
    assert crop.crop_spec == (64, 16) and crop.decode_key == ((32, 32), "crop")
    assert crop.trained_on_folder and crop.training_set_name == "phone photos"
    assert crop.own_test_set_name == "phone photos test" and crop.calibration_set == "phone photos"
    assert crop.untrusted_noise_share == 0.5 and not crop.novelty_believed
    assert crop.trained_from == "ImageNet-pretrained, fine-tuned"
    assert card.updated(decision=None).threshold == 0.5 and card.threshold == raw["decision"]["threshold"]


def test_the_docs_build_writes_the_schema_of_the_code_into_the_zoo_contract_page():
    import importlib.util

    hook_path = ENTRIES.parents[1] / "docs" / "hooks" / "zoo_tables.py"
    spec = importlib.util.spec_from_file_location("zoo_tables", hook_path)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = (ENTRIES.parents[1] / "docs" / "zoo.md").read_text()
    assert "<!-- zoo:card_schema -->" in page
    built = hook.on_page_markdown(page)
    block = built.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == card_json_schema()
