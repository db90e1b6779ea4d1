"""Seed variance: the results file (model_zoo/seed_runs.py), its command line (training/seed_variance.py, over
training/lib/seed_study.py) and the studies page's sentence. Runs are copies of the session's trained entry with
an edited seed: no training here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_zoo import ZooError, list_entries, read_entry
from model_zoo.seed_runs import SEED_RUN_COLUMNS, read_seed_runs, seed_row, seed_summary, write_seed_runs
from tests.zoo_builders import copy_zoo
from training import seed_variance
from training.lib import seed_study

MODEL = "cnn_maxpool"


def _rows(model: str, seeds: list[int], accuracies: list[float], aucs: list[float] | None = None) -> pd.DataFrame:
    aucs = aucs or [0.99 + a / 100 for a in accuracies]
    return pd.DataFrame({"model": model, "seed": seeds, "run": [f"{model}-seed{s}" for s in seeds],
                         "accuracy": accuracies, "roc_auc": aucs, "epochs_run": 10, "n": 2000})


def _seed_copy(source: Path, runs: Path, seed: int, accuracy: float, **train_changes) -> Path:
    """A copy of the entry at `source` posing as a run of another seed with its own test accuracy."""
    folder = shutil.copytree(source, runs / f"{source.name}-seed{seed}")
    card = json.loads((folder / "card.json").read_text())
    card["name"] = folder.name
    card["train"].update(seed=seed, **train_changes)
    card["metrics"]["test"]["accuracy"] = accuracy
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def zoo(trained_zoo, tmp_path) -> Path:
    return copy_zoo(trained_zoo, tmp_path / "zoo")


# --- the results file ---------------------------------------------------------------------------------------------------

def test_results_file_round_trips_and_merges_by_model_and_seed(tmp_path):
    write_seed_runs(tmp_path, pd.concat([_rows("a", [0, 1], [0.97, 0.96]), _rows("b", [0], [0.95])]))
    first = read_seed_runs(tmp_path)
    assert list(first.columns) == list(SEED_RUN_COLUMNS)
    assert list(zip(first["model"], first["seed"], first["accuracy"])) == [("a", 0, 0.97), ("a", 1, 0.96), ("b", 0, 0.95)]
    assert first["unseen_accuracy"].isna().all()  # not given: blank, not made up

    write_seed_runs(tmp_path, _rows("a", [1, 2], [0.965, 0.975]))  # seed 1 again (re-collected) and a new seed 2
    merged = read_seed_runs(tmp_path)
    assert list(zip(merged["model"], merged["seed"], merged["accuracy"])) == [
        ("a", 0, 0.97), ("a", 1, 0.965), ("a", 2, 0.975), ("b", 0, 0.95)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed_runs.csv"]  # no temp file left behind


def test_no_results_file_reads_as_none(tmp_path):
    assert read_seed_runs(tmp_path) is None


@pytest.mark.parametrize(("text", "named"), [
    ("", "not a readable CSV"),
    ("model,seed,run\ncnn,0,cnn\n", "missing column(s) accuracy, roc_auc"),
    ("model,seed,run,accuracy,roc_auc\ncnn,0,cnn,0.97,0.99\ncnn,1,r1,high,0.99\n", "column 'accuracy' must hold numbers, line 3"),
    ("model,seed,run,accuracy,roc_auc\ncnn,0.5,cnn,0.97,0.99\n", "column 'seed' must hold whole numbers, line 2"),
    ("model,seed,run,accuracy,roc_auc\ncnn,1,r1,0.97,0.99\ncnn,1,r2,0.96,0.99\n", "seed 1 is recorded 2 times"),
])
def test_a_malformed_results_file_is_named_with_what_is_wrong(tmp_path, text, named):
    path = tmp_path / "seed_runs.csv"
    path.write_text(text)
    with pytest.raises(ZooError) as error:
        read_seed_runs(tmp_path)
    assert str(path) in str(error.value) and named in str(error.value)
    assert "python -m training.seed_variance" in str(error.value)
    with pytest.raises(ZooError):  # nor is it silently overwritten
        write_seed_runs(tmp_path, _rows("cnn", [2], [0.9]))
    assert path.read_text() == text


def test_summary_is_the_mean_and_sample_sd_per_model():
    accuracies, aucs = [0.9712, 0.9698, 0.9731], [0.9961, 0.9955, 0.9966]
    frame = pd.concat([_rows("a", [0, 1, 2], accuracies, aucs), _rows("b", [0], [0.95])])
    summary = seed_summary(frame).set_index("model")
    assert summary.loc["a", "seeds"] == 3 and summary.loc["b", "seeds"] == 1
    assert summary.loc["a", "accuracy_mean"] == pytest.approx(np.mean(accuracies))
    assert summary.loc["a", "accuracy_sd"] == pytest.approx(np.std(accuracies, ddof=1))
    assert summary.loc["a", "roc_auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert (summary.loc["a", "accuracy_min"], summary.loc["a", "accuracy_max"]) == (min(accuracies), max(accuracies))
    assert np.isnan(summary.loc["b", "accuracy_sd"])  # one seed has no spread, not a spread of 0


def test_seed_row_reads_the_card(trained_zoo):
    entry = read_entry(MODEL, trained_zoo)
    row = seed_row(entry)
    train, test = entry.card.to_dict()["train"], entry.test_metrics
    assert (row["model"], row["run"], row["seed"]) == (MODEL, MODEL, train["seed"])
    assert (row["accuracy"], row["roc_auc"], row["n"]) == (test["accuracy"], test["roc_auc"], test["n"])
    assert row["unseen_accuracy"] == entry.test_unseen_metrics["accuracy"]
    assert (row["epochs_run"], row["best_epoch"]) == (train["epochs_run"], train["best_epoch"])
    assert row["train_minutes"] == pytest.approx(train["wall_seconds"] / 60, abs=0.01)
    assert seed_row(entry, "other")["model"] == "other"


# --- the command line -------------------------------------------------------------------------------------------------

def test_collects_the_shipped_model_and_its_seed_runs(zoo, capsys):
    runs = zoo / ".seed_runs"  # the default runs folder
    shipped = read_entry(MODEL, zoo).test_metrics["accuracy"]
    _seed_copy(zoo / MODEL, runs, 1, shipped - 0.01)
    _seed_copy(zoo / MODEL, runs, 2, shipped - 0.02)
    shutil.copytree(zoo / "cnn_strided", runs / "cnn_strided")  # another architecture's run: not this model's
    unevaluated = _seed_copy(zoo / MODEL, runs, 3, 0.5)
    card = json.loads((unevaluated / "card.json").read_text())
    del card["metrics"]["test"]
    (unevaluated / "card.json").write_text(json.dumps(card))
    before = [e.name for e in list_entries(zoo)[0]]

    assert seed_variance.main([MODEL, "--zoo", str(zoo)]) == 0
    recorded = read_seed_runs(zoo)
    assert list(recorded["seed"]) == [0, 1, 2] and set(recorded["model"]) == {MODEL}
    assert list(recorded["run"]) == [MODEL, f"{MODEL}-seed1", f"{MODEL}-seed2"]
    assert list(recorded["accuracy"]) == pytest.approx([shipped, shipped - 0.01, shipped - 0.02])
    out = capsys.readouterr().out
    assert f"skipping run '{MODEL}-seed3': not evaluated yet" in out
    expected = np.array([shipped, shipped - 0.01, shipped - 0.02])
    assert (f"{MODEL} over 3 seed(s): {expected.mean():.2%} ± {expected.std(ddof=1) * 100:.2f} points test accuracy"
            in out)
    # the results file is no entry, and the hidden runs folder adds none
    entries, problems = list_entries(zoo)
    assert [e.name for e in entries] == before and problems == []

    assert seed_variance.main([MODEL, "--zoo", str(zoo)]) == 0  # again: rows replaced, not added
    assert len(read_seed_runs(zoo)) == 3


def test_a_run_with_another_recipe_is_refused_naming_what_differs(zoo, tmp_path, capsys):
    runs = tmp_path / "runs"
    card = read_entry(MODEL, zoo).card.to_dict()
    other = "none" if card["train"]["augmentation"] != "none" else "flip"
    odd = _seed_copy(zoo / MODEL, runs, 1, 0.9, augmentation=other, epochs=card["train"]["epochs"] + 1)
    assert seed_variance.main([MODEL, "--zoo", str(zoo), "--runs", str(runs)]) == 2
    error = capsys.readouterr().err
    assert str(odd) in error
    assert f"train.augmentation: '{other}', not '{card['train']['augmentation']}'" in error
    assert f"train.epochs: {card['train']['epochs'] + 1}, not {card['train']['epochs']}" in error
    assert read_seed_runs(zoo) is None  # nothing recorded from a mixed set


def test_a_second_run_of_a_counted_seed_is_refused(zoo, tmp_path):
    runs = tmp_path / "runs"
    _seed_copy(zoo / MODEL, runs, read_entry(MODEL, zoo).card.to_dict()["train"]["seed"], 0.9)
    with pytest.raises(ZooError, match="is already counted by 'cnn_maxpool'"):
        seed_study.collect(read_entry(MODEL, zoo), runs, report=lambda _: None)


def test_training_repeats_the_recipe_for_missing_seeds_only(zoo, tmp_path, monkeypatch, synthetic_dataset):
    """Training and evaluation are stood in for (they are training.train's and training.evaluate's own tests);
    what is checked is which seeds are trained and that the config is the shipped card's recipe."""
    import training.lib.data
    import training.lib.evaluation_run
    import training.lib.training_run

    runs = tmp_path / "runs"
    _seed_copy(zoo / MODEL, runs, 1, 0.9)  # seed 1 is done
    configs, evaluated = [], []

    def fake_train(config, dataset, target):
        configs.append(config)
        _seed_copy(zoo / MODEL, Path(target), config.seed, 0.8)

    monkeypatch.setattr(training.lib.data, "load_cifake", lambda path: synthetic_dataset)
    monkeypatch.setattr(training.lib.training_run, "train", fake_train)
    monkeypatch.setattr(training.lib.evaluation_run, "evaluate", lambda name, dataset, target: evaluated.append(name))
    model = read_entry(MODEL, zoo)
    lines: list[str] = []
    trained = seed_study.train_missing_seeds(model, [1, 2], runs, "data.zip", max_minutes=7, report=lines.append)

    assert trained == [f"{MODEL}-seed2"] and evaluated == [f"{MODEL}-seed2"]
    assert "seed 1: already trained and evaluated, skipped" in lines
    [config] = configs
    assert isinstance(config, training.lib.training_run.TrainConfig) and (config.seed, config.max_minutes) == (2, 7)
    assert config.role == "study"  # a seed run is compared on the studies page, never asked for a verdict
    train = model.card.to_dict()["train"]
    assert (config.arch, config.epochs, config.batch_size, config.lr, config.augment, config.validation_fraction,
            config.precision, config.weights) == (
        model.card.to_dict()["architecture"], train["epochs"], train["batch_size"], train["learning_rate"], train["augmentation"],
        train["validation_fraction"], train["precision"], train["weights"])


