# The commands of the README:
#   make demo   installs wfkit alone (no dev tools) into .venv and runs the
#               example workflow headless, printing its final states
#   make test   creates .venv, installs wfkit with its dev tools and the
#               system programs the tests use, then runs lint, type check,
#               the whole test suite (the docs pages and the Binder check
#               included) and builds the docs site
#   make lab    installs what the notebooks need and starts JupyterLab on
#               notebooks/ (it prints the URL to open)
#   make docs   builds the docs site into site/, executing the tutorials
#   make compat runs the LangGraph compatibility cases on LangGraph and on
#               wfkit and compares their results (installs LangGraph)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed-dev
LAB_STAMP := $(VENV)/.installed-lab
DOCS_STAMP := $(VENV)/.installed-docs
BENCH_STAMP := $(VENV)/.installed-bench
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told; containers often are root
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: test lint typecheck pytest demo lab docs pictures binder-constraints bench compat venv system-deps clean

venv: $(STAMP)

$(BASE_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

$(LAB_STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install -q -e '.[lab]'
	@touch $@

$(DOCS_STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install -q -e '.[docs]'
	@touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check wfkit tests benchmarks examples scripts conftest.py
	$(BIN)/ruff format --check wfkit tests examples scripts conftest.py

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps
	$(BIN)/python -m pytest

test: lint typecheck pytest docs

demo: $(BASE_STAMP)
	$(BIN)/wfkit run examples.support:app --input '{"text": "Where is my parcel? It was shipped last Tuesday"}'
	$(BIN)/wfkit run examples.support:app --input '{"text": "I want a refund for order 42"}'

lab: $(LAB_STAMP) system-deps
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

docs: $(DOCS_STAMP) system-deps
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet
	@echo "docs: built site/ (open site/index.html)"

# Re-run the docs pages' examples with their pictures written to docs/img/.
pictures: venv system-deps
	WFKIT_DOCS_PICTURES=docs/img $(BIN)/python -m pytest -q docs

# binder/constraints.txt from the versions the tests ran with (commit it).
binder-constraints: venv
	$(BIN)/python scripts/binder_constraints.py

# the LangGraph compatibility cases on both libraries, compared (tests/compat)
compat: $(BENCH_STAMP)
	$(BIN)/python -m pytest tests/compat -m langgraph

# the Dask scale-out measurements (issue 14) follow the main suite, in their own section
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.dask_scale --markdown benchmarks/RESULTS.md

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
