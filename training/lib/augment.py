"""Training-time augmentation of uint8 image batches, vectorised over the batch (tf.data map).

    none          the images as they are
    flip          random horizontal flip
    flip_shift    flip + a random shift of up to 2 whole pixels (reflect padding)
    rotate        flip + a random rotation of up to 15 degrees (bilinear, reflect fill)
    resized_crop  flip + a random crop of 60-100% of the area (aspect 3:4 to 4:3) resized back
    robust        flip_shift, then half the images get one of: JPEG re-compression (quality
                  30-95), Gaussian blur (sigma 0.3-1.5), a downscale-upscale (factor 0.4-0.9)
                  or Gaussian noise (sigma 1-8 on the 0-255 scale); JPEG quality and the
                  downscale factor are drawn per batch, blur and noise per image

Flips and whole-pixel shifts keep the pixel grid, where generator artefacts live; rotation,
crops and the `robust` corruptions resample or smooth it, which is what the augmentation
study measures. Every function takes and returns a uint8 batch (N, H, W, 3), so
normalisation stays in one place (the card's constants, applied after augmentation).
"""

from __future__ import annotations

import math

AUGMENTATIONS = ("none", "flip", "flip_shift", "rotate", "resized_crop", "robust")

SHIFT_PIXELS = 2
MAX_ROTATION_DEGREES = 15.0
CROP_AREA = (0.6, 1.0)
CROP_ASPECT = (3 / 4, 4 / 3)
ROBUST_FRACTION = 0.5  # half the batch stays clean, so clean accuracy is not traded away
JPEG_QUALITY = (30, 95)
BLUR_SIGMA = (0.3, 1.5)
BLUR_RADIUS = 4  # taps each side; covers 2.7 sigma at the largest sigma
DOWNSCALE_FACTOR = (0.4, 0.9)
NOISE_SIGMA = (1.0, 8.0)


def augment(images, name: str):
    """The augmentation `name` applied to a uint8 batch; returns a uint8 batch of the same shape."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
    if name == "none":
        return images
    images = random_flip(images)
    if name in ("flip_shift", "robust"):
        images = random_shift(images, SHIFT_PIXELS)
    if name == "rotate":
        images = random_rotation(images, MAX_ROTATION_DEGREES)
    if name == "resized_crop":
        images = random_resized_crop(images)
    if name == "robust":
        images = random_corruption(images)
    return images


def random_flip(images):
    import tensorflow as tf

    flipped = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
    return tf.where(flipped, tf.reverse(images, axis=[2]), images)


def random_shift(images, pixels: int):
    """Shift each image by up to `pixels` whole pixels (reflect padding)."""
    import tensorflow as tf

    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]], mode="REFLECT")
    dy = tf.random.uniform([n, 1], 0, 2 * pixels + 1, dtype=tf.int32)
    dx = tf.random.uniform([n, 1], 0, 2 * pixels + 1, dtype=tf.int32)
    shifted = tf.gather(padded, dy + tf.range(height)[None], axis=1, batch_dims=1)
    return tf.gather(shifted, dx + tf.range(width)[None], axis=2, batch_dims=1)


def random_rotation(images, max_degrees: float):
    """Rotate each image by a random angle in [-max_degrees, max_degrees] about its centre."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    height, width = float(images.shape[1]), float(images.shape[2])
    angle = tf.random.uniform([n], -1.0, 1.0) * (max_degrees * math.pi / 180)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # ImageProjectiveTransformV3 maps output pixel (x, y) to input (a0 x + a1 y + a2, b0 x + b1 y + b2).
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                           sin, cos, cy - sin * cx - cos * cy,
                           tf.zeros([n]), tf.zeros([n])], axis=1)
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    return _to_uint8(rotated)


def random_resized_crop(images):
    """Crop a random box of CROP_AREA of the image at an aspect in CROP_ASPECT; resize it back (bilinear)."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    area = tf.random.uniform([n], *CROP_AREA)
    log_aspect = tf.random.uniform([n], math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1]))
    box_w = tf.minimum(1.0, tf.sqrt(area * tf.exp(log_aspect)))
    box_h = tf.minimum(1.0, tf.sqrt(area / tf.exp(log_aspect)))
    y0 = tf.random.uniform([n]) * (1.0 - box_h)
    x0 = tf.random.uniform([n]) * (1.0 - box_w)
    boxes = tf.stack([y0, x0, y0 + box_h, x0 + box_w], axis=1)
    cropped = tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes, tf.range(n), images.shape[1:3])
    return _to_uint8(cropped)


def random_corruption(images):
    """ROBUST_FRACTION of the images get one corruption each (JPEG, blur, downscale-upscale or noise)."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    candidates = tf.stack([images, jpeg_recompress(images), gaussian_blur(images),
                           downscale_upscale(images), gaussian_noise(images)])
    kind = tf.random.uniform([n], 1, candidates.shape[0], dtype=tf.int32)
    kind = tf.where(tf.random.uniform([n]) < ROBUST_FRACTION, kind, 0)
    return tf.gather_nd(candidates, tf.stack([kind, tf.range(n)], axis=1))


