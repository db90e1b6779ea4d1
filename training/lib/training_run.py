"""Train one architecture into a zoo entry (resumable, atomic): the library behind `python -m training.train`."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from model_zoo import (
    ZooEntry,
    ZooError,
    predict_prob_fake,
    read_entry,
    staged_entry,
    write_card,
    zoo_dir,
)
from model_zoo.card import Card, parse_card
from model_zoo.crops import crop_policy
from model_zoo.roles import DETECTOR
from model_zoo.zoo import HISTORY_FILE, MODEL_FILE, RUNS_DIR
from training.lib import image_folders
from training.lib.architectures import ARCHITECTURES, GRADCAM_LAYER, Architecture, get_architecture
from training.lib.augment import AUGMENTATIONS
from training.lib.checkpoints import RunState, epoch_checkpoint
from training.lib.data import Dataset, Split
from training.lib.distribute import is_chief, make_strategy, worker_task

PRECISIONS = ("float32", "mixed_bfloat16", "auto")
FEEDS = ("host", "device")  # where fine-tuning batches are made: numpy on the host, or on the accelerator


RESUME_KEYS = ("arch", "epochs", "batch_size", "lr", "augment", "seed", "validation_fraction", "weights", "precision",
               "input_size", "freeze_backbone", "input_policy")


CARD_TRAIN_KEYS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "learning_rate", "augment": "augmentation",
                   "seed": "seed", "validation_fraction": "validation_fraction", "weights": "weights",
                   "precision": "precision", "shuffle_buffer": "shuffle_buffer", "strategy": "strategy"}


RECIPE_FIELDS = ("arch", "epochs", "batch_size", "lr", "augment", "validation_fraction", "precision", "weights")


INPUT_POLICIES = ("resize", "crop")


DEFAULT_CROP = 64  # --input-policy crop without --input-size, for the from-scratch CNNs (backbones: their own size)


@dataclass
class TrainConfig:
    arch: str
    name: str | None = None
    epochs: int = 12
    batch_size: int = 128
    lr: float | None = None  # None: the architecture's default
    augment: str = "flip"
    seed: int = 0
    validation_fraction: float = 0.1
    max_minutes: float | None = None  # stop after the epoch that would overrun this budget
    weights: str | None = "imagenet"  # pretrained backbones only: "imagenet", a local file, or None
    strategy: str = "default"  # see training/lib/distribute.py
    precision: str = "float32"  # "mixed_bfloat16" trains faster on CPUs with bf16 units; "auto" picks; the zoo gets float32
    shuffle_buffer: int | None = None  # None: the whole training split
    input_size: int | None = None  # crop side (crop policy); resize: the CNN's input side, or a backbone's inner size
    freeze_backbone: bool = False  # backbones: train only the head, on features extracted once
    role: str = DETECTOR  # the card's role (model_zoo.roles): study arms, seed runs and controls are "study"
    input_policy: str | None = None  # "resize" or "crop" (model_zoo.crops); None: resize for 32x32 data, else crop
    feed: str = "host"  # fine-tuning a backbone: "device" makes batches on the accelerator (training.lib.device_feed)

    def __post_init__(self) -> None:
        architecture = get_architecture(self.arch)
        self.name = self.name or self.arch
        if not architecture.pretrained:
            self.weights = None
        if not architecture.backbone_size and self.freeze_backbone:
            backbones = ", ".join(a.name for a in ARCHITECTURES.values() if a.backbone_size)
            raise ValueError(f"--freeze-backbone: frozen features apply to the backbone architectures ({backbones}), "
                             f"not {self.arch}")
        if self.input_policy not in (None, *INPUT_POLICIES):
            raise ValueError(f"--input-policy must be one of {', '.join(INPUT_POLICIES)}")
        if self.input_size is not None and self.input_size < 8:
            raise ValueError("--input-size must be at least 8 pixels")
        if architecture.backbone_size:
            self.input_size = self.input_size or architecture.backbone_size
        # A frozen backbone's head learns at the usual 1e-3; fine-tuning a whole pretrained net needs a gentler rate.
        default_lr = 1e-3 if self.freeze_backbone else architecture.learning_rate
        self.lr = self.lr if self.lr is not None else default_lr
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"--augment must be one of {', '.join(AUGMENTATIONS)}")
        if self.feed not in FEEDS:
            raise ValueError(f"--feed must be one of {', '.join(FEEDS)}")
        if self.feed == "device" and (not architecture.backbone_size or self.freeze_backbone):
            raise ValueError("--feed device applies to fine-tuning a backbone architecture (not --freeze-backbone)")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.precision == "auto":
            self.precision = "mixed_bfloat16" if cpu_has_bf16() else "float32"

    def to_card(self) -> dict:
        """The recipe as the card's train block records it (the run's own figures are added beside it)."""
        return {card_key: getattr(self, field) for field, card_key in CARD_TRAIN_KEYS.items()}

    @classmethod
    def from_card(cls, card: Card, **overrides) -> TrainConfig:
        """The config that trained `card`'s model; `overrides` change some settings (a seed, a name, a budget)."""
        train = card.train.to_dict()  # the recorded settings, by their card names
        fields: dict = {field: train[key] for field, key in CARD_TRAIN_KEYS.items() if key in train}
        backbone = card.backbone
        if card.crop_spec:
            fields |= {"input_policy": "crop", "input_size": card.crop_spec[0]}
        elif backbone and backbone.input_size:
            fields["input_size"] = backbone.input_size
        if backbone:
            fields["freeze_backbone"] = bool(backbone.frozen)
        own = {"arch": card.architecture, "name": card.name, "role": card.role_name}
        return cls(**{**own, **fields, **overrides})

    def recipe(self) -> dict[str, object]:
        """The settings that make a recipe, seed excluded, by their card names: {"train.epochs": 12, ...}."""
        return {("architecture" if f == "arch" else f"train.{CARD_TRAIN_KEYS[f]}"): getattr(self, f)
                for f in RECIPE_FIELDS}

    def architecture(self) -> Architecture:
        """The architecture at the input this run trains on: crops of input_size (crop policy), the CNN's
        --input-size (resize policy), else the registered input shape."""
        architecture = get_architecture(self.arch)
        if self.input_policy == "crop":
            side = self.input_size or DEFAULT_CROP
        elif self.input_size and not architecture.backbone_size:
            side = self.input_size
        else:
            return architecture
        return replace(architecture, input_shape=(side, side, 3))


