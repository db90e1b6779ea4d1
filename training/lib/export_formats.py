"""Write a zoo model in formats that run without this project, and load them back to check them.

    h5           Keras' legacy HDF5 file in tf.keras 2's spelling, for TensorFlow <= 2.15 and tf_keras code
                 (model input -> raw P(FAKE), like model.keras); checked by loading it with tf_keras
    savedmodel   a TF Serving model version folder whose "serving_default" signature takes encoded
                 image bytes and does the card's preprocessing and calibration in the graph
                 (model_zoo.graph_preprocessing): image_bytes (N,) string -> prob_fake (N,), label (N,)
    tflite       TensorFlow Lite, float32 weights (model input -> raw P(FAKE))
    tflite-int8  TensorFlow Lite with int8 weights (per channel) and activations, calibrated on the
                 model's training images; float32 input and output, so it is called exactly like the
                 float file. A few layers stay float (FLOAT_LAYERS): see int8_float_nodes

The h5 and TFLite files take the card-normalised float32 input and return the raw sigmoid,
as model.keras does: the card (written beside them) gives the preprocessing, temperature
and threshold. TFLite files are converted from a SavedModel this module writes (inference mode, the
card's input shape), not from the Keras object: TFLiteConverter.from_keras_model does that export
itself inside a try/except and, when it fails, falls back to tf.keras 2's freezing path, which does not
know Keras 3 models and ends in `TypeError: 'NoneType' object is not callable`. They are run by LiteRT
(ai-edge-litert), the interpreter that replaces the deprecated tf.lite.Interpreter.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from model_zoo.card import Card
from training.lib.h5_legacy import make_tf_keras2_readable

FORMATS = ("h5", "savedmodel", "tflite", "tflite-int8")
SERVING_INPUT = "image_bytes"  # TF Serving's REST API decodes {"b64": ...} into this string tensor


def artefact_path(out: Path, name: str, fmt: str, version: int | None = None) -> Path:
    """Where `fmt` goes under `out`: NAME.h5, NAME.tflite, NAME-int8.tflite, or NAME/<version>/ for TF Serving."""
    if fmt == "savedmodel":
        return out / name / str(version if version is not None else next_version(out / name))
    return out / {"h5": f"{name}.h5", "tflite": f"{name}.tflite", "tflite-int8": f"{name}-int8.tflite"}[fmt]


def next_version(base: Path) -> int:
    """TF Serving serves the highest numbered version folder: one above the highest already there, else 1."""
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def artefact_bytes(path: Path) -> int:
    """Size on disk of a file, or of every file in a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence stdout and stderr, C++ included: the converter prints its traced graph and quantiser settings."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            with contextlib.redirect_stdout(devnull), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


# --- writers ----------------------------------------------------------------------------------------------------


def write_h5(model, path: Path) -> None:
    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' "HDF5 is legacy" notice: legacy is what was asked for
        keras.saving.save_model(model, path)
    make_tf_keras2_readable(path)


def write_savedmodel(model, card: Card, path: Path) -> None:
    """A SavedModel whose serving signature maps encoded images to calibrated P(FAKE) and a label."""
    import keras
    import tensorflow as tf

    from model_zoo.graph_preprocessing import encoded_to_model_input, verdict_outputs

    def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = model(encoded_to_model_input(image_bytes, card), training=False)
        return verdict_outputs(raw, card)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve,
                         input_signature=[tf.TensorSpec([None], tf.string, name=SERVING_INPUT)])
    archive.write_out(str(path), verbose=False)


# Layers the int8 file keeps in float32 (everything else is int8), matched by Keras layer name:
# - an upsampling inside the model (EfficientNet-Lite's "upsample", 32 px -> its backbone's size) and the two
#   convolutions it feeds: int8 cannot hold the interpolated pixels (its step is a whole 8-bit grey level), and
#   the stem's large weights magnify that rounding (each an error of 3-4 steps of its int8 output, measured with
#   tf.lite.experimental.QuantizationDebugger on lite0_finetune; every later layer is under 1.1);
# - the output layer (the logit and its sigmoid): a confident detector's logits span about +-35, so an int8 logit
#   moves in steps of about 0.27 and an image near the threshold jumps across it.
# They hold a tiny share of the weights and of the work, so the file stays ~4x smaller than the float one.
FLOAT_LAYERS = ("upsample", "stem_conv", "block0_dwconv")


