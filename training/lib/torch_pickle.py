"""Read a legacy-format PyTorch checkpoint (torch.save before 1.6) into numpy, without PyTorch.

The file is five pickles in a row, then raw tensor bytes:
    magic number, protocol version (1001), system info,
    the state dict (tensors refer to their storages by persistent id),
    the list of storage keys,
and then, for each key in that order, an 8-byte little-endian element count and the
storage's little-endian bytes. Only the handful of globals a state dict needs are
allowed, so a tampered file cannot run code through the unpickler.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """A checkpoint this reader cannot use; the message names the file."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _TensorRef:
    """A tensor as the pickle describes it: a view of a storage, materialised once the bytes are read."""

    storage_key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Allows exactly the globals a plain state dict uses; anything else is refused."""

    def __init__(self, file, storages: dict[str, tuple[str, int]]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        key, count = str(pid[2]), int(pid[4])
        self.storages[key] = (pid[1].name, count)
        return key


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a legacy torch.save'd state dict, as numpy arrays with their torch shapes."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc})") from None
    try:
        return _parse(data)
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(f"{path}: not a readable legacy PyTorch checkpoint ({exc})") from None


def _parse(data: bytes) -> dict[str, np.ndarray]:
    stream = io.BytesIO(data)
    storages: dict[str, tuple[str, int]] = {}
    if _Unpickler(stream, storages).load() != MAGIC_NUMBER:
        raise ValueError("wrong magic number (the zip-based format of torch >= 1.6 is not supported)")
    if _Unpickler(stream, storages).load() != PROTOCOL_VERSION:
        raise ValueError("unsupported protocol version")
    _Unpickler(stream, storages).load()  # system info (endianness, type sizes)
    state = _Unpickler(stream, storages).load()
    keys = _Unpickler(stream, storages).load()
    buffers: dict[str, np.ndarray] = {}
    for key in keys:
        kind, count = storages[key]
        (stored_count,) = struct.unpack("<q", stream.read(8))
        if stored_count != count:
            raise ValueError(f"storage {key} holds {stored_count} elements, the state dict says {count}")
        dtype = np.dtype(_STORAGE_DTYPES[kind]).newbyteorder("<")
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        buffers[key] = np.frombuffer(raw, dtype=dtype)
    if not isinstance(state, dict):
        raise ValueError("the checkpoint is not a state dict")
    return {name: _materialise(ref, buffers) for name, ref in state.items()}


def _materialise(ref: _TensorRef, buffers: dict[str, np.ndarray]) -> np.ndarray:
    flat = buffers[ref.storage_key]
    item = flat.itemsize
    if not ref.shape:
        return flat[ref.offset].copy()
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset:], shape=ref.shape, strides=tuple(s * item for s in ref.stride), writeable=False
    )
    return np.ascontiguousarray(view).astype(flat.dtype.newbyteorder("="))