def cpu_has_bf16() -> bool:
    """True on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX), where mixed precision pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def machine_description() -> str:
    """Where this process trains: cores, GPUs, system, and the framework under Keras."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        framework = f"TF {tf.__version__}"
    else:
        framework = f"Keras on {backend}"
    return f"{platform.machine()}, {os.cpu_count()} cores, {_gpus()}, {platform.system()}, {framework}"


def _gpus() -> str:
    """The machine's NVIDIA GPUs by name, from nvidia-smi, or 'CPU only'. It asks the driver, not a framework, so
    it needs neither PyTorch nor JAX installed (a run may train on either, elsewhere: training/gpu_finetune.sh)."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):  # no driver: no NVIDIA GPU to name
        return "CPU only"
    names = [line.strip() for line in listed.splitlines() if line.strip()]
    return ", ".join(names) or "CPU only"


def _batch_to_model_input(card: Card, augmentation: str):
    """tf.data map: a uint8 batch -> (optionally augmented) float32 model input (training.lib.image_folders.model_input_map).

    The data stays uint8 until here (a quarter of the memory of float32), and the
    normalisation constants are the card's own (model_zoo.normalization), the same
    ones normalize_for_card applies when the model is served.
    """
    return image_folders.model_input_map(card, augmentation)


def _pipeline(images: np.ndarray, labels, index: np.ndarray, config: TrainConfig, card: Card, training: bool,
              replicas: int = 1):
    """Batches of model input for images[index]; `images` (uint8, as loaded: CIFAKE's memory-mapped cache) and
    `labels` (a tensor) are shared by every pipeline.

    Only indices are shuffled and batched, so no split is ever copied and the shuffle
    buffer holds integers: training batches are drawn from the whole split (a buffer
    smaller than a class-ordered split feeds long single-class runs and training diverges).
    Each batch's rows are read from the numpy array: a tensor of all of them (tf.constant)
    held a second 300 MB copy of CIFAKE's training images, and made two while building it.
    """
    import tensorflow as tf

    def rows(batch):
        return images[batch]

    data = tf.data.Dataset.from_tensor_slices(np.asarray(index, dtype=np.int64))
    if training:
        buffer = min(config.shuffle_buffer or len(index), len(index))
        data = data.shuffle(buffer, seed=config.seed, reshuffle_each_iteration=True)
    data = data.batch(config.batch_size * replicas)

    def gather(batch):
        batch_images = tf.numpy_function(rows, [batch], tf.uint8, stateful=False)
        batch_images.set_shape((None, *images.shape[1:]))
        return batch_images, tf.gather(labels, batch)

    data = data.map(gather)
    data = data.map(_batch_to_model_input(card, config.augment if training else "none"),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def batchnorm_momentum(total_steps: int, keras_default: float = 0.99) -> float:
    """Momentum for batch norm's moving mean and variance in a run of `total_steps`.

    After n steps the moving averages still give a weight of momentum**n to their initial values (mean 0,
    variance 1). At Keras' 0.99 a run of a hundred steps serves with statistics that never caught up:
    train accuracy 1.0 while validation sits at chance. So short runs forget faster (momentum**n ~ e**-10);
    runs of 1,000 steps or more (every real CIFAKE run: ~700 steps per epoch) keep Keras' default.
    """
    return min(keras_default, max(0.5, 1 - 10 / max(total_steps, 1)))


def _fit_batchnorm_momentum(model, total_steps: int) -> None:
    import keras

    momentum = batchnorm_momentum(total_steps)
    pending = list(model.layers)
    while pending:  # pretrained backbones are models nested inside the model
        layer = pending.pop()
        pending.extend(getattr(layer, "layers", []))
        if isinstance(layer, keras.layers.BatchNormalization) and layer.momentum > momentum:
            layer.momentum = momentum


def _settings(config: TrainConfig) -> dict:
    """The settings a run must keep to be resumed (the resize policy is left out: runs from before it existed resize)."""
    return {k: v for k, v in asdict(config).items()
            if k in RESUME_KEYS and not (k == "input_policy" and v in (None, "resize"))}


def run_data(dataset: Dataset, config: TrainConfig, train_index: np.ndarray, val_index: np.ndarray) -> dict:
    """What a run trains on, as its state records it: the data's path and content fingerprint (Dataset.content_fingerprint,
    from the file digests the data layer reads anyway: the same data at another path, or unpacked, is the same data;
    training/gpu_finetune.sh trains on an unpacked copy and publishes here from the zip) and the split as used."""
    return {"dataset": str(dataset.source), "fingerprint": dataset.content_fingerprint(),
            "split": image_folders.split_record(dataset, train_index, val_index, config.validation_fraction, config.seed)}


WAY_OUT = "pass --restart to discard it or --name to train under another name"


def _run_state(config: TrainConfig, run: RunState, data: dict) -> dict | None:
    """The run's saved state, or None for a new run; refuses a run started on other data or with other settings."""
    state = run.read()
    if state is None:
        return None
    where = f"run '{config.name}' in {run.folder}"
    recorded = state.get("data")
    if recorded is None:  # a run from before states named their data: nothing to check it against
        raise ZooError(f"{where} does not record which data it was trained on, so it cannot safely continue on "
                       f"{data['dataset']}; {WAY_OUT}")
    if recorded["fingerprint"] != data["fingerprint"]:
        raise ZooError(f"{where} was trained on {recorded['dataset']} (fingerprint {recorded['fingerprint']}), not on "
                       f"{data['dataset']} (fingerprint {data['fingerprint']}); {WAY_OUT}")
    if state["settings"] != _settings(config):
        raise ZooError(f"{where} was started with other settings {state['settings']}; {WAY_OUT}")
    if recorded["split"] != data["split"]:  # same data and settings, split otherwise (by an older version)
        differ = [f"{key} {recorded['split'].get(key)} vs {value}" for key, value in data["split"].items()
                  if recorded["split"].get(key) != value]
        raise ZooError(f"{where} split {data['dataset']} otherwise ({', '.join(differ)}); {WAY_OUT}")
    return state


