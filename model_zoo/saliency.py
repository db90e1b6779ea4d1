"""Explanation maps (where in the image a model finds evidence), computed with tf-keras-vis.

Every zoo model ends in one sigmoid, P(FAKE). The score explained is that output
for FAKE and 1 - output for REAL. Maps come back at the model's input size, as
float32 in [0, 1] (min-max per map); an all-zero map means the method found no
positive evidence for that class.

The dashboard shows these maps and `python -m training.faithfulness` measures
them, so both go through `explanation_maps`: what is measured is what is shown.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np

from model_zoo.card import Card
from model_zoo.crops import blend_crops, crop_shares, grid_crops
from model_zoo.map_scale import unit_range
from model_zoo.preprocessing import normalize_for_card

OCCLUSION = "Occlusion"  # model_zoo.occlusion: model-agnostic, so a consensus is occluded as itself
METHODS = ("Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad", OCCLUSION)
TARGETS = ("FAKE", "REAL")
SCORE_CAM_CHANNELS = 32  # Score-CAM runs the model once per kept channel: keep it small
SMOOTH_SAMPLES = 16
SMOOTH_NOISE = 0.2  # noise sigma as a fraction of each image's value range
BATCH = 64  # images per gradient pass: bounded memory for any sample size

# Helper models built once per loaded model: (id(model), what) -> (weak reference to the model, helper).
_derived_models: dict[tuple[int, str], tuple[weakref.ref, object]] = {}


def gradcam_layer(model, card: Card) -> str:
    """The card's explain.gradcam_layer when the model has it, else the last layer with a 4-D output."""
    name = card.explain.gradcam_layer if card.explain else None
    names = {layer.name for layer in model.layers}
    if name in names:
        return name
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4:
            return layer.name
    raise ValueError(f"{card.name}: no convolutional feature map to explain")


def _cached_model(model, key: str, build):
    """A helper model derived from `model`, built once per loaded model (dropped when the model is collected)."""
    cached = _derived_models.get((id(model), key))
    if cached is not None and cached[0]() is model:
        return cached[1]
    derived = build()
    _derived_models[(id(model), key)] = (weakref.ref(model), derived)
    return derived


