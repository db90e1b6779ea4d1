"""The batch scanning CLI: file collection, sharding, model choice, output formats, and no train/serve skew."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_zoo import load_model, read_entry
from model_zoo.decision import label_name
from training.lib.folder_scan import collect_files, parse_shard, resolve_models, shard
from training.predict import main

ROOT = Path(__file__).resolve().parents[2]


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def images_dir(synthetic_folder) -> Path:
    return synthetic_folder / "test"


def test_collect_files_filters_sorts_and_recurses(tmp_path):
    a = _touch(tmp_path / "b.JPG")
    b = _touch(tmp_path / "a.png")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / ".hidden.jpg")
    deep = _touch(tmp_path / "sub" / "c.webp")
    odd = _touch(tmp_path / "named" / "photo.data")
    assert collect_files([tmp_path]) == [b, a]
    assert collect_files([tmp_path], recursive=True) == [b, a, deep]
    # A file named explicitly is scanned whatever its extension; duplicates collapse.
    assert collect_files([odd, tmp_path, b]) == [b, a, odd]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        collect_files([tmp_path / "missing"])


def test_shards_are_disjoint_cover_everything_and_follow_sorted_index():
    files = [Path(f"img{i:03d}.jpg") for i in range(23)][::-1]  # unsorted input
    shards = [shard(files, i, 4) for i in range(4)]
    assert sorted(sum(shards, []), key=str) == sorted(files, key=str)
    assert sum(len(s) for s in shards) == len(files)
    assert shards[1] == [Path(f"img{i:03d}.jpg") for i in range(1, 23, 4)]


@pytest.mark.parametrize("text", ["2/2", "0/0", "-1/3", "a/b", "1", "1/2/3"])
def test_bad_shard_specs_are_rejected(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard(text)


def test_shard_flag_splits_a_folder_across_workers(images_dir, trained_zoo, tmp_path):
    full = tmp_path / "full.csv"
    assert main([str(images_dir), "--recursive", "--zoo", str(trained_zoo), "--out", str(full)]) == 0
    everything = _csv_rows(full)
    parts = []
    for i in range(3):
        out = tmp_path / f"part{i}.csv"
        assert main([str(images_dir), "--recursive", "--zoo", str(trained_zoo), "--shard", f"{i}/3", "--out", str(out)]) == 0
        parts.append(_csv_rows(out))
    paths = [row["path"] for part in parts for row in part]
    assert len(paths) == len(set(paths)) == len(everything) == 40
    ordered = sorted(row["path"] for row in everything)
    assert [row["path"] for row in parts[2]] == ordered[2::3]
    by_path = {row["path"]: row["prob_fake"] for row in everything}
    assert all(by_path[row["path"]] == row["prob_fake"] for part in parts for row in part)


def test_all_models_csv_matches_training_preprocessing(synthetic_folder, trained_zoo, tmp_path):
    """P(FAKE) from the CLI equals the training/evaluation path on the same files: no train/serve skew."""
    from model_zoo import predict_prob_fake
    from training.lib.data import load_cifake

    out = tmp_path / "rows.csv"
    assert main([str(synthetic_folder / "test"), "--recursive", "--zoo", str(trained_zoo), "--model", "all",
                 "--out", str(out), "--batch-size", "7"]) == 0
    rows = _csv_rows(out)
    assert set(rows[0]) == {"path", "model", "label", "prob_fake", "error", "provenance", "decision", "in_distribution"}
    assert len(rows) == 2 * 40 and {r["model"] for r in rows} == {"cnn_maxpool", "cnn_strided"}
    dataset = load_cifake(synthetic_folder, cache_dir=tmp_path / "cache", progress=lambda _: None, workers=1)
    for name in ("cnn_maxpool", "cnn_strided"):
        entry = read_entry(name, trained_zoo)
        expected = predict_prob_fake(load_model(entry), dataset.test.images, entry.card)
        got = {Path(r["path"]).relative_to(synthetic_folder).as_posix(): float(r["prob_fake"]) for r in rows
               if r["model"] == name}
        np.testing.assert_allclose([got[p] for p in dataset.test.paths], expected, atol=2e-5)
    cards = {name: read_entry(name, trained_zoo).card for name in ("cnn_maxpool", "cnn_strided")}
    for row in rows:  # each model decides at its own card threshold
        assert row["error"] == "" and row["label"] == label_name(float(row["prob_fake"]), cards[row["model"]])
    assert not list(tmp_path.glob("*.partial"))


def test_jsonl_is_shaped_like_the_hugging_face_pipeline(images_dir, trained_zoo, tmp_path, capsys):
    bad = _touch(tmp_path / "broken.jpg", b"not a jpeg")
    first = sorted((images_dir / "REAL").iterdir())[0]
    assert main([str(first), str(bad), "--zoo", str(trained_zoo), "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [Path(line["path"]) for line in lines] == sorted([first, bad], key=str)
    good = next(line for line in lines if line["path"] == str(first))
    predictions = good["predictions"]
    assert {p["label"] for p in predictions} == {"FAKE", "REAL"}
    assert predictions[0]["score"] >= predictions[1]["score"]
    assert sum(p["score"] for p in predictions) == pytest.approx(1.0, abs=1e-5)
    # The label is the verdict at the model's threshold; the scores are its calibrated probabilities.
    card = read_entry(good["model"], trained_zoo).card
    assert good["label"] == label_name(good["prob_fake"], card) and good["threshold"] == card.threshold
    assert "not an image" in next(line for line in lines if line["path"] == str(bad))["error"]
    assert "images/s" in captured.err and "1 file(s) could not be read" in captured.err


def test_json_output_is_one_array(images_dir, trained_zoo, tmp_path):
    out = tmp_path / "rows.json"
    assert main([str(images_dir / "FAKE"), "--zoo", str(trained_zoo), "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert isinstance(rows, list) and len(rows) == 20
    assert all(row["model"] == rows[0]["model"] and "predictions" in row for row in rows)


def test_user_errors_are_one_line_and_exit_2(images_dir, trained_zoo, tmp_path, capsys):
    assert main([str(images_dir), "--recursive", "--zoo", str(trained_zoo), "--model", "nope"]) == 2
    assert "error: no model named 'nope'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main([str(images_dir), "--zoo", str(trained_zoo)]) == 2  # the images are in subfolders
    assert "use --recursive" in capsys.readouterr().err
    assert main([str(images_dir), "--recursive", "--zoo", str(tmp_path / "empty_zoo")]) == 2
    assert "no usable models" in capsys.readouterr().err
    assert main([str(images_dir), "--recursive", "--zoo", str(trained_zoo), "--out", str(tmp_path / "no" / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(images_dir), "--shard", "5/2"])
    assert exit_info.value.code == 2


def test_command_line_runs_as_a_module(images_dir, trained_zoo, tmp_path):
    scan = tmp_path / "scan"
    shutil.copytree(images_dir / "REAL", scan)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "training.predict", str(scan), "--zoo", str(trained_zoo)],
                            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "path,model,label,prob_fake,error,provenance,decision,in_distribution" and len(lines) == 21
    assert "images/s" in result.stderr


@pytest.mark.parametrize(("batch_size", "workers"), [(1, 1), (5, 3), (64, 2)])
def test_rows_keep_file_order_and_errors_stay_with_their_files(images_dir, trained_zoo, tmp_path, batch_size, workers):
    from training.lib.folder_scan import score_files

    good = sorted((images_dir / "REAL").iterdir())[:9]
    files = []
    for i, path in enumerate(good):
        files.append(path)
        if i % 3 == 0:
            files.append(_touch(tmp_path / f"bad{i}.jpg", b""))
    from model_zoo import decode_for_card, predict_prob_fake

    models = resolve_models("all", trained_zoo)
    rows = list(score_files(files, models, batch_size=batch_size, workers=workers))
    assert len(rows) == 2 * len(files)
    for model in models:
        mine = [row for row in rows if row["model"] == model.name]
        assert [row["path"] for row in mine] == [str(f) for f in files]
        expected = predict_prob_fake(model.model, [decode_for_card(f, model.card) for f in good], model.card)
        scored = [row for row in mine if not row["error"]]
        assert [row["path"] for row in scored] == [str(f) for f in good]
        # Each score is its own file's, whatever the batching and worker count.
        np.testing.assert_allclose([row["prob_fake"] for row in scored], expected, atol=1e-6)
        assert all("file is empty" in row["error"] for row in mine if "bad" in row["path"])


def test_models_with_different_input_sizes_each_get_their_own_preprocessing(trained_zoo, images_dir, tmp_path):
    import keras

    from model_zoo import decode_for_card, predict_prob_fake

    zoo = tmp_path / "zoo"
    shutil.copytree(trained_zoo, zoo)
    big = zoo / "wide64"
    shutil.copytree(zoo / "cnn_strided", big)
    card = json.loads((big / "card.json").read_text())
    card.update(name="wide64", input_shape=[64, 64, 3],
                preprocessing={"color": "BGR", "resize": "bilinear", "mean": [100.0, 110.0, 120.0], "std": [50.0, 60.0, 70.0]})
    (big / "card.json").write_text(json.dumps(card))
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(4, 3, strides=2)(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(big / "model.keras")

    out = tmp_path / "rows.jsonl"
    folder = images_dir / "FAKE"
    assert main([str(folder), "--zoo", str(zoo), "--model", "all", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["model"] for r in rows} == {"cnn_maxpool", "cnn_strided", "wide64"} and len(rows) == 3 * 20
    entry = read_entry("wide64", zoo)
    model = load_model(entry)
    for row in (r for r in rows if r["model"] == "wide64"):
        seen = decode_for_card(row["path"], entry.card)
        assert seen.shape == (64, 64, 3)
        assert row["prob_fake"] == pytest.approx(float(predict_prob_fake(model, seen[None], entry.card)[0]), abs=2e-6)
