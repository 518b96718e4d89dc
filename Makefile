# Two commands: `make train` runs the main job, `make test` the test suite.
# Each creates .venv and installs ridgeline with its dev extras when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: train test test-fast docs lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/ridgeline-train $(ARGS)

# Two pytest workers with one torch thread each: no OpenMP oversubscription of the 2 cores.
# `make test` is the whole suite (what .ci/run runs), with its 15 slowest tests listed.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 $(ARGS)

# The quick subset: no test marked slow (those that start a process or train more than a few
# steps).
test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow" $(ARGS)

# The documentation site: the generated pages (docs/gen/), then Sphinx with warnings as errors.
docs: $(STAMP)
	$(BIN)/python docs/gen/build.py
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts docs/gen docs/examples
	$(BIN)/ruff format --check src tests scripts docs/gen docs/examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests scripts docs/gen docs/examples
	$(BIN)/ruff check --fix src tests scripts docs/gen docs/examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build
