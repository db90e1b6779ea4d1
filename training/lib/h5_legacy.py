"""Make Keras 3's HDF5 file readable by tf.keras 2 (TensorFlow <= 2.15, or the tf_keras package).

Keras 3 writes the same HDF5 weight layout as tf.keras 2, but its model config (a JSON attribute of
the file) uses Keras 3 spellings that tf.keras 2 rejects: `batch_shape` for `batch_input_shape`,
dtype policies as objects, layer calls recorded as `{"args": [keras tensors], "kwargs": ...}` and a
few new keyword arguments. `to_tf_keras2_config` rewrites those into tf.keras 2's spelling; Keras 3
reads the rewritten file as well, since it still loads tf.keras 2 files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Keyword arguments Keras 3 added (always at their defaults in the zoo's models) that tf.keras 2 refuses.
KERAS3_ONLY_KEYS = ("input_axes", "output_axes", "quantization_config", "lora_rank", "lora_alpha", "optional")
# Per layer class: Keras 3 options tf.keras 2's layer does not know (the backbones' in-model upsampling uses
# their defaults: channels_last, no padding to the aspect ratio, no antialiasing when enlarging).
KERAS3_ONLY_LAYER_KEYS = {"Resizing": ("data_format", "pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias")}


def _tensor_histories(node: Any) -> list[list]:
    """[layer name, node index, tensor index] of every Keras 3 tensor reference inside `node`, in order."""
    if isinstance(node, dict) and node.get("class_name") == "__keras_tensor__":
        return [list(node["config"]["keras_history"])]
    if isinstance(node, (list, tuple)):
        return [history for item in node for history in _tensor_histories(item)]
    return []


def _inbound_node(call: dict) -> list[list]:
    """One Keras 3 layer call -> tf.keras 2's [[layer, node, tensor, kwargs], ...] (one row per input tensor)."""
    kwargs = {key: value for key, value in call.get("kwargs", {}).items()
              if value is not None and not _tensor_histories(value)}
    return [[*history, kwargs] for history in _tensor_histories(call["args"])]


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and "config" in node:
        return node["config"]["name"]  # tf.keras 2 names the dtype: "float32"
    out = {key: _rewrite(value) for key, value in node.items() if key not in KERAS3_ONLY_KEYS}
    for key in KERAS3_ONLY_LAYER_KEYS.get(out.get("class_name"), ()):
        out.get("config", {}).pop(key, None)
    if out.get("class_name") == "InputLayer" and "batch_shape" in out.get("config", {}):
        out["config"]["batch_input_shape"] = out["config"].pop("batch_shape")
    if "inbound_nodes" in node:
        out["inbound_nodes"] = [_inbound_node(call) if isinstance(call, dict) else call
                                for call in node["inbound_nodes"]]
    return out


def to_tf_keras2_config(config: dict) -> dict:
    """A Keras 3 Functional/Sequential model config in tf.keras 2's spelling."""
    rewritten = _rewrite(config)
    inner = rewritten.get("config", {})
    for key in ("input_layers", "output_layers"):
        # Keras 3 writes a single input as ["image", 0, 0]; tf.keras 2 expects a list of them.
        if inner.get(key) and isinstance(inner[key][0], str):
            inner[key] = [inner[key]]
    return rewritten


def make_tf_keras2_readable(path: Path) -> None:
    """Rewrite the model config inside the HDF5 file at `path` in place."""
    import h5py

    with h5py.File(path, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        h5.attrs["model_config"] = json.dumps(to_tf_keras2_config(config))
