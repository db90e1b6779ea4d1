"""Every dashboard page through Streamlit's AppTest, on the small trained zoo and on an empty one."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from model_zoo import decode_for_card, load_model, predict_prob_fake, read_entry  # noqa: E402
from model_zoo.decision import label_name  # noqa: E402
from tests.zoo_builders import copy_zoo, edit_card, with_known_errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
PAGES = ("leaderboard", "generalisation", "model", "errors", "inspect_image", "data", "studies", "home")
TIMEOUT = 120


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(f"dashboard/pages/{page}_page.py").run()
    return at


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _png(size=(32, 32), mode="RGB", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array.squeeze() if channels == 1 else array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def zoo_env(trained_zoo, monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_DIR", str(trained_zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    return trained_zoo


@pytest.fixture
def zoo_and_data(zoo_env, synthetic_zip, monkeypatch):
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    return zoo_env


def _model_names(zoo: Path) -> list[str]:
    return sorted(p.name for p in zoo.iterdir() if (p / "card.json").is_file())


# --- empty zoo ------------------------------------------------------------------------------------------

def test_empty_zoo_opens_on_the_help_page_and_no_page_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app()
    _assert_clean(at)
    assert at.title[0].value == "CIFAKE explainability dashboard"
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.code)
    assert "make zoo CIFAKE_PATH=" in text and "python -m training.download" in text
    for page in PAGES:
        at.switch_page(f"dashboard/pages/{page}_page.py").run()
        _assert_clean(at)
        infos = [i.value for i in at.info]
        if page == "data":  # without a dataset it says how to get one
            assert any("CIFAKE_PATH" in i for i in infos)
        elif page != "home":
            assert any("empty" in i for i in infos), page


def test_broken_entry_is_a_warning_not_a_crash(trained_zoo, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo, ignore=shutil.ignore_patterns(".runs"))
    (zoo / "broken").mkdir()
    (zoo / "broken" / "card.json").write_text("{not json")
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app()
    _assert_clean(at)
    assert any("broken" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == len(_model_names(trained_zoo))


# --- the trained zoo ------------------------------------------------------------------------------------

def test_leaderboard_has_one_row_per_model_and_compares(zoo_env):
    at = _app()  # the leaderboard is the default page when the zoo has models
    _assert_clean(at)
    assert at.title[0].value == "Leaderboard & compare"
    board = at.dataframe[0].value
    assert sorted(board["model"]) == _model_names(zoo_env)
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "params", "size_mb"} <= set(board.columns)
    assert {"threshold", "unseen_accuracy", "unseen_roc_auc", "unseen_n"} <= set(board.columns)
    assert not any("threshold 0.5" in c.value for c in at.caption)
    assert "measured_latency_ms" not in board  # timing every model now is on request only
    at.toggle(key="time_models_now").set_value(True).run()
    _assert_clean(at)
    board = at.dataframe[0].value
    assert (board["measured_latency_ms"] > 0).all() and sorted(board["model"]) == _model_names(zoo_env)
    assert at.multiselect(key="compare_models").value == list(board["model"][:3])  # the best three first
    assert len(at.get("plotly_chart")) >= 5  # bars, 2 confusion matrices, ROC, PR (+ disagreement)
    # Every other page has a test of its own on this zoo; the home page is checked here.
    at.switch_page("dashboard/pages/home_page.py").run()
    _assert_clean(at)
    assert at.title[0].value == "CIFAKE explainability dashboard"


def test_leaderboard_top_row_is_predict_best(trained_zoo, tmp_path, monkeypatch):
    """Equal test accuracy, cnn_strided with the higher ROC-AUC: the old `--model best` took cnn_maxpool (by name)."""
    from training.lib.folder_scan import resolve_models

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    edit_card(zoo / "cnn_maxpool", test={"accuracy": 0.9, "roc_auc": 0.91})
    edit_card(zoo / "cnn_strided", test={"accuracy": 0.9, "roc_auc": 0.95})
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app()
    _assert_clean(at)
    best = [m.name for m in resolve_models("best", zoo)]
    assert at.dataframe[0].value["model"].iloc[0] == best[0] == "cnn_strided"


def test_leaderboard_links_disagreements_into_the_errors_page(trained_zoo, tmp_path, monkeypatch):
    import pandas as pd

    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo, ignore=shutil.ignore_patterns(".runs"))
    first, second = _model_names(zoo)[:2]
    decision = json.loads((zoo / first / "card.json").read_text())["decision"]
    edit_card(zoo / second, decision=decision)  # the same threshold, so only the 7 flipped images differ
    ours = pd.read_csv(zoo / first / "test_predictions.csv")
    theirs = ours.assign(prob_fake=ours["prob_fake"])
    theirs.loc[:6, "prob_fake"] = 1.0 - (ours.loc[:6, "prob_fake"] >= decision["threshold"])  # the opposite verdict
    theirs.to_csv(zoo / second / "test_predictions.csv", index=False)
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    at = _app()
    _assert_clean(at)
    assert any(m.label.startswith("Test images where") and m.value == "7" for m in at.metric)
    [button] = [b for b in at.button if "errors page" in b.label]
    button.click().run()
    _assert_clean(at)
    assert at.title[0].value == "Test-set errors"
    assert at.radio(key="errors_mode").value == "disagreements"
    assert any("7 test images where the compared models" in c.value for c in at.caption)


def test_model_page_threshold_slider_starts_at_the_cards_threshold_and_updates_metrics(zoo_env):
    at = _app("model")
    _assert_clean(at)
    first, last = _model_names(zoo_env)[0], _model_names(zoo_env)[-1]
    card = json.loads((zoo_env / first / "card.json").read_text())
    assert at.slider(key=f"model_threshold_{first}").value == pytest.approx(card["decision"]["threshold"])
    shown = {m.label: m.value for m in at.metric}
    assert shown["Decision threshold"] == f"{card['decision']['threshold']:.3f}"
    assert any(label.startswith("Unseen accuracy (n=") for label in shown) and "Validation ECE" in shown
    before = [m.value for m in at.metric]
    assert len(at.get("plotly_chart")) >= 6  # history, 2 confusion, ROC, PR, reliability
    at.slider(key=f"model_threshold_{first}").set_value(0.99).run()
    _assert_clean(at)
    after = [m.value for m in at.metric]
    assert before != after or all(m.delta for m in at.metric[-4:])
    at.selectbox(key="model_page_model").set_value(last).run()
    _assert_clean(at)
    other = json.loads((zoo_env / last / "card.json").read_text())
    assert at.slider(key=f"model_threshold_{last}").value == pytest.approx(other["decision"]["threshold"])


WRONG = 3  # each model of errors_zoo misclassifies exactly this many test images


@pytest.fixture(scope="module")
def errors_zoo(trained_zoo, tmp_path_factory) -> tuple[Path, list[str]]:
    """The trained zoo with each model's test predictions rewritten: the same WRONG images wrong, the rest right."""
    zoo = copy_zoo(trained_zoo, tmp_path_factory.mktemp("errors") / "zoo")
    wrong = [with_known_errors(zoo / name, WRONG) for name in _model_names(zoo)]
    assert wrong[0] == wrong[1]
    return zoo, wrong[0]


