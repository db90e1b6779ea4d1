"""The model card, typed: one object per zoo entry's card.json, parsed once when the entry is read.

Pydantic v2 models, chosen over frozen dataclasses because pydantic gives, for free, what the contract needs:
validation with the failing field's path ("decision.threshold"), a JSON Schema (`card_json_schema`, published on
the docs' zoo-contract page by docs/hooks/zoo_tables.py, so docs and code cannot drift) and serialisation back to
the same JSON. Every model is frozen, so the derived facts below are worked out once per card (cached).

Contract of the object:
- `Card.from_dict(raw)` / `parse_card(raw, entry)` validate a card (raising `CardError`, one line per problem:
  "decision.threshold must be a number between 0 and 1, got '0.5x'"); `card.to_json()` writes it back.
- Unknown keys are allowed and kept, at every level, in their place: a card written by a newer tool, or a study's
  block this module does not type, survives a read and a re-write unchanged. Keys are written back in the order
  they were read (new keys after them), so a card that is read and re-written is byte-identical.
- `schema_version`: cards without one are version 1 (every card written before this module). `migrate` upgrades
  an old card's dict to SCHEMA_VERSION, the one place old cards are interpreted: it adds `schema_version`,
  `kind` ("network" or "consensus"), `preprocessing.input_policy` (resize), a `decision` block (temperature 1,
  threshold 0.5: what a card without one always meant) and `role` (a study when named like an augmentation arm).
  It only adds keys: every key and value of the old card is kept, and a migrated card re-written is a fixed point.
- Derived facts are cached properties: `input_policy`, `crop_spec`, `input_size`, `is_consensus`, `is_detector`,
  `trained_on_folder`, `training_set_name`, `own_test_set_name`, `trained_from`, `novelty_believed`, ...
- `card.updated(**blocks)` is a validated copy with top-level blocks replaced: how writers change a card.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

SCHEMA_VERSION = 2
NETWORK, CONSENSUS_KIND = "network", "consensus"
RESIZE, CROP = "resize", "crop"  # input policy kinds (model_zoo.crops)
MAX_CROPS = 16
DETECTOR, STUDY, CONSENSUS_ROLE = "detector", "study", "consensus"  # model_zoo.roles
ROLES = (DETECTOR, STUDY, CONSENSUS_ROLE)
STUDY_ARM_MARK = "-aug-"  # `make studies` names its arms <arch>-aug-<augmentation>
CIFAKE_NAME = "CIFAKE"  # before image folders, training read CIFAKE only
FOLDER_FALLBACK_NAME = "training folder"  # a folder model whose card names neither its dataset nor its path
CIFAKE_IMAGE_SIZE = (32, 32)
DEFAULT_THRESHOLD = 0.5
NOISE_TRUST = 0.99  # a novelty check that lets more than 1 pure-noise image in 100 through is not believed
METRIC_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix", "n")
RESIZE_METHODS = ("area", "bilinear", "nearest")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz")


class CardError(ValueError):
    """A card that does not fit the contract: str() is one line, "zoo entry 'x': <problem>; <problem>", each problem
    naming the field's path and what was expected."""

    def __init__(self, problems: list[str], entry: str | None = None):
        prefix = f"zoo entry '{entry}': " if entry else ""
        super().__init__(prefix + "; ".join(problems))
        self.problems, self.entry = problems, entry


# --- value types: each fails with a sentence that says what was expected ------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")


def _number(expected: str, ok: Any, schema: dict) -> Any:
    def check(value: Any) -> Any:
        if not (_is_number(value) and ok(value)):
            raise ValueError(f"must be {expected}, got {value!r}")
        return value

    return Annotated[int | float, BeforeValidator(check), WithJsonSchema({"type": "number", **schema})]


Number = _number("a number", lambda v: True, {})
Probability = _number("a number between 0 and 1", lambda v: 0 <= v <= 1, {"minimum": 0, "maximum": 1})
Positive = _number("a positive number", lambda v: v > 0, {"exclusiveMinimum": 0})
NonNegative = _number("a number >= 0", lambda v: v >= 0, {"minimum": 0})


def _integer(expected: str, ok: Any, schema: dict) -> Any:
    def check(value: Any) -> Any:
        if not (isinstance(value, int) and not isinstance(value, bool) and ok(value)):
            raise ValueError(f"must be {expected}, got {value!r}")
        return value

    return Annotated[int, BeforeValidator(check), WithJsonSchema({"type": "integer", **schema})]


