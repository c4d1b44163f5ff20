# Two entry points that work on a fresh machine: `make up` and `make test`.
VENV := venv/bin
SHELL := /bin/bash

.PHONY: setup up test lint typecheck contracts pytest bench schema clean

setup:
	@bash scripts/setup.sh

up: setup
	$(VENV)/shoal up --data-dir .run/up --sync manifests

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: setup
	$(VENV)/mypy schemas core controller agent shoal

contracts: setup
	$(VENV)/lint-imports

pytest: setup
	$(VENV)/pytest -q

test: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy schemas core controller agent shoal
	$(VENV)/lint-imports
	$(VENV)/pytest -q

# Every benchmark in turn (about 15 minutes); each prints its table and writes
# bench/results/<name>.json. docs/PERFORMANCE.md holds the latest figures.
bench: setup
	$(VENV)/python bench/store_bench.py
	$(VENV)/python bench/agent_bench.py
	$(VENV)/python bench/scheduler_bench.py
	$(VENV)/python bench/controller_bench.py
	$(VENV)/python bench/watch_bench.py
	$(VENV)/python bench/latency_bench.py
	$(VENV)/python bench/converge_bench.py
	$(VENV)/python bench/scale_bench.py

schema: setup
	$(VENV)/python -m schemas.export

clean:
	rm -rf venv .run .pytest_cache .mypy_cache .ruff_cache .hypothesis
