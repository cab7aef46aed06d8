# Every target installs what it needs into .venv first; a fresh clone needs only python3 and make.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE ?= topologies/online-boutique

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install correlator with its dev tools

run: $(STAMP) ## the main job: embedded broker, worker and sample alert stream; impacts live
	$(BIN)/correlator demo --sample $(SAMPLE)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## lint, then the whole test suite
	$(BIN)/pytest

bench: $(STAMP) ## benchmarks: one JSON object a line per figure
	$(BIN)/python -m bench

clean: ## remove .venv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
