"""The model zoo: trained models plus the small contract module that reads and writes them.

Import from here: `from model_zoo import list_entries, load_model, image_to_model_input`.
"""
# ruff: noqa: E402  (the log level must be set before the imports below can pull in TensorFlow)

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) buries progress output and server logs.
# Set here, the bottom layer that training/, dashboard/ and bench/ all import before TensorFlow, so it has one home.
TF_CPP_MIN_LOG_LEVEL = "2"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_CPP_MIN_LOG_LEVEL)

from model_zoo.card import Card, CardError
from model_zoo.images import ImageError, decode_image
from model_zoo.inference import predict_prob_fake, predict_raw_prob_fake
from model_zoo.loading import load_model, load_usable_models
from model_zoo.metrics import binary_metrics
from model_zoo.preprocessing import (
    UNIT_RANGE,
    batch_to_model_input,
    decode_for_card,
    image_to_model_input,
    input_size,
    normalization,
    normalize_for_card,
    resize_for_card,
    view_for_card,
)
from model_zoo.ranking import all_best_first
from model_zoo.roles import is_detector
from model_zoo.verdicts import Verdict, hf_predictions, verdict_for
from model_zoo.zoo import (
    LoadedModel,
    ZooEntry,
    ZooError,
    ZooProblem,
    list_entries,
    read_card,
    read_entry,
    staged_entry,
    validate_card,
    write_card,
    write_predictions,
    zoo_dir,
)

__all__ = [
    "Card",
    "CardError",
    "UNIT_RANGE",
    "ImageError",
    "LoadedModel",
    "Verdict",
    "ZooEntry",
    "ZooError",
    "ZooProblem",
    "batch_to_model_input",
    "binary_metrics",
    "decode_for_card",
    "decode_image",
    "hf_predictions",
    "image_to_model_input",
    "input_size",
    "is_detector",
    "list_entries",
    "load_model",
    "load_usable_models",
    "normalization",
    "normalize_for_card",
    "predict_prob_fake",
    "predict_raw_prob_fake",
    "all_best_first",
    "read_card",
    "read_entry",
    "resize_for_card",
    "staged_entry",
    "validate_card",
    "verdict_for",
    "view_for_card",
    "write_card",
    "write_predictions",
    "zoo_dir",
]
