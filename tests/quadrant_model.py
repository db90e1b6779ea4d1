"""A detector with a known answer for explanation tests: the FAKE artefact lives in one quadrant only.

FAKE images are smooth colour fields with a faint checkerboard in the top-left 16x16 quadrant;
REAL ones have none. A tiny CNN trained on them (a few seconds) can only find FAKE evidence there,
so a faithful heatmap for FAKE must put its heat there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from model_zoo import normalize_for_card
from tests.cards import typed

SIZE = 32
PREPROCESSING = {"color": "RGB", "resize": "area", "mean": [127.5] * 3, "std": [64.0] * 3}  # centred: trains reliably
QUADRANT = (slice(0, SIZE // 2), slice(0, SIZE // 2))  # rows, columns of the artefact


def quadrant_images(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (2n, 32, 32, 3) uint8, labels (2n,) with 1 = FAKE), REAL first."""
    rng = np.random.default_rng(seed)
    images = []
    for fake in (False, True):
        for _ in range(n_per_class):
            coarse = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.uint8)
            image = np.asarray(Image.fromarray(coarse).resize((SIZE, SIZE), Image.BICUBIC), np.float32)
            image += rng.normal(0, 3, size=image.shape)
            if fake:
                y, x = np.mgrid[QUADRANT]
                image[QUADRANT] += (np.where((x + y) % 2 == 0, 1.0, -1.0) * rng.uniform(14, 22))[..., None]
            images.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(images), np.repeat([0, 1], n_per_class).astype(np.uint8)


def quadrant_card(name: str = "quadrant") -> dict:
    """A valid zoo card for the quadrant model (metrics are placeholders: only the card shape matters)."""
    metrics = {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0,
               "confusion_matrix": [[50, 0], [0, 50]], "n": 100}
    return {"name": name, "architecture": "quadrant", "description": "tiny CNN, artefact in one quadrant (a test model)",
            "input_shape": [SIZE, SIZE, 3], "preprocessing": PREPROCESSING, "explain": {"gradcam_layer": "last_conv"},
            "params": 0, "size_bytes": 0, "train": {"epochs_run": 1, "dataset": "quadrant"},
            "metrics": {"validation": metrics, "test": metrics},
            "decision": {"temperature": 1.0, "threshold": 0.5, "fitted_on": "validation"}}


def train_quadrant_model(seed: int = 0):
    """A ~1.5k-parameter CNN that detects the quadrant checkerboard; trained in a few seconds."""
    import keras

    keras.utils.set_random_seed(seed)
    images, labels = quadrant_images(150, seed)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x))
    model.compile(keras.optimizers.Adam(0.005), "binary_crossentropy", metrics=["accuracy"])
    model.fit(normalize_for_card(images, typed(preprocessing=PREPROCESSING)), labels, epochs=8, batch_size=30, verbose=0)
    return model


def save_entry(model, zoo: Path, name: str = "quadrant") -> Path:
    """Write the model as a zoo entry (card, model.keras) and return its folder."""
    folder = zoo / name
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    card = quadrant_card(name) | {"params": int(model.count_params()),
                                  "size_bytes": (folder / "model.keras").stat().st_size}
    (folder / "card.json").write_text(json.dumps(card))
    return folder
