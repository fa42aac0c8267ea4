# The local stack's commands (DESIGN.md, "Local stack: the two commands").
# RabbitMQ and MongoDB are found or started at run time by services/infra.py.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
VENV_BIN := $(VENV)/bin
# Written after a successful install; the install reruns when pyproject.toml is newer.
INSTALLED_STAMP := $(VENV)/.installed
EXTRAS := server,dev,localdb
# The interpreter that creates the venv: python3.11 if it runs, else python3 (a pyenv shim
# exists even when it has no such version behind it, so each candidate must actually run).
PYTHON ?= $(shell for p in python3.11 python3; do \
	"$$p" -c '' 2>/dev/null && { command -v "$$p"; break; }; done)
PYTEST_ARGS ?=

.PHONY: help venv deps run test lint typecheck bench clean

help:
	@echo "make run        set up (deps + venv) and run the platform (faaspot up)"
	@echo "make test       set up and run the test suite (PYTEST_ARGS='...' passes options)"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make typecheck  mypy (strict)"
	@echo "make bench      run bench/run.py"
	@echo "make venv       create $(VENV) and install the project (only when needed)"
	@echo "make deps       install system packages (root): bubblewrap"
	@echo "make clean      remove $(VENV), caches and build output"

venv: $(INSTALLED_STAMP)

$(INSTALLED_STAMP): pyproject.toml
	@if [[ -z "$(PYTHON)" ]]; then echo "no python3.11 or python3 on PATH" >&2; exit 1; fi
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than Python 3.11, which FaaSpot needs" >&2; exit 1; }
	@if ! "$(VENV_BIN)/python" -m pip --version >/dev/null 2>&1; then \
		rm -rf "$(VENV)"; \
		if ! "$(PYTHON)" -m venv "$(VENV)"; then \
			rm -rf "$(VENV)"; \
			if [[ "$$(id -u)" != 0 ]]; then \
				echo "'$(PYTHON) -m venv' failed; install python3-venv (sudo apt-get install -y python3-venv)" >&2; \
				exit 1; \
			fi; \
			echo "'$(PYTHON) -m venv' failed; installing python3-venv"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
			"$(PYTHON)" -m venv "$(VENV)"; \
		fi; \
	fi
	"$(VENV_BIN)/python" -m pip install --disable-pip-version-check -q -e '.[$(EXTRAS)]'
	@touch "$@"

deps:
	@if command -v bwrap >/dev/null; then exit 0; fi; \
	if [[ "$$(id -u)" != 0 ]]; then \
		echo "bubblewrap (bwrap) is missing; install it as root: sudo apt-get install -y bubblewrap" >&2; \
		exit 1; \
	fi; \
	echo "installing bubblewrap"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap

run: deps venv
	exec "$(VENV_BIN)/faaspot" up

test: deps venv
	"$(VENV_BIN)/pytest" $(PYTEST_ARGS)

lint: venv
	"$(VENV_BIN)/ruff" check .
	"$(VENV_BIN)/ruff" format --check .

typecheck: venv
	"$(VENV_BIN)/mypy"

bench: venv
	"$(VENV_BIN)/python" bench/run.py

clean:
	rm -rf "$(VENV)" build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
