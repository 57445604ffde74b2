# Lotse — make help lists the targets.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := -e libs/contracts -e libs/kit -e services/directory -e services/routing -e services/notify -e services/web

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements/base.txt requirements/dev.txt libs/*/pyproject.toml services/*/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt $(PACKAGES)
	touch $(STAMP)

install: $(STAMP) ## create .venv and install every package and tool (pinned)

run: export LOTSE_WEBHOOK_ALLOWED_NETWORKS ?= 127.0.0.0/8,::1/128
run: $(STAMP) ## run the suite embedded (web :8000, directory :8001, routing :8002, notify :8003) with the NRW demo data
	$(BIN)/lotse-directory db upgrade
	$(BIN)/lotse-directory demo load --if-empty
	$(BIN)/lotse-directory users demo-tokens
	$(BIN)/lotse-directory users demo-logins
	$(BIN)/lotse-routing db upgrade
	$(BIN)/lotse-notify db upgrade
	$(BIN)/lotse-directory serve & directory=$$!; \
	$(BIN)/lotse-notify serve & notify=$$!; \
	$(BIN)/lotse-web serve & web=$$!; \
	trap 'kill $$directory $$notify $$web 2>/dev/null' EXIT INT TERM; \
	$(BIN)/lotse-routing serve

test: $(STAMP) ## run every test (servers missing -> skipped, unless LOTSE_REQUIRE_SERVERS=1)
	$(BIN)/pytest

lint: $(STAMP) ## ruff, mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/contracts/src libs/kit/src services/directory/src services/routing/src services/notify/src services/web/src bench
	$(BIN)/lint-imports

bench: $(STAMP) ## benchmarks: directory (100,000 offers: import, search, memory; beside PostgreSQL's search; 10k-500k), routing (decisions, referrals), notify (referral → webhook), the floor under notify's throughput, the web pages beside the APIs
	$(BIN)/python bench/run.py
	$(BIN)/python bench/search_peer.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/floor.py
	$(BIN)/python bench/web.py

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var
