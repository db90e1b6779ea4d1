"""Grad-CAM from the forward pass's own feature maps and gradients (model_zoo.saliency._gradients_from_pass): the
same maps as tf-keras-vis, a skip connection around the cut included, and its own trace where another layer is asked."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from model_zoo import saliency  # noqa: E402
from tests.cards import typed  # noqa: E402

CARD = typed(input_shape=[8, 8, 3], explain={"gradcam_layer": "last_conv"})
EARLIER = typed(input_shape=[8, 8, 3], explain={"gradcam_layer": "first"})  # not what the forward pass returns


def _plain(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="first")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv")(x)
    x = keras.layers.ReLU(name="last_conv")(x)  # not a convolution: Grad-CAM reads "conv", as tf-keras-vis does
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))


def _residual(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    skip = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="first")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv")(skip)
    x = keras.layers.ReLU(name="last_conv")(keras.layers.Add()([skip, x]))  # the head needs `skip` too
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))


def _tf_keras_vis(model, x, fake, layer="last_conv"):
    from tf_keras_vis.gradcam import Gradcam

    maps = []
    for image, target in zip(x, fake, strict=True):
        def score(output, target=target):
            return target * output[:, 0] + (1.0 - target) * (1.0 - output[:, 0])
        maps.append(np.asarray(Gradcam(model, clone=False)(score, image[None], penultimate_layer=layer))[0])
    return np.stack(maps)


@pytest.mark.parametrize(("build", "card", "from_pass"),
                         [(_plain, CARD, True), (_residual, CARD, True), (_residual, EARLIER, False)])
def test_maps_equal_tf_keras_vis_whichever_way_they_are_computed(build, card, from_pass):
    model = build()
    x = np.random.default_rng(3).normal(size=(3, 8, 8, 3)).astype(np.float32)
    fake = np.array([1.0, 0.0, 1.0], np.float32)
    maps = saliency._grad_cam(model, card, x, fake)
    assert (saliency._gradients_from_pass(model, card) is not None) is from_pass
    np.testing.assert_allclose(maps, _tf_keras_vis(model, x, fake, card.explain.gradcam_layer), atol=1e-5)
