"""training.export: every format reproduces the zoo model, the in-graph preprocessing matches model_zoo's, and a
broken export is caught and not kept. Models come from the session's small zoo trained on generated data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo import batch_to_model_input, decode_for_card, decode_image, load_model, normalize_for_card, read_entry
from model_zoo.decision import apply_temperature
from tests.cards import typed
from tests.zoo_builders import copy_zoo
from training.lib import export_checks, export_formats
from training.lib.export_checks import ExportError, export_and_check, generated_sample

CARD = {"name": "t", "input_shape": [32, 32, 3],
        "preprocessing": {"color": "RGB", "resize": "area", "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]}}


def _encode(image: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _graph_pixels(data: bytes, card: dict) -> np.ndarray:
    from model_zoo.graph_preprocessing import decode_rgb, resize_rgb

    return resize_rgb(decode_rgb(data), card).numpy()


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth image with some texture, like a downscaled photo (noise alone would hide resize differences)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([128 + 100 * np.sin(x / 7.0 + c) * np.cos(y / 5.0 - c) for c in range(3)], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


# --- the in-graph preprocessing against model_zoo.preprocessing ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF"])
def test_graph_decode_gives_pillows_pixels(fmt):
    from model_zoo.graph_preprocessing import decode_rgb

    data = _encode(_photo(32, 32), fmt)
    assert np.array_equal(decode_rgb(data).numpy(), decode_image(data))


def test_graph_decode_flattens_transparency_onto_white_and_expands_grey():
    from model_zoo.graph_preprocessing import decode_rgb

    rgba = np.dstack([_photo(20, 24), np.linspace(0, 255, 20 * 24).reshape(20, 24).astype(np.uint8)])
    for data in (_encode(rgba, "PNG"), _encode(_photo(20, 24)[..., 0], "PNG")):
        difference = np.abs(decode_rgb(data).numpy().astype(int) - decode_image(data).astype(int))
        assert difference.max() <= 1  # Pillow composites in integers, the graph in floats


@pytest.mark.parametrize("size, resize, tolerance", [
    ((64, 64), "area", 0),  # an integer factor: both average 2x2 blocks
    ((77, 45), "area", 2),  # a fractional factor
    ((20, 26), "area", 1),  # enlarging: both fall back to bilinear
    ((50, 40), "bilinear", 1),
    ((50, 70), "nearest", 0),
])
def test_graph_resize_matches_opencv(size, resize, tolerance):
    card = typed({**CARD, "preprocessing": {**CARD["preprocessing"], "resize": resize}})
    data = _encode(_photo(*size), "PNG")
    graph = _graph_pixels(data, card).astype(int)
    reference = decode_for_card(data, card).astype(int)
    assert graph.shape == reference.shape == (32, 32, 3)
    assert np.abs(graph - reference).max() <= tolerance
    assert np.abs(graph - reference).mean() < 0.5


def test_graph_normalisation_and_calibration_use_the_cards_constants():
    from model_zoo.graph_preprocessing import apply_temperature_in_graph as graph_calibrate
    from model_zoo.graph_preprocessing import normalize

    card = typed({**CARD, "preprocessing": {"color": "BGR", "resize": "area", "mean": [103.9, 116.8, 123.7],
                                            "std": [57.4, 57.1, 58.4]}, "decision": {"temperature": 1.7, "threshold": 0.4}})
    images = _photo(32, 32)[None]
    np.testing.assert_allclose(normalize(images, card).numpy(), normalize_for_card(images, card), rtol=1e-6, atol=1e-6)
    raw = np.array([1e-9, 0.02, 0.4, 0.5, 0.93, 1.0], np.float32)
    np.testing.assert_allclose(graph_calibrate(raw, card).numpy(), apply_temperature(raw, 1.7), atol=1e-6)


# --- exports of a small trained model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(trained_zoo):
    from model_zoo import LoadedModel

    entry = read_entry("cnn_maxpool", trained_zoo)
    return LoadedModel(entry, load_model(entry))


@pytest.fixture(scope="module")
def sample():
    return generated_sample(60, seed=3)


@pytest.fixture(scope="module")
def exported(loaded, sample, tmp_path_factory):
    """Every format of the small model, exported once and checked by export_and_check: format -> report."""
    out = tmp_path_factory.mktemp("exports")
    return {fmt: export_and_check(loaded, fmt, out, sample) for fmt in export_formats.FORMATS}


def test_every_format_is_written_where_the_readme_says(exported):
    out = exported["h5"].path.parent
    assert exported["h5"].path == out / "cnn_maxpool.h5"
    assert exported["tflite"].path == out / "cnn_maxpool.tflite"
    assert exported["tflite-int8"].path == out / "cnn_maxpool-int8.tflite"
    assert exported["savedmodel"].path == out / "cnn_maxpool" / "1"
    assert (out / "cnn_maxpool" / "1" / "saved_model.pb").is_file() and (out / "cnn_maxpool" / "1" / "variables").is_dir()
    assert not [p for p in out.rglob(".tmp-*")]  # the staging copies are gone
    for report in exported.values():
        assert report.size_bytes == export_formats.artefact_bytes(report.path) > 0
        assert report.latency_ms > 0 and report.keras_latency_ms > 0


def test_float_exports_give_the_zoo_models_scores(exported, loaded, sample):
    reference = apply_temperature(loaded.model.predict_on_batch(batch_to_model_input(sample.images, loaded.card)).reshape(-1),
                          loaded.card.to_dict()["decision"]["temperature"])
    x = batch_to_model_input(sample.images, loaded.card)
    temp = loaded.card.to_dict()["decision"]["temperature"]
    h5 = apply_temperature(export_formats.load_h5(exported["h5"].path)(x), temp)
    tflite = apply_temperature(export_formats.TFLiteRunner(exported["tflite"].path)(x), temp)
    assert np.abs(h5 - reference).max() <= 1e-4 and np.abs(tflite - reference).max() <= 1e-4


def test_int8_is_smaller_and_close(exported, loaded, sample):
    x = batch_to_model_input(sample.images, loaded.card)
    float_raw = export_formats.TFLiteRunner(exported["tflite"].path)(x)
    int8_raw = export_formats.TFLiteRunner(exported["tflite-int8"].path)(x)
    assert exported["tflite-int8"].size_bytes < exported["tflite"].size_bytes / 3  # int8 weights: about 4x
    assert np.abs(int8_raw - float_raw).max() < 0.15
    assert not np.array_equal(int8_raw, float_raw)  # it really is a different (quantised) model


def test_int8_is_int8_but_for_the_output_layer(exported, loaded):
    """Every op output of the int8 file is int8 but the output layer's (logit and sigmoid), kept float: an int8 logit
    of a confident model moves in steps of ~0.3 near the threshold (export_formats.FLOAT_LAYERS)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(exported["tflite-int8"].path))
    last = loaded.model.layers[-1].name
    ops = interpreter._get_ops_details()  # noqa: SLF001 - which op writes which tensor
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    kinds = {}
    for op in ops:
        for index in op["outputs"]:
            name, dtype = tensors[index]["name"], tensors[index]["dtype"]
            if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
                continue
            kinds[name] = (op["op_name"], np.dtype(dtype).name)
    floats = {name for name, (_, dtype) in kinds.items() if dtype == "float32"}
    assert floats and all(f"{last}" in name or name in {d["name"] for d in interpreter.get_output_details()}
                          for name in floats), kinds
    assert sum(dtype == "int8" for _, dtype in kinds.values()) >= 4  # the convolutions and the hidden dense layer


