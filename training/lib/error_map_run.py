"""One entry's map of its test set and its error clusters, written into the entry: the library behind
`python -m training.error_map`.

A single model: its features of its own test split (training/lib/feature_map.py), reduced to 2-D, its errors (at its
card's threshold, from its stored test_predictions.csv) clustered in that feature space
(training/lib/error_clustering.py), each cluster's prototypes explained with Grad-CAM. A consensus has no features of
its own: its map is its best member's (model_zoo.ranking; `source` names it), and its own errors are clustered in
that member's features, its prototypes explained as the consensus explains (its members' mean map). Everything
goes into the entry's model_zoo.zoo.TEST_MAP_FILE, atomically, in test_predictions.csv's row order.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_zoo import LoadedModel, ZooError, read_entry, staged_entry
from model_zoo.consensus import combiner_of
from model_zoo.decision import CLASS_NAMES, labels_for
from model_zoo.forward import feature_layer_name
from model_zoo.ranking import all_best_first
from model_zoo.zoo import TEST_MAP_FILE, is_consensus
from training.lib.data import Dataset
from training.lib.error_clustering import cluster_errors, prototype_heatmaps
from training.lib.feature_map import DEFAULT_METHOD, Features, neighbourhood_preservation, reduce_to_2d, split_features
from training.lib.study_images import judged_images, model_view, own_test_set

Progress = Callable[[str], None]


def paths_digest(paths: list[str]) -> str:
    """SHA-1 of the test paths in order: a stored map belongs to the predictions file whose paths give the same."""
    return hashlib.sha1("\n".join(paths).encode()).hexdigest()


@dataclass(frozen=True)
class MapOfModel:
    """What one model's features gave: the coordinates in the test split's order, and how they were made."""

    name: str
    layer: str
    features: Features
    coords: np.ndarray
    method: str
    map_seconds: float
    preservation: dict


def _row_order(entry, paths: list[str]) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(split index of each predictions row, the rows' paths, labels, stored P(FAKE)); ZooError when they differ."""
    predictions = entry.test_predictions()
    if predictions is None:
        raise ZooError(f"{entry.name} has no test_predictions.csv; run `python -m training.evaluate {entry.name}` first")
    where = {path: i for i, path in enumerate(paths)}
    missing = [p for p in predictions["path"] if p not in where]
    if missing:
        raise ZooError(f"{entry.path / 'test_predictions.csv'} names {len(missing):,} image(s) not in this test split "
                       f"(e.g. {missing[0]}); pass the data it was evaluated on, or re-run training.evaluate")
    rows = predictions["path"].map(where).to_numpy()
    return rows, list(predictions["path"]), predictions["label"].to_numpy(int), predictions["prob_fake"].to_numpy(float)


