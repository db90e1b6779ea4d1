"""A zoo without training: models with a known answer, so tests can assert exact verdicts and metrics.

`brightness_entry` builds a real Keras entry whose P(FAKE) is sigmoid(20 * (mean pixel / 255 - 0.5)):
bright images are FAKE, dark ones REAL, through the card's own preprocessing. Built in well under a second.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from model_zoo import UNIT_RANGE, staged_entry, write_card

STEEPNESS = 20.0


def metrics_block(accuracy: float, n: int = 100) -> dict:
    """A card-shaped metrics dict (the values only need to be plausible)."""
    correct = round(accuracy * n)
    return {"accuracy": accuracy, "precision": accuracy, "recall": accuracy, "f1": accuracy, "roc_auc": 0.99,
            "confusion_matrix": [[correct // 2, n // 2 - correct // 2], [n // 2 - (correct - correct // 2),
                                                                         correct - correct // 2]], "n": n}


def brightness_entry(zoo: Path, name: str = "bright", threshold: float = 0.5, **card_extra) -> Path:
    """Write entry `name` into `zoo` through model_zoo's atomic writer; returns its folder."""
    import keras

    inputs = keras.Input((32, 32, 3))
    # A 1x1 convolution averaging the channels gives Grad-CAM a feature map to explain; the mean is unchanged.
    grey = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(1 / 3), name="last_conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(grey)
    output = keras.layers.Dense(1, activation="sigmoid",
                                kernel_initializer=keras.initializers.Constant(STEEPNESS),
                                bias_initializer=keras.initializers.Constant(-STEEPNESS / 2))(pooled)
    model = keras.Model(inputs, output)
    card = {
        "name": name, "architecture": "brightness", "description": "mean brightness, a test model",
        "input_shape": [32, 32, 3], "preprocessing": dict(UNIT_RANGE), "params": int(model.count_params()),
        "explain": {"gradcam_layer": "last_conv"},
        "size_bytes": 0, "train": {"epochs_run": 1, "best_epoch": 1, "batch_size": 32, "augmentation": "none",
                                   "n_train": 200, "n_validation": 40, "dataset": "synthetic"},
        "metrics": {"validation": metrics_block(0.9, 40), "test": metrics_block(0.95, 100),
                    "test_unseen": metrics_block(0.94, 90)},
        "decision": {"temperature": 1.0, "threshold": threshold, "fitted_on": "validation"},
        "created": "2026-01-02T03:04:05+0000",
        **card_extra,
    }
    with staged_entry(name, zoo) as folder:
        model.save(folder / "model.keras")
        write_card(folder, card)
        (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy\n1,0.5,0.8,0.4,0.85\n"
                                            "2,0.3,0.9,0.35,0.9\n")
    return zoo / name


def expected_prob_fake(mean_pixel: float) -> float:
    return float(1 / (1 + np.exp(-STEEPNESS * (mean_pixel / 255 - 0.5))))


def flat_image_bytes(value: int, size: tuple[int, int] = (32, 32), fmt: str = "PNG", **save) -> bytes:
    """An image of one grey level (its mean survives any resize), encoded as `fmt`."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buffer, format=fmt, **save)
    return buffer.getvalue()
