"""A role on every card: detectors answer (inspect page, API default, `--model all`); study arms are asked only
by name or with all-including-studies, and compared on the studies page."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from model_zoo.card import SCHEMA_VERSION
from model_zoo.roles import CONSENSUS, DETECTOR, ROLES, STUDY, detectors, role_of
from model_zoo.zoo import ZooEntry, validate_card
from tests.cards import typed
from tests.zoo_builders import copy_zoo, edit_card

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model_zoo" / "entries"
# Shipped to be compared, not to answer: the frozen-backbone baseline.
SHIPPED_BASELINES = {"lite0_probe"}


def test_role_is_the_cards_else_inferred_from_the_study_arm_name():
    assert role_of(typed(name="cnn_strided-aug-robust")) == STUDY
    assert role_of(typed(name="cnn_strided")) == DETECTOR and typed().role_name == DETECTOR
    assert role_of(typed(name="cnn_strided-aug-robust", role="detector")) == DETECTOR  # the card's word wins
    assert typed(name="control", role="study").role_name == STUDY
    current = typed(name="cnn_strided-aug-robust", schema_version=SCHEMA_VERSION)  # no migration: inferred on read
    assert current.role_name == STUDY and not current.is_detector


def test_a_card_may_omit_the_role_but_not_name_an_unknown_one():
    from tests.tiny_zoo import metrics_block

    card = {"name": "m", "architecture": "a", "input_shape": [32, 32, 3],
            "preprocessing": {"mean": [0, 0, 0], "std": [1, 1, 1]}, "params": 1, "size_bytes": 1, "train": {},
            "metrics": {"validation": metrics_block(0.9)}}
    assert validate_card(card) == [] and validate_card({**card, "role": STUDY}) == []
    assert validate_card({**card, "role": "baseline"}) == ["role must be one of detector, study, consensus, got 'baseline'"]
    assert validate_card({**card, "role": None}) == ["role must be one of detector, study, consensus, got None"]


def test_detectors_keep_order_and_drop_study_arms():
    entries = [ZooEntry(n, Path(n), typed(name=n, **extra)) for n, extra in
               [("b", {}), ("a-aug-none", {}), ("a", {"role": "study"}), ("c", {"role": "detector"})]]
    assert [e.name for e in detectors(entries)] == ["b", "c"]


def test_every_shipped_card_names_its_role():
    cards = {path.parent.name: json.loads(path.read_text()) for path in sorted(SHIPPED.glob("*/card.json"))}
    assert cards, "no shipped cards"
    for name, card in cards.items():
        assert card.get("role") in ROLES, name
        expected = CONSENSUS if card.get("kind") == "consensus" else STUDY if "-aug-" in name else DETECTOR
        assert card["role"] == (STUDY if name in SHIPPED_BASELINES else expected), name


def test_a_shipped_detector_is_as_good_as_the_zoo_promises():
    """Every detector answers users, so none trails the others by far: a baseline (lite0_probe, frozen ImageNet
    features, 93.71%) is a study entry. Its consensus may still combine it (docs/consensus.md)."""
    from model_zoo.zoo import is_consensus, list_entries

    entries, _ = list_entries(SHIPPED)
    found = {e.name: e.test_metrics["accuracy"] for e in detectors(entries) if not is_consensus(e.card)}
    assert found and min(found.values()) >= 0.95, found
    assert "lite0_probe" not in found


def test_training_writes_the_role_and_the_study_recipes_ask_for_study(trained_zoo):
    from model_zoo import read_entry
    from training.train import _config_from_args, parse_args

    assert read_entry("cnn_maxpool", trained_zoo).card.to_dict()["role"] == DETECTOR  # the default
    assert _config_from_args(parse_args(["--arch", "cnn_strided", "--role", "study"])).role == STUDY
    with pytest.raises(SystemExit):
        parse_args(["--arch", "cnn_strided", "--role", "baseline"])
    studies = (ROOT / "Makefile").read_text().split("\nstudies:")[1].split("\n\n")[0]
    assert "training.train" in studies and "--role study" in studies


# --- the entry points ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_zoo(trained_zoo, tmp_path_factory) -> Path:
    """The trained zoo's two detectors plus two study arms: one named like an arm (no role), one saying so."""
    import shutil

    zoo = copy_zoo(trained_zoo, tmp_path_factory.mktemp("roles") / "zoo")
    for source, name, extra in (("cnn_strided", "cnn_strided-aug-none", {}), ("cnn_maxpool", "control",
                                                                             {"role": STUDY})):
        shutil.copytree(zoo / source, zoo / name)
        card = edit_card(zoo / name, name=name, **extra)
        if not extra:
            card.pop("role")
            (zoo / name / "card.json").write_text(json.dumps(card))
    return zoo


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (120, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_predict_all_asks_the_detectors_and_all_including_studies_everyone(mixed_zoo, tmp_path, capsys):
    from training.predict import main

    image = tmp_path / "x.png"
    image.write_bytes(_png())
    for choice, expected in (("all", {"cnn_maxpool", "cnn_strided"}),
                             ("all-including-studies", {"cnn_maxpool", "cnn_strided", "cnn_strided-aug-none", "control"}),
                             ("control", {"control"})):
        assert main([str(image), "--zoo", str(mixed_zoo), "--model", choice, "--format", "jsonl"]) == 0
        assert {json.loads(line)["model"] for line in capsys.readouterr().out.splitlines()} == expected, choice


def test_predict_all_on_a_zoo_of_study_arms_says_what_to_ask_for(mixed_zoo, tmp_path, capsys):
    import shutil

    from training.predict import main

    zoo = tmp_path / "zoo"
    shutil.copytree(mixed_zoo / "control", zoo / "control")
    image = tmp_path / "x.png"
    image.write_bytes(_png())
    assert main([str(image), "--zoo", str(zoo), "--model", "all"]) == 2
    err = capsys.readouterr().err
    assert "is a study arm: use --model all-including-studies" in err and "Traceback" not in err


def test_the_api_answers_with_detectors_unless_asked_for_more(mixed_zoo):
    from dashboard.server.api import create_app

    client = create_app(mixed_zoo).test_client()

    def asked(**form) -> list[str]:
        response = client.post("/predict", data={"image": (io.BytesIO(_png()), "x.png"), **form})
        assert response.status_code == 200, response.get_json()
        return [v["model"] for v in response.get_json()["verdicts"]]

    assert asked() == asked(model="all") == ["cnn_maxpool", "cnn_strided"]
    assert asked(model="all-including-studies") == ["cnn_maxpool", "cnn_strided", "cnn_strided-aug-none", "control"]
    assert asked(model="cnn_strided-aug-none") == ["cnn_strided-aug-none"]
    roles = {m["name"]: m["role"] for m in client.get("/models").get_json()["models"]}
    assert roles == {"cnn_maxpool": DETECTOR, "cnn_strided": DETECTOR, "cnn_strided-aug-none": STUDY, "control": STUDY}
    page = client.post("/", data={"image": (io.BytesIO(_png()), "x.png")}).get_data(as_text=True)
    assert "cnn_maxpool" in page and "cnn_strided-aug-none" not in page and "control" not in page


def test_the_inspect_page_shows_detectors_and_says_the_study_arms_are_left_out(mixed_zoo, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MODEL_ZOO_DIR", str(mixed_zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.switch_page("dashboard/pages/inspect_image_page.py").run()
    at.file_uploader(key="inspect_uploads").upload("x.png", _png(), "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe[0].value["model"].tolist() == ["cnn_maxpool", "cnn_strided"]
    assert any("2 study arms are left out" in c.value for c in at.caption)
