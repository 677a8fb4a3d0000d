# stackproof: the platform (services/), its stack (compose/, images/) and the suite that
# proves it. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PYTEST  := $(PY) -m pytest
PROJECT ?= stackproof
ENV_FILE ?= .env
STACK_TAG ?= dev
export STACK_TAG

# offline (images built here) or official (registry images); see scripts/stack-images.sh.
STACK_IMAGES = $(shell scripts/stack-images.sh)
PROFILE_FILES = $(if $(filter offline,$(STACK_IMAGES)),-f compose/offline.yaml)
# Grafana, Kibana and kibana-init exist only with official images.
COMPOSE_PROFILES = $(if $(filter official,$(STACK_IMAGES)),official,)
export COMPOSE_PROFILES

# EDGE=1: nginx terminating TLS in front of the gateway (compose/edge.yaml; offline, its
# image built here: compose/edge.offline.yaml); then only 80 and 443 are published.
EDGE_FILES = $(if $(EDGE),-f compose/edge.yaml $(if $(filter offline,$(STACK_IMAGES)),-f compose/edge.offline.yaml))

# NIGHTLY_BACKUP=1: the scheduled `backup` service (compose/backup.yaml; ops/backup.py schedule).
BACKUP_FILES = $(if $(NIGHTLY_BACKUP),-f compose/backup.yaml)

COMPOSE = docker compose --env-file $(ENV_FILE)
PROD    = $(COMPOSE) -p $(PROJECT) -f compose/compose.production.yaml $(PROFILE_FILES) $(EDGE_FILES) $(BACKUP_FILES)
DEV     = $(COMPOSE) -p $(PROJECT)-dev -f compose/compose.development.yaml $(PROFILE_FILES)
# The bundled stack that `make verify` proves: production + compressed monitoring.
STACK   = $(PROD) -f compose/verify.yaml
WAIT    = --wait --wait-timeout 180

.PHONY: help setup engine env images verify-config certs up down verify smoke chaos chaos-tools health lint test bench \
        swarm-up swarm-down swarm-verify swarm-ps \
        dev-up dev-down dev-build dev-logs dev-ps prod-up prod-down prod-build prod-logs prod-ps \
        db-backup db-restore db-reset backend-shell gateway-shell mongo-shell \
        clean clean-volumes clean-all

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# --- set-up -------------------------------------------------------------------------------

$(VENV)/.installed: requirements.txt services/requirements.txt
	@echo "==> creating $(VENV) with pinned requirements"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

setup: $(VENV)/.installed engine ## venv with pinned requirements; as root: Docker engine and compose v2
	@echo "==> stack images: $(STACK_IMAGES) (override with STACK_IMAGES=offline|official)"

engine: ## Start (installing if needed, as root) the Docker engine and compose v2
	@if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then scripts/docker-engine.sh && scripts/compose-v2.sh; \
	else echo "engine: no Docker engine or compose v2, and not root to install them" >&2; exit 1; fi

env: ## Write .env with generated secrets if there is none (or append the settings .env.example gained)
	@scripts/make-env.sh $(ENV_FILE)

# official: pull the registry images (never stackproof/*) and the app's base, then build the app
# on that base; with no registry, one message naming what could not be pulled, and exit 1.
OFFICIAL_BASE_IMAGE = python:3.11-slim-bookworm
images: engine ## Build the stack's images (offline: every image; official: pull, then build the app image)
ifeq ($(STACK_IMAGES),offline)
	scripts/build-images.sh
else
	@ENV_FILE=$(ENV_FILE) BASE_IMAGE=$(OFFICIAL_BASE_IMAGE) scripts/pull-official.sh
	BASE_IMAGE=$(OFFICIAL_BASE_IMAGE) scripts/build-images.sh app
endif

verify-config: $(VENV)/.installed ## Derive the compressed monitoring config into build/verify
	$(PY) scripts/verify-config.py build/verify

