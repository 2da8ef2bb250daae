# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start omnibot on SQLite with the messenger sandbox, and print a demo
run: $(STAMP)
	$(BIN)/omnibot dev

## Run the whole test suite (unit, integration on SQLite and PostgreSQL, end-to-end)
test: $(STAMP)
	$(BIN)/ruff check omnibot tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check omnibot tests

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
