"""training/gpu_finetune.sh end to end on the CPU, on a small synthetic CIFAKE folder: what a GPU session runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform != "linux", reason="the script targets the lent Linux machines")
def test_the_gpu_script_fine_tunes_with_the_device_feed_and_leaves_small_checkpoints(tmp_path):
    from training.lib.synthetic import make_synthetic_cifake

    data = make_synthetic_cifake(tmp_path / "cifake", 16, 4, seed=5)
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "DATA": str(data), "PY": sys.executable, "KERAS_BACKEND": "tensorflow",
           "DEADLINE_S": "1200", "BENCH_FEED": "0", "CIFAKE_CACHE_DIR": str(tmp_path / "cache"),
           "TRAIN_ARGS": "--arch efficientnet_lite1 --name lite1_finetune --input-size 32 --batch-size 8 --epochs 2 "
                         "--augment flip_shift --feed device --weights none"}
    env.pop("CIFAKE_PATH", None)
    done = subprocess.run(["bash", str(ROOT / "training" / "gpu_finetune.sh")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = out / ".runs" / "lite1_finetune"
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2
    assert not (run / "last.keras").exists() and not (run / "best.keras").exists()
    # Lite1's float32 weights are 17 MB: they come back in parts under the 16 MiB a file, with their SHA-256.
    parts = sorted(run.glob("best.keras.part-*"))
    assert len(parts) == 2 and all(part.stat().st_size <= 15 * 1024 * 1024 for part in parts)
    joined = tmp_path / "best.keras"
    joined.write_bytes(b"".join(part.read_bytes() for part in parts))
    assert hashlib.sha256(joined.read_bytes()).hexdigest() == (run / "best.keras.sha256").read_text().split()[0]
    import keras

    model = keras.saving.load_model(joined, safe_mode=True, compile=False)
    assert model.count_params() == 4_353_441 and model.get_layer("upsample") is not None
    assert "training took" in done.stdout