# The edge's certificates (idempotent): a local CA (build/certs/ca.crt) and a server
# certificate for localhost, 127.0.0.1, edge and GATEWAY_BIND (+ CERT_SAN). Production: certbot.
certs: ## Local CA and the edge's server certificate in build/certs (SAN: localhost, 127.0.0.1, edge, GATEWAY_BIND)
	GATEWAY_BIND=$${GATEWAY_BIND:-127.0.0.1} scripts/make-certs.sh

# --- the bundled stack --------------------------------------------------------------------

up: setup env images verify-config $(if $(EDGE),certs) ## Start the bundled stack (production + verify override; EDGE=1: TLS edge) and wait until healthy
	GATEWAY_BIND=$${GATEWAY_BIND:-127.0.0.1} $(STACK) up -d --remove-orphans $(WAIT)
	@# A running Prometheus/Alertmanager keeps its old rules until told: reload what verify-config wrote.
	@$(STACK) kill -s HUP prometheus alertmanager >/dev/null
	@$(PY) scripts/health.py --project $(PROJECT)

down: ## Stop the bundled stack (volumes kept)
	$(STACK) down --remove-orphans

health: $(VENV)/.installed ## Each container's state and health; fails if any is unhealthy
	@$(PY) scripts/health.py --project $(PROJECT)

REPORTS = --html=reports/report.html --self-contained-html --junitxml=reports/junit.xml

TARGET  = --target compose://$(PROJECT)

verify: up chaos-tools ## Bring up (or reuse) the bundled stack and run every suite against it, chaos last
	$(PYTEST) suites $(TARGET) $(REPORTS)

chaos: up chaos-tools ## The chaos experiments against the bundled stack (journals in reports/chaos/)
	$(PYTEST) suites $(TARGET) -m chaos --html=reports/chaos.html --self-contained-html --junitxml=reports/chaos-junit.xml

chaos-tools: ## tc and nsenter on the host, for the latency fault
	@command -v tc >/dev/null && command -v nsenter >/dev/null || apt-get install -y -qq --no-install-recommends iproute2 util-linux

smoke: $(VENV)/.installed ## The smoke suite against the running stack
	$(PYTEST) suites $(TARGET) -m smoke

