# ENRS — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_BIN_DIR ?= $(HOME)/.local/bin
UV ?= $(shell command -v uv 2>/dev/null || echo $(UV_BIN_DIR)/uv)
PYTHON ?= python3

.PHONY: help install run test lint bench e2e clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@echo "uv not found: installing it from PyPI into $(UV_BIN_DIR)"
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet --break-system-packages --user uv

.venv/.installed: $(UV) pyproject.toml uv.lock libs/*/pyproject.toml services/*/pyproject.toml portal/pyproject.toml
	$(UV) sync --all-packages --frozen
	@touch $@

install: .venv/.installed ## install Python, the project and its tools (uv bootstraps itself)

test: install ## run every test (SQLite; PostgreSQL too when ENRS_TEST_DATABASE_URL is set)
	$(UV) run pytest

lint: install ## ruff, and the import contract that keeps services independent
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

clean: ## remove local databases and caches
	rm -rf var/ .pytest_cache .ruff_cache
