"""A folder model's test images measured for the errors page (dashboard.misclassified.FolderTestImages.attributes):
the same content classes and properties training.slices gives them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dashboard.misclassified import FolderTestImages
from model_zoo import image_attributes


def _save(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 20, 3), value, np.uint8)).save(path)


def test_content_comes_from_the_sub_folders_and_properties_are_measured(tmp_path):
    for name, value in (("test/car/0_real/a.png", 40), ("test/boat/1_fake/b.png", 200), ("test/boat/0_real/c.png", 90)):
        _save(tmp_path / name, value)
    (tmp_path / "test/car/1_fake").mkdir(parents=True)
    (tmp_path / "test/car/1_fake/broken.png").write_bytes(b"not an image")
    paths = ["test/car/0_real/a.png", "test/boat/1_fake/b.png", "test/boat/0_real/c.png", "test/car/1_fake/broken.png",
             "test/car/1_fake/missing.png"]
    table = FolderTestImages(tmp_path).attributes(paths)
    assert list(table.index) == paths[:3]  # the unreadable and the missing file are left out
    assert list(table["content"]) == ["car", "boat", "boat"]
    assert set(image_attributes.PROPERTIES) <= set(table.columns)
    np.testing.assert_allclose(table["brightness"], [40 / 255, 200 / 255, 90 / 255], rtol=1e-6)


def test_one_content_class_for_all_is_no_content_class(tmp_path):
    _save(tmp_path / "test/real/a.png", 10)
    _save(tmp_path / "test/fake/b.png", 20)
    table = FolderTestImages(tmp_path).attributes(["test/real/a.png", "test/fake/b.png"])
    assert list(table["content"]) == ["", ""]