LINTED = services fixtures suites ops bench harness scripts/*.py
lint: $(VENV)/.installed ## ruff (complexity ≤ 15) over the code and tests; mypy --strict over the code (pyproject.toml)
	$(VENV)/bin/ruff check $(LINTED) tests conftest.py
	$(VENV)/bin/mypy $(LINTED)

test: setup images verify-config lint ## The project's own tests (after make lint): services against real servers, monitoring config checks
	$(PY) -m fixtures.doctor
	$(PY) -m fixtures.doctor --override compose/edge.yaml
	$(PY) -m fixtures.doctor --override compose/backup.yaml
	$(PYTEST) tests
	scripts/check-monitoring.sh
	scripts/check-edge.sh

bench: $(VENV)/.installed ## Direct vs gateway vs nginx before the backend: req/s, p50/p99, CPU per request, steal
	@scripts/bench-tools.sh
	$(PY) -m bench

# --- Docker Swarm: the bundled stack as a swarm stack on this engine (ops/swarm.py) ---------
# A single-node swarm bound to 127.0.0.1 is initialised if none is active; the stack file is
# rendered from the same compose files as `make up` plus compose/swarm.yaml (build/swarm/).
# The gateway is published in host mode on SWARM_GATEWAY_PORT (5921): `make down` first if the
# compose stack holds it. swarm-down leaves the swarm only when leaving cannot break running
# containers' DNS (Debian's 20.10 engine), and says so when it keeps it.
SWARM_STACK ?= stackproof
SWARM_FILES = -f compose/compose.production.yaml $(PROFILE_FILES) -f compose/verify.yaml -f compose/swarm.yaml
SWARM       = $(PY) -m ops.swarm

swarm-up: setup env images verify-config ## Deploy the bundled stack as a swarm stack (backend x2) and wait until healthy
	$(SWARM) up $(SWARM_FILES) --env-file $(ENV_FILE) --stack $(SWARM_STACK)

swarm-down: $(VENV)/.installed ## Remove the swarm stack; leave the swarm when that is safe for other containers
	$(SWARM) down --stack $(SWARM_STACK)

swarm-ps: $(VENV)/.installed ## The swarm stack's services and replicas
	$(SWARM) status --stack $(SWARM_STACK)

swarm-verify: swarm-up chaos-tools ## Every suite against the swarm stack, the swarm chaos experiments last
	$(PYTEST) suites --target swarm://$(SWARM_STACK) --html=reports/swarm.html --self-contained-html --junitxml=reports/swarm-junit.xml

# --- the setup guide's targets ------------------------------------------------------------

dev-up: setup env images ## Development stack: tool ports on 127.0.0.1, hot reload
	$(DEV) up -d --remove-orphans $(WAIT)
dev-down: ## Stop the development stack
	$(DEV) down --remove-orphans
dev-build: images ## Build the development stack's images
dev-logs: ## Follow the development stack's logs
	$(DEV) logs -f --tail 100
dev-ps: ## Development stack containers
	$(DEV) ps -a

prod-up: setup env images $(if $(EDGE),certs) ## Production stack (only 5921 published; EDGE=1: only 80 and 443)
	$(PROD) up -d --remove-orphans $(WAIT)
prod-down: ## Stop the production stack
	$(PROD) down --remove-orphans
prod-build: images ## Build the production stack's images
prod-logs: ## Follow the production stack's logs
	$(PROD) logs -f --tail 100
prod-ps: ## Production stack containers
	$(PROD) ps -a

db-backup: $(VENV)/.installed ## MongoDB and object store to backups/<timestamp>/ (+ BACKUP_S3_URL), keeping BACKUP_KEEP
	$(PY) -m ops.backup backup --project $(PROJECT) --env-file $(ENV_FILE)

db-restore: $(VENV)/.installed ## Restore BACKUP=backups/<timestamp> (or FROM_S3=latest|<timestamp>) into the running stack
	@test -n "$(BACKUP)$(FROM_S3)" || { echo "db-restore: say which, e.g. make db-restore BACKUP=$$(ls -d backups/* 2>/dev/null | tail -1), or FROM_S3=latest" >&2; exit 2; }
	$(PY) -m ops.backup restore $(if $(FROM_S3),--from-s3 "$(FROM_S3)","$(BACKUP)") --project $(PROJECT) --env-file $(ENV_FILE)

db-reset: $(VENV)/.installed ## Empty the development database (refuses on anything but the dev stack)
	$(PY) -m ops.backup reset --project $(PROJECT)-dev --env-file $(ENV_FILE)

backend-shell: ## A shell in the backend container
	$(STACK) exec backend /bin/bash
gateway-shell: ## A shell in the gateway container
	$(STACK) exec gateway /bin/bash
mongo-shell: ## A Python shell with a pymongo client on the app database, as the app user
	$(STACK) exec backend python3 -c "import code, os, pymongo; from services.common.settings import load_backend; \
	  s = load_backend(); db = pymongo.MongoClient(s.mongo_url)[s.mongo_database]; \
	  code.interact(banner='db = ' + s.mongo_database + ' (app user)', local={'db': db})"

# --- cleaning -----------------------------------------------------------------------------

clean: ## Remove caches and reports (keeps the venv, images and volumes)
	rm -rf reports .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

clean-volumes: ## Stop the stacks and delete their data volumes
	$(STACK) down --remove-orphans --volumes
	$(DEV) down --remove-orphans --volumes

clean-all: clean clean-volumes ## Also the venv, build/ (wheelhouses, contexts) and the project's images
	rm -rf $(VENV) build
	-docker images --format '{{.Repository}}:{{.Tag}}' | grep '^stackproof/' | xargs -r docker rmi
