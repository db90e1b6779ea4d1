"""A training run across interruptions: resume continues the schedule, the best epoch is published,
and the command line's --max-minutes, --restart and rerun-to-resume do what they say.

Deterministic stand-ins for a killed process (the SIGKILL test they replace depended on a sleep):
a callback raises part-way through epoch 2, after epoch 1's checkpoint, then the same run is started
again. Every state file is written by rename (training.train), so an exception and a kill leave the same.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import training.lib.training_run as training_run
import training.train as train_module
from model_zoo import ZooError, load_model, read_entry
from training.lib.training_run import TrainConfig, train
from training.train import main as train_main

ARCH = "cnn_strided"  # the cheapest of the three CNNs
BATCH = 32


class _CrashInEpoch(keras.callbacks.Callback):
    """Records the weights at the end of epoch 1, then raises KeyboardInterrupt part-way through epoch 2."""

    weights: list[np.ndarray] = []

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.weights = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        if self.weights and batch == 2:
            raise KeyboardInterrupt


class _ResumeProbe(keras.callbacks.Callback):
    """Records where the optimizer stands when a (resumed) fit starts; then ruins every later epoch.

    Ruined: after each batch the output layer says P(FAKE) = 1 for everything, so those epochs'
    validation loss is far worse than any trained epoch's, and publishing them would show.
    """

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self.iterations = int(optimizer.iterations.numpy())
        self.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    def on_train_batch_end(self, batch, logs=None):
        output = self.model.get_layer("prob_fake")
        kernel, bias = output.get_weights()
        output.set_weights([np.zeros_like(kernel), np.full_like(bias, 10.0)])


def test_an_interrupted_run_resumes_its_schedule_and_publishes_its_best_epoch(synthetic_dataset, tmp_path, capsys):
    config = TrainConfig(arch=ARCH, epochs=2, batch_size=BATCH, augment="none")
    crash = _CrashInEpoch()
    with pytest.raises(KeyboardInterrupt):
        train(config, synthetic_dataset, tmp_path, callbacks=[crash])
    assert not (tmp_path / ARCH).exists()  # nothing published from a crashed run
    state = json.loads((tmp_path / ".runs" / ARCH / "state.json").read_text())
    assert state["epoch"] == 1

    probe = _ResumeProbe()
    entry = train(config, synthetic_dataset, tmp_path, callbacks=[probe])
    assert f"resuming '{ARCH}' after epoch 1" in capsys.readouterr().out
    # The optimizer (and its cosine schedule) comes back where epoch 1 left it, not at step 0.
    steps_per_epoch = int(np.ceil(entry.card.to_dict()["train"]["n_train"] / BATCH))
    assert probe.iterations == steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=2 * steps_per_epoch, alpha=0.02)
    assert probe.learning_rate == pytest.approx(float(keras.ops.convert_to_numpy(schedule(steps_per_epoch))), rel=1e-5)
    assert probe.learning_rate < 0.6 * config.lr  # half-way down the cosine, far from a fresh start
    # The finished epoch is kept as it was; epoch 2 was ruined, so the entry holds epoch 1's weights.
    history = entry.history()
    assert list(history.epoch) == [1, 2] and history.iloc[0].to_dict() == pytest.approx(state["history"][0])
    assert history.val_loss[1] > history.val_loss[0]
    assert entry.card.to_dict()["train"]["best_epoch"] == 1 and entry.card.to_dict()["train"]["epochs_run"] == 2
    published = load_model(entry).get_weights()
    assert len(published) == len(crash.weights)
    for served, best in zip(published, crash.weights, strict=True):
        np.testing.assert_allclose(served, best, rtol=1e-6, atol=1e-7)
    # Changed settings must not silently mix into the old run.
    with pytest.raises(ZooError, match="other settings"):
        train(TrainConfig(arch=ARCH, epochs=3, batch_size=BATCH, augment="none"), synthetic_dataset, tmp_path)


@pytest.fixture
def cli(synthetic_dataset, tmp_path, monkeypatch, capsys):
    """`python -m training.train` in-process on the synthetic dataset; returns (exit status, stdout + stderr)."""
    monkeypatch.setattr(train_module.image_folders, "load_labelled_data", lambda path, **_: synthetic_dataset)
    zoo = tmp_path / "zoo"

    def run(*args: str) -> tuple[int, str]:
        status = train_main(["--arch", ARCH, "--batch-size", str(BATCH), "--augment", "none", "--data", "synthetic",
                             "--zoo", str(zoo), *args])
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    run.zoo = zoo
    return run


def test_max_minutes_stops_early_and_rerunning_the_command_resumes(cli):
    status, out = cli("--epochs", "2", "--max-minutes", "0.000001")  # any epoch overruns 60 microseconds
    assert status == 0 and "stopping after epoch 1" in out
    entry = read_entry(ARCH, cli.zoo)
    assert entry.card.to_dict()["train"]["epochs_run"] == 1 and len(entry.history()) == 1
    first = entry.history().iloc[0].to_dict()

    status, out = cli("--epochs", "2", "--max-minutes", "600")  # a budget that fits
    assert status == 0 and f"resuming '{ARCH}' after epoch 1" in out and "stopping" not in out
    entry = read_entry(ARCH, cli.zoo)
    assert entry.card.to_dict()["train"]["epochs_run"] == 2 and list(entry.history().epoch) == [1, 2]
    assert entry.history().iloc[0].to_dict() == pytest.approx(first)

    # Other settings without --restart: refused (before any training), naming the way out.
    status, out = cli("--epochs", "3")
    assert status == 2 and "--restart" in out and "other settings" in out


def test_restart_discards_the_previous_run_and_an_interrupt_exits_130(cli, monkeypatch):
    """What --restart hands to training: no state. Training itself is stubbed (the test above trains)."""
    run_dir = cli.zoo / ".runs" / ARCH
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text(json.dumps({"settings": {"epochs": 99}, "epoch": 5}))
    (run_dir / "last.keras").write_bytes(b"an old checkpoint")
    handed: list = []

    def fit_then_interrupt(config, data, train_index, val_index, run, card, callbacks, trained_on):
        handed.append(run.read())
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run, "_fit", fit_then_interrupt)
    status, out = cli("--epochs", "1")
    assert status == 130 and "run the same command again to resume" in out
    assert handed[-1]["epoch"] == 5  # without --restart the old state is what training resumes from
    status, out = cli("--epochs", "1", "--restart")
    assert status == 130 and handed[-1] is None
    assert not (run_dir / "last.keras").exists()


@pytest.mark.parametrize("augmentation", train_module.AUGMENTATIONS)
def test_every_augment_choice_reaches_the_training_config(augmentation, synthetic_dataset, monkeypatch):
    seen: list[TrainConfig] = []
    monkeypatch.setattr(train_module.image_folders, "load_labelled_data", lambda path, **_: synthetic_dataset)
    monkeypatch.setattr(train_module, "train", lambda config, dataset, zoo, restart, fit_only: seen.append(config))
    assert train_main(["--arch", ARCH, "--augment", augmentation, "--data", "x"]) == 0
    assert [c.augment for c in seen] == [augmentation]
