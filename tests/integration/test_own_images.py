"""Training on your own images (training.lib.image_folders, model_zoo.crops), on generated folders only."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo.crops import crop_grid, crop_policy, grid_crops, mean_logit, stitch
from model_zoo.input_check import check_input
from tests.cards import typed
from training.lib.data import DatasetError
from training.lib.image_folders import (
    MAX_VALIDATION_FRACTION,
    MIN_VALIDATION_PER_CLASS,
    grouped_split,
    labelled_members,
    load_image_folder,
    load_labelled_data,
    validation_fraction_for,
)
from training.lib.synthetic import make_image_folder, make_synthetic_cifake

QUIET = {"progress": lambda _: None}


@pytest.mark.parametrize(("layout", "splits"), [("plain", False), ("lower", True), ("genimage", True),
                                                ("cnndetection", False), ("cnndetection", True)])
def test_every_layout_reads_with_the_right_labels(layout, splits, tmp_path):
    root = make_image_folder(tmp_path / layout, 25, 40, layout=layout, splits=splits, fmt="JPEG")
    members = labelled_members(root)
    assert len(members) == 50 and sum(label for _, label, _ in members) == 25
    assert all(("1_fake" in name or "fake" in name.lower() or "/ai/" in f"/{name}") == bool(label)
               for name, label, _ in members)
    dataset = load_image_folder(root, **QUIET)
    if splits:  # the folder's own test split is kept as it is
        assert "test/ folder" in dataset.split["how"] and all(p.startswith("test/") for p in dataset.test.paths)
    else:
        assert "seed 0" in dataset.split["how"]
    n = len(dataset.train) + len(dataset.test)
    assert n == 50 and set(dataset.test.labels) == {0, 1} and set(dataset.train.labels[dataset.validation]) == {0, 1}
    assert not set(dataset.train.paths) & set(dataset.test.paths)


def test_a_zip_reads_like_the_folder(tmp_path):
    import shutil

    root = make_image_folder(tmp_path / "own", 22, 40, layout="genimage", fmt="PNG")
    archive = Path(shutil.make_archive(str(tmp_path / "own"), "zip", root.parent, root.name))
    from_zip, from_folder = load_image_folder(archive, **QUIET), load_image_folder(root, **QUIET)
    assert [p.split("/", 1)[1] for p in from_zip.test.paths] == from_folder.test.paths
    assert np.array_equal(from_zip.test.images[:3], from_folder.test.images[:3])


def test_the_split_keeps_duplicates_together_and_is_reproducible(tmp_path):
    labels = np.array([0] * 40 + [1] * 40)
    groups = [f"g{i // 4}" for i in range(80)]  # every file has three byte-identical copies
    kept, held = grouped_split(labels, groups, 0.25, seed=3)
    assert {groups[i] for i in kept}.isdisjoint({groups[i] for i in held})
    assert all(abs((labels[held] == label).sum() - 10) <= 2 for label in (0, 1))  # whole groups of 4
    again = grouped_split(labels, groups, 0.25, seed=3)
    assert np.array_equal(held, again[1]) and not np.array_equal(held, grouped_split(labels, groups, 0.25, 4)[1])

    root = make_image_folder(tmp_path / "dups", 30, 40)
    original = root / "FAKE" / "00000.png"
    for i in range(5):  # copies under other names, across the class folder
        (root / "FAKE" / f"copy{i}.png").write_bytes(original.read_bytes())
    dataset = load_image_folder(root, **QUIET)
    side = [p for p in (*dataset.train.paths, *dataset.test.paths) if "copy" in p or p.endswith("FAKE/00000.png")]
    assert len(side) == 6 and dataset.split["duplicates_grouped"] == 6
    in_test = [p in dataset.test.paths for p in side]
    assert all(in_test) or not any(in_test), "byte-identical files landed on both sides of the split"
    assert load_image_folder(root, **QUIET).test.paths == dataset.test.paths  # same seed, same split


def test_a_small_folder_keeps_enough_validation_images_for_the_uncertain_band(tmp_path):
    # 10% of 500 a class would leave 50 a class: too few for the band, which would then abstain on everything
    assert validation_fraction_for(0.1, 500) == MIN_VALIDATION_PER_CLASS / 500
    assert validation_fraction_for(0.1, 100) == MAX_VALIDATION_FRACTION  # never more than this
    assert validation_fraction_for(0.1, 50_000) == 0.1 and validation_fraction_for(0.4, 500) == 0.4
    said: list[str] = []
    dataset = load_image_folder(make_image_folder(tmp_path / "small", 200, 16), progress=said.append)
    assert dataset.split["validation_fraction"] == MAX_VALIDATION_FRACTION
    held = dataset.train.labels[dataset.validation]
    assert all(abs((held == label).sum() - 80) <= 4 for label in (0, 1))  # 0.4 of 200 a class
    assert any("never given (UNCERTAIN instead)" in line for line in said)  # still under 100 a class: say so
    rebuilt = load_labelled_data(dataset.source, split=dataset.split, progress=lambda _: None)
    assert list(rebuilt.test.paths) == list(dataset.test.paths) and np.array_equal(rebuilt.validation, dataset.validation)


def _cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("CMYK", (48, 48), (10, 200, 30, 0)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_corrupt_cmyk_and_tiny_files(tmp_path):
    root = make_image_folder(tmp_path / "odd", 25, 40)
    (root / "REAL" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = (root / "FAKE" / "00001.png").read_bytes()
    (root / "FAKE" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "REAL" / "cmyk.jpg").write_bytes(_cmyk_jpeg())
    Image.new("RGB", (1, 1), (90, 90, 90)).save(root / "FAKE" / "dot.png")
    messages: list[str] = []
    dataset = load_image_folder(root, progress=messages.append)
    skipped = "\n".join(dataset.skipped)
    assert "REAL/broken.jpg" in skipped and "FAKE/cut.png" in skipped and len(dataset.skipped) == 2
    assert any("skipped REAL/broken.jpg" in m for m in messages)
    every = [*dataset.train.paths, *dataset.test.paths]
    assert "REAL/cmyk.jpg" in every and "FAKE/dot.png" in every
    card = typed(input_shape=[32, 32, 3], preprocessing={"mean": [0] * 3, "std": [1] * 3, "input_policy": crop_policy(32)})
    from training.lib.image_folders import bind_card

    bind_card(dataset, card)
    split = dataset.train if "FAKE/dot.png" in dataset.train.paths else dataset.test
    dot = split.images[split.paths.index("FAKE/dot.png")]
    assert dot.shape == (32, 32, 3) and dot[0, 0].tolist() == [90, 90, 90] and dot[5, 5].tolist() == [0, 0, 0]
    check = check_input((1, 1), card)
    assert check.padded and check.in_distribution is False and "padded" in check.summary()


def test_too_few_images_name_the_folder_and_the_count(tmp_path):
    root = make_image_folder(tmp_path / "few", 25, 40, layout="cnndetection")
    for path in sorted((root / "cat" / "1_fake").iterdir()) + sorted((root / "car" / "1_fake").iterdir())[:4]:
        path.unlink()
    with pytest.raises(DatasetError, match=r"car/1_fake: only 9 usable FAKE image\(s\)"):
        load_image_folder(root, **QUIET)


def test_cifake_still_goes_to_the_cached_loader(tmp_path):
    root = make_synthetic_cifake(tmp_path / "cifake", 10, 5)
    dataset = load_labelled_data(root, **QUIET)
    assert type(dataset).__name__ == "Dataset" and dataset.train.images.shape == (20, 32, 32, 3)
    assert (root.parent / ".cifake_cache").is_dir()


def test_the_crop_grid_covers_caps_pads_and_stitches():
    full = crop_grid(100, 70, 32, 16)
    assert full.needed == 12 and len(full.positions) == 12 and not full.capped
    covered = np.zeros((100, 70), bool)
    for y, x in full.positions:
        covered[y : y + 32, x : x + 32] = True
    assert covered.all() and max(y for y, _ in full.positions) == 68
    capped = crop_grid(512, 512, 32, 16)
    assert capped.needed == 256 and len(capped.positions) == 16 and capped.capped
    image = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    crops, grid = grid_crops(image, 32)
    assert np.array_equal(crops[0], image[:32, :32])
    maps = np.ones((len(crops), 32, 32), np.float32)
    assert stitch(maps, grid, 40, 50).shape == (40, 50) and stitch(maps, grid, 40, 50).min() == 1
    probs = np.array([0.9, 0.5, 0.1, 0.8])
    assert np.allclose(mean_logit(probs, np.array([0, 0, 1, 1]), 2), [0.75, 0.4], atol=1e-4)  # logit means ln 3, -ln 1.5
    check = check_input((512, 512), typed(input_shape=[32, 32, 3], preprocessing={"mean": [0] * 3, "std": [1] * 3,
                                                                            "input_policy": crop_policy(32)}))
    assert not check.resampled and "16 32x32 crops" in check.summary() and "would take 256" in check.summary()


def test_a_resized_folder_model_records_its_training_sizes_and_judges_uploads_by_them(tmp_path):
    from training.lib.training_run import TrainConfig, train

    root = make_image_folder(tmp_path / "mixed", 40, 24)
    for path in sorted(root.rglob("*.png"))[::3]:  # a third of them 20 wide, 16 high; the rest 24x24
        Image.open(path).resize((20, 16)).save(path)
    dataset = load_labelled_data(root, **QUIET)
    entry = train(TrainConfig(arch="cnn_maxpool", epochs=1, batch_size=16, augment="none"), dataset, tmp_path / "zoo")
    assert entry.card.input_policy.kind == "resize"  # every image at most 32x32: resized, not cropped
    card = entry.card  # read back through the zoo's validation
    assert card.novelty.train_image_size == [24, 24]  # (H, W), the most common
    assert card.novelty.train_image_range == [[16, 20], [24, 24]]
    native = check_input((24, 24), card)
    assert not native.resampled and "learnt from 20x16 to 24x24 images resized to 32x32 the same way" in native.summary()
    assert check_input((64, 64), card).resampled
    assert "1 in 100 of its validation images" in check_input((24, 24), card, 1e9).novelty_message()


@pytest.fixture(scope="module")
def trace_folder(tmp_path_factory) -> Path:
    """256x256 PNGs; FAKE carries a faint period-2 trace that any shrink to 32x32 cancels exactly."""
    return make_image_folder(tmp_path_factory.mktemp("own") / "trace", 120, 256, seed=5)


def _train_and_test(folder: Path, zoo: Path, policy: str) -> dict:
    from training.lib.evaluation_run import evaluate
    from training.lib.training_run import TrainConfig, train

    dataset = load_labelled_data(folder, validation_fraction=0.1, **QUIET)  # as asked: more images to learn from
    config = TrainConfig(arch="cnn_maxpool", name=policy, epochs=4, batch_size=12, lr=3e-3, augment="none",
                         input_policy=policy, input_size=32)
    entry = train(config, dataset, zoo)
    assert entry.card.to_dict()["input_shape"] == [32, 32, 3] and entry.card.to_dict()["train"]["split"]["seed"] == 0
    return evaluate(policy, dataset, zoo).card.to_dict()


def test_a_crop_model_learns_the_pixel_trace_that_resizing_destroys(trace_folder, tmp_path):
    from model_zoo import list_entries, load_usable_models, read_entry
    from model_zoo.judge import judge

    crop_card = _train_and_test(trace_folder, tmp_path, "crop")
    assert crop_card["preprocessing"]["input_policy"] == {"kind": "crop", "size": 32, "max_crops": 16}
    assert crop_card["metrics"]["test"]["roc_auc"] >= 0.95, crop_card["metrics"]["test"]
    assert crop_card["decision"]["temperature"] > 0 and "novelty" in crop_card
    resize_card = _train_and_test(trace_folder, tmp_path, "resize")
    assert resize_card["preprocessing"]["input_policy"] == {"kind": "resize"}  # written explicitly since schema 2
    assert resize_card["metrics"]["test"]["roc_auc"] <= 0.8, resize_card["metrics"]["test"]

    # Serving follows the card: a whole 256x256 image is judged by 16 crops, never resized.
    models = [load_usable_models([e for e in list_entries(tmp_path)[0] if e.name == "crop"])[0]["crop"]]
    fake = next(p for p in sorted((trace_folder / "FAKE").iterdir()))
    judged = judge(fake, models)
    verdict = judged.verdicts[0]
    assert judged.seen["crop"].shape == (256, 256, 3) and verdict.label in ("FAKE", "UNCERTAIN")
    assert "16 32x32 crops" in " ".join(verdict.input_check.messages())
    from model_zoo.saliency import explanation_map

    heat = explanation_map(models[0].model, read_entry("crop", tmp_path).card, judged.seen["crop"], "Grad-CAM")
    assert heat.shape == (256, 256) and 0 <= heat.min() and heat.max() <= 1