def test_errors_page_without_dataset_lists_file_names(errors_zoo, monkeypatch):
    zoo, wrong = errors_zoo
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app("errors")
    _assert_clean(at)
    assert any("CIFAKE_PATH" in i.value for i in at.info)
    assert sorted(at.dataframe[0].value["path"]) == sorted(wrong)  # one row per misclassified image, by path


def test_errors_page_with_dataset_shows_images_and_heatmaps(errors_zoo, synthetic_zip, monkeypatch):
    zoo, wrong = errors_zoo
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    at = _app("errors")
    _assert_clean(at)
    heat_buttons = [b for b in at.button if b.label == "Heatmaps"]
    assert len(heat_buttons) == WRONG and len(at.image) == WRONG
    assert any(f"gets {WRONG} of 80 test images wrong" in c.value for c in at.caption)
    heat_buttons[0].click().run()
    _assert_clean(at)
    assert [h.value for h in at.subheader if h.value.startswith("Heatmaps: ")] == [f"Heatmaps: {sorted(wrong)[0]}"]
    captions = [c for image in at.image for c in image.captions]
    assert any("Grad-CAM" in c for c in captions)
    at.selectbox(key="errors_class").set_value("FAKE").run()
    at.selectbox(key="errors_others").set_value("all others right").run()
    _assert_clean(at)


