# Developer entry points. `make test` is the command README.rst and CI use.

PYTHON ?= python3
VENV := .venv
TOX := $(VENV)/bin/tox

# Interpreters for the tox matrix: the newest pyenv build of each version
# (pyenv's shims do not resolve non-default versions, so use the bin folders),
# by version order: 3.12.10 is newer than 3.12.9.
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON_VERSIONS := 3.11 3.12 3.13
newest = $(lastword $(shell printf '%s\n' $(1) | sort -V))
PYTHON_BINS := $(foreach v,$(PYTHON_VERSIONS),$(call newest,$(wildcard $(PYENV_ROOT)/versions/$(v).*/bin)))
empty :=
space := $(empty) $(empty)
export PATH := $(subst $(space),:,$(strip $(PYTHON_BINS))):$(PATH)
# Never let uv download an interpreter: the matrix runs on the machine's own.
export UV_PYTHON_DOWNLOADS := never

# Programs the tests start themselves, as binary:debian-package.
SYSTEM_PROGRAMS := redis-server:redis-server nginx:nginx chromium:chromium chromedriver:chromium-driver npm:npm

# npm packages the tests start (Azurite), installed into the project from the lock file.
NODE_PROGRAMS := tests/node/node_modules/.installed

.PHONY: help test test-matrix test-env lint format check-pythons system-programs node-programs bench docs demo tour clean

help:
	@echo "make test    run lint, docs and the test suite under one Django x Python pair per Django release (tox),"
	@echo "             installing redis-server, nginx, chromium and npm with apt-get if missing (as root)"
	@echo "             and Azurite with npm (into tests/node)"
	@echo "make test-matrix  the same tests under all seven supported Django x Python pairs"
	@echo "make test-env ENV=py312-django52 [ARGS='pytest arguments']"
	@echo "             run one tox environment (or several, comma-separated), with the"
	@echo "             interpreters found under pyenv on PATH, as make test has them"
	@echo "make lint    ruff check and format check"
	@echo "make format  apply ruff fixes and formatting"
	@echo "make demo    run the demo site over an embedded S3 server (Ctrl-C stops it)"
	@echo "make tour    the same story on the command line"
	@echo "make bench   run the benchmarks (request counts, time ratios)"
	@echo "make docs    build the documentation into docs/_build/html"

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip "tox>=4.22" "tox-uv>=1.11" "ruff"
	touch $@

check-pythons:
	@for v in $(PYTHON_VERSIONS); do \
	  command -v python$$v >/dev/null || { echo "error: python$$v not found (looked in $(PYENV_ROOT)/versions/$$v.*/bin and PATH)" >&2; exit 1; }; \
	done

# Installs what is missing with apt-get when run as root (as in CI); otherwise
# says what is missing, and the tests that need it skip (fail under CI=true).
system-programs:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "warning: not installed:$$missing (apt-get install$$missing); tests that need them will skip" >&2; \
	  fi; \
	fi

node-programs: system-programs $(NODE_PROGRAMS)

$(NODE_PROGRAMS): tests/node/package.json tests/node/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests/node --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else \
	  echo "warning: npm is not installed; the backends tests that need Azurite will skip" >&2; \
	fi

test: $(VENV)/.installed check-pythons system-programs node-programs
	$(TOX) run-parallel --parallel 2 --parallel-no-spinner

# Every supported Django x Python pair (make test runs one per Django release).
MATRIX := py311-django52,py312-django52,py312-django60,py312-django61,py313-django52,py313-django60,py313-django61

test-matrix: $(VENV)/.installed check-pythons system-programs node-programs
	$(TOX) run-parallel --parallel 2 --parallel-no-spinner -e $(MATRIX)

# One environment, e.g. `make test-env ENV=py312-django52 ARGS="-k caching"`:
# tox run on its own fails where pyenv provides the interpreters (its shims
# resolve the global version only); this has PATH as `make test` has it.
test-env: $(VENV)/.installed system-programs node-programs
	@test -n "$(ENV)" || { echo "usage: make test-env ENV=py312-django52 [ARGS='pytest arguments'] (environments: $(TOX) list)" >&2; exit 2; }
	$(TOX) run -e $(ENV)$(if $(ARGS), -- $(ARGS))

lint: $(VENV)/.installed
	$(TOX) run -e lint

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: $(VENV)/.installed
	$(TOX) run -e docs

bench: $(VENV)/.installed system-programs
	$(TOX) run -e bench-legacy,bench-http-peer,bench

demo: $(VENV)/.installed
	$(TOX) run -e demo

tour: $(VENV)/.installed
	$(TOX) run -e tour

clean:
	rm -rf $(VENV) .tox build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache tests/node/node_modules
