# stackproof: the platform (services/), its stack, and the suite that proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: help setup test bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt services/requirements.txt
	@echo "==> creating $(VENV) with pinned requirements"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

setup: $(VENV)/.installed ## Python venv with pinned requirements (idempotent)

test: setup ## The project's own tests: services against real servers
	$(PYTEST)

bench: setup ## Gateway vs direct backend: requests/s, p50/p99 and their ratio
	@command -v wrk >/dev/null || apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; }
	$(PY) -m bench

clean: ## Remove the venv, caches and reports
	rm -rf $(VENV) reports .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