def _smooth_grad(model, x: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """SmoothGrad as tf-keras-vis' Saliency computes it (the same noise draws from numpy's generator: sigma
    SMOOTH_NOISE x each image's value range; |gradient| of the explained score averaged over SMOOTH_SAMPLES
    noisy copies; max over colour channels), with one compiled gradient over all noisy copies at once
    instead of one eager pass per copy. Tests check it equals tf-keras-vis.
    """
    import tensorflow as tf

    def build():
        @tf.function(input_signature=[tf.TensorSpec([None, *x.shape[1:]], tf.float32), tf.TensorSpec([None], tf.float32)],
                     reduce_retracing=True)
        def gradients(inputs, mask):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                output = tf.cast(model(inputs, training=False), tf.float32)[:, 0]
                score = mask * output + (1.0 - mask) * (1.0 - output)
            return tf.abs(tape.gradient(score, inputs))

        return gradients

    gradients = _cached_model(model, f"smoothgrad:{x.shape[1:]}", build)
    value_range = x.max(axis=(1, 2, 3), keepdims=True) - x.min(axis=(1, 2, 3), keepdims=True)
    sigma = np.broadcast_to(SMOOTH_NOISE * value_range, (SMOOTH_SAMPLES, *value_range.shape))
    noisy = (x[None] + np.random.normal(0.0, sigma, (SMOOTH_SAMPLES, *x.shape)).astype(np.float32)).reshape(-1, *x.shape[1:])
    mask = np.tile(fake, SMOOTH_SAMPLES)
    total = np.concatenate([gradients(tf.constant(noisy[i : i + 256]), tf.constant(mask[i : i + 256])).numpy()
                            for i in range(0, len(noisy), 256)])
    return total.reshape(SMOOTH_SAMPLES, *x.shape).mean(axis=0).max(axis=-1)


def _grad_cam(model, card: Card, x: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Grad-CAM as tf-keras-vis' Gradcam computes it (the same penultimate Conv layer, found by its own
    ExtractIntermediateLayerForGradcam; weights = spatial mean of the score's gradients; ReLU of the weighted
    sum; bilinear zoom to the input; min-max with K.epsilon), with one compiled gradient per loaded model
    instead of a model rebuilt on every call (about 10x faster for one image). Tests check it equals tf-keras-vis.
    """
    import tensorflow as tf
    from scipy.ndimage import zoom
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayerForGradcam

    def build():
        extended = ExtractIntermediateLayerForGradcam(gradcam_layer(model, card), True)(model)

        @tf.function(input_signature=[tf.TensorSpec([None, *x.shape[1:]], tf.float32), tf.TensorSpec([None], tf.float32)],
                     reduce_retracing=True)
        def gradients(inputs, mask):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(inputs)
                output, features = extended(inputs, training=False)
                output = tf.cast(output, tf.float32)[:, 0]
                score = mask * output + (1.0 - mask) * (1.0 - output)
            features = tf.cast(features, tf.float32)
            return tf.cast(tape.gradient(score, features), tf.float32), features

        return gradients

    from_pass = _gradients_from_pass(model, card)
    if from_pass is not None:  # the forward pass's own maps and gradients of P(FAKE): nothing more to trace
        features, grads = from_pass(x)
        grads = grads * (2.0 * fake - 1.0)[:, None, None, None]  # d(1 - P(FAKE)) = -d P(FAKE) where REAL is explained
    else:
        gradients = _cached_model(model, f"gradcam:{x.shape[1:]}", build)
        grads, features = (t.numpy() for t in gradients(tf.constant(x), tf.constant(fake)))
    weights = grads.mean(axis=(1, 2), keepdims=True)
    cam = np.maximum(np.sum(features * weights, axis=-1), 0.0)
    cam = zoom(cam, (1, x.shape[1] / cam.shape[1], x.shape[2] / cam.shape[2]), order=1)
    low, high = cam.min(axis=(1, 2), keepdims=True), cam.max(axis=(1, 2), keepdims=True)
    return (cam - low) / (high - low + 1e-7)


def _gradients_from_pass(model, card: Card):
    """The forward pass's (feature maps, gradients of P(FAKE) with respect to them) of normalised inputs
    (model_zoo.forward), where that pass reads the very convolution Grad-CAM is asked for; else None, and _grad_cam
    traces the whole network for its own gradients (another layer, or a model without that pass)."""
    import keras

    from model_zoo.forward import compiled_pass, gradcam_conv

    if not isinstance(model, keras.Model):
        return None
    passed = compiled_pass(model)
    conv = gradcam_conv(model, gradcam_layer(model, card))
    if conv is None or getattr(passed, "conv_layer", None) != conv.name:
        return None
    return passed.conv_maps_and_gradients


def _score_cam(model, card: Card, x: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Faster Score-CAM as tf-keras-vis computes it for one image (max_N top-variance channels, masks
    min-max scaled, weights = softmax score of the masked input), batched over images.

    tf-keras-vis' own Scorecam keeps the union of every image's top channels in a batch (a map would
    depend on its batch-mates) and rebuilds a model per call (0.3 s an image); tests check this equals it.
    """
    import keras
    import tensorflow as tf
    from scipy.ndimage import zoom

    layer = gradcam_layer(model, card)
    features = _cached_model(model, f"features:{layer}", lambda: keras.Model(model.inputs, model.get_layer(layer).output))
    maps = np.asarray(features.predict_on_batch(x), np.float32)  # (n, h, w, C)
    n, h, w, channels = maps.shape
    height, width = x.shape[1:3]
    keep = min(SCORE_CAM_CHANNELS, channels)
    spread = tf.math.reduce_std(tf.constant(maps), axis=(1, 2))
    top = tf.math.top_k(spread, keep).indices.numpy()
    chosen = np.take_along_axis(maps, top[:, None, None, :], axis=-1)  # (n, h, w, keep)
    upsampled = zoom(chosen, (1, height / h, width / w, 1), order=1, mode="nearest")
    low, high = upsampled.min(axis=(1, 2), keepdims=True), upsampled.max(axis=(1, 2), keepdims=True)
    masks = (upsampled - low) / (high - low + 1e-7)
    masked = (x[:, None] * np.transpose(masks, (0, 3, 1, 2))[..., None]).reshape(-1, height, width, x.shape[-1])
    prob = np.concatenate([np.asarray(model.predict_on_batch(masked[i : i + 256]), np.float32).reshape(-1)
                           for i in range(0, len(masked), 256)]).reshape(n, keep)
    explained = np.where(fake[:, None] > 0.5, prob, 1.0 - prob)
    weights = (explained + 1e-7) / (1.0 + 2e-7)  # softmax of log([1 - p, p] + 1e-7), as tf-keras-vis scores it
    cam = np.maximum(np.einsum("nhwk,nk->nhw", chosen, weights), 0.0)
    return zoom(cam, (1, height / h, width / w), order=1)


def _fake_mask(targets: str | Sequence[str], n: int) -> np.ndarray:
    """1.0 where the explained class is FAKE, 0.0 where REAL, one per image."""
    names = [targets] * n if isinstance(targets, str) else list(targets)
    if len(names) != n:
        raise ValueError(f"{len(names)} targets for {n} images")
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        raise ValueError(f"target must be one of {TARGETS}, got {unknown}")
    return np.array([name == "FAKE" for name in names], np.float32)


@contextmanager
def _seeded_numpy(seed: int | None):
    """SmoothGrad draws its noise from numpy's global generator (as tf-keras-vis does): seed it for this block only."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _raw_maps(model, card: Card, x: np.ndarray, method: str, fake: np.ndarray) -> np.ndarray:
    import tensorflow as tf
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    mask = tf.constant(fake)

    def score(output):  # P(FAKE) where FAKE is explained, 1 - P(FAKE) where REAL is
        return mask * output[:, 0] + (1.0 - mask) * (1.0 - output[:, 0])

    if method == "SmoothGrad":
        return _smooth_grad(model, x, fake)
    if method == "Score-CAM":
        return _score_cam(model, card, x, fake)
    if method == "Grad-CAM":
        return _grad_cam(model, card, x, fake)
    return GradcamPlusPlus(model, clone=False)(score, x, penultimate_layer=gradcam_layer(model, card))


def explanation_maps(model, card: Card, seen: np.ndarray, method: str = "Grad-CAM",
                     targets: str | Sequence[str] = "FAKE", *, seed: int | None = None) -> np.ndarray:
    """Heatmaps (N, H, W) in [0, 1] for uint8 images (N, H, W, 3) as the model sees them.

    `targets` is one class for every image or one per image. Each map depends on its image alone
    (not on the others in the batch); `seed` makes SmoothGrad's noise repeatable.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    seen = np.asarray(seen)
    if method == OCCLUSION:
        from model_zoo.occlusion import occlusion_maps

        return occlusion_maps(model, card, seen, targets)
    if getattr(model, "combines_members", False):
        return _consensus_maps(model, seen, method, targets, seed)
    fake = _fake_mask(targets, len(seen))
    out = []
    with warnings.catch_warnings(), _seeded_numpy(seed):
        warnings.simplefilter("ignore", UserWarning)  # Keras' input-structure notice on every call
        for start in range(0, len(seen), BATCH):
            x = normalize_for_card(seen[start : start + BATCH], card)
            maps = np.asarray(_raw_maps(model, card, x, method, fake[start : start + BATCH]), np.float32)
            out.append(maps.reshape(len(x), *x.shape[1:3]))
    height, width = seen.shape[1:3] if seen.ndim == 4 else (0, 0)
    return unit_range(np.concatenate(out)) if out else np.zeros((0, height, width), np.float32)


def _consensus_maps(consensus, seen: np.ndarray, method: str, targets: str | Sequence[str],
                    seed: int | None) -> np.ndarray:
    """A consensus's map (model_zoo.consensus): the mean of its members' [0, 1] maps, each member explaining the
    same class on its own input. Not rescaled, so where only some members look the map is fainter."""
    import cv2

    from model_zoo.judge import model_lock
    from model_zoo.preprocessing import resize_for_card

    height, width = seen.shape[1:3]
    total = np.zeros((len(seen), height, width), np.float32)
    for member in consensus.members:
        own = np.stack([resize_for_card(image, member.card) for image in seen]) if len(seen) else seen
        with model_lock(member.model):  # the judge's per-model lock: Keras models are not documented thread-safe
            maps = explanation_maps(member.model, member.card, own, method, targets, seed=seed)
        if maps.shape[1:] != (height, width):
            maps = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])
        total += maps
    return total / max(1, len(consensus.members))


