# The two commands of the README:
#   make test   creates .venv, installs wfkit with its dev tools and the
#               system programs the tests use, then runs lint, type check
#               and the whole test suite
#   make demo   runs the example workflow headless and prints its result
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: test lint typecheck pytest demo bench venv system-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check wfkit tests benchmarks examples conftest.py
	$(BIN)/ruff format --check wfkit tests examples conftest.py

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps
	$(BIN)/python -m pytest

test: lint typecheck pytest

demo: venv
	$(BIN)/wfkit run examples.support:app --input '{"text": "Where is my parcel? It was shipped last Tuesday"}'
	$(BIN)/wfkit run examples.support:app --input '{"text": "I want a refund for order 42"}'

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
