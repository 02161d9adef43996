# Sada: the two commands. Each does its own setup on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test check bench lint clean

run: $(VENV)/.installed
	$(BIN)/sada run

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	sh tests/ensure_packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast lane, for use while developing (about a minute): lint, the layering contracts, the
# pure unit tests (the lifecycle state machine among them) and the event-log contract on the
# in-memory and SQLite adapters. `make test` stays the whole suite.
check: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/contract -k 'not Kafka' $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) .sada .pytest_cache
