"""Shared behaviour of the command lines: user errors end in one line and exit status 2."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from model_zoo import (
    ImageError,
    LoadedModel,
    ZooEntry,
    ZooError,
    list_entries,
    load_model,
    load_usable_models,
    read_entry,
    zoo_dir,
)
from model_zoo.roles import ALL_INCLUDING_STUDIES
from model_zoo.selection import choose
from training.lib.data import Dataset, DatasetError
from training.lib.image_folders import check_trained_on, load_labelled_data
from training.lib.torch_pickle import CheckpointError

USER_ERRORS = (DatasetError, ZooError, ImageError, FileNotFoundError, CheckpointError)


INTERRUPTED = "interrupted"
INTERRUPTED_TRAINING = "interrupted; finished epochs are kept - run the same command again to resume"


def exit_on_user_error(main: Callable[..., int] | None = None, *, resumable: bool = False):
    """Turn expected failures into `error: ...` on stderr and exit status 2, not a traceback.

    Ctrl-C ends with exit status 130 and one line; commands that train (`resumable=True`) say how to resume.
    Use bare (`@exit_on_user_error`) or with the flag (`@exit_on_user_error(resumable=True)`).
    """
    if main is None:
        return functools.partial(exit_on_user_error, resumable=resumable)

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"\n{INTERRUPTED_TRAINING if resumable else INTERRUPTED}", file=sys.stderr)
            return 130

    return wrapper


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum`, else a usage error saying so."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def read_named_entries(names: Sequence[str], zoo: str | None) -> list[ZooEntry]:
    """["all"]: every readable entry, with a warning for each one skipped; else each named entry, once.

    Called before the dataset is decoded, so a bad name fails fast. A named entry that cannot be
    read is an error, not a warning: the user asked for it.
    """
    if list(names) != ["all"]:
        return [read_entry(name, zoo) for name in dict.fromkeys(names)]
    entries, problems = list_entries(zoo)
    warn_skipped(problems)
    # A consensus has no weights to evaluate, calibrate or time (`python -m training.build_consensus` refits it):
    # "all" here is every single model, as model_zoo.selection chooses them.
    entries = choose(ALL_INCLUDING_STUDIES, entries, zoo).candidates
    if not entries:
        raise ZooError(f"no usable entries in {zoo_dir(zoo)} (train one with `python -m training.train --arch cnn_maxpool`)")
    return entries


def load_named_models(names: Sequence[str], zoo: str | None, keep: Callable[[ZooEntry], bool] | None = None,
                      left_out_because: str | Callable[[ZooEntry], str] = "name them to include them",
                      entries: list[ZooEntry] | None = None) -> dict[str, LoadedModel]:
    """read_named_entries, then their models; with "all", an entry whose model will not load is skipped with a warning.

    `keep` narrows "all" (say, to the detectors) before any model is loaded; named entries are always loaded.
    `left_out_because` ends the note naming the entries `keep` left out (a function: each entry's own reason,
    one note per reason). `entries`: read_named_entries' answer when the caller already has it (its warnings once).
    """
    entries = read_named_entries(names, zoo) if entries is None else entries
    if keep is not None and list(names) == ["all"]:
        reasons: dict[str, list[str]] = {}
        for entry in entries:
            if not keep(entry):
                why = left_out_because(entry) if callable(left_out_because) else left_out_because
                reasons.setdefault(why, []).append(entry.name)
        for why, left_out in reasons.items():
            print(f"note: 'all' leaves out {', '.join(left_out)} ({why})", file=sys.stderr)
        entries = [entry for entry in entries if keep(entry)]
    if list(names) != ["all"]:
        return {entry.name: LoadedModel(entry, load_model(entry)) for entry in entries}
    models, unusable = load_usable_models(entries)
    warn_skipped(unusable)
    if not models:
        raise ZooError("no usable models in the zoo (train one with `python -m training.train --arch cnn_maxpool`)")
    return models


def _same_path(recorded: object, given: str) -> bool:
    """Whether a card's train.dataset names the path given (relative paths resolved from here)."""
    return recorded is not None and Path(str(recorded)).expanduser().resolve() == Path(given).expanduser().resolve()


def _split_to_rebuild(entries: Sequence[ZooEntry], data: str | None) -> dict | None:
    """The card's train.split of an entry trained on `data` itself, else of the first folder model (so 'all' over a
    mixed zoo does not rebuild a folder's split with a CIFAKE model's defaults); CIFAKE ignores it."""
    folders = [entry.card for entry in entries if entry.card.trained_on_folder]
    same = [card for card in folders if data is not None and _same_path(card.train.dataset, data)]
    chosen = same or folders
    return chosen[0].train.split if chosen else None


def load_study_data(names: Sequence[str], data: str | None, zoo: str | None,
                    keep: Callable[[ZooEntry], bool] | None = None) -> tuple[Dataset, dict[str, LoadedModel]]:
    """The data and models of a study that measures each model on its own test split (robustness, faithfulness, cues).

    `data` is CIFAKE or the labelled folder (or zip) the models were trained on, its split rebuilt from the card of
    an entry trained on it (as training.evaluate; _split_to_rebuild). A named entry trained on other data is an error
    naming it and the --data to pass, raised before any model loads; "all" measures only the entries trained on this
    data and leaves the others out with a note. `keep` (say, the detectors) narrows "all" further, with
    load_named_models' own note.
    """
    entries = read_named_entries(names, zoo)  # fail fast on a bad name before decoding data
    dataset = load_labelled_data(data, split=_split_to_rebuild(entries, data))
    if list(names) != ["all"]:
        for entry in entries:
            check_trained_on(entry.card, dataset)

    def trained_on_this(entry: ZooEntry) -> bool:
        try:
            check_trained_on(entry.card, dataset)
        except ZooError:
            return False
        return True

    def reason(entry: ZooEntry) -> str:
        # Figures on other data would say nothing about the entry.
        return "name them to include them" if trained_on_this(entry) else f"trained on other data than {dataset.source}"

    models = load_named_models(names, zoo, keep=lambda entry: trained_on_this(entry) and (keep is None or keep(entry)),
                               left_out_because=reason, entries=entries)
    return dataset, models


def warn_skipped(problems: Sequence) -> None:
    """One warning line on stderr per zoo entry (or model) a command skips, with its reason."""
    for problem in problems:
        print(f"warning: skipping zoo entry '{problem.name}': {problem.message}", file=sys.stderr)
