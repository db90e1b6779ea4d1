"""A run is resumed (or published) only on the data it was trained on (issue 27, item 6).

The bug: `training.train --data A --name X`, then `--data B --name X`, said "'X' already trained for 1 epochs;
publishing it" and published A's weights with a card naming B. Each test trains a run on A with --fit-only (the
state then says all epochs are done: exactly the case that published), then asks for the same name on B, for a
labelled folder, a labelled zip and a CIFAKE-layout zip. One epoch of the cheapest CNN on a few dozen images.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from model_zoo import read_entry
from training.lib.image_folders import load_labelled_data
from training.lib.synthetic import make_image_folder, make_synthetic_cifake
from training.train import main as train_main

NAME = "x"


def _zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def _folder(path: Path, seed: int) -> Path:
    return make_image_folder(path, per_class=30, size=32, seed=seed)  # 32x32 PNGs: a folder, not CIFAKE's layout


def _cifake(path: Path, seed: int) -> Path:
    return make_synthetic_cifake(path, 30, 10, as_zip=True, seed=seed)


DATA = {
    "folder": _folder,
    "zip": lambda path, seed: _zip_folder(_folder(path.with_suffix(""), seed), path),
    "cifake": _cifake,
}


@pytest.fixture
def train_cli(tmp_path, monkeypatch, capsys):
    """`python -m training.train` in-process with a tiny recipe; returns (exit status, stdout + stderr)."""
    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "cache"))
    zoo = tmp_path / "zoo"

    def run(data: Path, *args: str) -> tuple[int, str]:
        status = train_main(["--arch", "cnn_strided", "--name", NAME, "--epochs", "1", "--batch-size", "16",
                             "--augment", "none", "--data", str(data), "--zoo", str(zoo), *args])
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    run.zoo = zoo
    return run


def _state(zoo: Path) -> dict:
    return json.loads((zoo / ".runs" / NAME / "state.json").read_text())


@pytest.mark.parametrize("kind", list(DATA))
def test_a_finished_run_is_not_published_for_other_data(kind, train_cli, tmp_path):
    make = DATA[kind]
    suffix = "" if kind == "folder" else ".zip"
    first, other = make(tmp_path / f"a{suffix}", 1), make(tmp_path / f"b{suffix}", 2)
    status, out = train_cli(first, "--fit-only")
    assert status == 0, out
    recorded = _state(train_cli.zoo)["data"]
    assert recorded["dataset"] == str(first) and recorded["fingerprint"].startswith("sha1:")

    status, out = train_cli(other)
    error = [line for line in out.splitlines() if line.startswith("error:")]
    assert status == 2 and len(error) == 1, out
    assert str(first) in error[0] and str(other) in error[0] and "--restart" in error[0] and "--name" in error[0]
    assert "publishing" not in out and not (train_cli.zoo / NAME).exists()
    assert _state(train_cli.zoo)["data"] == recorded  # the run is left as it was

    # The way out the line names: --restart trains on the other data (published once: publishing is the slow part).
    status, out = train_cli(other, "--restart", *(() if kind == "cifake" else ("--fit-only",)))
    assert status == 0, out
    assert _state(train_cli.zoo)["data"]["dataset"] == str(other)
    if kind == "cifake":
        assert read_entry(NAME, train_cli.zoo).card.train.dataset == str(other)


def test_the_same_data_unpacked_elsewhere_is_the_same_data(train_cli, tmp_path):
    """The fingerprint is of the files' contents, so a run fitted on an unpacked copy (training/gpu_finetune.sh does
    that on a borrowed machine) is published from the zip; its state's split is CIFAKE's as used."""
    archive = _cifake(tmp_path / "a.zip", 1)
    unpacked = tmp_path / "elsewhere" / "cifake"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(unpacked)
    status, out = train_cli(unpacked, "--fit-only")
    assert status == 0, out
    split = _state(train_cli.zoo)["data"]["split"]
    assert (split["validation_fraction"], split["seed"]) == (0.1, 0)
    assert (split["n_train"], split["n_validation"], split["n_test"]) == (54, 6, 20)  # 60 train images, 20 test

    status, out = train_cli(archive)
    assert status == 0 and f"'{NAME}' already trained for 1 epochs; publishing it" in out, out
    assert read_entry(NAME, train_cli.zoo).card.train.n_validation == split["n_validation"]


def test_a_small_folder_records_the_validation_share_it_used(train_cli, tmp_path):
    """A small folder validates on a bigger share than the default 0.1; the run state and the card say which."""
    folder = _folder(tmp_path / "small", 1)
    used = load_labelled_data(folder, progress=lambda _: None).split
    assert used["validation_fraction"] > 0.1  # the premise: 30 images a class get the bigger share
    status, out = train_cli(folder, "--fit-only")
    assert status == 0, out
    state = _state(train_cli.zoo)
    assert state["settings"]["validation_fraction"] == used["validation_fraction"]
    assert {k: state["data"]["split"][k] for k in ("validation_fraction", "seed", "test_fraction", "n_train",
                                                   "n_validation", "n_test")} == \
        {k: used[k] for k in ("validation_fraction", "seed", "test_fraction", "n_train", "n_validation", "n_test")}

    status, out = train_cli(folder)  # the same folder, the same command: published, and the card agrees
    assert status == 0, out
    train = read_entry(NAME, train_cli.zoo).card.to_dict()["train"]
    assert train["validation_fraction"] == train["split"]["validation_fraction"] == used["validation_fraction"]


def test_a_run_from_before_states_named_their_data_is_not_continued(train_cli, tmp_path):
    first = _cifake(tmp_path / "a.zip", 1)
    assert train_cli(first, "--fit-only")[0] == 0
    state_file = train_cli.zoo / ".runs" / NAME / "state.json"
    old = _state(train_cli.zoo)
    del old["data"]
    state_file.write_text(json.dumps(old))
    status, out = train_cli(first)
    assert status == 2 and "does not record which data" in out and "--restart" in out and "publishing" not in out