def jpeg_recompress(images):
    """The batch through a JPEG encoder at one random quality, as one tiled image.

    32x32 tiles are whole JPEG blocks (8x8 DCT, 16x16 chroma), so each tile is compressed as
    it would be alone, except that the decoder's chroma upsampling blends across tile edges;
    one encode per batch is 20x faster than one per image.
    """
    import tensorflow as tf

    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    quality = tf.random.uniform([], JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, dtype=tf.int32)
    strip = tf.reshape(tf.transpose(images, [1, 0, 2, 3]), [height, n * width, 3])  # side by side
    strip = tf.image.adjust_jpeg_quality(strip, quality)
    return tf.ensure_shape(tf.transpose(tf.reshape(strip, [height, n, width, 3]), [1, 0, 2, 3]), images.shape)


def gaussian_blur(images):
    """Separable Gaussian blur, each image at its own sigma (reflect borders).

    The batch is folded into channels, so one depthwise convolution applies every image's own kernel.
    """
    import tensorflow as tf

    n, height, width, r = tf.shape(images)[0], images.shape[1], images.shape[2], BLUR_RADIUS
    sigma = tf.random.uniform([n, 1], *BLUR_SIGMA)
    offsets = tf.range(-r, r + 1, dtype=tf.float32)[None]
    weights = tf.exp(-0.5 * (offsets / sigma) ** 2)
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)  # (n, 2r+1)
    kernel = tf.repeat(tf.transpose(weights), 3, axis=1)  # (2r+1, n*3): one column per image channel
    x = tf.transpose(tf.cast(images, tf.float32), [1, 2, 0, 3])
    x = tf.reshape(x, [1, height, width, n * 3])
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    x = tf.nn.depthwise_conv2d(x, tf.reshape(kernel, [2 * r + 1, 1, -1, 1]), [1, 1, 1, 1], "VALID")
    x = tf.nn.depthwise_conv2d(x, tf.reshape(kernel, [1, 2 * r + 1, -1, 1]), [1, 1, 1, 1], "VALID")
    x = tf.transpose(tf.reshape(x, [height, width, n, 3]), [2, 0, 1, 3])
    return _to_uint8(tf.ensure_shape(x, images.shape))


def downscale_upscale(images):
    """Shrink the batch by one random factor (area averaging) and enlarge it back (bilinear)."""
    import tensorflow as tf

    height, width = images.shape[1], images.shape[2]
    factor = tf.random.uniform([], *DOWNSCALE_FACTOR)
    small = tf.maximum(1, tf.cast(tf.round(factor * [height, width]), tf.int32))
    shrunk = tf.image.resize(tf.cast(images, tf.float32), small, method="area")
    return _to_uint8(tf.image.resize(shrunk, [height, width], method="bilinear"))


def gaussian_noise(images):
    """Additive Gaussian noise, each image at its own sigma on the 0-255 scale."""
    import tensorflow as tf

    sigma = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], *NOISE_SIGMA)
    return _to_uint8(tf.cast(images, tf.float32) + tf.random.normal(tf.shape(images)) * sigma)


def _to_uint8(x):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


# Backbone training (training.lib.backbone_fit) feeds numpy batches so that it runs on any Keras backend,
# a GPU machine without TensorFlow included. These are the same flips and whole-pixel shifts as above.
NUMPY_AUGMENTATIONS = ("none", "flip", "flip_shift")


def augment_numpy(images, name: str, rng):
    """`augment` for a numpy uint8 batch (N, H, W, 3), drawing from the numpy Generator `rng`."""
    import numpy as np

    if name not in NUMPY_AUGMENTATIONS:
        raise ValueError(f"--augment {name} is not available for backbone training; "
                         f"choose one of {', '.join(NUMPY_AUGMENTATIONS)}")
    if name == "none":
        return images
    flipped = rng.random(len(images)) < 0.5
    images = np.where(flipped[:, None, None, None], images[:, :, ::-1], images)
    if name == "flip_shift":
        p, (n, height, width) = SHIFT_PIXELS, images.shape[:3]
        padded = np.pad(images, [(0, 0), (p, p), (p, p), (0, 0)], mode="reflect")
        dy = rng.integers(0, 2 * p + 1, n)[:, None] + np.arange(height)[None]
        dx = rng.integers(0, 2 * p + 1, n)[:, None] + np.arange(width)[None]
        images = padded[np.arange(n)[:, None, None], dy[:, :, None], dx[:, None, :]]
    return images