def _new_state(config: TrainConfig, data: dict) -> dict:
    # The machine that trains, which need not be the one that publishes (training/gpu_finetune.sh).
    return {"settings": _settings(config), "data": data, "epoch": 0, "best_epoch": 0, "best_val_loss": float("inf"),
            "wall_seconds": 0.0, "history": [], "machine": machine_description()}


def _trained_all_epochs(config: TrainConfig, state: dict | None) -> bool:
    """True (and says so) when the run has nothing left to train: publish it as it is."""
    if state is None or state["epoch"] < config.epochs:
        return False
    print(f"'{config.name}' already trained for {state['epoch']} epochs; publishing it", flush=True)
    return True


def _fit_backbone(config: TrainConfig, data: Split, train_index: np.ndarray, val_index: np.ndarray, run: RunState,
                  card: Card, callbacks: list, feature_cache: Path | None, trained_on: dict) -> dict:
    """A pretrained backbone, frozen (head on cached features) or fine-tuned; numpy batches, any Keras backend."""
    import keras

    from training.lib import backbone_fit

    state = _run_state(config, run, trained_on)
    if _trained_all_epochs(config, state):
        return state
    if state is not None and state.get("stopped_by_budget"):
        print(f"'{config.name}' stopped by its time budget after epoch {state['epoch']} of {config.epochs}; publishing it "
              f"(--restart trains it again)", flush=True)
        return state
    architecture = config.architecture()
    if state is not None and state["epoch"] > 0 and not config.freeze_backbone:
        print(f"resuming '{config.name}' after epoch {state['epoch']} from {run.last}", flush=True)
        model = keras.saving.load_model(run.last, safe_mode=True)
    else:  # a frozen backbone's head retrains from scratch in seconds on the cached features
        state = _new_state(config, trained_on)
        keras.utils.set_random_seed(config.seed)
        model = architecture.build(weights=config.weights, input_size=config.input_size)
        _fit_batchnorm_momentum(model, config.epochs * int(np.ceil(len(train_index) / config.batch_size)))
    how = "frozen backbone, training the head" if config.freeze_backbone else "fine-tuning the whole net"
    print(f"training '{config.name}' ({config.arch} at {config.input_size} px, {how}, {model.count_params():,} parameters) "
          f"on {len(train_index):,} images, validating on {len(val_index):,}; epochs {state['epoch'] + 1}..{config.epochs}; "
          f"Keras on {keras.backend.backend()}", flush=True)
    common = dict(card=card, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, run=run, state=state,
                  max_minutes=config.max_minutes, callbacks=callbacks)
    if config.freeze_backbone:
        backbone_fit.fit_frozen(model, data.images, data.labels, train_index, val_index, feature_cache=feature_cache,
                                **common)
    elif isinstance(data, image_folders.FolderSplit):  # streamed from disk, decoded on the fly
        batches = (_folder_stream(config, data, train_index, card, True), _folder_stream(config, data, val_index, card, False),
                   int(np.ceil(len(train_index) / config.batch_size)))
        backbone_fit.fit_finetune(model, data.images, data.labels, train_index, val_index, augmentation=config.augment,
                                  seed=config.seed, batches=batches, **common)
    elif config.feed == "device":  # CIFAKE's arrays copied to the accelerator once; batches made there
        from training.lib.device_feed import DeviceBatches

        train_batches = DeviceBatches(data.images, data.labels, train_index, config.batch_size, card, config.augment,
                                      shuffle=True, seed=config.seed, epoch=state["epoch"])
        batches = (train_batches, DeviceBatches(data.images, data.labels, val_index, config.batch_size, card),
                   len(train_batches))
        backbone_fit.fit_finetune(model, data.images, data.labels, train_index, val_index, augmentation=config.augment,
                                  seed=config.seed, batches=batches, **common)
    else:
        backbone_fit.fit_finetune(model, data.images, data.labels, train_index, val_index, augmentation=config.augment,
                                  seed=config.seed, **common)
    return run.read()


