#!/usr/bin/env bash
# Fine-tune lite0_finetune on a borrowed GPU machine that has PyTorch (or JAX) but no TensorFlow, then publish it here.
#
# On the GPU machine, from the repository root, with .devcarry/ (ignored through .git/info/exclude) holding
#   cifake.tar.xz                 CIFAKE's train/ and test/ folders (a solid archive: 38 MB instead of 125):
#                                 unzip cifake.zip into a folder, then XZ_OPT=-6 tar -cJf cifake.tar.xz train test
#   backbones/efficientnet_lite0-*.npz   the ImageNet weights already in Keras layout: BACKBONE_CACHE_DIR=.devcarry/backbones
#                                 python -c "from training.lib.efficientnet_lite import keras_weights; keras_weights()"
#   whl/                          keras, namex and optree wheels for that machine's Python (pip download --no-deps
#                                 --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 ...)
# Only 64 MiB travel with a call: move model_zoo/entries/* aside while it runs (and back after).
# run:   OUT=/some/folder bash training/gpu_finetune.sh
# It trains with --fit-only into $OUT/.runs/lite0_finetune/ (best.keras without optimizer state, state.json).
# Copy that folder to model_zoo/entries/.runs/lite0_finetune/ here, put best.keras there as last.keras too, and
# run the same training command without --fit-only (and with --data pointing at CIFAKE): it sees the
# finished run, then calibrates, fits the abstain band and novelty statistics, and publishes the entry.
set -euo pipefail
PY=${PY:-python3}
DATA=${DATA:-/tmp/cifake}
# Keras on PyTorch ran at 175 ms a step on an H200, on JAX at 507 ms: the per-step overhead sets the pace there.
export PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-torch} BACKBONE_CACHE_DIR=$PWD/.devcarry/backbones
TRAIN_ARGS=${TRAIN_ARGS:---arch efficientnet_lite0 --name lite0_finetune --input-size 128 --batch-size 256 --epochs 8 \
  --augment flip_shift --precision mixed_bfloat16 --max-minutes 8.2}
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
start=$(date +%s)
# shellcheck disable=SC2086
timeout $(( DEADLINE_S - (start - script_start) )) $PY -m training.train $TRAIN_ARGS --data "$DATA" --zoo "$OUT" --fit-only \
  || echo "training ended with status $? (124: cut at the deadline; the last finished epoch is kept)"
echo "training took $(( $(date +%s) - start )) s"
run="$OUT/.runs/$(echo "$TRAIN_ARGS" | sed -E 's/.*--name ([^ ]+).*/\1/')"
# Only what publishing needs comes back: the best epoch without optimizer state (under the 16 MiB a file).
$PY -c "
import keras, sys
model = keras.saving.load_model(sys.argv[1], compile=False)
model.save(sys.argv[1])
" "$run/best.keras"
rm -f "$run/last.keras" "$run"/partial-*
ls -la "$run"