Count = _integer("a whole number >= 0", lambda v: v >= 0, {"minimum": 0})
PositiveInt = _integer("a whole number > 0", lambda v: v > 0, {"minimum": 1})


def _image_size(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)


def _check_size(value: Any) -> Any:
    if not _image_size(value):
        raise ValueError(f"must be [H, W], got {value!r}")
    return value


def _check_shape(value: Any) -> Any:
    if not (isinstance(value, list) and len(value) == 3 and value[2] == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"must be [H, W, 3], got {value!r}")
    return value


_SIZE_SCHEMA = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2}
ImageSize = Annotated[list[int], BeforeValidator(_check_size), WithJsonSchema(_SIZE_SCHEMA)]
InputShape = Annotated[list[int], BeforeValidator(_check_shape), WithJsonSchema(
    {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 3, "maxItems": 3,
     "description": "[height, width, 3]"})]


def _check_role(value: Any) -> Any:
    if value not in ROLES:
        raise ValueError(f"must be one of {', '.join(ROLES)}, got {value!r}")
    return value


Role = Annotated[str, BeforeValidator(_check_role), WithJsonSchema({"enum": list(ROLES)})]


# --- the blocks ---------------------------------------------------------------------------------------------

class Block(BaseModel):
    """A card block: unknown keys allowed and kept; keys written back in the order they were read."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)  # strict: "1" is not silently the number 1
    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, Block):
            return data
        model = handler(data)
        if isinstance(data, dict):
            model._order = tuple(data)
        return model

    @model_serializer(mode="wrap")
    def _in_read_order(self, handler: Any) -> dict[str, Any]:
        values = handler(self)
        ordered = {key: values[key] for key in self._order if key in values}
        return ordered | {key: value for key, value in values.items() if key not in ordered}

    def to_dict(self) -> dict[str, Any]:
        """The block as the JSON object it was read from (only keys that were given)."""
        return self.model_dump(mode="json", exclude_unset=True)


class InputPolicy(Block):
    """How an image of any size becomes model input (model_zoo.crops)."""

    kind: Literal["resize", "crop"] = RESIZE
    size: PositiveInt | None = None
    max_crops: PositiveInt = MAX_CROPS

    @model_validator(mode="after")
    def _crop_has_size(self) -> InputPolicy:
        if self.kind == CROP and self.size is None:
            raise ValueError("size must be given (the crop side) for a crop policy")
        return self


class Preprocessing(Block):
    """(resize(image) - mean) / std per channel, in `color` order (model_zoo.preprocessing)."""

    color: Literal["RGB", "BGR"] = "RGB"
    resize: Literal["area", "bilinear", "nearest"] = "area"
    mean: list[Number]
    std: list[Number]
    input_policy: InputPolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _three_each(cls, data: Any) -> Any:
        if isinstance(data, dict) and not all(
                isinstance(data.get(k), list) and len(data[k]) == 3 for k in ("mean", "std")):
            raise ValueError("must give 'mean' and 'std' with 3 values each")
        return data


class Explain(Block):
    gradcam_layer: str | None = None


class Backbone(Block):
    """A pretrained backbone: its name, the size it is fed at, whether it was frozen, and where its weights came from."""

    name: str | None = None
    input_size: PositiveInt | None = None
    frozen: StrictBool | None = None
    weights: dict[str, Any] | None = None


class Train(Block):
    """How the model was trained (or, for a consensus, fitted) and on what data and split."""

    dataset: str | None = None
    dataset_name: str | None = None
    split: dict[str, Any] | None = None  # folder datasets only: how their split was made
    weights: str | None = None  # None: from scratch; "imagenet"; or a local weights file
    seed: int | None = None
    validation_fraction: Probability | None = None
    n_train: Count | None = None
    n_validation: Count | None = None
    epochs: Count | None = None
    epochs_run: Count | None = None
    best_epoch: Count | None = None
    batch_size: PositiveInt | None = None
    learning_rate: Positive | None = None
    augmentation: str | None = None
    optimizer: str | None = None
    precision: str | None = None
    strategy: str | None = None
    members: list[str] | None = None
    wall_seconds: NonNegative | None = None
    machine: str | None = None


class BandSummary(Block):
    n: Count | None = None
    coverage: Probability | None = None
    accuracy_decided: Probability | None = None


class Decision(Block):
    """P(FAKE) = sigmoid(logit(raw) / temperature); FAKE at or above threshold; UNCERTAIN inside the band."""

    temperature: Positive = 1.0
    threshold: Probability = DEFAULT_THRESHOLD
    fitted_on: str | None = None
    ece_before: NonNegative | None = None
    ece_after: NonNegative | None = None
    uncertain_band: list[Probability] | None = None
    band_target_precision: Probability | None = None
    band_validation: BandSummary | None = None
    band_test: BandSummary | None = None

    @model_validator(mode="after")
    def _band_around_threshold(self) -> Decision:
        band = self.uncertain_band
        if band is not None and not (len(band) == 2 and 0 <= band[0] <= self.threshold <= band[1] <= 1):
            raise ValueError(f"uncertain_band must be [low, high] with 0 <= low <= threshold <= high <= 1, got {band!r}")
        return self


class NoveltyChecks(Block):
    n: Count | None = None
    test_flagged: Probability | None = None
    noise_flagged: Probability | None = None


class Novelty(Block):
    """The Mahalanobis novelty check on the model's features (model_zoo.novelty)."""

    method: str | None = None
    layer: str | None = None
    cutoff: Positive
    cutoff_quantile: Probability | None = None
    train_image_size: ImageSize | None = None  # None: CIFAKE's 32x32 (Card.train_image_size)
    train_image_range: list[ImageSize] | None = None  # folder models: [[min H, min W], [max H, max W]]
    file: str = "novelty.npz"
    checks: NoveltyChecks | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> Novelty:
        if "/" in self.file or "\\" in self.file or not self.file:
            raise ValueError("file must be a file name inside the entry")
        extent = self.train_image_range
        size = self.train_image_size or (extent[0] if extent else None)
        if extent is not None and not (len(extent) == 2 and all(
                low <= v <= high for low, v, high in zip(extent[0], size, extent[1], strict=True))):
            raise ValueError(f"train_image_range must be [[H, W], [H, W]] from the smallest to the biggest, around "
                             f"train_image_size, got {extent!r}")
        return self


