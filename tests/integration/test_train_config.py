"""TrainConfig <-> the card's train block: the one mapping that publishing, resuming and seed variance share."""

from __future__ import annotations

from tests.cards import typed
from training.lib.training_run import TrainConfig


def test_a_config_survives_the_trip_through_a_card():
    config = TrainConfig(arch="cnn_strided", name="x", epochs=7, batch_size=64, lr=3e-4, augment="flip_shift", seed=5,
                         validation_fraction=0.2, shuffle_buffer=1000, role="study")
    card = {"name": "x", "architecture": "cnn_strided", "role": "study", "train": config.to_card()}
    assert card["train"]["learning_rate"] == 3e-4 and card["train"]["augmentation"] == "flip_shift"
    again = TrainConfig.from_card(typed(card))
    assert again == config
    other_seed = TrainConfig.from_card(typed(card), seed=6, name="x-seed6")
    assert other_seed.recipe() == config.recipe() and other_seed.seed == 6 and other_seed.name == "x-seed6"
    assert TrainConfig.from_card(typed(card), augment="flip").recipe()["train.augmentation"] == "flip"


def test_a_crop_card_and_a_frozen_backbone_card_give_back_their_input_settings():
    crop = {"architecture": "cnn_strided", "train": {"epochs": 2},
            "preprocessing": {"mean": [0, 0, 0], "std": [1, 1, 1],
                              "input_policy": {"kind": "crop", "size": 48, "max_crops": 16}}}
    config = TrainConfig.from_card(typed(crop))
    assert (config.input_policy, config.input_size, config.epochs) == ("crop", 48, 2)
    probe = {"architecture": "efficientnet_lite0", "backbone": {"input_size": 64, "frozen": True}, "train": {}}
    config = TrainConfig.from_card(typed(probe))
    assert (config.input_size, config.freeze_backbone) == (64, True)
