"""One compiled forward pass per loaded network: raw P(FAKE) and the penultimate features, for any batch size.

Keras' `predict_on_batch` traces a graph for the first batch shape and traces again for the next, and a second,
two-output model for the novelty features traced its own. On the shipped zoo that tracing, not the arithmetic, was
most of the first upload's time (bench/evidence_speed.py). Here each network is traced once, with the batch
dimension left open, and judging, the novelty check, the evidence tests, Grad-CAM and evaluation all run that one
graph. Its scores equal `predict_on_batch`'s bit for bit (tests/unit/test_forward.py).

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
    """TensorFlow warns of "retracing" when several functions of one code location trace (here, one per model);
    each traces once, so the warning would only mislead."""

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
    """The Grad-CAM convolution of a model that has GRADCAM_LAYER, else None: the pass outputs its feature maps and
    their gradients too, so Grad-CAM (model_zoo.saliency) traces nothing of its own."""
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
    # model alive. The Grad-CAM feature maps cost nothing to return: the network computes them anyway.
    outputs = [features, model.outputs[0], *([conv.output] if conv is not None else [])]
    body = keras.Model(model.inputs, outputs, name=f"{model.name}_forward") if features is not None else None
    network = weakref.ref(model)

    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])
    def run(x):
        if body is None:
            return tf.zeros([tf.shape(x)[0], 0]), network()(x, training=False)
        found, prob, *maps = body(x, training=False)
        if not maps:
            return found, prob
        # Grad-CAM's gradients, of P(FAKE) with respect to those maps. tf.gradients builds only the ops between the
        # two (the head, skip connections held fixed), so this costs a fraction of the forward trace, and Grad-CAM
        # then needs no trace of its own: on the first upload, that was a second trace of every network.
        return found, prob, maps[0], tf.gradients(tf.cast(prob, tf.float32), maps[0],
                                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)[0]

    def call(x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        found, prob, *_ = run(tf.constant(np.asarray(x, np.float32)))
        return (tf.cast(found, tf.float32).numpy().reshape(len(x), -1) if body is not None else None,
                tf.cast(prob, tf.float32).numpy().reshape(-1))

    def conv_maps_and_gradients(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The Grad-CAM convolution's feature maps (N, h, w, C) of normalised inputs, and the gradients of P(FAKE)
        with respect to them, float32."""
        _, _, maps, gradients = run(tf.constant(np.asarray(x, np.float32)))
        return tf.cast(maps, tf.float32).numpy(), tf.cast(gradients, tf.float32).numpy()

    call.trace = run.get_concrete_function  # trace now, without running (the dashboard's warm-up)
    call.tracing_count = run.experimental_get_tracing_count  # for tests: one trace serves every batch size
    call.conv_layer = conv.name if conv is not None else None  # what conv_maps_and_gradients reads (None: nothing)
    call.conv_maps_and_gradients = conv_maps_and_gradients
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


def trace(model: Any) -> bool:
    """Trace the model's pass without running it; False for anything that is not a Keras model (nothing to trace).

    Tracing is Python and holds Python's lock, but TensorFlow optimises a graph on its first run in C++ without it,
    so a caller with several models can run one while it traces the next (dashboard.warm_start)."""
    passed = compiled_pass(model)
    if not hasattr(passed, "trace"):
        return False
    passed.trace()
    return True


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
