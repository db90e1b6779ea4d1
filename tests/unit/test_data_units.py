"""training.lib.data's pieces on hand-made inputs: member names, fingerprints, cache places, splits, summaries."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.lib import data as D
from training.lib.data import Dataset, DatasetError, Split, load_cifake, train_validation_split


def _split(labels, digests=None) -> Split:
    labels = np.asarray(labels, np.uint8)
    images = np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    return Split(images, labels, [f"p{i}" for i in range(len(labels))], digests)


def test_split_subset_counts_and_unseen():
    split = _split([0, 1, 1, 0], np.array(["a", "b", "c", "d"]))
    part = split.subset(np.array([3, 1]))
    assert part.paths == ["p3", "p1"] and list(part.labels) == [0, 1] and list(part.digests) == ["d", "b"]
    assert part.images[0, 0, 0, 0] == 3 and len(part) == 2
    assert split.counts() == {"REAL": 2, "FAKE": 2} and _split([1, 1, 1]).counts() == {"REAL": 0, "FAKE": 3}
    assert _split([0, 1]).subset(np.array([1])).digests is None
    other = _split([0, 0], np.array(["b", "x"]))
    assert list(split.unseen_in(other)) == [True, False, True, True]
    for a, b in ((_split([0]), other), (other, _split([0]))):
        with pytest.raises(DatasetError, match="^file digests are unknown for this dataset; load it with load_cifake$"):
            a.unseen_in(b)


def test_summary_lists_counts_and_at_most_twenty_skipped_files():
    dataset = Dataset(Path("/data/cifake.zip"), _split([0, 1, 1]), _split([0, 1]))
    assert dataset.summary() == "CIFAKE at /data/cifake.zip\n  train: REAL 1, FAKE 2\n  test: REAL 1, FAKE 1"
    big = _split([0] * 1500 + [1] * 2)
    dataset = Dataset(Path("d"), big, big, skipped=[f"f{i}: broken" for i in range(23)])
    lines = dataset.summary().splitlines()
    assert lines[1] == "  train: REAL 1,500, FAKE 2" and lines[3] == "  skipped 23 file(s):"
    assert lines[4] == "    f0: broken" and lines[23] == "    f19: broken" and lines[24] == "    ... and 3 more"
    assert len(lines) == 25
    exactly = Dataset(Path("d"), big, big, skipped=[f"f{i}" for i in range(20)]).summary().splitlines()
    assert len(exactly) == 24 and "more" not in exactly[-1]
    one_over = Dataset(Path("d"), big, big, skipped=[f"f{i}" for i in range(21)]).summary().splitlines()
    assert one_over[-1] == "    ... and 1 more"


def test_stderr_progress(capsys):
    D.stderr_progress("decoding 10 images")
    assert capsys.readouterr() == ("", "decoding 10 images\n")


def test_resolve_data_path(tmp_path, monkeypatch):
    monkeypatch.delenv(D.DATA_ENV, raising=False)
    with pytest.raises(DatasetError, match=r"no dataset given: pass --data PATH or set CIFAKE_PATH .*training\.download"):
        D.resolve_data_path(None)
    monkeypatch.setenv(D.DATA_ENV, "")
    with pytest.raises(DatasetError, match="no dataset given"):
        D.resolve_data_path(None)
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path))
    assert D.resolve_data_path(None) == tmp_path
    assert D.resolve_data_path(str(tmp_path)) == tmp_path
    monkeypatch.setenv("HOME", str(tmp_path))
    assert D.resolve_data_path("~") == tmp_path  # ~ is expanded
    with pytest.raises(DatasetError, match=rf"^{tmp_path / 'gone'}: does not exist \(expected the CIFAKE zip or a folder"):
        D.resolve_data_path(tmp_path / "gone")


@pytest.mark.parametrize(("name", "expected"), [
    ("train/REAL/0001.jpg", ("train", 0, "train/REAL/0001.jpg")),
    ("cifake/Test/fake/x (2).JPEG", ("test", 1, "Test/fake/x (2).JPEG")),
    ("a\\b\\train\\FAKE\\y.png", ("train", 1, "train/FAKE/y.png")),
    ("deep/er/train/real/z.jpeg", ("train", 0, "train/real/z.jpeg")),
    ("train/REAL/.0001.jpg", None),  # hidden (macOS ._ files)
    ("train/REAL/notes.txt", None),
    ("REAL/0001.jpg", None),  # no split folder
    ("valid/REAL/0001.jpg", None),
    ("train/OTHER/0001.jpg", None),
    ("0001.jpg", None),
])
def test_member_names(name, expected):
    assert D._member_info(name) == expected


def _write_zip(path: Path, names: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return path


def test_list_members_sorted_by_relative_path_from_zip_and_folder(tmp_path):
    names = {"root/train/REAL/b.jpg": b"1", "root/train/REAL/a.jpg": b"2", "root/test/FAKE/c.png": b"3",
             "root/readme.txt": b"4", "root/train/": b""}
    members = D._list_members(_write_zip(tmp_path / "d.zip", names))
    assert members == [("root/test/FAKE/c.png", "test", 1, "test/FAKE/c.png"),
                       ("root/train/REAL/a.jpg", "train", 0, "train/REAL/a.jpg"),
                       ("root/train/REAL/b.jpg", "train", 0, "train/REAL/b.jpg")]
    # Sorted by the path inside the dataset, not by the member's name in the archive.
    mixed = D._list_members(_write_zip(tmp_path / "m.zip", {"a/train/REAL/a.jpg": b"1", "b/test/FAKE/c.png": b"2"}))
    assert [m[3] for m in mixed] == ["test/FAKE/c.png", "train/REAL/a.jpg"]
    folder = tmp_path / "f"
    for name in ("train/FAKE/x.jpg", "test/REAL/y.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"z")
    assert [m[3] for m in D._list_members(folder)] == ["test/REAL/y.jpg", "train/FAKE/x.jpg"]


def test_not_a_zip_is_a_dataset_error_naming_it(tmp_path):
    bad = tmp_path / "cifake.zip"
    bad.write_text("hello")
    with pytest.raises(DatasetError, match=rf"^{bad}: not a zip file \(expected the CIFAKE zip or a folder with train/REAL"):
        D._list_members(bad)
    with pytest.raises(DatasetError, match="not a zip file"):
        D.fingerprint(bad)


def test_fingerprint_changes_with_the_files(tmp_path):
    first = D.fingerprint(_write_zip(tmp_path / "a.zip", {"train/REAL/a.jpg": b"1"}))
    assert len(first) == 16 and first == D.fingerprint(tmp_path / "a.zip")
    assert D.fingerprint(_write_zip(tmp_path / "b.zip", {"train/REAL/a.jpg": b"2"})) != first  # CRC
    assert D.fingerprint(_write_zip(tmp_path / "c.zip", {"train/REAL/b.jpg": b"1"})) != first  # name
    assert D.fingerprint(_write_zip(tmp_path / "d.zip", {"train/REAL/a.jpg": b"1", "x": b""})) != first
    folder = tmp_path / "f"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "a.jpg").write_bytes(b"1")
    base = D.fingerprint(folder)
    assert base == D.fingerprint(folder)
    os.utime(folder / "train" / "a.jpg", ns=(1, 1))
    touched = D.fingerprint(folder)
    assert touched != base
    (folder / "train" / "a.jpg").write_bytes(b"12")
    os.utime(folder / "train" / "a.jpg", ns=(1, 1))
    assert D.fingerprint(folder) != touched  # size
    (folder / "empty").mkdir()
    assert D.fingerprint(folder) == D.fingerprint(folder)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "env"))
    assert D.default_cache_dir(tmp_path / "cifake.zip") == tmp_path / "env"
    monkeypatch.setenv(D.CACHE_ENV, "")
    assert D.default_cache_dir(tmp_path / "cifake.zip") == tmp_path / ".cifake_cache"
    (tmp_path / ".cifake_cache").mkdir()
    assert D.default_cache_dir(tmp_path / "cifake.zip") == tmp_path / ".cifake_cache"
    monkeypatch.delenv(D.CACHE_ENV)
    # An existing cache folder that is writable is used even when the data folder is not.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) == tmp_path / ".cifake_cache")
    assert D.default_cache_dir(tmp_path / "cifake.zip") == tmp_path / ".cifake_cache"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only data folder
    assert D.default_cache_dir(tmp_path / "cifake.zip") == tmp_path / "home" / ".cache" / "cifake-detector"


def _jpeg(path: Path, value: int, size: int = 32, height: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, height or size), (value, value, value)).save(path, quality=95)


def _tiny_folder(root: Path) -> Path:
    for i, (split, cls) in enumerate((s, c) for s in ("train", "test") for c in ("REAL", "FAKE")):
        _jpeg(root / split / cls / "a.jpg", 40 * i)
        _jpeg(root / split / cls / "b.jpg", 40 * i + 10)
    return root


def test_load_orders_labels_paths_and_digests(tmp_path):
    root = _tiny_folder(tmp_path / "d")
    messages: list[str] = []
    dataset = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append, workers=1)
    assert dataset.train.paths == ["train/FAKE/a.jpg", "train/FAKE/b.jpg", "train/REAL/a.jpg", "train/REAL/b.jpg"]
    assert list(dataset.train.labels) == [1, 1, 0, 0] and dataset.train.labels.dtype == np.uint8
    assert dataset.test.images.dtype == np.uint8 and dataset.test.images.shape == (4, 32, 32, 3)
    assert dataset.test.digests[0] == hashlib.sha1((root / "test/FAKE/a.jpg").read_bytes()).hexdigest()
    assert dataset.source == root and dataset.skipped == []
    assert messages[0] == f"decoding 8 images from {root} (cached afterwards in {tmp_path / 'cache'})"
    assert messages[1].startswith("decoding 8/8 images (100%), ") and messages[1].endswith(" images/s")
    cached = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append)
    assert messages[-1].startswith("reading decoded images from cache ") and messages[-1].endswith(D.CACHE_VERSION)
    assert cached.train.paths == dataset.train.paths and isinstance(cached.train.paths[0], str)
    np.testing.assert_array_equal(cached.test.digests, dataset.test.digests)
    np.testing.assert_array_equal(cached.test.images, dataset.test.images)
    folders = list((tmp_path / "cache").iterdir())
    assert [f.name for f in folders] == [f"cifake-d-{D.fingerprint(root)}-{D.CACHE_VERSION}"]


def test_unreadable_files_are_skipped_with_reasons_and_no_digest(tmp_path):
    root = _tiny_folder(tmp_path / "d")
    (root / "train/REAL/c.jpg").write_bytes(b"")
    _jpeg(root / "train/FAKE/c.jpg", 5, size=31, height=30)
    messages: list[str] = []
    dataset = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append, workers=1)
    assert len(dataset.train) == 4 and len(dataset.skipped) == 2
    assert "train/FAKE/c.jpg: 31x30 pixels, expected 32x32" in dataset.skipped  # width x height
    assert any(s.startswith("train/REAL/c.jpg: ") for s in dataset.skipped)
    assert f"skipped {dataset.skipped[0]}" in messages
    again = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append)
    assert again.skipped == dataset.skipped  # the reasons are cached too
    names = ["train/REAL/gone.jpg", "train/REAL/c.jpg", "train/REAL/b.jpg"]  # unreadable, undecodable, fine
    images, kept, reasons, digests = D._decode_chunk(str(root), names, names)
    assert kept == [False, False, True] and len(reasons) == 2
    assert digests[0] == "" and digests[1] == "da39a3ee5e6b4b0d3255bfef95601890afd80709"  # SHA-1 of no bytes
    assert len(digests[2]) == 40 and images[:2].max() == 0 and images[2].max() > 0 and images.dtype == np.uint8
    archive = _write_zip(tmp_path / "d.zip", {"x/train/REAL/b.jpg": (root / "train/REAL/b.jpg").read_bytes()})
    images, kept, _, digests = D._decode_chunk(str(archive), ["x/train/REAL/b.jpg"], ["train/REAL/b.jpg"])
    assert kept == [True] and digests == [hashlib.sha1((root / "train/REAL/b.jpg").read_bytes()).hexdigest()]
    np.testing.assert_array_equal(images[0], np.asarray(Image.open(root / "train/REAL/b.jpg").convert("RGB")))


def test_a_class_without_usable_images_names_the_folder(tmp_path):
    root = _tiny_folder(tmp_path / "d")
    for path in (root / "test/REAL").iterdir():
        path.write_bytes(b"broken")
    with pytest.raises(DatasetError, match=rf"^{root}: no usable images in test/REAL \(expected train/REAL"):
        load_cifake(root, cache_dir=tmp_path / "cache", progress=lambda m: None, workers=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=rf"^{empty}: no images found \(expected train/REAL"):
        load_cifake(empty, cache_dir=tmp_path / "cache", progress=lambda m: None)


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path):
    root = _tiny_folder(tmp_path / "d")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should go")
    messages: list[str] = []
    dataset = load_cifake(root, cache_dir=blocker, progress=messages.append, workers=1)
    assert len(dataset.train) == 4
    assert any(m.startswith(f"could not write cache {blocker}/cifake-d-") for m in messages)
    assert blocker.read_text().startswith("a file")


def test_the_split_is_stratified_shuffled_and_seeded():
    labels = np.array([0] * 60 + [1] * 40)
    train, val = train_validation_split(labels, 0.2, seed=1)
    assert len(val) == 20 and labels[val].sum() == 8 and len(train) == 80
    assert sorted(np.concatenate([train, val])) == list(range(100))
    assert list(train_validation_split(labels)[1]) == list(train_validation_split(labels, 0.1, 0)[1])
    assert len(train_validation_split(labels)[1]) == 10
    assert not np.array_equal(train_validation_split(labels, 0.2, seed=2)[1], val)


class _Clock:
    """time.time for training.lib.data: starts at 100 s, and each call moves `step` seconds on."""

    def __init__(self, step: float):
        self.now, self.step = 100.0 - step, step

    def time(self) -> float:
        self.now += self.step
        return self.now


def _ten_files_in_five_chunks(root: Path, monkeypatch) -> Path:
    """_tiny_folder plus two undecodable files, decoded 2 at a time: chunks 2 and 5 each hold one."""
    _tiny_folder(root)
    (root / "test/FAKE/c.jpg").write_bytes(b"broken")  # member 3 of 10 (sorted by path)
    (root / "train/REAL/c.jpg").write_bytes(b"broken")  # member 10
    monkeypatch.setattr(D, "DECODE_CHUNK", 2)
    return root


def test_decoding_in_chunks_keeps_every_image_in_place_and_every_reason(tmp_path, monkeypatch):
    root = _ten_files_in_five_chunks(tmp_path / "d", monkeypatch)
    monkeypatch.setattr(D, "time", _Clock(1.0))
    messages: list[str] = []
    dataset = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append, workers=1)
    assert sorted(s.split(":")[0] for s in dataset.skipped) == ["test/FAKE/c.jpg", "train/REAL/c.jpg"]
    for split in (dataset.train, dataset.test):
        assert len(split) == 4
        for path, image in zip(split.paths, split.images):
            np.testing.assert_array_equal(image, np.asarray(Image.open(root / path).convert("RGB")), err_msg=path)
    # Progress: a line after the first chunk, then whenever more than 2 s passed since the last line (chunk 4,
    # 3 s on; not chunk 3, exactly 2 s on), and always at the end. Rates: 2 images in 2 s, 8 in 6 s, 10 in 8 s.
    decoding = [m for m in messages if m.startswith("decoding ") and "images/s" in m]
    assert decoding == ["decoding 2/10 images (20%), 1 images/s", "decoding 8/10 images (80%), 1 images/s",
                        "decoding 10/10 images (100%), 1 images/s"]


def test_the_decoding_rate_is_images_over_elapsed_seconds(tmp_path, monkeypatch):
    root = _ten_files_in_five_chunks(tmp_path / "d", monkeypatch)
    monkeypatch.setattr(D, "time", _Clock(0.1))
    messages: list[str] = []
    load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append, workers=1)
    assert [m for m in messages if "images/s" in m] == ["decoding 2/10 images (20%), 10 images/s",  # 2 in 0.2 s
                                                        "decoding 10/10 images (100%), 14 images/s"]  # 10 in 0.7 s


def test_a_split_with_no_files_at_all_is_a_dataset_error(tmp_path):
    root = tmp_path / "d"
    for cls in ("REAL", "FAKE"):
        _jpeg(root / "train" / cls / "a.jpg", 9)
    with pytest.raises(DatasetError, match=rf"^{root}: no usable images in test/REAL"):
        load_cifake(root, cache_dir=tmp_path / "cache", progress=lambda m: None, workers=1)


def test_the_default_cache_and_its_memory_mapped_images(tmp_path, monkeypatch):
    root = _tiny_folder(tmp_path / "d")
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "env-cache"))
    # A partial folder left by an earlier crash of this very process id is reused, not an error.
    name = f"cifake-d-{D.fingerprint(root)}-{D.CACHE_VERSION}"
    (tmp_path / "env-cache" / f"{name}.partial-{os.getpid()}").mkdir(parents=True)
    messages: list[str] = []
    load_cifake(root, progress=messages.append, workers=1)
    assert (tmp_path / "env-cache" / name).is_dir() and not any("could not write" in m for m in messages)
    cached = load_cifake(root, progress=messages.append)
    assert isinstance(cached.train.images, np.memmap) and not isinstance(cached.train.labels, np.memmap)
    monkeypatch.delenv(D.CACHE_ENV)  # then the cache goes next to the data
    load_cifake(root, progress=messages.append, workers=1)
    assert (tmp_path / ".cifake_cache" / name).is_dir()


def test_a_cache_write_that_fails_half_way_leaves_no_partial_folder(tmp_path, monkeypatch):
    root = _tiny_folder(tmp_path / "d")

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(D.np, "save", full_disk)
    messages: list[str] = []
    dataset = load_cifake(root, cache_dir=tmp_path / "cache", progress=messages.append, workers=1)
    assert len(dataset.test) == 4 and any("No space left on device" in m for m in messages)
    assert list((tmp_path / "cache").iterdir()) == []


def test_split_is_stratified_deterministic_and_disjoint():
    labels = np.array([0] * 700 + [1] * 300)
    train, val = train_validation_split(labels, 0.1, seed=3)
    again_train, again_val = train_validation_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(val, again_val)
    np.testing.assert_array_equal(train, again_train)
    assert len(val) == 100 and set(train).isdisjoint(val) and len(set(train) | set(val)) == 1000
    assert labels[val].mean() == pytest.approx(0.3, abs=0.01)
    other_train, other_val = train_validation_split(labels, 0.1, seed=4)
    assert not np.array_equal(val, other_val)


def test_split_indices_come_class_mixed_not_sorted():
    # CIFAKE's arrays are ordered by class: sorted indices would feed single-class runs.
    labels = np.array([0] * 5000 + [1] * 5000)
    train, val = train_validation_split(labels, 0.1, seed=0)
    for index in (train, val):
        first = labels[index[:200]]
        assert 0.3 < first.mean() < 0.7
        assert not np.all(np.diff(index) > 0)


def test_the_content_fingerprint_follows_the_files_not_their_container():
    digests = np.array(["a" * 40, "b" * 40, "c" * 40])
    base = Dataset(Path("/data/a.zip"), _split([0, 1, 1], digests), _split([0, 1], digests[:2]))
    same = Dataset(Path("/elsewhere/unpacked"), _split([1, 0, 1], digests[[1, 0, 2]]), _split([0, 1], digests[:2]))
    assert base.content_fingerprint() == same.content_fingerprint()  # any path, any order
    relabelled = Dataset(Path("d"), _split([0, 1, 0], digests), _split([0, 1], digests[:2]))
    changed = Dataset(Path("d"), _split([0, 1, 1], np.array(["a" * 40, "b" * 40, "d" * 40])), _split([0, 1], digests[:2]))
    moved = Dataset(Path("d"), _split([0, 1], digests[:2]), _split([0, 1, 1], digests))  # a file from train to test
    assert len({base.content_fingerprint(), relabelled.content_fingerprint(), changed.content_fingerprint(),
                moved.content_fingerprint()}) == 4
    with pytest.raises(D.DatasetError, match="digests are unknown"):
        Dataset(Path("d"), _split([0, 1]), _split([0, 1])).content_fingerprint()


def _resident_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for fields in map(str.split, Path("/proc/self/smaps").read_text().splitlines()):
        if fields and not fields[0].endswith(":"):  # a mapping's first line: addresses, permissions, ..., path
            inside = fields[-1] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_rows_taken_from_a_memory_mapped_cache_leave_it_unresident(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4000, 32, 32, 3), dtype=np.uint8)  # 12 MB
    np.save(tmp_path / "train_images.npy", images)
    mapped = np.load(tmp_path / "train_images.npy", mmap_mode="r")
    index = np.sort(np.random.default_rng(1).choice(len(images), 400, replace=False))  # a scattered 10%
    rows = D.take_rows(mapped, index)
    np.testing.assert_array_equal(rows, images[index])
    assert _resident_kib(tmp_path / "train_images.npy") == 0  # released after each few rows
    np.testing.assert_array_equal(D.take_rows(images, index), images[index])  # in memory: plain indexing
    mask = np.zeros(len(images), bool)
    mask[index] = True
    np.testing.assert_array_equal(D.take_rows(mapped, mask), images[index])
    _ = mapped[index]  # what Split.subset did: the scattered rows page in most of the file
    assert _resident_kib(tmp_path / "train_images.npy") > 12_000 * 0.5
