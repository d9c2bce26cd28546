# CLOCK: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint format asyncapi bench clean help

help:
	@echo "make run    - start nats-server, the four services and the gateway (Ctrl-C stops)"
	@echo "make test   - the whole suite (set CLOCK_TEST_POSTGRES_URL to run it on PostgreSQL too)"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make asyncapi - regenerate docs/asyncapi.yaml from the event contracts"
	@echo "make bench  - matching (100,000 entries) and reporting (1,000,000 events) benchmarks, ranking evaluation"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "CLOCK needs Python >= 3.11: set PYTHON=python3.11 (or newer)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/clock run

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kernel clock_cli gateway services

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(VENV)/bin/clock matching bench
	$(VENV)/bin/clock reporting bench --output docs/benchmarks/reporting.json
	$(VENV)/bin/clock matching evaluate

asyncapi: $(STAMP)
	$(VENV)/bin/clock events asyncapi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
