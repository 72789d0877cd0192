# The two commands a new machine needs (see README):
#   make demo   installs, generates sample data and materializes it bronze to gold
#   make test   installs with the test extras and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-packages demo test ui bench clean

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

ui: install
	$(BIN)/smepulse ui

bench: install
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf data dbt_project/target dbt_project/logs