def _fit(config: TrainConfig, data: Split, train_index: np.ndarray, val_index: np.ndarray, run: RunState, card: Card,
         callbacks: list, trained_on: dict) -> dict:
    """Train (or resume) on data[train_index] until config.epochs, validating on data[val_index]."""
    import keras
    import tensorflow as tf

    strategy = make_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync

    architecture = config.architecture()
    state = _run_state(config, run, trained_on)
    if _trained_all_epochs(config, state):  # before loading anything
        return state
    with strategy.scope():  # variables must be created under the strategy to be mirrored
        if state is not None and state["epoch"] > 0:
            print(f"resuming '{config.name}' after epoch {state['epoch']} from {run.last}", flush=True)
            model = keras.saving.load_model(run.last, safe_mode=True)
        else:
            state = _new_state(config, trained_on)
            keras.utils.set_random_seed(config.seed)
            model = architecture.build(weights=config.weights)
            steps = config.epochs * int(np.ceil(len(train_index) / (config.batch_size * replicas)))
            _fit_batchnorm_momentum(model, steps)
            # Cosine decay over the whole run; the schedule is saved with the optimizer, so resuming continues it.
            schedule = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=steps, alpha=0.02)
            model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    print(f"training '{config.name}' ({config.arch}, {model.count_params():,} parameters) on {len(train_index):,} images, "
          f"validating on {len(val_index):,}; epochs {state['epoch'] + 1}..{config.epochs}; "
          f"{replicas} replica(s), global batch {config.batch_size * replicas}", flush=True)
    if isinstance(data, image_folders.FolderSplit):  # any size of dataset: streamed from disk, decoded on the fly
        train_data = _folder_stream(config, data, train_index, card, True, replicas)
        val_data = _folder_stream(config, data, val_index, card, False, replicas)
    else:
        labels = tf.constant(data.labels.astype(np.float32))
        train_data = _pipeline(data.images, labels, train_index, config, card, training=True, replicas=replicas)
        val_data = _pipeline(data.images, labels, val_index, config, card, training=False, replicas=replicas)
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        initial_epoch=state["epoch"],
        callbacks=[epoch_checkpoint(run, state, config.max_minutes), *callbacks],
        shuffle=False,  # the pipeline shuffles
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return run.read()


