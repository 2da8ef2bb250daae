# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean bench

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
	$(BIN)/ruff check omnibot omnibot_sandbox tests
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

## Benchmarks against their baselines, in one run (< 10 min); `make bench BENCH_ARGS=--quick` for a tiny one
bench: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -qq wrk >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "bench: wrk is not available; the Python load generator stands in"
	$(BIN)/python -m bench $(BENCH_ARGS)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check omnibot omnibot_sandbox tests
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