class SplitMetrics(Block):
    """model_zoo.metrics.binary_metrics at the card's threshold."""

    accuracy: Probability
    precision: Probability
    recall: Probability
    f1: Probability
    roc_auc: Probability | None  # None: one class only
    confusion_matrix: list[list[Count]]
    n: Count


class OtherTestSet(SplitMetrics):
    """A folder of labelled images beyond the model's own test split (model_zoo.test_sets)."""

    n_real: Count | None = None
    n_fake: Count | None = None
    skipped: Count | None = None
    threshold: Probability | None = None
    folder: str | None = None
    evaluated: str | None = None
    share_uncertain: Probability | None = None
    share_out_of_distribution: Probability | None = None


class Evaluation(Block):
    dataset: str | None = None
    threshold: Probability | None = None
    test_ece: NonNegative | None = None
    test_in_train: Count | None = None
    seconds: NonNegative | None = None
    images_per_second: NonNegative | None = None


class Latency(Block):
    """Measured by `python -m training.latency`."""

    ms_per_image: NonNegative | None = None
    p90_ms: NonNegative | None = None
    images_per_second: NonNegative | None = None
    batch: PositiveInt | None = None
    measured: str | None = None
    machine: str | None = None


class Disagreement(Block):
    cutoff: NonNegative | None = None
    quantile: Probability | None = None
    validation_above: Probability | None = None
    test_above: Probability | None = None


class Consensus(Block):
    """A consensus entry's members and how their calibrated logits are combined (model_zoo.consensus)."""

    members: list[str] = Field(min_length=1)
    combiner: str = "mean"
    weights: dict[str, Number] = Field(default_factory=dict)
    bias: Number = 0.0
    choice: dict[str, Any] | None = None  # how the combiner was chosen: scores per combiner, and why
    disagreement: Disagreement | None = None
    novelty_rule: str | None = None


class Study(Block):
    """A study's summary on the card (robustness, cues, ...): which images it was measured on, and when."""

    dataset: str | None = None
    test_set: str | None = None
    n: Count | None = None
    seed: int | None = None
    seconds: NonNegative | None = None
    file: str | None = None


