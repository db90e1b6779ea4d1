"""Test-set errors: one table of every model's stored P(FAKE) per test image, and its filters.

The table has columns `path`, `label` (1 = FAKE) and one column of P(FAKE) per
model; only images that every included model was evaluated on are kept, so
"other models got it right" always compares like with like. Verdicts are taken at
each model's own threshold (`model_thresholds`, from the cards; model_zoo.decision).

Models evaluated on different test images (CIFAKE's, or the labelled folder a model was trained on, whose
paths name files in that folder) are browsed one test set at a time (`test_sets`), each with its own images
(`CifakeTestImages`, `FolderTestImages`). `test_sets` is the one answer to "which test set are this model's
predictions on": the errors page and the leaderboard's comparison (dashboard.comparison) both group by it, and
`test_set_labels` names each model's set the same way in per-model tables.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model_zoo import ImageError, ZooEntry, decode_for_card, decode_image, view_for_card
from model_zoo.card import Card
from model_zoo.decision import CLASS_NAMES, labels_for

OTHERS_CHOICES = ("any", "all others right", "all others wrong", "some other right")


def predictions_table(entries: Sequence[ZooEntry]) -> pd.DataFrame:
    """path, label and one P(FAKE) column per evaluated model (unevaluated models are left out)."""
    table: pd.DataFrame | None = None
    for entry in entries:
        predictions = entry.test_predictions()
        if predictions is None:
            continue
        column = predictions[["path", "label", "prob_fake"]].rename(columns={"prob_fake": entry.name})
        column = column.drop_duplicates("path")
        if table is None:
            table = column
        else:
            table = table.merge(column.drop(columns="label"), on="path", how="inner")
    if table is None:
        return pd.DataFrame(columns=["path", "label"])
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class TestSet:
    """The test images some entries' stored predictions are for: CIFAKE's (`folder` None: the dashboard's dataset
    path holds them) or the split of the labelled folder or zip `folder` they were evaluated on."""

    name: str
    folder: str | None
    entries: tuple[ZooEntry, ...]
    label: str  # what the page's chooser shows: the name, with the folder when two sets share a name


def _test_set_key(card: Card) -> tuple[str, str | None]:
    if not card.train.split:  # trained (and so evaluated) on CIFAKE's arrays: no folder split in the card
        return card.own_test_set_name, None
    return card.own_test_set_name, str((card.evaluation.dataset if card.evaluation else None) or card.train.dataset)


def test_sets(entries: Sequence[ZooEntry]) -> list[TestSet]:
    """The evaluated entries grouped by the test images their predictions are for, CIFAKE's first: one table
    holds only predictions of the same images (a folder model's paths name none of CIFAKE's)."""
    groups: dict[tuple[str, str | None], list[ZooEntry]] = {}
    for entry in entries:
        if entry.has_test_predictions:
            groups.setdefault(_test_set_key(entry.card), []).append(entry)
    names = [name for name, _ in groups]
    sets = [TestSet(name, folder, tuple(members), name if names.count(name) == 1 or folder is None else
                    f"{name} ({folder})") for (name, folder), members in groups.items()]
    return sorted(sets, key=lambda s: s.folder is not None)


INSPECT_IMAGE, INSPECT_SET = "test_image", "test_set"  # the inspect page's query parameters for a test image


def inspect_query(test_set: TestSet, path: str) -> dict[str, str]:
    """The inspect page's query parameters that open one test image of `test_set` (a link a user can keep)."""
    return {INSPECT_IMAGE: path, INSPECT_SET: test_set.label}


def asked_test_image(sets: Sequence[TestSet], query: Mapping[str, str]) -> tuple[TestSet, str] | str | None:
    """The (test set, image path) the inspect page's query names; None when it names none; a one-line reason when
    it names a set this zoo does not have. The path is only looked up in that set's own images (never a server
    path of the visitor's choosing)."""
    path = query.get(INSPECT_IMAGE)
    if not path:
        return None
    wanted = query.get(INSPECT_SET) or (sets[0].label if sets else "")
    test_set = next((s for s in sets if s.label == wanted), None)
    if test_set is None:
        return f"This zoo has no test set called '{wanted}', so test image `{path}` cannot be opened."
    return test_set, path


def test_set_labels(entries: Sequence[ZooEntry]) -> dict[str, str]:
    """Model name -> the label of the test set its test figures are on: test_sets' label for an entry with stored
    predictions (so every page names a set alike), own_test_set_name for one with test metrics in its card but no
    stored predictions; entries not evaluated on a test set are left out."""
    labels = {entry.name: test_set.label for test_set in test_sets(entries) for entry in test_set.entries}
    for entry in entries:
        if entry.name not in labels and entry.test_metrics:
            labels[entry.name] = entry.card.own_test_set_name
    return labels


