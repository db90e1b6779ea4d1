"""Small zoos with known answers, built from the session's trained zoo (tests copy, never edit, trained_zoo)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path


def copy_zoo(trained_zoo: Path, target: Path) -> Path:
    shutil.copytree(trained_zoo, target, ignore=shutil.ignore_patterns(".runs"))
    return target


def edit_card(folder: Path, **changes) -> dict:
    """Update top-level card keys (and `metrics.test` through test=...) in place; returns the new card."""
    card = json.loads((folder / "card.json").read_text())
    test = changes.pop("test", None)
    card.update(changes)
    if test is not None:
        card["metrics"]["test"] = {**card["metrics"]["test"], **test}
    (folder / "card.json").write_text(json.dumps(card))
    return card


def constant_entry(zoo: Path, name: str, source: Path, prob_fake: float, threshold: float) -> Path:
    """An entry whose model gives P(FAKE) = prob_fake to every 32x32 image, deciding at `threshold` (T = 1).

    The card is `source`'s (metrics, preprocessing) with its own name, size and decision block.
    """
    import keras

    folder = zoo / name
    folder.mkdir(parents=True)
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    logit = math.log(prob_fake / (1 - prob_fake))
    output = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant(logit))(pooled)
    model = keras.Model(inputs, output)
    model.save(folder / "model.keras")
    card = json.loads((source / "card.json").read_text())
    card.update(name=name, params=int(model.count_params()), size_bytes=(folder / "model.keras").stat().st_size,
                decision={"temperature": 1.0, "threshold": threshold, "fitted_on": "validation"})
    (folder / "card.json").write_text(json.dumps(card))
    shutil.copy(source / "history.csv", folder / "history.csv")
    return folder


def with_known_errors(folder: Path, wrong: int, offset: int = 0) -> list[str]:
    """Rewrite the entry's test_predictions.csv so exactly `wrong` images (from row `offset`) are misclassified.

    Every other image gets a confident right answer at the card's threshold; returns the wrong images' paths.
    """
    import pandas as pd

    card = json.loads((folder / "card.json").read_text())
    threshold = card.get("decision", {}).get("threshold", 0.5)
    predictions = pd.read_csv(folder / "test_predictions.csv")
    says_fake = predictions["label"] == 1
    flipped = predictions.index[offset : offset + wrong]
    says_fake.loc[flipped] = ~says_fake.loc[flipped]
    predictions["prob_fake"] = says_fake.map({True: min(0.99, threshold + 0.3), False: max(0.01, threshold - 0.3)})
    predictions.to_csv(folder / "test_predictions.csv", index=False)
    return list(predictions.loc[flipped, "path"])


def with_cues(folder: Path, accuracy: dict | None = None, gradient_upper: float = 0.8) -> None:
    """Write a cues.csv (every condition of the study; 0.9 accuracy unless `accuracy[(condition, level)]` says
    otherwise) and a cue_spectra.npz whose gradients put `gradient_upper` of their power in the upper 8 bands."""
    import numpy as np
    import pandas as pd

    from model_zoo.cue_vocabulary import BANDS, CUES_COLUMNS, band_index
    from training.lib.cue_study import CONDITIONS

    accuracy = accuracy or {}
    rows = [{"family": c.family, "condition": c.condition, "level": c.level, "label": c.label,
             "accuracy": accuracy.get((c.condition, c.level), 0.9), "roc_auc": 0.95, "mean_p_fake_real": 0.1,
             "mean_p_fake_fake": 0.9, "n": 100} for c in CONDITIONS]
    pd.DataFrame(rows, columns=list(CUES_COLUMNS)).to_csv(folder / "cues.csv", index=False)
    half = BANDS // 2
    gradient = np.r_[np.full(half, (1 - gradient_upper) / half), np.full(half, gradient_upper / half)]
    image = np.r_[0.0, np.full(half - 1, 0.9 / (half - 1)), np.full(half, 0.1 / half)]
    difference = 0.3 * np.fft.fftshift(band_index(32, 32) >= half)  # FAKE: more of the upper 8 bands
    np.savez(folder / "cue_spectra.npz", class_difference=difference, image_bands=np.stack([image, image]),
             gradient_power=np.full((32, 32), 1 / 1024), gradient_bands=gradient, gradient_n=np.array(10))
