"""Explanation maps (where in the image a model finds evidence) with tf-keras-vis.

Every zoo model ends in one sigmoid, P(FAKE). The score explained is that
output for FAKE and 1 - output for REAL. Maps come back at the model's input
size, as float32 in [0, 1]; an all-zero map means the method found no positive
evidence for that class.
"""

from __future__ import annotations

import functools
import warnings
import weakref

import numpy as np

from model_zoo import normalize_for_card

METHODS = ("Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad")
TARGETS = ("FAKE", "REAL")
SCORE_CAM_CHANNELS = 32  # Score-CAM runs the model once per kept channel: keep it small
SMOOTH_SAMPLES = 16

# Score-CAM models built once per loaded model (keyed by id, dropped when the model is collected).
_two_class_models: dict[int, tuple[weakref.ref, object]] = {}


def _score(target: str):
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    if target == "FAKE":
        return lambda output: output[:, 0]
    return lambda output: 1.0 - output[:, 0]


def gradcam_layer(model, card: dict) -> str:
    """The card's explain.gradcam_layer when the model has it, else the last layer with a 4-D output."""
    name = (card.get("explain") or {}).get("gradcam_layer")
    names = {layer.name for layer in model.layers}
    if name in names:
        return name
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4:
            return layer.name
    raise ValueError(f"{card.get('name', 'model')}: no convolutional feature map to explain")


def _two_class(model):
    """The model with outputs log([1 - p, p]), so tf-keras-vis' Score-CAM softmax gives back [1 - p, p].

    Score-CAM applies a softmax to the model output before scoring; over a single
    sigmoid output that softmax is always 1, which would make every channel weigh the same.
    """
    import keras

    cached = _two_class_models.get(id(model))
    if cached is not None and cached[0]() is model:
        return cached[1]
    p = model.outputs[0]
    two = keras.ops.log(keras.ops.concatenate([1.0 - p, p], axis=-1) + 1e-7)
    wrapped = keras.Model(model.inputs, two, name=f"{model.name}_two_class")
    wrapped.predict = functools.partial(wrapped.predict, verbose=0)  # Score-CAM calls predict: no progress bars
    _two_class_models[id(model)] = (weakref.ref(model), wrapped)
    return wrapped


def _unit(heatmap: np.ndarray) -> np.ndarray:
    heatmap = np.nan_to_num(np.asarray(heatmap, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(heatmap.min()), float(heatmap.max())
    if high - low < 1e-12:
        return np.zeros_like(heatmap) if high <= 0 else np.ones_like(heatmap)
    return np.clip((heatmap - low) / (high - low), 0.0, 1.0)


def explanation_map(model, card: dict, seen: np.ndarray, method: str = "Grad-CAM", target: str = "FAKE") -> np.ndarray:
    """Heatmap (H, W) in [0, 1] for one image as the model sees it ((H, W, 3) uint8 from decode_for_card)."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    x = normalize_for_card(np.asarray(seen)[None], card)
    score = _score(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' input-structure notice on every call
        if method == "SmoothGrad":
            maps = Saliency(model, clone=False)(score, x, smooth_samples=SMOOTH_SAMPLES, smooth_noise=0.2)
        elif method == "Score-CAM":
            layer = gradcam_layer(model, card)
            channels = int(model.get_layer(layer).output.shape[-1])
            wrapped = _two_class(model)
            index = 1 if target == "FAKE" else 0
            maps = Scorecam(wrapped, clone=False)(
                lambda output: output[:, index], x, penultimate_layer=layer, max_N=min(SCORE_CAM_CHANNELS, channels))
        else:
            cam_class = Gradcam if method == "Grad-CAM" else GradcamPlusPlus
            maps = cam_class(model, clone=False)(score, x, penultimate_layer=gradcam_layer(model, card))
    return _unit(np.asarray(maps)[0])
