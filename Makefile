# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
# Loopback only unless asked: `make run HOST=0.0.0.0` shares the dashboard (or `make api HOST=...` the API)
# with the network. Plain `=` so an exported HOST (some shells set it to the machine's name) cannot widen it.
HOST = 127.0.0.1
CIFAKE_PATH ?=
ZOO_EPOCHS ?= 12
ZOO_MINUTES ?= 29
ZOO_ARCHS ?= cnn_maxpool cnn_avgpool cnn_strided

.PHONY: run test docs lint zoo studies families probe api bench clean-venv

# The venv is rebuilt only when the pins change: requirements.txt (runtime) or requirements-dev.txt (tests, lint,
# docs). pyproject.toml reads the same two files for `pip install -e .`; the checkout itself runs without installing.
# uv (pinned in requirements-dev.txt) installs them about 7x faster than pip on a fresh machine (docs/development.md);
# pip installs them when uv cannot be installed or fails.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	($(BIN)/pip install --quiet "$$(grep -E '^uv==' requirements-dev.txt | cut -d' ' -f1)" && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt -r requirements-dev.txt) || \
	  ($(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt)
	touch $(STAMP)

run: $(STAMP)  ## the dashboard on the shipped zoo, http://127.0.0.1:8501 (CIFAKE_PATH=... for test-set images)
	CIFAKE_PATH="$(CIFAKE_PATH)" $(BIN)/python -m dashboard.launch --server.address $(HOST) --server.port $(PORT) \
	  --server.headless true

# Two pytest workers (pytest-xdist): most tests are single-threaded Python (Streamlit's AppTest, pandas, subprocesses),
# so a second worker uses the second core; TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP)  ## lint + the whole test suite + the docs site (--strict: a broken link fails)
	$(BIN)/ruff check .
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) tests

docs: $(STAMP)  ## the documentation site (docs/, MkDocs) on http://127.0.0.1:8001
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr $(HOST):8001

lint: $(STAMP)
	$(BIN)/ruff check .

api: $(STAMP)  ## the JSON prediction API on 127.0.0.1:8000 (waitress; CIFAKE_API_TOKEN=... to require a token)
	$(BIN)/python -m dashboard.server.api --host $(HOST)

zoo: $(STAMP)  ## train + evaluate the three custom CNNs on real CIFAKE into model_zoo/entries/
	@test -n "$(CIFAKE_PATH)" || { echo "usage: make zoo CIFAKE_PATH=/path/to/cifake.zip"; exit 2; }
	@for arch in $(ZOO_ARCHS); do \
	  $(BIN)/python -m training.train --arch $$arch --epochs $(ZOO_EPOCHS) --max-minutes $(ZOO_MINUTES) --augment flip_shift --precision auto \
	    --data "$(CIFAKE_PATH)" || exit $$?; \
	done
	$(BIN)/python -m training.evaluate $(ZOO_ARCHS) --data "$(CIFAKE_PATH)"

STUDY_ARCH ?= cnn_strided
STUDY_AUGMENTATIONS ?= none flip rotate resized_crop robust

studies: $(STAMP)  ## augmentation study: STUDY_ARCH with each augmentation, else as `make zoo` (its flip_shift arm)
	@test -n "$(CIFAKE_PATH)" || { echo "usage: make studies CIFAKE_PATH=/path/to/cifake.zip"; exit 2; }
	@for aug in $(STUDY_AUGMENTATIONS); do \
	  $(BIN)/python -m training.train --arch $(STUDY_ARCH) --augment $$aug --name $(STUDY_ARCH)-aug-$$aug --role study \
	    --epochs $(ZOO_EPOCHS) --max-minutes $(ZOO_MINUTES) --precision auto \
	    --data "$(CIFAKE_PATH)" || exit $$?; \
	  $(BIN)/python -m training.evaluate $(STUDY_ARCH)-aug-$$aug --data "$(CIFAKE_PATH)" || exit $$?; \
	  $(BIN)/python -m training.robustness $(STUDY_ARCH)-aug-$$aug --data "$(CIFAKE_PATH)" || exit $$?; \
	done

# arch:epochs, each planned to fit the 30-minute budget on the 2-core CPU (the cosine schedule then ends)
FAMILIES ?= vgg_small:7 resnet20:9 densenet_bc:8

families: $(STAMP)  ## VGG-, ResNet- and DenseNet-style nets from scratch (30 min each): train, evaluate, calibrate, robustness
	@test -n "$(CIFAKE_PATH)" || { echo "usage: make families CIFAKE_PATH=/path/to/cifake.zip"; exit 2; }
	@for family in $(FAMILIES); do \
	  arch=$${family%%:*}; epochs=$${family##*:}; \
	  $(BIN)/python -m training.train --arch $$arch --epochs $$epochs --max-minutes 30 --augment flip_shift \
	    --precision auto --data "$(CIFAKE_PATH)" || exit $$?; \
	  for step in evaluate calibrate robustness; do \
	    $(BIN)/python -m training.$$step $$arch --data "$(CIFAKE_PATH)" || exit $$?; \
	  done; \
	done

probe: $(STAMP)  ## lite0_probe: ImageNet EfficientNet-Lite0, frozen, head on cached features (minutes on a CPU); lite0_finetune: README
	@test -n "$(CIFAKE_PATH)" || { echo "usage: make probe CIFAKE_PATH=/path/to/cifake.zip"; exit 2; }
	$(BIN)/python -m training.train --arch efficientnet_lite0 --freeze-backbone --name lite0_probe --role study --data "$(CIFAKE_PATH)"
	for step in evaluate robustness; do $(BIN)/python -m training.$$step lite0_probe --data "$(CIFAKE_PATH)" || exit $$?; done

bench: $(STAMP)  ## speed figures on generated CIFAKE-sized data
	$(BIN)/python -m bench.data_and_training
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.inference
	$(BIN)/python -m bench.predict_throughput
	$(BIN)/python -m bench.api_load
	$(BIN)/python -m bench.dashboard_latency
	$(BIN)/python -m bench.faithfulness
	$(BIN)/python -m bench.attributes
	$(BIN)/python -m bench.backbone
	$(BIN)/python -m bench.own_images

clean-venv:
	rm -rf $(VENV)
