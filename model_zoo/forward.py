"""One compiled forward pass per loaded network: raw P(FAKE) and the penultimate features, for any batch size.

Keras' `predict_on_batch` traces a graph for the first batch shape and traces again for the next, and a second,
two-output model for the novelty features traced its own. On the shipped zoo that tracing, not the arithmetic, was
most of the first upload's time (bench/evidence_speed.py). Here each network is traced once, with the batch
dimension left open, and judging, the novelty check, the evidence tests and evaluation all run that one graph.
Its scores equal `predict_on_batch`'s bit for bit (tests/unit/test_forward.py).

Anything that is not a Keras model but offers `predict_on_batch` (an exported file's runner, a test's stub) is
called through that method instead.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

OUTPUT_LAYER = "prob_fake"
GRADCAM_LAYER = "last_conv"  # the layer every shipped card names for Grad-CAM (card.explain.gradcam_layer)

Pass = Callable[[np.ndarray], tuple[np.ndarray | None, np.ndarray]]

# (weak model, its compiled pass), keyed by id(model): dropped when the model is collected.
_passes: dict[int, tuple[weakref.ref, Pass]] = {}
_guard = threading.Lock()  # two threads asking for the same model's pass trace it once


class _OneTraceEach(logging.Filter):
    """TensorFlow warns of "retracing" when several functions of one code location trace (here, one per model, and
    Grad-CAM's one per model in model_zoo.saliency); each traces once, so the warning would only mislead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_OneTraceEach())


def output_layer(model):  # -> keras.layers.Layer
    """The layer that produces P(FAKE): "prob_fake" when the model has it, else the last layer."""
    names = {layer.name for layer in model.layers}
    return model.get_layer(OUTPUT_LAYER) if OUTPUT_LAYER in names else model.layers[-1]


def feature_layer_name(model) -> str:
    """Name of the layer whose output feeds the output layer (what the features are)."""
    tensor = output_layer(model).input
    history = getattr(tensor, "_keras_history", None)
    return history[0].name if history else "input"


def gradcam_conv(model, name: str):  # -> keras.layers.Layer | None
    """The convolution whose output Grad-CAM reads when it is asked for layer `name`: tf-keras-vis' rule (that layer
    when it is a convolution, else the nearest one before it), so the maps equal tf-keras-vis' Gradcam."""
    from tf_keras_vis.utils import find_layer
    from tf_keras_vis.utils.model_modifiers import Conv

    return find_layer(model, lambda layer: isinstance(layer, Conv), offset=model.get_layer(name))


def _default_conv(model):
    """The Grad-CAM convolution of a model that has GRADCAM_LAYER, else None: the pass outputs its feature map too,
    so a first Grad-CAM traces only the network's head (model_zoo.saliency) instead of the whole network again."""
    if GRADCAM_LAYER not in {layer.name for layer in model.layers}:
        return None
    conv = gradcam_conv(model, GRADCAM_LAYER)
    shape = getattr(conv, "output", None) is not None and conv.output.shape
    return conv if shape and len(shape) == 4 else None


def _features_tensor(model):
    """The output layer's input (the penultimate features), or None where there is no single one to read."""
    try:
        tensor = output_layer(model).input
    except (AttributeError, ValueError):  # a layer never called in a graph (subclassed models) has no input
        return None
    return None if isinstance(tensor, (list, tuple)) else tensor


def _build(model) -> Pass:
    import keras

    if not isinstance(model, keras.Model):
        runner = weakref.ref(model)  # the cache must not keep the model alive
        return lambda x: (None, np.asarray(runner().predict_on_batch(x), np.float32).reshape(-1))
    import tensorflow as tf

    features = _features_tensor(model)
    conv = _default_conv(model) if features is not None else None
    # A model of the same layers with two or three outputs; it holds the layers, not `model`, so the cache keeps no
    # model alive. The Grad-CAM feature map costs nothing to return: the network computes it anyway.
    outputs = [features, model.outputs[0], *([conv.output] if conv is not None else [])]
    body = keras.Model(model.inputs, outputs, name=f"{model.name}_forward") if features is not None else None
    network = weakref.ref(model)

    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])
    def run(x):
        if body is None:
            return tf.zeros([tf.shape(x)[0], 0]), network()(x, training=False)
        return tuple(body(x, training=False))

    def call(x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        found, prob, *_ = run(tf.constant(np.asarray(x, np.float32)))
        return (tf.cast(found, tf.float32).numpy().reshape(len(x), -1) if body is not None else None,
                tf.cast(prob, tf.float32).numpy().reshape(-1))

    def with_conv(x: np.ndarray) -> np.ndarray:
        """The Grad-CAM convolution's feature maps (N, h, w, C) float32 of normalised inputs."""
        return tf.cast(run(tf.constant(np.asarray(x, np.float32)))[2], tf.float32).numpy()

    call.tracing_count = run.experimental_get_tracing_count  # for tests: one trace serves every batch size
    call.conv_layer = conv.name if conv is not None else None  # what with_conv returns (None: nothing)
    call.with_conv = with_conv
    return call


def compiled_pass(model: Any) -> Pass:
    """The model's pass: normalised inputs (N, H, W, 3) -> (features (N, D) float32 or None, raw P(FAKE) (N,))."""
    with _guard:
        cached = _passes.get(id(model))
        if cached is not None and cached[0]() is model:
            return cached[1]
        built, key = _build(model), id(model)
        _passes[key] = (weakref.ref(model, lambda _: _passes.pop(key, None)), built)
        return built


def raw_scores(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's own sigmoid output for normalised inputs (N, H, W, 3), float32 (N,)."""
    if not len(x):
        return np.zeros(0, np.float32)
    return compiled_pass(model)(x)[1]


def scores_and_features(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw P(FAKE) (N,) and penultimate features (N, D) float32 of normalised inputs, in one pass."""
    features, prob = compiled_pass(model)(x)
    if features is None:
        raise ValueError(f"{getattr(model, 'name', model)}: the output layer takes no single feature vector")
    return prob, features