class Card(Block):
    """One zoo entry's card.json."""

    schema_version: PositiveInt = SCHEMA_VERSION
    name: str
    kind: Literal["network", "consensus"] = NETWORK
    role: Role = DETECTOR
    architecture: str
    description: str | None = None
    input_shape: InputShape
    preprocessing: Preprocessing
    explain: Explain | None = None
    backbone: Backbone | None = None
    decision: Decision | None = None
    novelty: Novelty | None = None
    params: Count
    size_bytes: Count
    train: Train
    metrics: dict[str, SplitMetrics]
    other_test_sets: dict[str, OtherTestSet] | None = None
    created: str | None = None
    evaluation: Evaluation | None = None
    robustness: Study | None = None
    cues: Study | None = None
    latency: Latency | None = None
    consensus: Consensus | None = None

    @model_validator(mode="after")
    def _consensus_lists_members(self) -> Card:
        if self.architecture == CONSENSUS_KIND and self.kind != CONSENSUS_KIND:
            raise ValueError(f"kind must be '{CONSENSUS_KIND}' for the architecture '{CONSENSUS_KIND}', got {self.kind!r}")
        if self.kind == CONSENSUS_KIND and self.consensus is None:
            raise ValueError("consensus must list the members (consensus.members) of a consensus card")
        return self

    # --- reading and writing ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Any) -> Card:
        """A card from its JSON object (migrated when old); CardError names every problem."""
        if not isinstance(raw, dict):
            raise CardError(["card is not a JSON object"])
        try:
            return cls.model_validate(migrate(raw))
        except ValidationError as exc:
            raise CardError(problems(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> Card:
        return cls.from_dict(json.loads(text))

    def to_json(self) -> str:
        """card.json's text: the keys as read, in their order, plus any new ones (indent 2, newline at the end)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def updated(self, **blocks: Any) -> Card:
        """A validated copy with these top-level keys replaced (a value of None removes the key)."""
        raw = self.to_dict()
        for key, value in blocks.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value.to_dict() if isinstance(value, Block) else _plain(value)
        return Card.from_dict(raw)

    def split_metrics(self, split: str) -> dict[str, Any] | None:
        """The figures of metrics[split] (validation, test, test_unseen) as a plain dict, the shape
        model_zoo.metrics.binary_metrics returns; None when not measured."""
        figures = self._metric_figures.get(split)
        return None if figures is None else dict(figures)

    @cached_property
    def _metric_figures(self) -> dict[str, dict[str, Any]]:
        return {split: block.to_dict() for split, block in self.metrics.items()}

    @cached_property
    def other_set_metrics(self) -> dict[str, dict[str, Any]]:
        """name -> figures (a plain dict, as split_metrics) of each other test set, sorted by name."""
        return {name: block.to_dict() for name, block in sorted((self.other_test_sets or {}).items())}

    # --- derived facts, each worked out once ---------------------------------------------------------------

    @cached_property
    def is_consensus(self) -> bool:
        """A consensus of other entries (no weights of its own)."""
        return self.kind == CONSENSUS_KIND

    @cached_property
    def role_name(self) -> str:
        """The card's role; a card without one is a study when named like an augmentation arm, else a detector."""
        if "role" in self.model_fields_set:
            return self.role
        return STUDY if STUDY_ARM_MARK in self.name else DETECTOR

    @cached_property
    def is_detector(self) -> bool:
        return self.role_name == DETECTOR

    @cached_property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model expects."""
        return int(self.input_shape[0]), int(self.input_shape[1])

    @cached_property
    def input_policy(self) -> InputPolicy:
        """How images become input; cards without a policy resize."""
        return self.preprocessing.input_policy or InputPolicy()

    @cached_property
    def crop_spec(self) -> tuple[int, int] | None:
        """(crop side, max crops) for a crop model, else None."""
        policy = self.input_policy
        return (int(policy.size), int(policy.max_crops)) if policy.kind == CROP and policy.size else None

    @cached_property
    def resize_method(self) -> str:
        return self.preprocessing.resize

    @cached_property
    def decode_key(self) -> tuple:
        """Cards with equal keys turn a file into identical model inputs, so one decode serves them all."""
        return (self.input_size, "crop") if self.crop_spec else (self.input_size, self.resize_method)

    @cached_property
    def decision_rule(self) -> Decision:
        """The decision block; T = 1, t = 0.5 and no band for a card without one."""
        return self.decision or Decision()

    @cached_property
    def temperature(self) -> float:
        return float(self.decision_rule.temperature)

    @cached_property
    def threshold(self) -> float:
        return float(self.decision_rule.threshold)

    @cached_property
    def uncertain_band(self) -> tuple[float, float]:
        """(low, high); (t, t) - no band - for cards fitted before bands existed."""
        band = self.decision_rule.uncertain_band
        return (float(band[0]), float(band[1])) if band else (self.threshold, self.threshold)

    @cached_property
    def has_band(self) -> bool:
        return bool(self.decision_rule.uncertain_band)

    @cached_property
    def is_calibrated(self) -> bool:
        """P(FAKE) temperature-scaled on validation (older cards give raw sigmoid scores)."""
        return self.decision is not None and self.decision.fitted_on == "validation" and (
            "temperature" in self.decision.model_fields_set)

    @cached_property
    def train_image_size(self) -> tuple[int, int]:
        """(height, width) of the training images (CIFAKE's 32x32 unless the card says otherwise)."""
        size = (self.novelty.train_image_size if self.novelty else None) or CIFAKE_IMAGE_SIZE
        return int(size[0]), int(size[1])

    @cached_property
    def train_image_range(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """((min H, min W), (max H, max W)) of a folder model's training images; None when not recorded."""
        extent = self.novelty.train_image_range if self.novelty else None
        if not extent:
            return None
        return (int(extent[0][0]), int(extent[0][1])), (int(extent[1][0]), int(extent[1][1]))

    @cached_property
    def untrusted_noise_share(self) -> float | None:
        """The share of pure-noise images the novelty check flagged when below NOISE_TRUST (not believed), else None."""
        checks = self.novelty.checks if self.novelty else None
        flagged = checks.noise_flagged if checks else None
        return float(flagged) if flagged is not None and flagged < NOISE_TRUST else None

    @cached_property
    def novelty_believed(self) -> bool:
        """The card has a novelty check and it flags pure noise (untrusted_noise_share is None)."""
        return self.novelty is not None and self.untrusted_noise_share is None

    @cached_property
    def dataset_name(self) -> str | None:
        named = self.train.dataset_name
        return named.strip() if isinstance(named, str) and named.strip() else None

    @cached_property
    def trained_on_folder(self) -> bool:
        """Learnt from a labelled folder of the user's own images rather than CIFAKE: only folder datasets record
        their split (train.split) and their images' range of sizes; a card naming a dataset other than CIFAKE too."""
        if self.train.split is not None or (self.novelty is not None and self.novelty.train_image_range is not None):
            return True
        return self.dataset_name is not None and self.dataset_name.lower() != CIFAKE_NAME.lower()

    @cached_property
    def training_set_name(self) -> str:
        """train.dataset_name; else a folder model's dataset file or folder name; else CIFAKE for a path naming
        CIFAKE (or none: older cards), else the dataset's file or folder name."""
        if self.dataset_name:
            return self.dataset_name
        source = (self.train.dataset or "").strip()
        name = PurePath(source).name if source else ""
        while name.lower().endswith(_ARCHIVE_SUFFIXES):
            name = name[: name.rfind(".")]
        if self.trained_on_folder:  # a folder is named for itself, even one cut from CIFAKE
            return name or FOLDER_FALLBACK_NAME
        if not name or "cifake" in source.lower():
            return CIFAKE_NAME
        return name

    @cached_property
    def own_test_set_name(self) -> str:
        """The name of the model's own test set (metrics.test): "CIFAKE test" for CIFAKE models."""
        return f"{self.training_set_name} test"

    @cached_property
    def calibration_set(self) -> str | None:
        """Whose validation images set the novelty cut-off: train.dataset_name, "CIFAKE" for a CIFAKE model, None
        for one trained on a labelled folder (its own validation images)."""
        return self.dataset_name or (None if self.trained_on_folder else CIFAKE_NAME)

    @cached_property
    def trained_from(self) -> str:
        """Where the weights started; a consensus says what it combines."""
        if self.is_consensus:
            return f"consensus of {len(self.consensus.members if self.consensus else [])} models, fitted on validation"
        weights = self.train.weights
        if not weights:
            return "from scratch"
        if weights == "imagenet":
            frozen = self.backbone.frozen if self.backbone else None
            return "ImageNet-pretrained, frozen backbone" if frozen else "ImageNet-pretrained, fine-tuned"
        return f"fine-tuned from {PurePath(str(weights)).name}"

    @cached_property
    def members(self) -> tuple[str, ...]:
        """A consensus's member entries (empty for a network)."""
        return tuple(self.consensus.members) if self.consensus else ()


# --- migration --------------------------------------------------------------------------------------------------

def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """An old card's dict upgraded to SCHEMA_VERSION (a new dict; a current card is returned as it is).

    Version 1 (no schema_version: every card before this module) -> 2 adds, where missing: schema_version, kind
    (consensus when the architecture says so), preprocessing.input_policy ({"kind": "resize"}: what a card without
    one always meant), decision ({"temperature": 1.0, "threshold": 0.5}: likewise) and role (a study when named
    like an augmentation arm, else a detector). Nothing is removed or changed."""
    version = raw.get("schema_version", 1)
    if version == SCHEMA_VERSION or not isinstance(version, int) or isinstance(version, bool):
        return raw  # current, or a bad version that validation reports
    card: Card = {"schema_version": SCHEMA_VERSION}
    card.update((key, value) for key, value in raw.items() if key != "schema_version")
    consensus = card.get("kind") == CONSENSUS_KIND or card.get("architecture") == CONSENSUS_KIND
    card.setdefault("kind", CONSENSUS_KIND if consensus else NETWORK)
    if "role" not in card:
        card["role"] = CONSENSUS_ROLE if consensus else STUDY if STUDY_ARM_MARK in str(card.get("name", "")) else DETECTOR
    prep = card.get("preprocessing")
    if isinstance(prep, dict) and "input_policy" not in prep:
        card["preprocessing"] = {**prep, "input_policy": {"kind": RESIZE}}
    if "decision" not in card or card["decision"] in (None, {}):
        card["decision"] = {"temperature": 1.0, "threshold": DEFAULT_THRESHOLD}
    return card


# --- problems as sentences --------------------------------------------------------------------------------------

_EXPECTED = {"string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
             "float_type": "a number", "float_parsing": "a number", "bool_parsing": "true or false",
             "bool_type": "true or false", "list_type": "a list", "dict_type": "an object", "model_type": "an object",
             "model_attributes_type": "an object"}


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "union[", "int", "float", "nullable", "tagged-union")):
            out += f".{part}" if out else str(part)
    return out


def problems(exc: ValidationError) -> list[str]:
    """One sentence per problem: "<field path> <what was expected>, got <value>"."""
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        path, kind = _path(error["loc"]), error["type"]
        if kind == "missing":
            parent, _, key = path.rpartition(".")
            line = f"{parent} missing '{key}'" if parent else f"missing key '{key}'"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            line = f"{path}{' ' if message.startswith('must') else '.'}{message}" if path else message
        elif kind == "literal_error":
            line = f"{path} must be one of {error['ctx']['expected']}, got {error['input']!r}"
        elif kind == "too_short":
            line = f"{path} must have at least {error['ctx']['min_length']} item(s), got {error['input']!r}"
        elif _EXPECTED.get(kind):
            line = f"{path} must be {_EXPECTED[kind]}, got {error['input']!r}"
        else:
            line = f"{path}: {error['msg'][0].lower()}{error['msg'][1:]}, got {error['input']!r}"
        if line not in lines:
            lines.append(line)
    return lines


def parse_card(raw: Any, entry: str) -> Card:
    """The card of zoo entry `entry`; CardError's lines each start "zoo entry '<entry>': "."""
    try:
        return Card.from_dict(raw)
    except CardError as exc:
        raise CardError(exc.problems, entry) from None


def card_problems(raw: Any) -> list[str]:
    """Problems with a card's JSON object (empty when it is valid)."""
    try:
        Card.from_dict(raw)
    except CardError as exc:
        return exc.problems
    return []


def card_json_schema() -> dict[str, Any]:
    """The JSON Schema of a current card (what external tools validate card.json with)."""
    schema = Card.model_json_schema(mode="validation")
    return schema


def _plain(value: Any) -> Any:
    """Blocks inside lists and dicts as their JSON objects."""
    if isinstance(value, Block):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
