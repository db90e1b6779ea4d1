"""Loading an entry's model, dispatched on its typed card's kind: a network loads its model.keras, a consensus
loads its members (model_zoo.consensus). Living here, above both, it keeps model_zoo.zoo free of model_zoo.consensus,
so the library has no import circle."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from model_zoo.card import CONSENSUS_KIND, NETWORK
from model_zoo.consensus import load_consensus
from model_zoo.zoo import LoadedModel, ZooEntry, ZooError, ZooProblem

Loader = Callable[[ZooEntry], Any]


def load_network(entry: ZooEntry, load: Loader | None = None):  # -> keras.Model (keras imported lazily)
    """Load a network entry's model.keras (safe_mode=True) and check it fits its card. `load` is unused (a network
    has no members); it is there so every kind's loader has one signature."""
    import keras

    try:
        model = keras.saving.load_model(entry.model_path, safe_mode=True, compile=False)
    except Exception as exc:
        raise ZooError(f"{entry.model_path}: cannot load ({type(exc).__name__}: {exc})") from None
    expected_input = tuple(entry.card.input_shape)
    if tuple(model.input_shape[1:]) != expected_input:
        raise ZooError(f"{entry.model_path}: input shape {model.input_shape[1:]} differs from card {list(expected_input)}")
    if tuple(model.output_shape[1:]) != (1,):
        raise ZooError(f"{entry.model_path}: output shape {model.output_shape[1:]}, expected one probability (1,)")
    return model


# card.kind -> loader(entry, load for its members)
LOADERS: dict[str, Callable[[ZooEntry, Loader], Any]] = {NETWORK: load_network, CONSENSUS_KIND: load_consensus}


def load_model(entry: ZooEntry):  # -> keras.Model, or a ConsensusModel for a consensus entry
    """Load an entry's model by its card's kind; a consensus entry loads its members."""
    return LOADERS[entry.card.kind](entry, load_model)


def load_usable_models(
    entries: Iterable[ZooEntry], *, load: Loader = load_model, limit: int | None = None,
) -> tuple[dict[str, LoadedModel], list[ZooProblem]]:
    """Load each entry's model, in the given order: name -> LoadedModel, and a problem for each that will not load.

    `load` lets a caller cache loads (the dashboard): it loads networks, and a consensus's members load through it;
    `limit` stops once that many loaded, so `load_usable_models(all_best_first(entries), limit=1)` is the best
    model that works.
    """
    loaded: dict[str, LoadedModel] = {}
    problems: list[ZooProblem] = []
    for entry in entries:
        if limit is not None and len(loaded) >= limit:
            break
        try:
            model = load(entry) if entry.card.kind == NETWORK else LOADERS[entry.card.kind](entry, load)
            loaded[entry.name] = LoadedModel(entry, model)
        except ZooError as exc:
            problems.append(ZooProblem(entry.name, str(exc)))
    return loaded, problems
