# Two commands set up everything on a fresh machine:
#   make demo   creates .venv, installs hpcast, runs the main job offline on bundled data
#   make test   installs the dev extras, checks lint and the import contract, runs the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
LOCK   := requirements.lock
# torch first and pinned: an unpinned resolve would pull a second, multi-GB CUDA build (COMPONENTS.md).
TORCH  := torch==2.13.0

.PHONY: demo test lint docs bench bench-peers lock clean wheel gpu-check notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml $(LOCK)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -c $(LOCK) -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/hpcast demo

# The suite, then its numerics again with oneDNN and ATen held to AVX2: machines of this kind differ in CPU
# (AVX-512 with bf16 and AMX on some, AVX2 only on others), and a result true on one must hold on both.
AVX2_ONLY := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest
	$(AVX2_ONLY) $(BIN)/python -m pytest -q -p no:cacheprovider tests/kernels tests/train tests/models

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache

docs: $(VENV)/.installed
	$(BIN)/python -c "from hpcast.cli import render_docs; print(render_docs(), end='')" > docs/cli.md

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/seed_workload.py
	$(BIN)/python benchmarks/scratch_lstm.py
	$(BIN)/python benchmarks/kernels.py
	$(BIN)/python benchmarks/precision.py

# Time to accuracy against Keras, Darts and NeuralForecast (about 30 minutes on 2 cores): installs the
# `bench` extra from both locks (torch stays the pinned one), then runs benchmarks/peers.py.
bench-peers: $(VENV)/.installed
	$(PIP) install -q -c $(LOCK) -c requirements-bench.lock -e '.[bench]'
	$(BIN)/python benchmarks/peers.py --plot docs/images/peers.png

# Re-execute the tutorial notebooks in place, with their outputs (about 2 minutes on 2 cores)
notebooks: $(VENV)/.installed-dev
	$(BIN)/python notebooks/execute.py

# Every GPU test and benchmark on a CUDA machine in one command (~8 minutes), into gpu-report.md/.json under
# $OUT or ./gpu-report/; without a GPU it says so and exits 0. The venv's python where there is one, else the
# system python3 (a GPU image has no .venv and no registry): it never builds .venv.
GPU_PYTHON := $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py

# Regenerate the lock from the current dev environment (after changing dependencies in pyproject.toml).
lock: $(VENV)/.installed-dev
	$(PIP) freeze --exclude-editable | sed -e 's/^torch[=@ ].*/$(TORCH)/' > $(LOCK)

# sdist, then a wheel built from it, into dist/ (the environment's setuptools: offline, seconds)
wheel: $(VENV)/.installed-dev
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .ruff_cache