def set_holding(sets: Sequence[TestSet], models: Sequence[str]) -> int | None:
    """Position of the test set whose entries include every one of `models`, else None."""
    for position, test_set in enumerate(sets):
        if set(models) <= {entry.name for entry in test_set.entries}:
            return position
    return None


class CifakeTestImages:
    """CIFAKE's test images (training.lib.data.Dataset), found by the paths the predictions store."""

    def __init__(self, test_images: np.ndarray, index: Mapping[str, int]):
        self.images, self.index = test_images, index

    def picture(self, path: str) -> np.ndarray | None:
        """The image as stored, or None when the dataset has no such image."""
        return self.images[self.index[path]] if path in self.index else None

    def seen(self, path: str, card: Card) -> np.ndarray:
        """What the card's model sees of it (model_zoo.view_for_card)."""
        return view_for_card(np.asarray(self.picture(path)), card)

    def file_bytes(self, path: str) -> bytes | None:
        """The image as a PNG of its stored pixels, the very pixels its stored predictions were made on (a lossless
        file, so the inspect page judges what evaluation judged); None when the dataset has no such image."""
        from PIL import Image

        picture = self.picture(path)
        if picture is None:
            return None
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(picture, np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue()


class FolderTestImages:
    """A labelled folder's (or zip's) test images, read by the paths the predictions store: relative to the folder
    (members of the zip), as training.lib.image_folders names them."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()

    @property
    def available(self) -> bool:
        return self.folder.exists()

    def read(self, path: str) -> bytes:
        """The file's bytes; OSError or KeyError when it is not there."""
        if self.folder.is_file():
            with zipfile.ZipFile(self.folder) as archive:
                return archive.read(path)
        target = (self.folder / path).resolve()
        if not target.is_relative_to(self.folder.resolve()):  # the paths come from the zoo, but never leave the folder
            raise FileNotFoundError(path)
        return target.read_bytes()

    def file_bytes(self, path: str) -> bytes | None:
        """The file as it is, or None when it is not there."""
        try:
            return self.read(path)
        except (OSError, KeyError, zipfile.BadZipFile):
            return None

    def attributes(self, paths: Sequence[str]) -> pd.DataFrame:
        """Each readable file's attributes, indexed by path, measured as training.slices measures a folder's
        (model_zoo.image_attributes): the content class its sub-folders give (all "" when they give one or none)
        and the measured properties. Files that cannot be read are left out."""
        from model_zoo import image_attributes

        rows, kept = [], []
        for path in paths:
            try:
                data = self.read(path)
                image = decode_image(data, name=path, min_size=(1, 1))
            except (OSError, KeyError, zipfile.BadZipFile, ImageError):
                continue
            measured = image_attributes.measure(image[None]).iloc[0].to_dict()
            rows.append({**measured, "jpeg_quality": image_attributes.jpeg_quality(data)})
            kept.append(path)
        frame = pd.DataFrame(rows, index=pd.Index(kept, name="path"),
                             columns=[*image_attributes.PROPERTIES])
        frame.insert(0, "content", image_attributes.informative([image_attributes.folder_content_class(p) for p in kept]))
        return frame

    def picture(self, path: str, size: int = 256) -> np.ndarray | None:
        """The image (a big JPEG decoded only to about `size`), or None when it is missing or unreadable."""
        try:
            return decode_image(self.read(path), name=path, min_size=(size, size))
        except (OSError, KeyError, zipfile.BadZipFile, ImageError):
            return None

    def seen(self, path: str, card: Card) -> np.ndarray:
        """What the card's model sees of the file, as the judge decodes it (model_zoo.decode_for_card)."""
        return decode_for_card(self.read(path), card, name=path)


def errors_listing(shown: pd.DataFrame) -> pd.DataFrame:
    """The errors as a table by file name, the true class spelt out (when their images cannot be shown)."""
    return shown.assign(true=shown["label"].map(lambda v: CLASS_NAMES[int(v)])).drop(columns=["label"])


def model_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ("path", "label")]


def model_thresholds(entries: Sequence[ZooEntry]) -> dict[str, float]:
    """Each model's decision threshold, from its card."""
    return {entry.name: entry.card.threshold for entry in entries}


