# Two commands do all the set-up: `make demo` runs the product, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-script test lint format bench bench-quick run clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trustloop demo

demo-script: $(STAMP)
	$(BIN)/trustloop demo --script

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/digest_bench.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick

run: $(STAMP)
	$(BIN)/trustloop run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
