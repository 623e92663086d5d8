# Two commands on a fresh clone: `make run` (install, load the demo set, serve the app) and
# `make test` (install with test dependencies, lint, type-check, run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= $(or $(INTENTGAP_HOME),workspace)
PORT ?= 8501

.PHONY: run test install install-dev lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/intentgap demo --workspace "$(WORKSPACE)" --base-url http://127.0.0.1:$(PORT)
	$(BIN)/intentgap serve --workspace "$(WORKSPACE)" --port $(PORT)

test: install-dev lint typecheck pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