def _folder_stream(config: TrainConfig, data: Split, index: np.ndarray, card: Card, training: bool, replicas: int = 1):
    return image_folders.stream(data.subset(index), card, training=training, batch_size=config.batch_size * replicas,
                                seed=config.seed, augmentation=config.augment, shuffle_buffer=config.shuffle_buffer)


def _as_float32(model, architecture, config: TrainConfig):
    """The same weights in a float32 model: what the zoo serves, whatever precision trained it."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    float_model = architecture.build(weights=None, input_size=config.input_size)
    float_model.set_weights(model.get_weights())
    return float_model


def _optimizer_description(config: TrainConfig) -> str:
    cosine = "adam, cosine decay to 2% of the learning rate"
    if config.freeze_backbone:
        return f"{cosine}; backbone frozen, only the head trained (on cached features)"
    if get_architecture(config.arch).backbone_size:
        from training.lib.backbone_fit import WARMUP_EPOCHS, WARMUP_LR

        return (f"{WARMUP_EPOCHS} warm-up epoch(s) of the head at {WARMUP_LR:g} on the frozen backbone, "
                f"then the whole net: {cosine}")
    return cosine


def backbone_provenance(arch: str) -> dict:
    """Where a backbone's ImageNet weights came from (package, version, licence, checksum), for the card."""
    from training.lib import efficientnet_lite

    if arch not in efficientnet_lite.VARIANTS:
        return {"source": "keras.applications", "pretrained_on": "ImageNet-1k"}
    return efficientnet_lite.provenance(efficientnet_lite.VARIANTS[arch])


def feature_cache(config: TrainConfig, dataset: Dataset) -> Path | None:
    """Where a frozen backbone's features of this dataset at this input size are cached (None: not frozen)."""
    if not config.freeze_backbone:
        return None
    from training.lib.efficientnet_lite import VARIANTS, cache_dir

    variant = VARIANTS.get(config.arch)
    weights = (variant.sha256[:12] if variant else config.arch) if config.weights == "imagenet" \
        else f"random-seed{config.seed}"
    policy = "-crop" if config.input_policy == "crop" else ""  # crops' features: one row per crop (.npz)
    return (cache_dir() / "features" / f"{config.arch}-{weights}-{dataset.source_fingerprint()}-{config.input_size}px"
            f"{policy}.{'npz' if policy else 'npy'}")


