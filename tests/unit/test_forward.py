"""model_zoo.forward: one compiled pass per network, equal to Keras' predict_on_batch, traced once for every batch."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from model_zoo.forward import compiled_pass, feature_layer_name, raw_scores, scores_and_features  # noqa: E402


def _network(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))


def test_scores_equal_predict_on_batch_for_every_batch_size_from_one_trace():
    model = _network()
    x = np.random.default_rng(0).normal(size=(37, 8, 8, 3)).astype(np.float32)
    for size in (37, 1, 5, 16):
        np.testing.assert_array_equal(raw_scores(model, x[:size]), np.asarray(model.predict_on_batch(x[:size])).ravel())
    assert compiled_pass(model).tracing_count() == 1
    assert compiled_pass(model) is compiled_pass(model)  # built once per model


def test_features_are_the_output_layers_input():
    model = _network(1)
    x = np.random.default_rng(1).normal(size=(6, 8, 8, 3)).astype(np.float32)
    prob, features = scores_and_features(model, x)
    pooled = keras.Model(model.inputs, model.get_layer("pool").output).predict_on_batch(x)
    assert feature_layer_name(model) == "pool" and features.shape == (6, 4) and prob.shape == (6,)
    np.testing.assert_allclose(features, pooled, rtol=1e-6)


def test_anything_with_predict_on_batch_is_scored_through_it():
    class Runner:  # an exported file's runner: no Keras model behind it
        def predict_on_batch(self, x):
            return x.mean(axis=(1, 2, 3))[:, None]

    x = np.random.default_rng(2).random((3, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(raw_scores(Runner(), x), x.mean(axis=(1, 2, 3)), rtol=1e-6)
    assert raw_scores(Runner(), x[:0]).shape == (0,)
    with pytest.raises(ValueError, match="no single feature vector"):
        scores_and_features(Runner(), x)


def test_the_cache_keeps_no_model_alive():
    import gc
    import weakref

    model = _network(2)
    raw_scores(model, np.zeros((2, 8, 8, 3), np.float32))
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None
