"""Handing a test image from the errors page to the inspect page (dashboard.misclassified): the link's query, how the
inspect page reads it back, and the file bytes it then judges."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dashboard.misclassified import CifakeTestImages, FolderTestImages, asked_test_image, inspect_query
from dashboard.misclassified import TestSet as ImageSet  # not "Test...": pytest would try to collect it

CIFAKE = ImageSet("CIFAKE test", None, (), "CIFAKE test")
FOLDER = ImageSet("faces test", "/data/faces", (), "faces test")


def test_the_query_names_the_image_and_its_set_and_reads_back():
    query = inspect_query(FOLDER, "test/real/a.png")
    assert query == {"test_image": "test/real/a.png", "test_set": "faces test"}
    assert asked_test_image([CIFAKE, FOLDER], query) == (FOLDER, "test/real/a.png")
    assert asked_test_image([CIFAKE, FOLDER], {"test_image": "test/FAKE/1.jpg"}) == (CIFAKE, "test/FAKE/1.jpg")


def test_no_image_asked_is_none_and_an_unknown_set_is_a_reason():
    assert asked_test_image([CIFAKE], {}) is None
    assert asked_test_image([CIFAKE], {"test_set": "CIFAKE test"}) is None
    reason = asked_test_image([CIFAKE], {"test_image": "x.png", "test_set": "/etc"})
    assert isinstance(reason, str) and "no test set called '/etc'" in reason and "`x.png`" in reason


def test_a_cifake_image_is_handed_over_as_its_exact_stored_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    images = CifakeTestImages(pixels, {"test/FAKE/1.jpg": 1})
    data = images.file_bytes("test/FAKE/1.jpg")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels[1])
    assert images.file_bytes("test/REAL/9.jpg") is None


def test_a_folder_image_is_handed_over_as_its_file_and_never_from_outside_the_folder(tmp_path):
    folder = tmp_path / "faces"
    (folder / "test" / "real").mkdir(parents=True)
    (folder / "test" / "real" / "a.png").write_bytes(b"the file")
    (tmp_path / "secret.txt").write_text("not yours")
    images = FolderTestImages(folder)
    assert images.file_bytes("test/real/a.png") == b"the file"
    assert images.file_bytes("test/real/missing.png") is None
    assert images.file_bytes("../secret.txt") is None
