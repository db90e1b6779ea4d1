"""The card's preprocessing and calibration as TensorFlow ops, for exported graphs (TF Serving).

An exported SavedModel must turn encoded image bytes into a verdict without this
project's Python, so it repeats model_zoo.preprocessing in the graph:
decode -> RGB -> resize to the card's input size -> (x - mean) / std, and
model_zoo.decision's temperature scaling. Each step follows the numpy/OpenCV/Pillow
path it mirrors (tests/integration/test_export.py compares them numerically); the known gaps:
  * EXIF orientation is not applied (Pillow's exif_transpose has no TF op);
  * big JPEGs are decoded at full size, where Pillow's draft mode decodes at 1/2..1/8
    scale first, so photos resized to 32x32 can differ by a few grey levels;
  * animated GIFs give their first frame (as Pillow); WebP and TIFF are not decoded (TF has no op).
Import it only where TensorFlow is wanted: it imports tensorflow at the top.
"""

from __future__ import annotations

import tensorflow as tf

from model_zoo.card import Card
from model_zoo.preprocessing import normalization

_PNG_MAGIC = b"\x89PNG"


def _composite_on_white(rgba: tf.Tensor) -> tf.Tensor:
    """RGBA uint8 -> RGB uint8 with transparency flattened onto white, as model_zoo.images does."""
    rgba = tf.cast(rgba, tf.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return tf.cast(tf.clip_by_value(tf.round(rgb), 0, 255), tf.uint8)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """One encoded image (scalar tf.string: JPEG, PNG, GIF, BMP) -> (H, W, 3) uint8 RGB."""
    def jpeg() -> tf.Tensor:
        # ISLOW DCT, Pillow's default, so both decoders give the same pixels.
        return tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE")

    def png() -> tf.Tensor:
        return _composite_on_white(tf.io.decode_png(encoded, channels=4))

    def other() -> tf.Tensor:
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        return tf.ensure_shape(image, [None, None, 3])

    is_png = tf.equal(tf.strings.substr(encoded, 0, 4), _PNG_MAGIC)
    return tf.case([(tf.io.is_jpeg(encoded), jpeg), (is_png, png)], default=other, exclusive=False)


def _nearest(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """OpenCV's INTER_NEAREST: source index floor(dst * in / out), no half-pixel offset (tf.image's differs)."""
    shape = tf.shape(image)
    rows = tf.minimum(tf.cast(tf.floor(tf.range(height, dtype=tf.float32) * tf.cast(shape[0], tf.float32) / height),
                              tf.int32), shape[0] - 1)
    cols = tf.minimum(tf.cast(tf.floor(tf.range(width, dtype=tf.float32) * tf.cast(shape[1], tf.float32) / width),
                              tf.int32), shape[1] - 1)
    return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


def resize_rgb(image: tf.Tensor, card: Card) -> tf.Tensor:
    """(H, W, 3) uint8 -> the card's input size, uint8, following model_zoo.preprocessing.resize_for_card."""
    height, width = card.input_size
    method = card.resize_method  # one of model_zoo.card.RESIZE_METHODS
    shape = tf.shape(image)
    if method == "nearest":
        resized = _nearest(image, height, width)
    else:
        # OpenCV's INTER_AREA only averages when shrinking; resize_for_card enlarges bilinearly.
        shrinking = tf.logical_and(shape[0] >= height, shape[1] >= width)
        use_area = tf.logical_and(tf.constant(method == "area"), shrinking)
        resized = tf.cond(
            use_area,
            lambda: tf.image.resize(image, (height, width), method="area"),
            lambda: tf.image.resize(image, (height, width), method="bilinear", antialias=False),
        )
        # OpenCV rounds its uint8 result half up ((sum + 2) >> 2 for 2x2 blocks): so does this.
        resized = tf.cast(tf.clip_by_value(tf.floor(resized + 0.5), 0, 255), tf.uint8)
    same_size = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    resized = tf.cond(same_size, lambda: image, lambda: tf.cast(resized, tf.uint8))
    return tf.ensure_shape(resized, [height, width, 3])


def normalize(images: tf.Tensor, card: Card) -> tf.Tensor:
    """uint8 (..., H, W, 3) -> float32 model input, with the constants of model_zoo.preprocessing.normalization."""
    to_bgr, mean, std = normalization(card)
    x = tf.cast(images, tf.float32)
    if to_bgr:
        x = x[..., ::-1]
    return (x - tf.constant(mean)) / tf.constant(std)


def apply_temperature_in_graph(raw_prob_fake: tf.Tensor, card: Card) -> tf.Tensor:
    """model_zoo.decision.apply_temperature in the graph: sigmoid(logit(p) / T)."""
    temp = card.temperature
    if temp == 1.0:
        return raw_prob_fake
    p = tf.clip_by_value(tf.cast(raw_prob_fake, tf.float64), 1e-7, 1 - 1e-7)
    return tf.cast(tf.sigmoid((tf.math.log(p) - tf.math.log1p(-p)) / temp), tf.float32)


def encoded_to_model_input(encoded: tf.Tensor, card: Card) -> tf.Tensor:
    """A batch of encoded images (N,) tf.string -> (N, H, W, 3) float32 model input."""
    height, width = card.input_size
    images = tf.map_fn(lambda one: resize_rgb(decode_rgb(one), card), encoded,
                       fn_output_signature=tf.TensorSpec((height, width, 3), tf.uint8))
    return normalize(images, card)


def verdict_outputs(raw_prob_fake: tf.Tensor, card: Card) -> dict[str, tf.Tensor]:
    """{"prob_fake": calibrated P(FAKE) (N,), "label": b"FAKE"/b"REAL" at the card's threshold (N,)}."""
    prob = apply_temperature_in_graph(tf.reshape(tf.cast(raw_prob_fake, tf.float32), [-1]), card)
    label = tf.where(prob >= card.threshold, tf.constant("FAKE"), tf.constant("REAL"))
    return {"prob_fake": prob, "label": label}
