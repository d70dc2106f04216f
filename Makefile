# pymescore — every target bootstraps what it needs on a fresh machine (uv, the environment, the project).
SHELL := /bin/bash
PYTHON ?= python3
UV = $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_FIRMS ?= 5000
DEMO_MONTHS ?= 48
DEMO_SERVE ?= 1
DEMO_PORT ?= 8000

.PHONY: help bootstrap demo docs docs-serve test test-fast lint format pytest bench clean ops-deps ops-test

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --extra postgres --extra train --extra report --extra mlflow --extra serve --extra lightgbm --extra s3 --extra dask --extra tf
	@touch $@

bootstrap: $(VENV)/.installed  ## Install uv if missing, create .venv, install the project and dev tools

DEMO_AS_OF ?= 2023-06-30,2023-09-30,2023-12-31,2024-12-31

demo: bootstrap  ## The main job end to end: simulate -> ingest -> validate -> features -> train -> report -> champion
	rm -rf $(DEMO_DIR)
	$(BIN)/pymescore simulate --firms $(DEMO_FIRMS) --months $(DEMO_MONTHS) --seed 7 --out $(DEMO_DIR)/sim
	$(BIN)/pymescore ingest-folder $(DEMO_DIR)/sim --lake $(DEMO_DIR)/lake
	$(BIN)/pymescore lake validate --lake $(DEMO_DIR)/lake
	$(BIN)/pymescore lake summary --lake $(DEMO_DIR)/lake
	$(BIN)/pymescore features catalog --format md > $(DEMO_DIR)/feature_catalog.md
	$(BIN)/pymescore features --lake $(DEMO_DIR)/lake --as-of $(DEMO_AS_OF) --out $(DEMO_DIR)/snapshot.parquet
	$(BIN)/pymescore keygen --out $(DEMO_DIR)/keys/demo
	# a budget every trial fits in (~50 s here): the demo's model is then the same on a faster or slower machine
	PYMESCORE_SIGNING_KEY=$(DEMO_DIR)/keys/demo.key \
	PYMESCORE_MLFLOW_URI=sqlite:///$(DEMO_DIR)/mlflow.db $(BIN)/pymescore train --table $(DEMO_DIR)/snapshot.parquet \
		--target default_12m --trials 10 --time-budget 150 --out $(DEMO_DIR)/bundle --register --alias champion
	$(BIN)/pymescore report --bundle $(DEMO_DIR)/bundle --table $(DEMO_DIR)/snapshot.parquet --target default_12m \
		--out $(DEMO_DIR)/report.html
	@echo "Validation report: $(DEMO_DIR)/report.html; model registry: $(DEMO_DIR)/mlflow.db (alias champion)"
	PYMESCORE_TRUSTED_KEYS=$(DEMO_DIR)/keys/demo.pub $(BIN)/pymescore demo-serve --bundle $(DEMO_DIR)/bundle --lake $(DEMO_DIR)/lake --port $(DEMO_PORT) \
		--database-url sqlite:///$(DEMO_DIR)/audit.db $(if $(filter 0,$(DEMO_SERVE)),--no-serve,--serve)

docs: bootstrap  ## The documentation site into site/ (mkdocs --strict; references generated from the code)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "Site: site/index.html (open it from disk, or: make docs-serve)"

docs-serve: bootstrap  ## The documentation site on http://127.0.0.1:8001, rebuilt on each change
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8001

lint: bootstrap  ## ruff, formatting, mypy (strict) and the import-layer contract
	$(BIN)/ruff check src tests bench docsgen
	$(BIN)/ruff format --check src tests bench docsgen
	$(BIN)/mypy
	$(BIN)/lint-imports

format: bootstrap  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench docsgen
	$(BIN)/ruff format src tests bench docsgen

pytest: bootstrap  ## The test suite only
	$(BIN)/pytest -n 2 --dist loadfile

test: lint pytest  ## Everything CI runs: lint + the test suite (~15-30 min on 2 cores)

test-fast: bootstrap  ## The inner loop: the tests not marked slow (no model training, lake or service), a few minutes
	$(BIN)/pytest -n 2 --dist loadfile -m "not slow"

ops-deps: bootstrap  ## Prometheus + promtool (Debian package) when missing; Airflow in its own environment (.venv-airflow)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-airflow $(UV) sync --frozen --no-dev --extra airflow --extra train \
		--extra postgres --extra mlflow --extra serve --extra report --extra lightgbm --extra s3 --extra dask
	@command -v promtool >/dev/null 2>&1 || { \
		SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends prometheus; }; }
	@promtool --version | head -n 1

ops-test: bootstrap ops-deps  ## Operations checks: Airflow DAGs, promtool, Prometheus scraping a live service, monitoring
	$(BIN)/pytest -n 2 --dist loadfile tests/test_ops_prometheus.py tests/test_ops_files.py tests/test_monitoring.py \
		tests/test_gate.py tests/test_airflow_dags.py

bench: bootstrap  ## Benchmarks (JSON results in bench/results/)
	$(BIN)/python -m bench.bench_simulate --out bench/results/simulate.json
	$(BIN)/python -m bench.bench_ingest --out bench/results/ingest.json
	$(BIN)/python -m bench.bench_features --out bench/results/features.json

clean:  ## Remove the environment and generated files
	rm -rf $(VENV) $(DEMO_DIR) site .pytest_cache .mypy_cache .ruff_cache
