"""The zoo contract: list, read, validate and atomically write model entries.

An entry is a folder `<zoo>/<name>/` holding
    model.keras           Keras 3 model, loaded with safe_mode=True
    card.json             what the model is and how to feed it: the typed card, model_zoo.card
    history.csv           one row per epoch
    test_predictions.csv  path, label (0 REAL / 1 FAKE), prob_fake  (after evaluation)
    validation_predictions.csv  the same columns for the validation split the card's "train" block names
                          (after evaluation, or `python -m training.evaluate NAME --validation-only`): what
                          anything fitted on top of the models (model_zoo.consensus, max-FPR thresholds) is fitted on
    robustness.csv        corruption, level, accuracy[, roc_auc, test_set]  (after `python -m training.robustness`)
    novelty.npz           class means and inverse covariance of the model's features (model_zoo.novelty;
                          after training or `python -m training.calibrate`; optional)
    faithfulness.json     deletion/insertion AUCs and the randomisation check per explanation method
    class_heatmaps.npz    mean Grad-CAM per true class x right/wrong verdict  (both after
                          `python -m training.faithfulness`, on the model's own test split; a folder model's
                          name it: "test_set" / test_set, absent for CIFAKE's; optional)
    cues.csv              which cues the model uses (after `python -m training.cues`; optional): one row per
                          controlled change of the test images, columns family, condition, level, label,
                          accuracy (at the card's threshold), roc_auc, mean_p_fake_real, mean_p_fake_fake, n
                          (a folder model's also test_set). Conditions and the 16 frequency bands are defined in
                          model_zoo/cue_vocabulary.py; the card's "cues" block says on which sample (n, seed,
                          dataset; a folder model's test_set and view) they were measured
    cue_spectra.npz       (same command) arrays, no pickles: class_difference (H, W), the FAKE - REAL mean
                          log-amplitude spectrum of the test images, zero frequency centred; image_bands (2, 16),
                          the REAL and FAKE images' power per band; gradient_power (H, W), the model's input
                          gradients' mean normalised power spectrum, centred; gradient_bands (16,); gradient_n
    map.npz               a map of the test set and the model's error clusters (after `python -m training.error_map`;
                          optional; training/lib/error_map_run.py), arrays in test_predictions.csv's row order, no
                          pickles: coords (N, 2) float16 in [-1, 1]; cluster (N,) int8, each error's cluster (-1: right);
                          prototypes (k, 8) row indices nearest each cluster's centre (-1 padded); heatmaps (k, H, W)
                          float16, their mean Grad-CAM; silhouettes (k tried, 2); 0-d: method, layer, source (whose
                          features: a consensus names its best member), paths_sha1, knn_recall, trustworthiness,
                          feature_seconds, map_seconds, seed (a folder model's also test_set)
    slices.csv            the model's error rate per slice of its own test split (content class, quartiles of
                          brightness, contrast, ...; model_zoo.slice_errors), per true class with Wilson 95% intervals:
                          by, value, true_class, n, errors, rate, ci_low, ci_high (after `python -m training.slices`;
                          optional)
Training writes entries; the dashboard, API and CLIs only read them through here, and load models through
model_zoo.loading.load_usable_models, so a broken entry is reported the same way everywhere. A card is parsed
once, when its entry is read, into the typed model_zoo.card.Card; what it says (what the model was trained on,
its input policy, ...) is the card's own properties.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from model_zoo.card import CIFAKE_NAME, Block, Card, CardError, card_problems, parse_card

ZOO_ENV = "MODEL_ZOO_DIR"
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "test_predictions.csv"
VALIDATION_PREDICTIONS_FILE = "validation_predictions.csv"
PREDICTION_COLUMNS = ("path", "label", "prob_fake")
ROBUSTNESS_FILE = "robustness.csv"
ROBUSTNESS_COLUMNS = ("corruption", "level", "accuracy")
FAITHFULNESS_FILE = "faithfulness.json"
CLASS_HEATMAPS_FILE = "class_heatmaps.npz"
CUES_FILE = "cues.csv"
CUES_REQUIRED = ("condition", "level", "accuracy")
CUE_SPECTRA_FILE = "cue_spectra.npz"
SLICES_FILE = "slices.csv"
SLICES_REQUIRED = ("by", "value", "true_class", "n", "errors", "rate", "ci_low", "ci_high")
CUE_SPECTRA_KEYS = ("class_difference", "image_bands", "gradient_power", "gradient_bands")
TEST_MAP_FILE = "map.npz"
TEST_MAP_KEYS = ("coords", "cluster", "prototypes", "heatmaps")
RUNS_DIR = ".runs"  # resumable training state, never an entry

REQUIRED_CARD_KEYS = ("name", "architecture", "input_shape", "preprocessing", "params", "size_bytes", "train", "metrics")


class ZooError(Exception):
    """A zoo entry that is missing, malformed or unusable; the message names it."""


@dataclass(frozen=True)
class ZooProblem:
    name: str
    message: str


# Kept for callers written against the card dict: each is the typed card's own fact (model_zoo.card).
def is_consensus(card: Card) -> bool:
    """card.is_consensus."""
    return card.is_consensus


def trained_from(card: Card) -> str:
    """card.trained_from."""
    return card.trained_from


def trained_on_folder(card: Card) -> bool:
    """card.trained_on_folder."""
    return card.trained_on_folder


def training_set_name(card: Card) -> str:
    """card.training_set_name."""
    return card.training_set_name


def study_test_set(record: Any) -> str:
    """Whose test images a study's output was measured on: the "test_set" a folder model's faithfulness report, class
    heatmaps (a 0-d array) or card study block records, else CIFAKE (CIFAKE models' outputs, and every output from
    before folder models were studied, name none)."""
    if isinstance(record, Block):
        recorded = getattr(record, "test_set", None) or (record.model_extra or {}).get("test_set")
    else:
        recorded = record.get("test_set") if hasattr(record, "get") else None
    return str(recorded) if recorded is not None and str(recorded) else CIFAKE_NAME


@functools.lru_cache(maxsize=32)
def _read_predictions(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """A predictions CSV, read once per version of the file: the API's --max-fpr requests, the dashboard's reruns
    and the consensus all read the same 10,000- and 20,000-row files again and again."""
    frame = pd.read_csv(path)
    missing = set(PREDICTION_COLUMNS) - set(frame.columns)
    if missing:
        raise ZooError(f"{path}: missing columns {sorted(missing)}")
    return frame


@dataclass(frozen=True)
class ZooEntry:
    name: str
    path: Path
    card: Card  # parsed once, when the entry is read

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def test_metrics(self) -> dict[str, Any] | None:
        """The card's metrics.test figures (a plain dict), or None before evaluation."""
        return self.card.split_metrics("test")

    @property
    def test_unseen_metrics(self) -> dict[str, Any] | None:
        """Metrics on the test images whose file bytes occur nowhere in train (None before such an evaluation)."""
        return self.card.split_metrics("test_unseen")

    def history(self) -> pd.DataFrame:
        path = self.path / HISTORY_FILE
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()

    @property
    def has_test_predictions(self) -> bool:
        """Whether per-image test predictions are stored: a look at the file, without reading 20,000 rows."""
        return (self.path / PREDICTIONS_FILE).is_file()

    def test_predictions(self) -> pd.DataFrame | None:
        """path, label, prob_fake per test image, or None before evaluation."""
        return self._predictions(PREDICTIONS_FILE)

    def validation_predictions(self) -> pd.DataFrame | None:
        """path, label, prob_fake per validation image (calibrated, as test_predictions), or None when not stored."""
        return self._predictions(VALIDATION_PREDICTIONS_FILE)

    def _predictions(self, file: str) -> pd.DataFrame | None:
        path = self.path / file
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return _read_predictions(str(path), stat.st_mtime_ns, stat.st_size).copy()  # a copy: callers may change it

    def _optional_table(self, file: str, required: Iterable[str]) -> pd.DataFrame | None:
        """An optional CSV of the entry, or None when it is absent, unreadable, empty or lacks a required column."""
        path = self.path / file
        if not path.is_file():
            return None
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            return None
        return None if frame.empty or not set(required) <= set(frame.columns) else frame

    def robustness(self) -> pd.DataFrame | None:
        """corruption, level, accuracy per condition, or None when absent or unreadable (it is optional)."""
        return self._optional_table(ROBUSTNESS_FILE, ROBUSTNESS_COLUMNS)

    def cues(self) -> pd.DataFrame | None:
        """cues.csv (one row per condition of `python -m training.cues`), or None when absent or unreadable."""
        return self._optional_table(CUES_FILE, CUES_REQUIRED)

    def slices(self) -> pd.DataFrame | None:
        """slices.csv (model_zoo.slice_errors), or None when absent or unreadable."""
        table = self._optional_table(SLICES_FILE, SLICES_REQUIRED)
        return None if table is None else table.astype({"by": str, "value": str, "true_class": str})

    def cue_spectra(self) -> dict[str, Any] | None:
        """cue_spectra.npz's arrays by name, or None when absent, unreadable, pickled or missing a key."""
        import numpy as np

        try:
            with np.load(self.path / CUE_SPECTRA_FILE, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            return None
        if not all(key in arrays for key in CUE_SPECTRA_KEYS) or arrays["class_difference"].ndim != 2:
            return None
        return arrays

    def faithfulness(self) -> dict | None:
        """The explanation methods' faithfulness (training/faithfulness.py), or None when absent or unreadable."""
        try:
            report = json.loads((self.path / FAITHFULNESS_FILE).read_text())
        except (OSError, ValueError):
            return None
        methods = report.get("methods") if isinstance(report, dict) else None
        if not isinstance(methods, dict) or not all(isinstance(m, dict) for m in methods.values()):
            return None
        return report

    def class_heatmaps(self) -> dict[str, Any] | None:
        """Class-mean heatmaps (arrays by name: groups, maps, counts, totals, ...), or None when absent or unreadable."""
        import numpy as np

        try:
            with np.load(self.path / CLASS_HEATMAPS_FILE, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # absent, truncated, or pickled (refused)
            return None
        groups, maps = arrays.get("groups"), arrays.get("maps")
        if groups is None or maps is None or maps.ndim != 3 or len(groups) != len(maps):
            return None
        return arrays


    def test_map(self) -> dict[str, Any] | None:
        """map.npz's arrays by name (the test-set map and error clusters), or None when absent, unreadable, pickled,
        missing a key, or of another length than test_predictions.csv (a map of older predictions)."""
        import numpy as np

        try:
            with np.load(self.path / TEST_MAP_FILE, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            return None
        if not all(key in arrays for key in TEST_MAP_KEYS) or arrays["coords"].ndim != 2:
            return None
        predictions = self.test_predictions()
        if predictions is None or not len(predictions) == len(arrays["coords"]) == len(arrays["cluster"]):
            return None
        return arrays


@dataclass(frozen=True)
class LoadedModel:
    """An entry with its loaded Keras model."""

    entry: ZooEntry
    model: Any  # keras.Model

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def card(self) -> Card:
        return self.entry.card


def zoo_dir(path: str | os.PathLike | None = None) -> Path:
    """The zoo folder: the argument, else $MODEL_ZOO_DIR, else the shipped model_zoo/."""
    if path is not None:
        return Path(path)
    if os.environ.get(ZOO_ENV):
        return Path(os.environ[ZOO_ENV])
    return Path(__file__).resolve().parent / "entries"


def validate_card(card: Any) -> list[str]:
    """Problems with a card's JSON object (empty list when it is valid): model_zoo.card's, one sentence each."""
    return card_problems(card)


def read_card(path: Path) -> Card:
    """Parse and validate a card.json into the typed card, raising ZooError that names the entry and the field."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ZooError(f"{path}: no card.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{path}: not valid JSON ({exc})") from None
    try:
        return parse_card(raw, path.parent.name)
    except CardError as exc:
        raise ZooError(str(exc)) from None


def read_entry(name: str, zoo: str | os.PathLike | None = None) -> ZooEntry:
    """One entry by name; raises ZooError when it is missing or broken."""
    path = zoo_dir(zoo) / name
    if not path.is_dir():
        raise ZooError(f"no model named '{name}' in {zoo_dir(zoo)} (see `python -m training.train --help`)")
    card = read_card(path / CARD_FILE)
    if not (path / MODEL_FILE).is_file() and not card.is_consensus:
        raise ZooError(f"{path}: no {MODEL_FILE}")
    return ZooEntry(name=name, path=path, card=card)


def list_entries(zoo: str | os.PathLike | None = None) -> tuple[list[ZooEntry], list[ZooProblem]]:
    """All valid entries (sorted by name) and a problem for each broken one."""
    root = zoo_dir(zoo)
    if not root.is_dir():
        return [], []
    _recover_interrupted_swaps(root)
    entries, problems = [], []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith((".", "_")):
            continue
        try:
            entries.append(read_entry(path.name, root))
        except ZooError as exc:
            problems.append(ZooProblem(path.name, str(exc)))
    return entries, problems


def write_card(folder: Path, card: Card | dict[str, Any]) -> None:
    """Write card.json through the typed card (a dict is validated first), inside a staged entry (staged_entry)."""
    try:
        typed = card if isinstance(card, Card) else parse_card(card, folder.name)
    except CardError as exc:
        raise ZooError(str(exc)) from None
    (folder / CARD_FILE).write_text(typed.to_json())


def write_predictions(folder: Path, paths: list[str], labels: Any, prob_fake: Any, file: str = PREDICTIONS_FILE) -> None:
    """test_predictions.csv (or `file`, e.g. VALIDATION_PREDICTIONS_FILE): path, label, calibrated prob_fake."""
    frame = pd.DataFrame({"path": paths, "label": labels, "prob_fake": prob_fake})
    frame.to_csv(folder / file, index=False, float_format="%.9g")  # full float32 precision: ties would shift ROC-AUC


@contextmanager
def staged_entry(name: str, zoo: str | os.PathLike | None = None, *, from_existing: bool = False) -> Iterator[Path]:
    """Write an entry into a temp folder inside the zoo, then swap it in.

    On a clean exit the staged folder must hold a valid card and model; it then
    replaces `<zoo>/<name>` by rename. On any error the staged folder is removed
    and the old entry is untouched, so a crash never leaves a half-written entry.
    With from_existing=True the staged folder starts as a copy of the entry.
    """
    root = zoo_dir(zoo)
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    staging = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    try:
        if from_existing:
            shutil.copytree(target, staging)
        else:
            staging.mkdir()
        yield staging
        card_path = staging / CARD_FILE
        card = read_card(card_path)
        if (staging / MODEL_FILE).is_file():
            size = (staging / MODEL_FILE).stat().st_size  # derived, never stale
            if size != card.size_bytes:
                write_card(staging, card.updated(size_bytes=size))
        elif not card.is_consensus:
            raise ZooError(f"{staging}: refusing to publish an entry without {MODEL_FILE}")
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".old-{target.name}-{uuid.uuid4().hex[:8]}")
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swaps(root: Path) -> None:
    """A crash between the two renames of _swap_in leaves only `.old-<name>-*`: put it back."""
    for old in root.glob(".old-*"):
        name = old.name[len(".old-") :].rsplit("-", 1)[0]
        if not (root / name).exists():
            old.rename(root / name)
        else:
            shutil.rmtree(old, ignore_errors=True)