# --- the studies page's sentence ------------------------------------------------------------------------------------------

def test_seed_variance_answer_follows_the_numbers():
    from dashboard.study_figures import seed_variance_answer

    accuracies = [0.9712, 0.9698, 0.9731]
    summary = seed_summary(_rows(MODEL, [0, 1, 2], accuracies, [0.9961, 0.9955, 0.9966]))
    sd = np.std(accuracies, ddof=1)
    near, far = np.mean(accuracies) - sd, np.mean(accuracies) - 3 * sd
    answer = seed_variance_answer(summary, {MODEL: 0.9712, "near": near, "far": far})
    assert answer.startswith(f"Over 3 seeds, **{MODEL}** scores {np.mean(accuracies):.2%} ± {sd * 100:.2f} points")
    assert f"(sample sd; {min(accuracies):.2%} to {max(accuracies):.2%}), ROC-AUC 0.9961 ± " in answer
    assert f"gaps smaller than about {2 * sd * 100:.2f} points (2 sd)" in answer
    assert f"that covers near ({-sd * 100:+.2f} points)" in answer and "far" not in answer
    assert "no other zoo model is that close" in seed_variance_answer(summary, {"far": far})
    one = seed_variance_answer(seed_summary(_rows("solo", [0], [0.95])))
    assert one.startswith("Only one seed of **solo** is recorded so far: 95.00% test accuracy") and "±" not in one
    assert "no spread yet" in one
