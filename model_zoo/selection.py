"""Which models answer: the one home of the choices NAME | zoo | best | fastest | all | all-including-studies.

- `zoo` (the default answer): the zoo's consensus entry (model_zoo.consensus), which loads its members;
  in a zoo without one, the best single model, with a note saying so;
- `best`: the leaderboard's top single model (model_zoo.decision.evaluated_best_first; a consensus is not one);
- `fastest`: the quickest single model within one point of the best accuracy (model_zoo.tradeoff);
- `all`: every detector; `all-including-studies`: the study arms too (model_zoo.roles);
- any other word: the entry of that name.
`best`, `fastest` and `zoo` take the next candidate when one will not load. The predict CLI, export and the
commands that take NAME|all, and the JSON API (over its already-loaded models) all choose through here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from model_zoo.loading import load_model, load_usable_models
from model_zoo.ranking import all_best_first
from model_zoo.roles import ALL_DETECTORS, ALL_INCLUDING_STUDIES, detectors
from model_zoo.tradeoff import fastest_ranked
from model_zoo.zoo import (
    LoadedModel,
    ZooEntry,
    ZooError,
    list_entries,
    zoo_dir,
)

ZOO, BEST, FASTEST = "zoo", "best", "fastest"
CHOICES = (ZOO, BEST, FASTEST, ALL_DETECTORS, ALL_INCLUDING_STUDIES)
DEFAULT_CHOICE = ZOO
CHOICE_HELP = (f"zoo entry NAME, '{ZOO}' (default: the zoo's consensus of its detectors), '{BEST}' (the top single "
               f"model), '{FASTEST}', '{ALL_DETECTORS}' (every detector) or '{ALL_INCLUDING_STUDIES}' (the study "
               "arms too)")


@dataclass(frozen=True)
class Choice:
    """Candidates in order; `limit` 1 means the first that loads, None every one; `note` says what was done instead."""

    candidates: list[ZooEntry]
    limit: int | None
    note: str | None = None


def singles(entries: Sequence[ZooEntry]) -> list[ZooEntry]:
    """Entries with weights of their own (not a consensus)."""
    return [entry for entry in entries if not entry.card.is_consensus]


def choose(choice: str, entries: Sequence[ZooEntry], zoo: str | os.PathLike | None = None) -> Choice:
    """The candidates for `choice` among `entries`; ZooError when the choice cannot be met."""
    where = zoo_dir(zoo)
    if choice not in CHOICES:
        named = [entry for entry in entries if entry.name == choice]
        if not named:
            raise ZooError(f"no model named '{choice}' in {where} (choose one of "
                           f"{', '.join([*sorted(e.name for e in entries), *CHOICES])})")
        return Choice(named, 1)
    if choice == ZOO:
        consensus = [entry for entry in all_best_first(entries) if entry.card.is_consensus]
        if consensus:
            return Choice(consensus, 1)
        return Choice(all_best_first(singles(entries)), 1, f"{where} has no consensus entry (build it with "
                      "`python -m training.build_consensus`): the best single model answers instead")
    if choice == BEST:
        return Choice(all_best_first(singles(entries)), 1)
    if choice == FASTEST:
        candidates = fastest_ranked(singles(entries))
        if not candidates:
            raise ZooError("no evaluated model has a recorded latency: run `python -m training.latency` first")
        return Choice(candidates, 1)
    if choice == ALL_DETECTORS:
        found = detectors(singles(entries))
        if entries and not found:
            raise ZooError(f"every model in {where} is a study arm: use --model {ALL_INCLUDING_STUDIES}")
        return Choice(found, None)
    return Choice(singles(entries), None)


def load_choice(choice: str, zoo: str | os.PathLike | None = None, warn: Callable[[str], None] = print,
                load: Callable[[ZooEntry], object] = load_model) -> list[LoadedModel]:
    """Load the models of `choice` from the zoo; broken entries and notes go through `warn`."""
    entries, problems = list_entries(zoo)
    if choice not in CHOICES and choice not in {entry.name for entry in entries}:
        from model_zoo.zoo import read_entry

        read_entry(choice, zoo)  # raises the entry's own problem (missing, broken card, no model file)
    picked = choose(choice, entries, zoo)
    if picked.note:
        warn(picked.note)
    loaded, unusable = load_usable_models(picked.candidates, load=load, limit=picked.limit)
    for problem in problems + unusable:
        warn(f"skipping zoo entry '{problem.name}': {problem.message}")
    if choice not in CHOICES and unusable:
        raise ZooError(unusable[0].message)
    if not loaded:
        raise ZooError(f"no usable models in {zoo_dir(zoo)} (train one with `python -m training.train --arch cnn_maxpool`)")
    return list(loaded.values())


def choose_loaded(choice: str, served: Mapping[str, LoadedModel]) -> list[LoadedModel] | None:
    """The already-loaded models (the API's) for `choice`, a consensus followed by its members; None for an
    unknown name. Raises ZooError when the choice cannot be met."""
    if choice not in CHOICES and choice not in served:
        return None
    picked = choose(choice, [loaded.entry for loaded in served.values()])
    chosen = [served[entry.name] for entry in picked.candidates]
    return with_members(chosen[: picked.limit] if picked.limit else chosen)


def with_members(models: Sequence[LoadedModel]) -> list[LoadedModel]:
    """Each consensus followed by its members (each model once): the consensus's answer with the verdicts it combines."""
    out: dict[str, LoadedModel] = {}
    for loaded in models:
        out.setdefault(loaded.name, loaded)
        if getattr(loaded.model, "combines_members", False):
            for member in loaded.model.members:
                out.setdefault(member.name, member)
    return list(out.values())


def caching_loader(load: Callable[[ZooEntry], object] = load_model) -> Callable[[ZooEntry], object]:
    """`load`, remembering each entry's model: a consensus and its members, loaded together, share one copy."""
    cache: dict[str, object] = {}

    def cached(entry: ZooEntry) -> object:
        if entry.name not in cache:
            cache[entry.name] = load(entry)
        return cache[entry.name]

    return cached
