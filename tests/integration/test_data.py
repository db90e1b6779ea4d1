"""The CIFAKE loader: both layouts, bad files, empty folders, cache, and the validation split."""

from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from training.lib.data import DatasetError, load_cifake, resolve_data_path
from training.train import main as train_main


def quiet(_: str) -> None:
    pass


def test_zip_layout_loads_every_image(synthetic_dataset):
    train, test = synthetic_dataset.train, synthetic_dataset.test
    assert train.images.shape == (240, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.counts() == {"REAL": 120, "FAKE": 120}
    assert test.counts() == {"REAL": 40, "FAKE": 40}
    assert synthetic_dataset.skipped == []
    # FAKE is the positive class, and paths are relative to the dataset root.
    for path, label in zip(test.paths, test.labels):
        assert path.startswith("test/FAKE/" if label == 1 else "test/REAL/")


def test_folder_layout_matches_its_files(synthetic_folder, tmp_path):
    dataset = load_cifake(synthetic_folder, cache_dir=tmp_path, progress=quiet)
    assert dataset.train.counts() == {"REAL": 60, "FAKE": 60}
    assert dataset.test.counts() == {"REAL": 20, "FAKE": 20}
    # The array row is the decoded file it names.
    i = 7
    on_disk = np.asarray(Image.open(synthetic_folder / dataset.test.paths[i]).convert("RGB"))
    np.testing.assert_array_equal(dataset.test.images[i], on_disk)


def test_class_folder_names_are_case_insensitive_and_may_be_nested(synthetic_folder, tmp_path):
    root = tmp_path / "download" / "cifake"
    for split, new_split in (("train", "Train"), ("test", "TEST")):
        for cls, new_cls in (("REAL", "real"), ("FAKE", "Fake")):
            shutil.copytree(synthetic_folder / split / cls, root / new_split / new_cls)
    dataset = load_cifake(tmp_path / "download", cache_dir=tmp_path / "cache", progress=quiet)
    assert dataset.train.counts() == {"REAL": 60, "FAKE": 60}
    assert all(p.startswith(("Train/real/", "Train/Fake/")) for p in dataset.train.paths)


@pytest.fixture
def folder_copy(synthetic_folder, tmp_path):
    return shutil.copytree(synthetic_folder, tmp_path / "cifake")


def test_corrupt_and_wrong_size_files_are_reported_and_skipped(folder_copy, tmp_path):
    (folder_copy / "train/REAL/broken.jpg").write_bytes(b"this is not a jpeg")
    Image.new("RGB", (40, 40), "red").save(folder_copy / "train/FAKE/big.jpg")
    messages: list[str] = []
    dataset = load_cifake(folder_copy, cache_dir=tmp_path / "cache", progress=messages.append)
    assert dataset.train.counts() == {"REAL": 60, "FAKE": 60}
    assert "train/REAL/broken.jpg" not in dataset.train.paths
    skipped = "\n".join(dataset.skipped)
    assert "train/REAL/broken.jpg" in skipped and "train/FAKE/big.jpg: 40x40 pixels" in skipped
    assert any("skipped train/REAL/broken.jpg" in m for m in messages)


def test_an_empty_class_folder_is_a_clear_error(folder_copy, tmp_path):
    for path in (folder_copy / "test/FAKE").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match="test/FAKE"):
        load_cifake(folder_copy, cache_dir=tmp_path / "cache", progress=quiet)


def test_missing_or_malformed_dataset_ends_in_one_line_and_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    with pytest.raises(DatasetError, match="CIFAKE_PATH"):
        resolve_data_path(None)
    not_zip = tmp_path / "cifake.zip"
    not_zip.write_text("hello")
    for bad in (tmp_path / "nowhere", not_zip):
        assert train_main(["--arch", "cnn_maxpool", "--data", str(bad), "--zoo", str(tmp_path / "zoo")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and str(bad) in err
    assert not (tmp_path / "zoo").exists()


def test_cache_is_reused_and_invalidated_when_the_source_changes(synthetic_folder, tmp_path):
    source = shutil.copytree(synthetic_folder, tmp_path / "cifake")
    messages: list[str] = []
    first = load_cifake(source, cache_dir=tmp_path / "cache", progress=messages.append)
    assert any(m.startswith("decoding") for m in messages)
    messages.clear()
    second = load_cifake(source, cache_dir=tmp_path / "cache", progress=messages.append)
    assert any("from cache" in m for m in messages) and not any(m.startswith("decoding") for m in messages)
    np.testing.assert_array_equal(first.train.images, second.train.images)
    assert first.test.paths == second.test.paths
    shutil.copy(source / "test/REAL/0000.jpg", source / "test/REAL/extra.jpg")
    messages.clear()
    third = load_cifake(source, cache_dir=tmp_path / "cache", progress=messages.append)
    assert any(m.startswith("decoding") for m in messages)
    assert third.test.counts()["REAL"] == 21


def test_zip_with_a_top_level_folder(synthetic_zip, tmp_path):
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(synthetic_zip) as src, zipfile.ZipFile(nested, "w") as dst:
        for info in src.infolist():
            dst.writestr("cifake/" + info.filename, src.read(info))
    dataset = load_cifake(nested, cache_dir=tmp_path, progress=quiet)
    assert dataset.test.counts() == {"REAL": 40, "FAKE": 40}
    assert dataset.test.paths[0].startswith("test/")


def test_jpeg_bytes_in_zip_decode_to_the_cached_arrays(synthetic_zip, synthetic_dataset):
    with zipfile.ZipFile(synthetic_zip) as archive:
        data = archive.read(synthetic_dataset.train.paths[0])
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(synthetic_dataset.train.images[0], decoded)


def test_file_digests_find_test_images_that_are_copies_of_training_images(folder_copy, tmp_path):
    train_file = sorted((folder_copy / "train/FAKE").iterdir())[3]
    test_files = sorted((folder_copy / "test/FAKE").iterdir())
    leaked = test_files[5]
    shutil.copyfile(train_file, leaked)  # byte-identical, under another name, in the other split
    dataset = load_cifake(folder_copy, cache_dir=tmp_path / "cache", progress=quiet)
    unseen = dataset.test.unseen_in(dataset.train)
    assert unseen.sum() == len(dataset.test) - 1
    assert dataset.test.paths[int(np.flatnonzero(~unseen)[0])] == "test/FAKE/" + leaked.name
    # Digests survive the cache and subsetting.
    cached = load_cifake(folder_copy, cache_dir=tmp_path / "cache", progress=quiet)
    np.testing.assert_array_equal(cached.test.unseen_in(cached.train), unseen)
    assert len(cached.test.subset(np.flatnonzero(unseen)).unseen_in(cached.train)) == len(dataset.test) - 1
