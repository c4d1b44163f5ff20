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

bench: setup
	$(VENV)/python bench/store_bench.py

schema: setup
	$(VENV)/python -m schemas.export

clean:
	rm -rf venv .run .pytest_cache .mypy_cache .ruff_cache .hypothesis
