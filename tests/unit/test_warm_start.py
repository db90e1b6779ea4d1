"""dashboard.warm_start.compile_as_loaded: each network traced as it loads, and run once on another thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dashboard.warm_start import compile_as_loaded  # noqa: E402
from model_zoo.forward import compiled_pass, raw_scores  # noqa: E402


def _network():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="last_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))


class Runner:  # an exported file's runner: nothing to trace
    def predict_on_batch(self, x):
        return x.mean(axis=(1, 2, 3))[:, None]


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self):
        super().__init__(1)
        self.jobs = 0

    def submit(self, *args, **kwargs):
        self.jobs += 1
        return super().submit(*args, **kwargs)


def test_each_network_is_traced_as_it_loads_and_run_once_on_the_other_thread():
    models = {"net": _network(), "runner": Runner()}
    entry = {name: SimpleNamespace(name=name, card=SimpleNamespace(input_shape=[8, 8, 3])) for name in models}
    with CountingExecutor() as first_runs:
        load = compile_as_loaded(lambda e: models[e.name], first_runs)
        assert load(entry["net"]) is models["net"]
        assert compiled_pass(models["net"]).tracing_count() == 1  # traced before anything asked for a score
        assert load(entry["runner"]) is models["runner"]
    assert first_runs.jobs == 1  # the network only
    raw_scores(models["net"], np.zeros((3, 8, 8, 3), np.float32))
    assert compiled_pass(models["net"]).tracing_count() == 1  # a later batch of another size reuses the trace


def test_the_cycle_collector_is_paused_only_inside_and_left_as_it_was():
    import gc

    from dashboard.warm_start import without_cycle_collection

    assert gc.isenabled()
    with without_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), without_cycle_collection():
        raise RuntimeError("a failed load")
    assert gc.isenabled()  # back on after a failure too
    gc.disable()
    try:
        with without_cycle_collection():
            pass
        assert not gc.isenabled()  # whoever had turned it off keeps it off
    finally:
        gc.enable()