def test_tflite_is_converted_from_a_savedmodel_not_the_keras_object(loaded, tmp_path, monkeypatch):
    """from_keras_model exports a SavedModel inside a try/except and, when that fails, falls back to tf.keras 2's
    freezing path, which ends in `TypeError: 'NoneType' object is not callable` on a Keras 3 model (the one-in-three
    traceback of issue 30). write_tflite converts a SavedModel it wrote itself, so that path is never taken."""
    import tensorflow as tf

    def refuse(*args, **kwargs):
        raise AssertionError("from_keras_model was used")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", refuse)
    export_formats.write_tflite(loaded.model, tmp_path / "m.tflite")
    x = np.random.default_rng(0).uniform(0, 1, (3, *loaded.model.input_shape[1:])).astype(np.float32)
    assert np.abs(export_formats.TFLiteRunner(tmp_path / "m.tflite")(x)
                  - np.asarray(loaded.model.predict_on_batch(x)).reshape(-1)).max() <= 1e-5


def test_int8_keeps_an_upsampling_and_the_convolutions_it_feeds_float(tmp_path):
    """A model that upsamples inside itself (EfficientNet-Lite's "upsample"): that layer and the stem stay float."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Resizing(16, 16, name="upsample")(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="stem_conv")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="later_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))
    calibration = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 3)).astype(np.float32)
    export_formats.write_tflite(model, tmp_path / "m.tflite", calibration)
    interpreter = Interpreter(model_path=str(tmp_path / "m.tflite"))
    dtypes = {t["name"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    def dtype_of(layer):
        return {dtype for name, dtype in dtypes.items() if f"/{layer}" in name and "/kernel" not in name}
    assert "float32" in dtype_of("upsample") and "float32" in dtype_of("stem_conv")
    assert "int8" in dtype_of("later_conv")
    x = calibration[:4]
    assert np.abs(export_formats.TFLiteRunner(tmp_path / "m.tflite")(x)
                  - np.asarray(model.predict_on_batch(x)).reshape(-1)).max() < 0.05


def test_savedmodel_serves_encoded_bytes_like_the_zoo_path(exported, loaded):
    import tensorflow as tf

    path = exported["savedmodel"].path
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert list(inputs) == ["image_bytes"] and inputs["image_bytes"].dtype == tf.string
    assert set(signature.structured_outputs) == {"prob_fake", "label"}
    # Photos of other sizes and formats: decoded, resized and normalised in the graph.
    files = [_encode(_photo(96, 128, seed=1), "JPEG", quality=90), _encode(_photo(48, 40, seed=2), "PNG"),
             _encode(_photo(32, 32, seed=3), "BMP")]
    with export_formats.served_savedmodel(path) as run:
        served = run(files)
    reference = np.array([float(np.asarray(apply_temperature(loaded.model.predict_on_batch(
        normalize_for_card(decode_for_card(f, loaded.card)[None], loaded.card)).reshape(-1),
        loaded.card.to_dict()["decision"]["temperature"]))[0]) for f in files])
    assert np.abs(served["prob_fake"] - reference).max() <= 1e-2
    threshold = loaded.card.to_dict()["decision"]["threshold"]
    assert list(served["label"]) == ["FAKE" if p >= threshold else "REAL" for p in served["prob_fake"]]


def test_savedmodel_versions_count_up(loaded, sample, tmp_path):
    small = generated_sample(10, seed=4)
    first = export_and_check(loaded, "savedmodel", tmp_path, small)
    second = export_and_check(loaded, "savedmodel", tmp_path, small)
    assert (first.path.name, second.path.name) == ("1", "2") and first.path.is_dir()


# --- the checks fail when an export is wrong -------------------------------------------------------------------------


def test_a_float_export_that_differs_is_rejected_and_removed(loaded, sample, tmp_path, monkeypatch):
    import keras

    real_write = export_formats.write_tflite

    def off_by_a_little(model, path, calibration=None):
        # A "float" export whose output is off by 0.1%: |dP| >= 4e-4 wherever P is near 0 or 1, as a confident
        # model's always is. (Its calibrated scores can all round to exactly 0 or 1: the check compares raw outputs.)
        skewed = keras.Model(model.inputs, keras.layers.Rescaling(0.999, offset=0.0005)(model.outputs[0]))
        real_write(skewed, path, calibration)

    monkeypatch.setattr(export_formats, "write_tflite", off_by_a_little)
    with pytest.raises(ExportError, match=r"max \|dP\(FAKE\)\|"):
        export_and_check(loaded, "tflite", tmp_path, sample)
    assert list(tmp_path.iterdir()) == []


def test_a_savedmodel_with_the_wrong_normalisation_is_rejected(loaded, sample, tmp_path, monkeypatch):
    import model_zoo.graph_preprocessing as graph

    monkeypatch.setattr(graph, "normalize", lambda images, card: graph.tf.cast(images, graph.tf.float32))  # no / 255
    with pytest.raises(ExportError, match="from the encoded files"):
        export_and_check(loaded, "savedmodel", tmp_path, generated_sample(20, seed=5))
    assert [p for p in (tmp_path / "cnn_maxpool").iterdir()] == []


def test_int8_is_rejected_when_it_loses_accuracy(loaded, tmp_path, monkeypatch):
    sample = generated_sample(40, seed=6)
    monkeypatch.setattr(export_checks, "INT8_MAX_DROP_POINTS", -100.0)  # demand 100 points better: impossible
    with pytest.raises(ExportError, match="drop"):
        export_and_check(loaded, "tflite-int8", tmp_path, sample)
    assert list(tmp_path.iterdir()) == []


# --- the images and the command line --------------------------------------------------------------------------------


def test_cifake_sample_reads_the_files_behind_the_decoded_images(synthetic_zip, synthetic_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    sample = export_checks.dataset_sample(str(synthetic_zip), typed(), n=25, seed=1)
    assert len(sample.encoded) == len(sample.labels) == 25
    assert len(sample.calibration) == min(export_checks.CALIBRATION_IMAGES, 240)  # all of train when it is smaller
    for data, image in zip(sample.encoded, sample.images, strict=True):
        assert np.array_equal(decode_image(data), image)
    assert set(sample.labels) == {0, 1} and "CIFAKE test images" in sample.description


def test_without_data_int8_says_how_to_get_a_checked_export_before_any_work(trained_zoo, tmp_path, monkeypatch,
                                                                            capsys):
    from training.export import main

    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    out = tmp_path / "out"
    written = []
    monkeypatch.setattr(export_formats, "write_tflite", lambda *a, **k: written.append(a))
    assert main(["cnn_strided", "--format", "tflite-int8", "--out", str(out), "--zoo", str(zoo)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--data" in err and "CIFAKE_PATH" in err and "checked export" in err
    assert written == [] and not out.exists()  # nothing was converted, not even the folder made
    # `all`: the note first, then every other format, checked on generated images
    monkeypatch.undo()
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    assert main(["cnn_strided", "--format", "all", "--out", str(out), "--zoo", str(zoo), "--verify-n", "20"]) == 0
    captured = capsys.readouterr()
    assert "note: tflite-int8 is calibrated on the model's training images" in captured.err
    assert (out / "cnn_strided.tflite").is_file() and (out / "cnn_strided.h5").is_file()
    assert not (out / "cnn_strided-int8.tflite").exists()


def test_command_line(trained_zoo, tmp_path, monkeypatch, capsys):
    from training.export import main

    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    zoo = copy_zoo(trained_zoo, tmp_path / "zoo")
    out = tmp_path / "out"
    assert main(["cnn_strided", "--format", "tflite", "--out", str(out), "--zoo", str(zoo), "--verify-n", "30"]) == 0
    printed = capsys.readouterr().out
    assert "size " in printed and "latency " in printed and "30 generated images" in printed
    assert (out / "cnn_strided.tflite").is_file()
    assert json.loads((out / "cnn_strided.card.json").read_text()) == json.loads((zoo / "cnn_strided" / "card.json").read_text())
    assert main(["all", "--format", "h5", "--out", str(out), "--zoo", str(zoo)]) == 2
    assert "one model at a time" in capsys.readouterr().err
    assert main(["nope", "--format", "h5", "--out", str(out), "--zoo", str(zoo)]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["best", "--format", "h5", "--out", str(tmp_path / "file"), "--zoo", str(zoo)]) == 2


def test_a_failed_check_exits_1(trained_zoo, tmp_path, monkeypatch, capsys):
    from training.export import main

    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    monkeypatch.setattr(export_checks, "FLOAT_MAX_DELTA", -1.0)
    out = tmp_path / "out"
    assert main(["best", "--format", "h5", "--out", str(out), "--zoo", str(trained_zoo), "--verify-n", "10"]) == 1
    assert "FAILED its check, nothing kept" in capsys.readouterr().err
    assert not any(out.iterdir())


def test_paths():
    out = Path("/x")
    assert export_formats.artefact_path(out, "m", "savedmodel", version=7) == out / "m" / "7"
    assert export_formats.next_version(Path("/does/not/exist")) == 1


@pytest.mark.parametrize(("flips", "accepted"), [(0, True), (1, True), (2, False)])
def test_int8_check_tolerates_one_flip_only_where_the_sample_cannot_resolve_the_limit(flips, accepted):
    from types import SimpleNamespace

    n = 60  # one image = 1.67 points, more than the 0.3-point limit can resolve
    labels = np.arange(n) % 2
    reference = np.where(labels == 1, 0.9, 0.1).astype(np.float32)  # model.keras: all right
    quantised = reference.copy()
    quantised[:flips] = 1 - quantised[:flips]  # int8 gets `flips` images wrong
    sample = SimpleNamespace(labels=labels, description=f"{n} images")
    loaded = SimpleNamespace(card=typed(decision={"threshold": 0.5, "temperature": 1.0}))
    check = lambda: export_checks._check_int8(quantised, loaded, reference, sample)  # noqa: E731
    if accepted:
        assert "drop" in check()[0]
    else:
        with pytest.raises(ExportError, match="drop"):
            check()
    big = SimpleNamespace(labels=np.arange(500) % 2, description="500 images")  # resolves 0.3 points: no slack
    ref500 = np.where(big.labels == 1, 0.9, 0.1).astype(np.float32)
    q500 = ref500.copy()
    q500[:2] = 1 - q500[:2]  # 0.4 points
    with pytest.raises(ExportError):
        export_checks._check_int8(q500, loaded, ref500, big)