def test_inspect_page_upload_gives_verdicts_and_heatmaps(zoo_env):
    at = _app("inspect_image")
    _assert_clean(at)
    assert any("32x32" in i.value for i in at.info)
    photo = _png((640, 480))
    at.file_uploader(key="inspect_uploads").upload("photo.png", photo, "image/png")
    at.run()
    _assert_clean(at)
    verdicts = at.dataframe[0].value
    assert sorted(verdicts["model"]) == _model_names(zoo_env)
    assert at.toggle(key="inspect_override").value is False  # by default each model decides at its own threshold
    for row in verdicts.to_dict("records"):  # each model's own P(FAKE) for what it sees, to the table's 4 places
        entry = read_entry(row["model"], zoo_env)
        expected = predict_prob_fake(load_model(entry), decode_for_card(photo, entry.card)[None], entry.card)[0]
        assert row["P(FAKE)"] == pytest.approx(expected, abs=5.1e-5), row["model"]
        assert row["threshold"] == entry.card.to_dict()["decision"]["threshold"]
        assert row["verdict"] == label_name(expected, entry.card)
    captions = [c for image in at.image for c in image.captions]
    assert any("Grad-CAM" in c for c in captions)
    assert any("sees 32x32" in c for c in captions)
    for method in ("Grad-CAM++", "Score-CAM", "SmoothGrad"):
        at.radio(key="inspect_method").set_value(method).run()
        _assert_clean(at)
        assert any(method in c for image in at.image for c in image.captions)
    assert any(b.label == "Download verdicts (JSON)" for b in at.get("download_button"))


def test_inspect_page_several_images_and_bad_uploads(zoo_env):
    at = _app("inspect_image")
    at.file_uploader(key="inspect_uploads").set_value([
        ("a.png", _png(seed=1), "image/png"),
        ("b.png", _png((100, 60), "RGBA", seed=2), "image/png"),
        ("notes.png", b"this is not an image", "image/png"),
        ("cut.png", _png((64, 64))[:200], "image/png"),
    ])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and any("notes.png" in e for e in errors) and any("cut.png" in e for e in errors)
    table = at.dataframe[0].value  # several images: a table of verdicts, one row per file
    assert list(table["image"]) == ["a.png", "b.png", "notes.png", "cut.png"]
    assert at.selectbox(key="inspect_image").options == ["a.png", "b.png"]


def test_data_page_with_dataset(zoo_and_data):
    at = _app("data")
    _assert_clean(at)
    assert len(at.get("plotly_chart")) == 5  # class counts + images per content class + 3 spectra
    assert len(at.image) >= 2 * 12 + 2
    assert any("byte-identical" in c.value for c in at.caption)  # the duplicate facts


def test_studies_page_shows_pooling_and_explains_augmentation(trained_zoo, tmp_path, monkeypatch):
    import pandas as pd

    from model_zoo.seed_runs import write_seed_runs

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")  # the seed-variance results file is written into it below
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app("studies")
    _assert_clean(at)
    assert at.dataframe  # cnn_maxpool vs cnn_strided: a pooling comparison
    assert any("--augment none" in i.value for i in at.info)
    assert any("python -m training.seed_variance cnn_maxpool --seeds 1 2" in i.value for i in at.info)

    write_seed_runs(zoo, pd.DataFrame({"model": "cnn_maxpool", "seed": [0, 1, 2], "run": ["a", "b", "c"],
                                       "accuracy": [0.97, 0.96, 0.98], "roc_auc": [0.995, 0.994, 0.996]}))
    tables = len(at.dataframe)
    at.run()
    _assert_clean(at)
    assert any(m.value.startswith("Over 3 seeds, **cnn_maxpool** scores 97.00% ± 1.00 points") for m in at.markdown)
    assert len(at.dataframe) == tables + 1 and list(at.dataframe[-1].value["seed"]) == [0, 1, 2]
    assert not any("training.seed_variance cnn_maxpool --seeds" in i.value for i in at.info)


