# The two commands a new machine needs (see README):
#   make demo   installs, generates sample data and materializes it bronze to gold
#   make test   installs with the test extras and runs the test suite (every tier)
# For contributors: make lint (ruff, mypy, sqlfluff), make fmt (Python), make fmt-sql, make test-fast.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-packages demo test test-fast lint lint-sql fmt fmt-sql ui dashboard bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"

demo: install
	$(BIN)/smepulse demo

# Chromium and PostgreSQL's server for the browser and instance tests (scripts/system_packages.sh)
system-packages:
	./scripts/system_packages.sh

test: install system-packages
	$(BIN)/python -m pytest

# Parsing, contracts, rules, config, the dbt unit tests and the asset graph: about a minute.
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# sqlfluff's dbt templater compiles the project: it reads the same variables profiles.yml does,
# pointed at a scratch warehouse (compiling opens no data).
LINT_ENV := SMEPULSE_WAREHOUSE_PATH=$(CURDIR)/data/lint/warehouse.duckdb SMEPULSE_LAKE_URL=$(CURDIR)/data/lint/lake

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MAKE) lint-sql

lint-sql:
	mkdir -p data/lint
	cd dbt_project && $(LINT_ENV) ../$(BIN)/sqlfluff lint models tests --processes 2

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# sqlfluff's fixer rewrites SQL around Jinja and can misplace a macro call: review its diff
# (make test-fast runs the dbt unit tests) before committing.
fmt-sql: install
	mkdir -p data/lint
	cd dbt_project && $(LINT_ENV) ../$(BIN)/sqlfluff fix models tests --processes 2

ui: install
	$(BIN)/smepulse ui

# The finance dashboard over the serving copy (after make demo): http://127.0.0.1:8501
dashboard: install
	$(BIN)/smepulse dashboard

bench: install
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf data dbt_project/target dbt_project/logs
