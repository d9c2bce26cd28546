# CLOCK: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint format asyncapi bench bench-smoke chaos cluster cluster-check fuzz clean help

help:
	@echo "make run    - start nats-server, the four services and the gateway (Ctrl-C stops)"
	@echo "make test   - the whole suite (set CLOCK_TEST_POSTGRES_URL to run it on PostgreSQL too)"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make asyncapi - regenerate docs/asyncapi.yaml from the event contracts"
	@echo "make bench  - the whole platform under load (needs hey), then matching (100,000 entries), reporting (1,000,000 events) and catalogue import (10,000 rows) benchmarks, ranking evaluation"
	@echo "make bench-smoke - every platform benchmark with tiny durations (what CI runs)"
	@echo "make chaos  - faults (NATS, services, consumers killed; SIGSTOP) under a 10,000-event workload, checked; N=20 for 20 rounds"
	@echo "make cluster - 3 NATS nodes, PostgreSQL (CLOCK_CLUSTER_POSTGRES_URL), 2 replicas of each service, 2 gateways, on loopback (Ctrl-C stops)"
	@echo "make cluster-check - a workload through both gateways while a NATS node and a replica of each service are killed, checked"
	@echo "make fuzz   - a long schemathesis campaign (every check) against a platform of its own"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "CLOCK needs Python >= 3.11: set PYTHON=python3.11 (or newer)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/clock run

# Two workers, a test file each at a time (a file's platform or harness stays in one worker).
test: $(STAMP)
	$(PY) -m pytest -q -n 3 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -q tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kernel clock_cli gateway services

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The platform bench needs `hey` (Debian/Ubuntu: apt-get install hey); results in docs/benchmarks.
bench: $(STAMP)
	$(VENV)/bin/clock bench --output docs/benchmarks/platform.json
	$(VENV)/bin/clock matching bench
	$(VENV)/bin/clock reporting bench --output docs/benchmarks/reporting.json
	$(VENV)/bin/clock catalog bench --output docs/benchmarks/catalog-import.json
	$(VENV)/bin/clock matching evaluate

bench-smoke: $(STAMP)
	$(VENV)/bin/clock bench --quick

# One round of fault injection (CHAOS_ARGS: e.g. --cluster, --events 600, --output FILE).
N ?= 1
CHAOS_EVENTS ?= 10000
CHAOS_ARGS ?=
chaos: $(STAMP)
	$(VENV)/bin/clock chaos --rounds $(N) --events $(CHAOS_EVENTS) $(CHAOS_ARGS)

# CLOCK as on several machines, on this one: see deploy/README.md.
CLUSTER_EVENTS ?= 3000
cluster: $(STAMP)
	$(VENV)/bin/clock cluster

cluster-check: $(STAMP)
	$(VENV)/bin/clock cluster --check --events $(CLUSTER_EVENTS)

# The test of `make test` with many more examples per operation and a longer stateful phase
# (its own platform, every schemathesis check; ~20-30 minutes on 2 cores).
FUZZ_EXAMPLES ?= 500
FUZZ_STATEFUL_STEPS ?= 200
fuzz: $(STAMP)
	CLOCK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CLOCK_FUZZ_STATEFUL_STEPS=$(FUZZ_STATEFUL_STEPS) \
		$(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_schemathesis.py

asyncapi: $(STAMP)
	$(VENV)/bin/clock events asyncapi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