def test_studies_page_answers_which_cues_from_the_stored_files(trained_zoo, tmp_path, monkeypatch):
    from tests.zoo_builders import with_cues

    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app("studies")
    _assert_clean(at)
    assert "What the models look at" in [h.value for h in at.header]
    assert any("python -m training.cues all" in i.value for i in at.info)  # nothing measured: how to measure it
    charts = len(at.get("plotly_chart"))

    for name in ("cnn_maxpool", "cnn_strided"):
        with_cues(zoo / name, {("none", 0): 0.97, ("lowpass", 8): 0.61})
    at.run()
    _assert_clean(at)
    assert not any("python -m training.cues all" in i.value for i in at.info)
    assert any(m.value.startswith("- Keeping only the lowest 8 of 16 frequency bands drops accuracy from 97.0% to 61.0%")
               for m in at.markdown)
    assert any("input gradients put 80%" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == charts + 4  # small multiples, two spectra, the band profile


def _shipped_zoo(target: Path) -> Path:
    """A copy of the entries committed to the repository, not the ones a local training run left in model_zoo/."""
    listing = subprocess.run(["git", "ls-files", "model_zoo/*/*"], cwd=ROOT, capture_output=True, text=True)
    if listing.returncode == 0:
        files = listing.stdout.split()
    else:  # not a git checkout (an unpacked release): every entry there is shipped
        files = [str(p.relative_to(ROOT)) for p in (ROOT / "model_zoo").glob("*/*") if p.is_file()]
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, target / name)
    return target / "model_zoo"


def test_shipped_zoo_and_no_dataset_render_every_page(tmp_path, monkeypatch):
    """`make run` on a fresh clone: whatever the shipped zoo holds (empty until CIFAKE is trained), no page errors."""
    monkeypatch.setenv("MODEL_ZOO_DIR", str(_shipped_zoo(tmp_path)))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app()
    _assert_clean(at)
    for page in PAGES:
        at.switch_page(f"dashboard/pages/{page}_page.py").run()
        _assert_clean(at)


def _odd_sized_entry(source: Path, zoo: Path, size: int = 48) -> str:
    """A zoo of one: a tiny model with a non-32 input size, card and predictions borrowed from a trained entry."""
    import json

    import keras

    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))
    name = f"tiny{size}"
    folder = zoo / name
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    card = json.loads((source / "card.json").read_text())
    card |= {"name": name, "architecture": "tiny", "input_shape": [size, size, 3], "params": int(model.count_params()),
             "size_bytes": (folder / "model.keras").stat().st_size}
    card["preprocessing"] = {**card["preprocessing"], "resize": "bilinear"}
    (folder / "card.json").write_text(json.dumps(card))
    for extra in ("history.csv", "test_predictions.csv"):
        shutil.copy(source / extra, folder / extra)
    return name