def train(
    config: TrainConfig,
    dataset: Dataset,
    zoo: str | os.PathLike | None = None,
    restart: bool = False,
    callbacks: list | None = None,
    fit_only: bool = False,
) -> ZooEntry | None:
    """Train, keep the best epoch by validation loss, and publish `<zoo>/<name>/` atomically.

    Extra Keras `callbacks` run after the checkpointing one. Returns the entry, or None
    on a non-chief worker of a multi-worker run (only the chief publishes), or with
    `fit_only` (train and checkpoint only: the same call without it later publishes the run).
    """
    import keras

    if config.input_policy is None:  # resize CIFAKE-sized data; crop anything bigger, at its own resolution
        config.input_policy = "resize" if image_folders.all_small(dataset) else "crop"
    architecture = config.architecture()
    run_name = config.name if is_chief() else f"{config.name}-worker{worker_task()[1]}"
    run = RunState(zoo_dir(zoo) / RUNS_DIR / run_name)
    if restart and run.folder.exists():
        shutil.rmtree(run.folder)
    run.folder.mkdir(parents=True, exist_ok=True)

    # The card before training: how the model sees its input (no figures yet, so no fitted decision: T = 1, t = 0.5).
    policy = {"input_policy": crop_policy(architecture.input_shape[0])} if config.input_policy == "crop" else {}
    backbone = {"backbone": {
        "name": config.arch, "input_size": config.input_size, "frozen": config.freeze_backbone,
        "weights": backbone_provenance(config.arch) if config.weights == "imagenet" else None,
    }} if architecture.backbone_size else {}
    card = parse_card({
        "name": config.name,
        "role": config.role,
        "architecture": config.arch,
        "description": architecture.description,
        "input_shape": list(architecture.input_shape),
        "preprocessing": {**architecture.preprocessing, **policy},
        "explain": {"gradcam_layer": GRADCAM_LAYER},
        **backbone,
        "params": 0, "size_bytes": 0, "train": {}, "metrics": {},
    }, config.name)
    image_folders.bind_card(dataset, card)  # a folder's images now decode as this model sees them
    # A small folder validates on a bigger share than asked (image_folders.validation_fraction_for): say so.
    config.validation_fraction = image_folders.validation_fraction_used(dataset, config.validation_fraction)
    train_index, val_index = image_folders.train_validation_indices(dataset, config.validation_fraction, config.seed)
    trained_on = run_data(dataset, config, train_index, val_index)
    val_split = dataset.train.subset(val_index)
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        if architecture.backbone_size:
            state = _fit_backbone(config, dataset.train, train_index, val_index, run, card, callbacks or [],
                                  feature_cache(config, dataset), trained_on)
        else:
            state = _fit(config, dataset.train, train_index, val_index, run, card, callbacks or [], trained_on)
    finally:  # the policy is process-wide: leave it as we found it
        keras.mixed_precision.set_global_policy("float32")
    if not is_chief() or fit_only:
        return None

    from model_zoo.decision import apply_temperature, fit_decision
    from model_zoo.metrics import binary_metrics
    from model_zoo.novelty import write_stats
    from training.lib.abstention import fit_abstention

    best = _as_float32(keras.saving.load_model(run.best, safe_mode=True, compile=False), architecture, config)
    # Calibration and threshold are fitted on validation: the test split stays unseen until evaluation.
    raw_val = predict_prob_fake(best, val_split.images, card)  # no fitted decision yet: uncalibrated
    decision = fit_decision(val_split.labels, raw_val)
    card = card.updated(decision=decision)
    # The abstain band (validation) and novelty statistics (train sample) and cut-off (validation): training.calibrate.
    folder = isinstance(dataset, image_folders.FolderDataset)
    abstention = fit_abstention(best, card, dataset.train, train_index, val_split, seed=config.seed,
                                train_sizes=image_folders.train_image_sizes(dataset, train_index),
                                **({"train_sample": image_folders.NOVELTY_SAMPLE} if folder else {}))
    decision |= abstention.band
    val_metrics = binary_metrics(val_split.labels, apply_temperature(raw_val, decision["temperature"]), decision["threshold"])
    card = card.updated(**{
        "decision": decision,
        "novelty": abstention.novelty,
        "params": int(best.count_params()),
        "size_bytes": 0,  # filled in from model.keras when the entry is published
        "train": {
            **config.to_card(),
            "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"],
            "optimizer": _optimizer_description(config),
            "shuffle_buffer": config.shuffle_buffer or len(train_index),
            "n_train": len(train_index),
            "n_validation": len(val_split),
            "wall_seconds": round(state["wall_seconds"], 1),  # a frozen backbone's includes feature extraction
            **({"feature_extraction_seconds": state["feature_seconds"]} if "feature_seconds" in state else {}),
            "machine": state.get("machine") or machine_description(),
            "dataset": str(dataset.source),
            **({"split": dataset.split} if folder else {}),
        },
        "metrics": {"validation": val_metrics},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    import pandas as pd

    with staged_entry(config.name, zoo) as folder:
        best.save(folder / MODEL_FILE)  # loaded without compile: no optimizer state, a third of the size
        pd.DataFrame(state["history"]).to_csv(folder / HISTORY_FILE, index=False)
        write_stats(folder, abstention.stats)
        write_card(folder, card)
    entry = read_entry(config.name, zoo)
    print(f"wrote {entry.path} (validation accuracy {val_metrics['accuracy']:.4f}); "
          f"next: python -m training.evaluate {config.name}", flush=True)
    return entry