def _inference_savedmodel(model, folder: Path) -> None:
    """The model in inference mode (training=False) as a SavedModel with one "serve" endpoint on the card's input
    shape and any batch size: what TFLite converts."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=lambda x: model(x, training=False),
                         input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="input")])
    archive.write_out(str(folder), verbose=False)


def int8_float_nodes(calibrated: bytes, model) -> list[str]:
    """The op outputs of a calibrated TFLite model that belong to FLOAT_LAYERS or to the model's output layer."""
    import re

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=calibrated)
    names = [*(name for name in FLOAT_LAYERS if _has_layer(model, name)), model.layers[-1].name]
    # TensorFlow names a layer's ops "<model>_<n>/<layer>_<n>/<op>"; fused ops join several such names with ";".
    pattern = re.compile(r"(^|[/;])(" + "|".join(map(re.escape, names)) + r")(_\d+)?/")
    nodes = [t["name"] for t in interpreter.get_tensor_details() if pattern.search(t["name"])]
    return nodes + [detail["name"] for detail in interpreter.get_output_details()]  # the sigmoid's output


def _has_layer(model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def write_tflite(model, path: Path, calibration: np.ndarray | None = None) -> None:
    """Float TFLite, or int8 post-training quantisation when `calibration` (normalised model inputs) is given.

    int8: weights per output channel, activations from the calibration images' ranges, float32 input and
    output; int8_float_nodes stay float (FLOAT_LAYERS). Converted from an inference-mode SavedModel."""
    import tempfile

    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="tflite-") as folder:
        _inference_savedmodel(model, Path(folder))
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        with _quiet():
            if calibration is None:
                flatbuffer = converter.convert()
            else:
                flatbuffer = _int8(converter, model, calibration)
    path.write_bytes(flatbuffer)


def _int8(converter, model, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter._experimental_disable_per_channel = False  # per-channel weights (the default, said out loud)
    # Every op in int8 (no silent float fall-back) but the nodes named below, which the quantiser leaves float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # The public way to keep chosen layers float: calibrate once, then quantise with those nodes left out.
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=representative)
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=int8_float_nodes(debugger.calibrated_model, model))
    return debugger.get_nondebug_quantized_model()


# --- loaders: each gives back a function the checks can call --------------------------------------------------


def load_h5(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """normalised model input (N, H, W, 3) -> raw P(FAKE) (N,), read by tf_keras (tf.keras 2) as legacy code reads it."""
    import tf_keras

    model = tf_keras.models.load_model(path, compile=False, safe_mode=True)
    return lambda x: np.asarray(model.predict_on_batch(x), np.float32).reshape(-1)


class TFLiteRunner:
    """A LiteRT interpreter over a TFLite file: normalised model input (N, H, W, 3) -> raw P(FAKE) (N,)."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path))
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) != self.batch:  # resize once per batch size, not per call
            self.interpreter.resize_tensor_input(self.input["index"], list(x.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return np.asarray(self.interpreter.get_tensor(self.output["index"]), np.float32).reshape(-1)


@contextlib.contextmanager
def served_savedmodel(path: Path) -> Iterator[Callable[[list[bytes]], dict[str, np.ndarray]]]:
    """encoded images -> {"prob_fake": (N,) float32, "label": (N,) str}, through the serving signature.

    Loaded the way TF Serving loads it (TF1-style): the "serve" MetaGraph imported into a graph session, its
    variables restored by its own saver, and the signature's tensors fed and fetched by name; no Python
    function is traced, so what runs is only what the file holds. The session is closed on leaving the block.
    """
    import tensorflow as tf

    # Not `with Session(...)`: that would make its graph the default one and put the caller's eager Keras
    # calls inside the block into graph mode.
    session = tf.compat.v1.Session(graph=tf.Graph())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "loader.load is deprecated": it is the serving path we want to check
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        signature = meta.signature_def["serving_default"]
        feed = signature.inputs[SERVING_INPUT].name
        fetch = {key: tensor.name for key, tensor in signature.outputs.items()}

        def run(encoded: list[bytes]) -> dict[str, np.ndarray]:
            out = session.run(fetch, feed_dict={feed: list(encoded)})
            return {"prob_fake": np.asarray(out["prob_fake"], np.float32),
                    "label": np.array([v.decode() for v in out["label"]])}

        yield run
    finally:
        session.close()


