#!/usr/bin/env bash
# Fine-tune an EfficientNet-Lite detector on a borrowed GPU machine that has PyTorch (or JAX) but no TensorFlow, with
# the device feed (training.lib.device_feed: CIFAKE's uint8 arrays on the GPU, batches augmented and normalised there),
# then publish it here.
#
# On the GPU machine, from the repository root, with .devcarry/ (ignored through .git/info/exclude) holding
#   cifake.tar.xz                 CIFAKE's train/ and test/ folders (a solid archive: 38 MB instead of 125):
#                                 unzip cifake.zip into a folder, then XZ_OPT=-6 tar -cJf cifake.tar.xz train test
#   backbones/<arch>-*.npz        the ImageNet weights already in Keras layout: BACKBONE_CACHE_DIR=.devcarry/backbones
#                                 python -c "from training.lib.efficientnet_lite import keras_weights, VARIANTS;
#                                 keras_weights(VARIANTS['efficientnet_lite2'])"   (Lite0 19 MB, Lite1 22, Lite2 25)
#   whl/                          keras, namex and optree wheels for that machine's Python (pip download --no-deps
#                                 --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 ...)
# Only 64 MiB (67.1 MB) travel with a call: CIFAKE 38 MB + Lite2's weights 25 MB + wheels ~3 MB fit, one backbone at a
# time; move model_zoo/entries/* aside while it runs (and back after).
# run:   OUT=/some/folder bash training/gpu_finetune.sh          (TRAIN_ARGS picks the recipe; default below)
# It trains with --fit-only into $OUT/.runs/<name>/ (best.keras without optimizer state, split into parts of at most
# 15 MiB when larger, with its SHA-256; and state.json). Copy that folder to model_zoo/entries/.runs/<name>/ here,
# rejoin (cat best.keras.part-* > best.keras; sha256sum -c best.keras.sha256), put best.keras there as last.keras too, and
# run the same training command without --fit-only and --feed (and with --data pointing at CIFAKE): it sees the
# finished run, then calibrates, fits the abstain band and novelty statistics, and publishes the entry.
# Tested end to end on the CPU on a small synthetic subset (tests/integration/test_gpu_script.py).
set -euo pipefail
PY=${PY:-python3}
DATA=${DATA:-/tmp/cifake}
# Keras on PyTorch ran at 175 ms a step on an H200, on JAX at 507 ms: the per-step overhead sets the pace there.
export PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-torch} BACKBONE_CACHE_DIR=$PWD/.devcarry/backbones
# The host feed ran Lite0 at 128 px at 135-231 ms a step; bench/device_feed.py measures the device feed alone.
TRAIN_ARGS=${TRAIN_ARGS:---arch efficientnet_lite2 --name lite2_finetune --input-size 128 --batch-size 256 --epochs 8 \
  --augment flip_shift --feed device --precision mixed_bfloat16 --max-minutes 8.2}
# The whole script must end inside the machine's per-call limit: training is cut at this many seconds from
# the script's start, so the best epoch so far still comes back (a cut run is published as it stands).
DEADLINE_S=${DEADLINE_S:-560}
script_start=$(date +%s)

if [ -d .devcarry/whl ] && ! $PY -c "import keras" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .devcarry/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
if [ ! -d "$DATA/train" ]; then
  mkdir -p "$DATA" && tar -xJf .devcarry/cifake.tar.xz -C "$DATA"
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY -c "import keras; print('keras', keras.__version__, 'on', keras.backend.backend())"
# Decode once with every core (the training command's loader uses two), so training reads the cache.
$PY -c "from training.lib.data import load_cifake; import os; print(load_cifake('$DATA', workers=os.cpu_count()).summary())"
# The feed alone, host against device, on this chip (seconds; the figure that says whether the feed or the chip sets
# the pace). Skipped with BENCH_FEED=0.
if [ "${BENCH_FEED:-1}" = 1 ]; then $PY -m bench.device_feed --steps 50 || true; fi
start=$(date +%s)
# shellcheck disable=SC2086
timeout $(( DEADLINE_S - (start - script_start) )) $PY -m training.train $TRAIN_ARGS --data "$DATA" --zoo "$OUT" --fit-only \
  || echo "training ended with status $? (124: cut at the deadline; the last finished epoch is kept)"
echo "training took $(( $(date +%s) - start )) s"
run="$OUT/.runs/$(echo "$TRAIN_ARGS" | sed -E 's/.*--name ([^ ]+).*/\1/')"
if [ ! -f "$run/best.keras" ]; then
  echo "no epoch finished before the deadline: nothing to bring back (lower --epochs or the input size)" >&2
  exit 1
fi
# Only what publishing needs comes back: the best epoch without optimizer state, in parts of at most 15 MiB (a file
# over 16 MiB does not come back; Lite2's float32 weights are 25 MB). Rejoin here: cat best.keras.part-* > best.keras
$PY -c "
import keras, sys
model = keras.saving.load_model(sys.argv[1], compile=False)
model.save(sys.argv[1])
" "$run/best.keras"
rm -f "$run/last.keras" "$run"/partial-*
if [ "$(stat -c %s "$run/best.keras")" -gt $(( 15 * 1024 * 1024 )) ]; then
  sha256sum "$run/best.keras" | sed "s|$run/||" > "$run/best.keras.sha256"
  split -b 15M -d "$run/best.keras" "$run/best.keras.part-" && rm "$run/best.keras"
fi
ls -la "$run"
