"""Training a detector on an ImageNet backbone, two ways:

    frozen      the backbone's pooled features are extracted once (cached by dataset, input size and
                weights) and only the small head is trained on them: minutes on a laptop CPU;
    fine-tune   one warm-up epoch trains the head with the backbone frozen, then the whole net trains
                at the (lower) learning rate with a cosine decay, resumable per epoch.

Batches are numpy arrays (keras.utils.PyDataset), not tf.data, so this runs on any Keras backend:
the same command fine-tunes on a GPU machine that has JAX or PyTorch but no TensorFlow. Images
become model input through the card's own normalisation (model_zoo.normalize_for_card).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from model_zoo import normalize_for_card
from model_zoo.card import Card
from model_zoo.inference import crop_chunks
from training.lib.architectures import BACKBONE_FEATURES, HEAD_LAYERS
from training.lib.augment import augment_numpy
from training.lib.checkpoints import RunState, epoch_checkpoint

WARMUP_EPOCHS = 1  # fine-tuning: the new head first learns on a frozen backbone
WARMUP_LR = 1e-3
FEATURE_BATCH = 256


class Batches(keras.utils.PyDataset):
    """(model input, label) batches of images[index], reshuffled every epoch from (seed, epoch)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, index: np.ndarray, batch_size: int, card: Card,
                 augmentation: str = "none", shuffle: bool = False, seed: int = 0, epoch: int = 0):
        super().__init__()
        self.images, self.labels, self.index = images, labels.astype(np.float32), np.asarray(index)
        self.batch_size, self.card, self.augmentation = batch_size, card, augmentation
        self.shuffle, self.seed, self.epoch = shuffle, seed, epoch
        self._order()

    def _order(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.order = rng.permutation(self.index) if self.shuffle else self.index
        self.rng = rng

    def __len__(self) -> int:
        return math.ceil(len(self.index) / self.batch_size)

    def __getitem__(self, i: int):
        rows = np.sort(self.order[i * self.batch_size : (i + 1) * self.batch_size])  # sorted: fast on memory maps
        images = augment_numpy(self.images[rows], self.augmentation, self.rng)
        return normalize_for_card(images, self.card), self.labels[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()


def set_backbone_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze or unfreeze every layer but the head (a frozen BatchNormalization also stops updating its statistics)."""
    for layer in model.layers:
        if layer.name not in HEAD_LAYERS:
            layer.trainable = trainable


def head_model(model: keras.Model) -> keras.Model:
    """The detector's head as a model of its own on the pooled features; it shares the detector's layers."""
    features = keras.Input(model.get_layer(BACKBONE_FEATURES).output.shape[1:], name="features")
    x = features
    for name in HEAD_LAYERS:
        x = model.get_layer(name)(x)
    return keras.Model(features, x, name="head")


def extract_features(model: keras.Model, images: np.ndarray, card: Card, cache: Path | None = None) -> np.ndarray:
    """Pooled backbone features of every image, float32 (N, C); read from / written to `cache` when given."""
    if cache is not None and cache.is_file():
        features = np.load(cache, mmap_mode="r")
        if len(features) == len(images):
            print(f"reading backbone features from cache {cache}", flush=True)
            return np.asarray(features)
    extractor = keras.Model(model.input, model.get_layer(BACKBONE_FEATURES).output)
    print(f"extracting backbone features of {len(images):,} images (once; cached by dataset, input size and weights)",
          flush=True)
    batches = Batches(images, np.zeros(len(images)), np.arange(len(images)), FEATURE_BATCH, card)
    features = np.zeros((len(images), extractor.output.shape[-1]), np.float32)
    start = last_report = time.time()
    for i in range(len(batches)):
        x, _ = batches[i]
        features[i * FEATURE_BATCH : i * FEATURE_BATCH + len(x)] = np.asarray(extractor.predict_on_batch(x))
        if time.time() - last_report > 15 or i == len(batches) - 1:  # a line every few seconds, not per batch
            last_report, done = time.time(), min((i + 1) * FEATURE_BATCH, len(images))
            print(f"  {done:,}/{len(images):,} images, {done / (last_report - start):,.0f} images/s", flush=True)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.stem}.partial-{os.getpid()}.npy")
            np.save(partial, features)
            os.replace(partial, cache)
        except OSError as exc:  # a cache we cannot write only costs time
            print(f"could not cache features in {cache}: {exc}", flush=True)
    return features


def extract_crop_features(model: keras.Model, images, card: Card, cache: Path | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """A crop card's features: every image's grid of crops (model_zoo.crops, as it is judged), one row per crop,
    float32 (M, C), and the image each row belongs to (M,); read from / written to the `cache` .npz when given."""
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            if int(stored["n_images"]) == len(images):
                print(f"reading backbone features from cache {cache}", flush=True)
                return stored["features"], stored["owners"]
    extractor = keras.Model(model.input, model.get_layer(BACKBONE_FEATURES).output)
    print(f"extracting backbone features of the crops of {len(images):,} images (once; cached)", flush=True)
    features, owners, done = [], [], 0
    start = last_report = time.time()
    for n, chunk_owners, x in crop_chunks(images, card):
        features.append(np.concatenate([np.asarray(extractor.predict_on_batch(x[i : i + FEATURE_BATCH]), np.float32)
                                        for i in range(0, len(x), FEATURE_BATCH)]))
        owners.append(chunk_owners + done)
        done += n
        if time.time() - last_report > 15 or done == len(images):
            last_report = time.time()
            print(f"  {done:,}/{len(images):,} images, {done / (last_report - start):,.1f} images/s", flush=True)
    features, owners = np.concatenate(features), np.concatenate(owners)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.stem}.partial-{os.getpid()}.npz")
            np.savez(partial, features=features, owners=owners, n_images=len(images))
            os.replace(partial, cache)
        except OSError as exc:  # a cache we cannot write only costs time
            print(f"could not cache features in {cache}: {exc}", flush=True)
    return features, owners


def fit_frozen(model: keras.Model, images: np.ndarray, labels: np.ndarray, train_index: np.ndarray,
               val_index: np.ndarray, *, card: Card, epochs: int, batch_size: int, lr: float, run: RunState,
               state: dict, max_minutes: float | None, feature_cache: Path | None, callbacks: list) -> None:
    """Train the head on cached features; every epoch checkpoints the whole detector.

    A crop card's head trains on every crop of the grid each image is judged by, with the image's label."""
    set_backbone_trainable(model, False)
    started = time.time()
    if card.crop_spec:
        features, owners = extract_crop_features(model, images, card, feature_cache)
        labels = np.asarray(labels)[owners]
        train_index, val_index = np.flatnonzero(np.isin(owners, train_index)), np.flatnonzero(np.isin(owners, val_index))
    else:
        features = extract_features(model, images, card, feature_cache)
    # Extraction is part of what training this detector costs (a cached run pays seconds, not minutes).
    state["feature_seconds"] = round(time.time() - started, 1)
    state["wall_seconds"] += state["feature_seconds"]
    head = head_model(model)
    steps = epochs * math.ceil(len(train_index) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.02)
    head.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    y = labels.astype(np.float32)
    head.fit(features[train_index], y[train_index], validation_data=(features[val_index], y[val_index]),
             batch_size=batch_size, epochs=epochs, shuffle=True, verbose=2,
             callbacks=[epoch_checkpoint(run, state, max_minutes, saved_model=model), *callbacks])


def fit_finetune(model: keras.Model, images: np.ndarray, labels: np.ndarray, train_index: np.ndarray,
                 val_index: np.ndarray, *, card: Card, epochs: int, batch_size: int, lr: float, augmentation: str,
                 seed: int, run: RunState, state: dict, max_minutes: float | None, callbacks: list,
                 batches: tuple | None = None) -> None:
    """Warm up the head on the frozen backbone, then fine-tune everything; resumes after any finished epoch.

    `model` is freshly built when state["epoch"] is 0, else the run's last checkpoint (compiled, with its optimizer).
    `batches`: (train, validation, steps per epoch) from elsewhere (a folder streamed by tf.data) instead of Batches.
    """
    start = state["epoch"]
    checkpoint = epoch_checkpoint(run, state, max_minutes)
    if batches is not None:
        train, validation, steps_per_epoch = batches
    else:
        train = Batches(images, labels, train_index, batch_size, card, augmentation, shuffle=True, seed=seed, epoch=start)
        validation = Batches(images, labels, val_index, batch_size, card)
        steps_per_epoch = len(train)
    fit = dict(validation_data=validation, callbacks=[checkpoint, *callbacks], verbose=2)
    if start < WARMUP_EPOCHS:
        set_backbone_trainable(model, False)
        model.compile(optimizer=keras.optimizers.Adam(WARMUP_LR), loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(train, epochs=WARMUP_EPOCHS, initial_epoch=start, **fit)
        if model.stop_training or state["epoch"] < WARMUP_EPOCHS:
            return
    if state["epoch"] >= epochs:
        return
    if not all(layer.trainable for layer in model.layers):  # warmed up (now, or in the run being resumed)
        set_backbone_trainable(model, True)
        steps = (epochs - WARMUP_EPOCHS) * steps_per_epoch
        schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(steps, 1), alpha=0.02)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(train, epochs=epochs, initial_epoch=state["epoch"], **fit)