def verdicts(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """1 (FAKE) / 0 (REAL) per image and model, each model at its own threshold."""
    return pd.DataFrame({m: labels_for(table[m].to_numpy(), thresholds[m]) for m in models}, index=table.index)


def correct(table: pd.DataFrame, model: str, thresholds: Mapping[str, float]) -> pd.Series:
    return verdicts(table, [model], thresholds)[model] == table["label"].astype(int)


def filter_errors(
    table: pd.DataFrame,
    model: str,
    thresholds: Mapping[str, float],
    *,
    true_class: str | None = None,
    confidence: tuple[float, float] = (0.0, 1.0),
    others: str = "any",
) -> pd.DataFrame:
    """The images `model` gets wrong, narrowed by true class, its confidence in the wrong verdict,
    and what the other models in the table did. Adds `confidence` and `others_right` columns.

    Confidence is the calibrated probability of the class the model chose; with a threshold
    other than 0.5 it can be below 0.5 (P(FAKE) 0.7 under threshold 0.8 is a REAL verdict at 0.3).
    """
    if others not in OTHERS_CHOICES:
        raise ValueError(f"others must be one of {OTHERS_CHOICES}")
    probs = table[model]
    wrong = ~correct(table, model, thresholds)
    verdict_fake = verdicts(table, [model], thresholds)[model] == 1
    conf = np.where(verdict_fake, probs, 1 - probs)
    other_models = [m for m in model_columns(table) if m != model]
    others_right = (
        pd.concat([correct(table, m, thresholds) for m in other_models], axis=1).sum(axis=1)
        if other_models else pd.Series(0, index=table.index)
    )
    mask = wrong & (conf >= confidence[0]) & (conf <= confidence[1])
    if true_class is not None:
        mask &= table["label"].astype(int) == CLASS_NAMES.index(true_class)
    if other_models and others == "all others right":
        mask &= others_right == len(other_models)
    elif other_models and others == "all others wrong":
        mask &= others_right == 0
    elif other_models and others == "some other right":
        mask &= others_right > 0
    result = table[mask].copy()
    result["confidence"] = conf[mask.to_numpy()]
    result["others_right"] = others_right[mask].astype(int)
    return result.sort_values("confidence", ascending=False)


def disagreements(table: pd.DataFrame, models: Sequence[str], thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Images on which the given models, each at its own threshold, do not all give the same verdict."""
    if len(models) < 2 or table.empty:
        return table.iloc[0:0]
    fake = verdicts(table, models, thresholds).to_numpy().astype(bool)
    mixed = fake.any(axis=1) & ~fake.all(axis=1)
    return table[mixed]


def paginate(frame: pd.DataFrame, page: int, per_page: int) -> tuple[pd.DataFrame, int]:
    """Rows of one 1-based page (clamped to the valid range) and the number of pages (at least 1)."""
    pages = max(1, math.ceil(len(frame) / per_page))
    page = min(max(1, page), pages)
    return frame.iloc[(page - 1) * per_page : page * per_page], pages


def answer_model(entries: Sequence[ZooEntry], evaluated: Sequence[str]) -> str | None:
    """The zoo's answer among the evaluated models (model_zoo.selection's `zoo`: the consensus, else the best single
    model), or None when it has no predictions here."""
    from model_zoo.selection import ZOO, choose
    from model_zoo.zoo import ZooError

    try:
        candidates = choose(ZOO, list(entries)).candidates
    except ZooError:
        return None
    return next((entry.name for entry in candidates if entry.name in evaluated), None)


def default_model(evaluated: Sequence[str], answer: str | None) -> int:
    """Position of the model the page opens on: the zoo's answer when it is evaluated here, else the first."""
    return list(evaluated).index(answer) if answer in evaluated else 0


def card_lines(row: Mapping, model: str, answer: str | None, evaluated: Sequence[str],
               thresholds: Mapping[str, float]) -> tuple[list[str], list[str]]:
    """An image card's text: the chosen model's and the zoo's answer's P(FAKE) and verdicts (shown), and every other
    model's (for the expander)."""
    def line(name: str) -> str:
        prob = float(row[name])
        return f"{name}: {CLASS_NAMES[int(prob >= thresholds[name])]} (P(FAKE) {prob:.3f})"

    shown = [line(model)] + ([f"zoo's answer, {line(answer)}"] if answer and answer != model else [])
    others = [line(name) for name in evaluated if name not in (model, answer)]
    return shown, others


def restrict(shown: pd.DataFrame, paths: set[str] | None) -> pd.DataFrame:
    """The rows whose path is in `paths` (all of them for None)."""
    return shown if paths is None else shown[shown["path"].isin(paths)]