def cached_features(loaded: LoadedModel, dataset: Dataset, cache: str | os.PathLike | None = None,
                    progress: Progress | None = None) -> Features:
    """split_features of the model's whole test split (as the judge scores it); with `cache`, kept there as .npz
    per model file version and test split (a second map of the same model skips the forward passes)."""
    split = judged_images(dataset.test, loaded.card)
    path = None
    if cache is not None:
        stamp = loaded.entry.model_path.stat().st_mtime_ns if loaded.entry.model_path.is_file() else 0
        path = Path(cache) / f"{loaded.name}-{stamp}-{paths_digest(split.paths)[:12]}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as stored:
                return Features(stored["prob_fake"], stored["features"], float(stored["seconds"]))
    features = split_features(loaded.model, loaded.card, split.images, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.npz")
        np.savez(partial, prob_fake=features.prob_fake, features=features.features, seconds=features.seconds)
        partial.replace(path)
    return features


def map_model(loaded: LoadedModel, dataset: Dataset, method: str = DEFAULT_METHOD, seed: int = 0,
              progress: Progress | None = None, cache: str | os.PathLike | None = None) -> MapOfModel:
    """A single model's features of its whole test split (as the judge scores it) and their 2-D map."""
    split = judged_images(dataset.test, loaded.card)
    features = cached_features(loaded, dataset, cache, progress)
    if progress:
        progress(f"{loaded.name}: features of {len(split):,} images in {features.seconds:.0f} s; mapping ({method})")
    start = time.perf_counter()
    coords = reduce_to_2d(features.features, method, seed)
    seconds = time.perf_counter() - start
    preservation = neighbourhood_preservation(features.features, coords, seed=seed)
    return MapOfModel(loaded.name, feature_layer_name(loaded.model), features, coords, method, seconds, preservation)


def best_member(entry, zoo: str | os.PathLike | None) -> str:
    """The name of a consensus's best member (the leaderboard's order): whose map it uses."""
    members = [read_entry(name, zoo) for name in combiner_of(entry.card).members]
    if not members:
        raise ZooError(f"{entry.name}: a consensus without members")
    return all_best_first(members)[0].name


def write_error_map(loaded: LoadedModel, dataset: Dataset, mapped: MapOfModel, zoo: str | os.PathLike | None = None,
                    seed: int = 0, progress: Progress | None = None) -> dict:
    """Cluster `loaded`'s errors in `mapped`'s features (its own, or a consensus's best member's), explain the
    prototypes, and write the entry's TEST_MAP_FILE atomically; returns a summary for the command's line."""
    entry = read_entry(loaded.name, zoo)
    rows, paths, labels, prob_fake = _row_order(entry, dataset.test.paths)
    if not np.array_equal(labels, dataset.test.labels[rows].astype(int)):
        raise ZooError(f"{entry.name}: test_predictions.csv's labels differ from the test split's; re-run training.evaluate")
    predicted = labels_for(prob_fake, entry.card)
    wrong = predicted != labels
    features = mapped.features.features[rows]
    clusters = cluster_errors(features, wrong, seed)
    start = time.perf_counter()
    view = model_view(dataset.test, loaded.card).images
    seen = _RowView(view, rows)
    targets = np.array([CLASS_NAMES[int(p)] for p in predicted])
    heatmaps = prototype_heatmaps(loaded.model, loaded.card, seen, clusters.prototypes, targets)
    heatmap_seconds = time.perf_counter() - start
    own = own_test_set(loaded.card, dataset)
    arrays = {
        "coords": mapped.coords[rows].astype(np.float16),
        "cluster": clusters.cluster,
        "prototypes": clusters.prototypes,
        "heatmaps": heatmaps,
        "silhouettes": clusters.silhouettes,
        "method": np.array(mapped.method),
        "layer": np.array(mapped.layer),
        "source": np.array(mapped.name),
        "paths_sha1": np.array(paths_digest(paths)),
        "knn_recall": np.float32(mapped.preservation["knn_recall"]),
        "trustworthiness": np.float32(mapped.preservation["trustworthiness"]),
        "feature_seconds": np.float32(mapped.features.seconds),
        "map_seconds": np.float32(mapped.map_seconds),
        "seed": np.int64(seed),
        **({"test_set": np.array(own["test_set"])} if own else {}),
    }
    with staged_entry(entry.name, zoo, from_existing=True) as folder, open(folder / TEST_MAP_FILE, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    size = (entry.path / TEST_MAP_FILE).stat().st_size
    if progress:
        progress(f"{entry.name}: {int(wrong.sum()):,} errors in {clusters.k} clusters; prototype heatmaps in "
                 f"{heatmap_seconds:.0f} s; {TEST_MAP_FILE} {size / 1024:.0f} KiB")
    return {"name": entry.name, "source": mapped.name, "errors": int(wrong.sum()), "clusters": clusters.k,
            "knn_recall": mapped.preservation["knn_recall"], "trustworthiness": mapped.preservation["trustworthiness"],
            "feature_seconds": mapped.features.seconds, "map_seconds": mapped.map_seconds, "bytes": size}


class _RowView:
    """Images of a split indexed by predictions row (row r is split image rows[r])."""

    def __init__(self, images, rows: np.ndarray):
        self.images, self.rows = images, rows

    def __getitem__(self, row: int) -> np.ndarray:
        return np.asarray(self.images[int(self.rows[row])])


def with_consensus(models: dict[str, LoadedModel], zoo: str | os.PathLike | None = None) -> dict[str, LoadedModel]:
    """`models` and the zoo's consensus entries whose members are all among them (loaded from them, not again):
    what 'all' maps, since the commands' 'all' is every single model."""
    from model_zoo import list_entries
    from model_zoo.consensus import load_consensus

    out = dict(models)
    for entry in list_entries(zoo)[0]:
        if is_consensus(entry.card) and entry.name not in out and \
                set(combiner_of(entry.card).members) <= set(models):
            out[entry.name] = LoadedModel(entry, load_consensus(entry, lambda member: models[member.name].model))
    return out


def map_entries(models: dict[str, LoadedModel], dataset: Dataset, zoo: str | os.PathLike | None = None,
                method: str = DEFAULT_METHOD, seed: int = 0, progress: Progress | None = None,
                cache: str | os.PathLike | None = None) -> list[dict]:
    """Map every model in the given order; a consensus reuses its best member's map, each computed once."""
    done: dict[str, MapOfModel] = {}
    summaries = []
    for loaded in models.values():
        if is_consensus(loaded.card):
            source = best_member(loaded.entry, zoo)
            if source not in done:
                member = next((m for m in loaded.model.members if m.name == source), None)
                if member is None:
                    raise ZooError(f"{loaded.name}: its best member {source} did not load")
                done[source] = map_model(member, dataset, method, seed, progress, cache)
            mapped = done[source]
        else:
            mapped = done.get(loaded.name) or map_model(loaded, dataset, method, seed, progress, cache)
            done[loaded.name] = mapped
        summaries.append(write_error_map(loaded, dataset, mapped, zoo, seed, progress))
    return summaries
