# graphrag-lite: `make demo` sets up and runs the main job offline; `make test` sets up and runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE ?= examples/christmas_carol
# The demo runs offline even where an OpenAI key is set in the shell.
OFFLINE := env -u OPENAI_API_KEY -u GRAPHRAG_API_KEY -u OPENAI_BASE_URL -u GRAPHRAG_API_BASE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: demo test install install-dev lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is installed first from its CPU build so nothing pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev,server,ray,s3]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(OFFLINE) $(BIN)/python -m graphrag_lite.cli.demo $(EXAMPLE)

lint: install-dev
	$(BIN)/ruff check graphrag_lite tests benchmarks
	$(BIN)/ruff format --check graphrag_lite tests benchmarks

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
