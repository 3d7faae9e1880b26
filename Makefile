# ENRS — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_BIN_DIR ?= $(HOME)/.local/bin
UV ?= $(shell command -v uv 2>/dev/null || echo $(UV_BIN_DIR)/uv)
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: help install run totp test e2e lint bench bench-directory clean

help: ## list the commands
	@grep -hE '^[a-z0-9-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv is the only tool bootstrapped: from PyPI, with the pip of the Python already there.
$(UV):
	@echo "uv not found: installing it from PyPI into $(UV_BIN_DIR)"
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet --break-system-packages --user uv

.venv/.installed: $(UV) pyproject.toml uv.lock libs/*/pyproject.toml services/*/pyproject.toml portal/pyproject.toml
	$(UV) sync --all-packages --frozen --compile-bytecode
	@touch $@

# Every module compiled ahead, ours included (uv compiles the dependencies): where
# PYTHONDONTWRITEBYTECODE is set, each process (gunicorn worker, import reader, command) would
# otherwise compile everything it imports when it starts: 1.9 s of CPU for the directory's app
# instead of 0.7 s. Quick when nothing changed.
install: .venv/.installed ## install the project and its tools from uv.lock (uv bootstraps itself)
	@$(UV) run --frozen python -m compileall -q libs services portal bench tests > /dev/null

run: install ## start the platform locally: broker, identity, directory, portal, demo data (Ctrl-C stops)
	deploy/run.sh

totp: install ## current TOTP code of a demo account: make totp USER=gp
	@deploy/run.sh totp "$(USER)"

test: install ## run every test, on SQLite (PostgreSQL when ENRS_TEST_DATABASE_URL is set)
	$(UV) run --frozen pytest $(PYTEST_ARGS)

e2e: install ## only the whole-platform and browser tests (markers e2e and browser)
	$(UV) run --frozen pytest -m "e2e or browser" $(PYTEST_ARGS)

lint: install ## ruff, and the import contract that keeps services independent
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

bench: install ## identity throughput and memory against Keycloak's sizing and our targets
	$(UV) run --frozen python bench/identity.py

ROWS ?= 2000000
BACKEND ?= both
bench-directory: install ## directory import and search speed at national size: make bench-directory ROWS=200000 BACKEND=sqlite
	$(UV) run --frozen python bench/directory.py --rows $(ROWS) --backend $(BACKEND)

clean: ## remove local databases, metrics files and caches
	rm -rf var/ .pytest_cache .ruff_cache .venv/.installed