def input_gradients(model, card: Card, seen: np.ndarray) -> np.ndarray:
    """d P(FAKE) / d input (the model's own sigmoid output, before calibration) for uint8 images (N, H, W, 3)
    as the model sees them: float32 (N, H, W, 3), signed, on the card's normalised input scale.

    Which frequencies a model is sensitive to is the spectrum of these (model_zoo.cue_vocabulary.normalised_power).
    """
    import tensorflow as tf

    seen = np.asarray(seen)
    if len(seen) == 0:
        return np.zeros((0, *seen.shape[1:]), np.float32)

    def build():
        @tf.function(input_signature=[tf.TensorSpec([None, *seen.shape[1:]], tf.float32)], reduce_retracing=True)
        def gradients(inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                output = tf.cast(model(inputs, training=False), tf.float32)[:, 0]
            return tape.gradient(output, inputs)

        return gradients

    gradients = _cached_model(model, f"gradient:{seen.shape[1:]}", build)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras' input-structure notice on every call
        return np.concatenate([gradients(tf.constant(normalize_for_card(seen[i : i + BATCH], card))).numpy()
                               for i in range(0, len(seen), BATCH)]).astype(np.float32)


def explanation_map(model, card: Card, seen: np.ndarray, method: str = "Grad-CAM", target: str = "FAKE") -> np.ndarray:
    """Heatmap (H, W) in [0, 1] for one image as the model sees it ((H, W, 3) uint8 from decode_for_card).

    A crop card's image (model_zoo.crops) is explained crop by crop, over the grid it is judged by, and the crops'
    maps are put on one scale over the whole image at its full resolution: each weighted by its crop's share of the
    evidence in the averaged logit and blended where crops overlap (crops.blend_crops; 0 where no crop looked).
    Occlusion needs no stitching: the patch slides over the whole image, judged by its grid (model_zoo.occlusion).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    spec = card.crop_spec
    if spec:
        seen = np.asarray(seen)
        if method == OCCLUSION:
            from model_zoo.occlusion import whole_image_occlusion

            return whole_image_occlusion(model, card, seen, target)
        from model_zoo.inference import crop_scores

        crops, grid = grid_crops(seen, *spec)
        maps = explanation_maps(model, card, crops, method, target)
        p = np.clip(crop_scores(model, crops, card).astype(np.float64), 1e-7, 1 - 1e-7)
        shares = crop_shares(np.log(p) - np.log1p(-p), target == "FAKE")
        return unit_range(blend_crops(maps, shares, grid, *seen.shape[:2])[None])[0]
    return explanation_maps(model, card, np.asarray(seen)[None], method, target)[0]
