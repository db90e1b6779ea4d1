"""A resumable training run on disk: its files, and the per-epoch checkpoint that writes them.

A run lives in `<zoo>/.runs/<name>/`: last.keras, best.keras (lowest validation loss),
history.csv and state.json. state.json is written last, so a run killed mid-epoch resumes
from the last epoch whose files are all complete.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from model_zoo.zoo import HISTORY_FILE


def write_json_atomic(path: Path, data: dict) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)


def save_model_atomic(model, path: Path) -> None:
    partial = path.with_name(f"partial-{path.name}")
    model.save(partial)
    os.replace(partial, path)


class RunState:
    """Files of a resumable run: last.keras, best.keras, history.csv, state.json."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.last = folder / "last.keras"
        self.best = folder / "best.keras"
        self.history = folder / HISTORY_FILE
        self.state_file = folder / "state.json"

    def read(self) -> dict | None:
        if self.state_file.is_file() and self.last.is_file():
            return json.loads(self.state_file.read_text())
        return None


def epoch_checkpoint(run: RunState, state: dict, max_minutes: float | None, saved_model=None):
    """A Keras callback: after each epoch a history row, last/best checkpoints, then state (written last).

    `saved_model` is what gets saved when it is not the model being fitted (a frozen backbone's
    head is fitted on cached features, but the checkpoint is the whole detector).
    """
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        session_seconds = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.time() - self.started
            row = {k: float(logs[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
            row = {"epoch": epoch + 1, **row, "seconds": round(seconds, 2)}
            state["history"].append(row)
            state["wall_seconds"] += seconds
            model = saved_model if saved_model is not None else self.model
            save_model_atomic(model, run.last)
            if row["val_loss"] < state["best_val_loss"]:
                state["best_val_loss"], state["best_epoch"] = row["val_loss"], epoch + 1
                save_model_atomic(model, run.best)
            state["epoch"] = epoch + 1
            self.session_seconds += seconds
            budget = (max_minutes or 0) * 60
            # Assume the next epoch takes as long. The state says so, so a run trained with --fit-only
            # elsewhere is published as it stands rather than resumed (training.train).
            state["stopped_by_budget"] = bool(budget and self.session_seconds + seconds > budget)
            write_json_atomic(run.state_file, state)
            if state["stopped_by_budget"]:
                print(f"stopping after epoch {epoch + 1}: another epoch would pass the {max_minutes:g}-minute budget",
                      flush=True)
                self.model.stop_training = True

    return EpochCheckpoint()
