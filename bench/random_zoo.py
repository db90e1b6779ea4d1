"""A throwaway zoo of untrained custom CNNs for speed benchmarks: speed does not depend on what a model learned."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bench.common  # noqa: F401  (quiet TensorFlow)

CUSTOM = ("cnn_maxpool", "cnn_avgpool", "cnn_strided")


def random_weight_zoo(archs: tuple[str, ...] = CUSTOM, root: Path | None = None) -> tuple[Path, list[str]]:
    """Publish each buildable architecture with random weights; returns (zoo, names). Failures are printed, not fatal."""
    from model_zoo import staged_entry, write_card
    from model_zoo.zoo import MODEL_FILE
    from training.lib.architectures import get_architecture

    zoo = root or Path(tempfile.mkdtemp(prefix="bench-zoo-"))
    names = []
    for name in archs:
        try:
            arch = get_architecture(name)
            model = arch.build(weights=None)
        except Exception as exc:  # an architecture that does not build is a finding, not a reason to stop
            print(f"skipping {name}: cannot build ({type(exc).__name__}: {exc})", flush=True)
            continue
        card = {"name": name, "architecture": name, "input_shape": list(arch.input_shape),
                "preprocessing": arch.preprocessing, "params": int(model.count_params()), "size_bytes": 0,
                "train": {"note": "random weights, for speed benchmarks only"}, "metrics": {}}
        with staged_entry(name, zoo) as folder:
            model.save(folder / MODEL_FILE)
            write_card(folder, card)
        names.append(name)
    return zoo, names