def test_a_zoo_of_one_with_another_input_size(trained_zoo, synthetic_zip, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    name = _odd_sized_entry(trained_zoo / _model_names(trained_zoo)[0], zoo)
    with_known_errors(zoo / name, 2)
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    at = _app()
    _assert_clean(at)
    assert list(at.dataframe[0].value["model"]) == [name]
    assert any("single model" in i.value for i in at.info)
    # The pages that run the model (the others read only its card, tested on the trained zoo).
    at.switch_page("dashboard/pages/model_page.py").run()
    _assert_clean(at)
    at.switch_page("dashboard/pages/inspect_image_page.py").run()
    at.file_uploader(key="inspect_uploads").upload("wide.png", _png((300, 100)), "image/png").run()
    _assert_clean(at)
    captions = [c for image in at.image for c in image.captions]
    assert any(f"{name} sees 48x48" in c for c in captions) and any("Grad-CAM" in c for c in captions)
    at.switch_page("dashboard/pages/errors_page.py").run()
    buttons = [b for b in at.button if b.label == "Heatmaps"]
    assert len(buttons) == 2
    buttons[0].click().run()
    _assert_clean(at)
    assert any(h.value.startswith("Heatmaps: test/") for h in at.subheader)
    assert any(name in c and "Grad-CAM" in c for image in at.image for c in image.captions)


def test_hostile_uploads_are_messages_never_tracebacks(zoo_env):
    """The project's hostile-file corpus uploaded at once: refused files name the problem, the rest are judged."""
    from tests.hostile import build_corpus

    corpus = build_corpus()
    at = _app("inspect_image")
    at.file_uploader(key="inspect_uploads").set_value([(c.name, c.data, "application/octet-stream") for c in corpus])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    refused = [c for c in corpus if not c.ok]
    assert len(errors) == len(refused)
    for case in refused:
        assert any(case.name in e and case.message in e for e in errors), case.name
    table = at.dataframe[0].value
    assert list(table["image"]) == [c.name for c in corpus]
    judged = table[table["image"].isin([c.name for c in corpus if c.ok])]
    assert judged[_model_names(zoo_env)].notna().all().all()
    assert at.selectbox(key="inspect_image").options == [c.name for c in corpus if c.ok]


def test_a_model_file_that_does_not_load_is_a_warning(trained_zoo, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo, ignore=shutil.ignore_patterns(".runs"))
    broken, healthy = _model_names(zoo)[0], _model_names(zoo)[1]
    (zoo / broken / "model.keras").write_bytes(b"PK\x03\x04 not really a keras archive")
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    at = _app()  # the leaderboard reads cards only; timing the models loads them
    _assert_clean(at)
    at.toggle(key="time_models_now").set_value(True).run()
    _assert_clean(at)
    assert any("cannot load" in w.value for w in at.warning)
    at.switch_page("dashboard/pages/inspect_image_page.py").run()
    at.file_uploader(key="inspect_uploads").upload("a.png", _png(), "image/png").run()
    _assert_clean(at)
    assert any("cannot load" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["model"]) == [healthy]


def test_an_errors_image_opens_in_inspect_with_the_verdicts_evaluation_stored(errors_zoo, trained_zoo, synthetic_zip,
                                                                              monkeypatch):
    from urllib.parse import parse_qs

    zoo, wrong = errors_zoo
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    monkeypatch.setenv("CIFAKE_PATH", str(synthetic_zip))
    at = _app("errors")
    _assert_clean(at)
    links = [link for link in at.page_link if link.proto.label == "Inspect"]
    assert len(links) == WRONG  # one per image of the grid, beside its Heatmaps button
    query = {key: values[0] for key, values in parse_qs(links[0].proto.query_string).items()}
    assert query["test_image"] in wrong
    inspect = AppTest.from_file(APP, default_timeout=TIMEOUT)
    inspect.query_params.update(query)  # what following the link gives the page
    inspect.run()
    inspect.switch_page("dashboard/pages/inspect_image_page.py").run()
    _assert_clean(inspect)
    assert any(f"Test image `{query['test_image']}`" in note.value and "true class" in note.value
               for note in inspect.info)
    verdicts = inspect.expander[0]  # the per-model verdicts: each model's stored P(FAKE) for this image, again
    shown = verdicts.dataframe[0].value.set_index("model")["P(FAKE)"]
    stored = pd.read_csv(trained_zoo / "cnn_maxpool" / "test_predictions.csv").set_index("path")  # before the planting
    assert shown["cnn_maxpool"] == pytest.approx(stored.loc[query["test_image"], "prob_fake"], abs=1e-5)


def test_a_link_to_a_test_set_the_zoo_lacks_is_a_message(errors_zoo, monkeypatch):
    zoo, _ = errors_zoo
    monkeypatch.setenv("MODEL_ZOO_DIR", str(zoo))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"test_image": "test/FAKE/1.jpg", "test_set": "nowhere"})
    at.run()
    at.switch_page("dashboard/pages/inspect_image_page.py").run()
    assert not at.exception
    assert any("no test set called 'nowhere'" in w.value for w in at.warning)
    assert any("Upload an image" in c.value for c in at.caption)  # and the page waits for an upload as usual
