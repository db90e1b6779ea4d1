"""Export zoo models to other formats and check them: the library behind `python -m training.export`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from model_zoo import LoadedModel, ZooError
from model_zoo.card import Card
from training.lib.data import DATA_ENV
from training.lib.export_checks import ExportReport, Sample, dataset_sample, generated_sample, no_export_reason
from training.lib.export_formats import FORMATS


def resolve_model(choice: str, zoo: str | os.PathLike | None) -> LoadedModel:
    """NAME, best or fastest, chosen as everywhere (model_zoo.selection); a consensus has no weights to export."""
    from model_zoo.selection import load_choice

    if choice in ("all", "all-including-studies", "zoo"):
        raise ZooError("export one model at a time: NAME, best or fastest")
    loaded = load_choice(choice, zoo, warn=lambda message: print(f"warning: {message}", file=sys.stderr))[0]
    if loaded.card.is_consensus:
        raise ZooError(f"{loaded.name} is a consensus of other entries with no weights of its own: export a member")
    return loaded


NEEDS_DATA = ("tflite-int8",)  # calibrated on the model's training images, checked on its test images


def has_data(data: str | None) -> bool:
    """Whether --data or $CIFAKE_PATH names the dataset the checks (and int8's calibration) read."""
    return bool(data or os.environ.get(DATA_ENV))


def no_data_reason(fmt: str) -> str:
    """One line: why `fmt` is not written without the dataset, and how to get a checked export."""
    return (f"{fmt} is calibrated on the model's training images and checked for accuracy on its test images: pass "
            f"--data PATH (CIFAKE, or the labelled folder the model was trained on) or set {DATA_ENV} to get a "
            "checked export")


def data_problem(requested: str, data: str | None) -> str | None:
    """Before any work: the one line saying how to get a checked export when `requested` names a format that needs
    the dataset and none is given; None when there is nothing to say."""
    if requested in NEEDS_DATA and not has_data(data):
        return no_data_reason(requested)
    return None


def formats_for(loaded: LoadedModel, requested: str, data: str | None = None) -> tuple[str, ...]:
    """The formats to write: `requested`, or "all" of them. A format the model cannot have (a crop card's SavedModel,
    export_checks.no_export_reason) is a ZooError when asked for by name; "all" leaves it out with a note, and leaves
    out the formats that need the dataset when none is given (no_data_reason)."""
    if requested != "all":
        reason = no_export_reason(loaded, requested) or data_problem(requested, data)
        if reason:
            raise ZooError(reason)
        return (requested,)
    kept = []
    for fmt in FORMATS:
        reason = no_export_reason(loaded, fmt) or (no_data_reason(fmt) if fmt in NEEDS_DATA and not has_data(data)
                                                   else None)
        if reason:
            print(f"note: {reason}; writing the other formats", file=sys.stderr, flush=True)
        else:
            kept.append(fmt)
    return tuple(kept)


def check_sample(data: str | None, n: int, card: Card) -> Sample:
    """The test images of CIFAKE or of the model's own labelled folder when --data or $CIFAKE_PATH gives them, else
    generated images."""
    if has_data(data):
        return dataset_sample(data, card, n)
    return generated_sample(n)


def write_card_beside(out: Path, loaded: LoadedModel) -> Path:
    path = out / f"{loaded.name}.card.json"
    path.write_text(loaded.card.to_json())
    return path


def _ratio(keras_value: float, export_value: float, less: str, more: str) -> str:
    """'3.98x smaller' / '1.20x larger': how the export compares with model.keras."""
    ratio = keras_value / max(export_value, 1e-12)
    return f"{ratio:.2f}x {less}" if ratio >= 1 else f"{1 / ratio:.2f}x {more}"


def describe(report: ExportReport) -> str:
    lines = [
        f"{report.fmt}: {report.path}  (written in {report.export_seconds:.1f} s)",
        f"  size     {report.size_bytes / 1e6:.2f} MB (model.keras {report.keras_size_bytes / 1e6:.2f} MB: "
        f"{_ratio(report.keras_size_bytes, report.size_bytes, 'smaller', 'larger')})",
        f"  latency  {report.latency_ms:.2f} ms per image (model.keras {report.keras_latency_ms:.2f} ms: "
        f"{_ratio(report.keras_latency_ms, report.latency_ms, 'faster', 'slower')}); {report.latency_note}",
        *(f"  check    {line}" for line in report.checks),
    ]
    return "\n".join(lines)

