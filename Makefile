# The two entry points a new user needs: `make demo` and `make test`. Both set up everything on a
# fresh machine: uv (from PyPI, into .tools/), the locked environment in .venv/, and Mosquitto.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/uv/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help demo test lint typecheck unit setup mosquitto node-red chromium clean bench bench-compare

help:
	@echo "make demo   set up and run the demo (no exchange account needed)"
	@echo "make test   set up and run lint, type checks and the tests"
	@echo "make bench  print the benchmark figures (one JSON line each)"
	@echo "make bench-compare  marginbot against nautilus_trader on the same trade ticks"

$(TOOLS)/uv/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "marginbot needs Python >= 3.11 as '$(PYTHON)' (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

setup: $(VENV)/.synced mosquitto

# The web view's test opens the page in Debian's headless Chromium; install it when missing.
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium (apt-get) for the web view's browser test"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; \
	else \
	  echo "note: chromium is not installed and this is not a root Debian shell; the web view's"; \
	  echo "      browser test will be skipped (install it with 'sudo apt-get install chromium')"; \
	fi

# The alert tests start their own broker; install the binary when it is missing.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing mosquitto (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	else \
	  echo "warning: the mosquitto broker is not installed and this is not a root Debian shell;"; \
	  echo "         install it (e.g. 'sudo apt-get install mosquitto') for the MQTT tests."; \
	fi

# A test tries the Node-RED example of docs/alerts.md; install Node-RED when npm is here.
node-red:
	@if [ -x $(TOOLS)/node-red/node_modules/.bin/node-red ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "installing node-red (npm) for the docs example test"; \
	  mkdir -p $(TOOLS)/node-red && \
	  npm install --prefix $(TOOLS)/node-red --no-audit --no-fund --silent node-red@4 >/dev/null; \
	else \
	  echo "note: npm is not installed; the Node-RED example test will be skipped"; \
	fi

demo: setup
	$(BIN)/marginbot demo --config config/demo.toml $(if $(SPEED),--speed $(SPEED))

lint: $(VENV)/.synced
	$(BIN)/ruff format --check bot tests tools bench examples
	$(BIN)/ruff check bot tests tools bench examples

typecheck: $(VENV)/.synced
	$(BIN)/mypy

unit: setup node-red chromium
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: setup
	$(BIN)/python -m bench

# nautilus_trader (about 600 MB with its dependencies) in its own environment, never in .venv.
NAUTILUS := $(TOOLS)/nautilus
NAUTILUS_VERSION := 1.221.0

$(NAUTILUS)/bin/python: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(NAUTILUS)
	VIRTUAL_ENV=$(NAUTILUS) $(UV) pip install --quiet "nautilus_trader==$(NAUTILUS_VERSION)"

bench-compare: setup $(NAUTILUS)/bin/python
	$(BIN)/python -m bench.compare

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .hypothesis
