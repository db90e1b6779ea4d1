"""The exported .h5 loads in tf.keras 2 (the tf_keras package) and in Keras 3, with the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

from training.lib.h5_legacy import make_tf_keras2_readable, to_tf_keras2_config


def _merge_model():
    """Branches joined by Add and Concatenate (ResNet, DenseNet), batch norm and dropout: each kind of layer call."""
    import keras

    inputs = keras.Input((32, 32, 3), name="image")
    a = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    b = keras.layers.Conv2D(4, 1)(inputs)
    added = keras.layers.Add()([a, b])
    joined = keras.layers.Concatenate()([added, keras.layers.BatchNormalization()(a)])
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Dropout(0.1)(joined))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(pooled))


def _backbone_model():
    """The layers EfficientNet-Lite0 adds (training.lib.efficientnet_lite): in-model upsampling, depthwise conv, ReLU6."""
    import keras

    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Resizing(16, 16, interpolation="bilinear", name="upsample")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.ReLU(max_value=6.0)(keras.layers.BatchNormalization(epsilon=1e-3)(x))
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(pooled))


@pytest.mark.parametrize("build", [_merge_model, _backbone_model], ids=["merges", "backbone-layers"])
def test_tf_keras2_and_keras3_both_read_the_file(tmp_path, build):
    import keras
    import tf_keras

    model = build()
    path = tmp_path / "model.h5"
    keras.saving.save_model(model, path)
    with pytest.raises((TypeError, AttributeError, ValueError)):  # the plain Keras 3 file: what old code could not read
        tf_keras.models.load_model(path, compile=False)
    make_tf_keras2_readable(path)

    x = np.random.default_rng(0).random((4, *model.input_shape[1:])).astype(np.float32)
    expected = model.predict_on_batch(x)
    legacy = tf_keras.models.load_model(path, compile=False)
    assert np.abs(legacy.predict_on_batch(x) - expected).max() <= 1e-5
    modern = keras.saving.load_model(path, compile=False, safe_mode=True)
    assert np.abs(modern.predict_on_batch(x) - expected).max() <= 1e-5


def test_config_rewrite_spells_calls_and_shapes_as_tf_keras2():
    keras3 = {"class_name": "Functional", "config": {
        "input_layers": ["image", 0, 0], "output_layers": ["add", 0, 0],
        "layers": [
            {"class_name": "InputLayer", "name": "image", "inbound_nodes": [],
             "config": {"batch_shape": [None, 8, 8, 3], "optional": False,
                        "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}}},
            {"class_name": "Add", "name": "add", "config": {"name": "add", "quantization_config": None},
             "inbound_nodes": [{"args": [[
                 {"class_name": "__keras_tensor__", "config": {"keras_history": ["image", 0, 0]}},
                 {"class_name": "__keras_tensor__", "config": {"keras_history": ["image", 0, 0]}}]],
                 "kwargs": {"training": False, "mask": None}}]},
        ]}}
    rewritten = to_tf_keras2_config(keras3)["config"]
    image, add = rewritten["layers"]
    assert image["config"] == {"batch_input_shape": [None, 8, 8, 3], "dtype": "float32"}
    assert add["config"] == {"name": "add"}
    assert add["inbound_nodes"] == [[["image", 0, 0, {"training": False}], ["image", 0, 0, {"training": False}]]]
    assert rewritten["input_layers"] == [["image", 0, 0]] and rewritten["output_layers"] == [["add", 0, 0]]
